#!/usr/bin/env bash
# Checks the packages as users get them: packs the solution into a local feed, installs the relevance tool from it
# into a temporary folder and runs its demo in an empty folder, then creates a fresh console project that adds only
# the RelevanceSharp package and runs samples/consumer/Program.cs in it.
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$(pwd)"
version="$(sed -n 's:.*<Version>\(.*\)</Version>.*:\1:p' Directory.Build.props | head -n 1)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "packages.sh: packing version $version"
dotnet pack RelevanceSharp.slnx -c Release -o "$work/feed" -nologo -v quiet
# Every package of the solution, the conformance checks included, must be in the feed.
for package in RelevanceSharp RelevanceSharp.Vision RelevanceSharp.Evaluation RelevanceSharp.Conformance RelevanceSharp.Cli; do
    test -f "$work/feed/$package.$version.nupkg" || { echo "packages.sh: $package.$version.nupkg was not packed" >&2; exit 1; }
done

echo "packages.sh: installing the tool and running its demo in an empty folder"
dotnet tool install RelevanceSharp.Cli --version "$version" --tool-path "$work/tools" --add-source "$work/feed" >/dev/null
mkdir "$work/empty"
(cd "$work/empty" && "$work/tools/relevance" demo >/dev/null)
test -s "$work/empty/out/demo.png"
echo "packages.sh: the tool's demo wrote out/demo.png"

echo "packages.sh: a fresh console project with only the RelevanceSharp package"
mkdir "$work/consumer"
cd "$work/consumer"
# The local feed is added to the machine's usual package sources, which supply TorchSharp and libtorch.
cat > nuget.config <<CONFIG
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <add key="relevancesharp-local" value="$work/feed" />
  </packageSources>
</configuration>
CONFIG
dotnet new console -n Consumer -o . >/dev/null
dotnet add package RelevanceSharp --version "$version" >/dev/null
cp "$repo/samples/consumer/Program.cs" Program.cs
output="$(dotnet run -c Release)"
echo "$output"
test "$output" = "relevance 2x3x8x8 finite True"
echo "packages.sh: the tool, its demo and the consumer program work from the local feed"
