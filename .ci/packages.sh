#!/usr/bin/env bash
# Checks the packages as users get them: packs the solution into a local feed, installs the relevance tool from it
# into a temporary folder and runs its demo in an empty folder, then creates a fresh console project that adds only
# the RelevanceSharp package and runs samples/consumer/Program.cs in it.
#
# Every run packs a version of its own (the project's version with a -ci.<UTC time>.<process id> suffix). NuGet serves
# a package whose id and version are already in the global packages folder (~/.nuget/packages) from there without
# looking at the feed, so a fixed version would make every run after the first test the first run's package. At the
# end the run removes exactly the folders it added there (its own version of each of the project's packages).
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$(pwd)"
base="$(sed -n 's:.*<Version>\(.*\)</Version>.*:\1:p' Directory.Build.props | head -n 1)"
version="$base-ci.$(date -u +%Y%m%d%H%M%S).$$"
# Every package of the solution; the pack must make each, and the cleanup removes what this run added to the cache.
ids=(RelevanceSharp RelevanceSharp.Vision RelevanceSharp.Evaluation RelevanceSharp.Language RelevanceSharp.Onnx RelevanceSharp.Conformance RelevanceSharp.Cli)
global="${NUGET_PACKAGES:-$(dotnet nuget locals global-packages --list | sed -n 's/^global-packages: //p')}"
global="${global%/}"
work="$(mktemp -d)"

cleanup() {
    rm -rf "$work"
    if [ -n "$global" ]; then
        for id in "${ids[@]}"; do
            lower="${id,,}"
            rm -rf "${global:?}/$lower/$version"
            rmdir "$global/$lower" 2>/dev/null || true
        done
    fi
}
trap cleanup EXIT

echo "packages.sh: packing version $version"
dotnet pack RelevanceSharp.slnx -c Release -o "$work/feed" -p:Version="$version" -nologo -v quiet
for id in "${ids[@]}"; do
    test -f "$work/feed/$id.$version.nupkg" || { echo "error: the pack made no $id.$version.nupkg" >&2; exit 1; }
done

echo "packages.sh: installing the tool and running its demo in an empty folder"
dotnet tool install RelevanceSharp.Cli --version "$version" --tool-path "$work/tools" --add-source "$work/feed" >/dev/null
# The installed tool must be the one just packed: its version (before any +commit suffix) is this run's.
reported="$("$work/tools/relevance" --version 2>/dev/null)"
if [ "${reported%%+*}" != "$version" ]; then
    echo "error: the installed tool reports version '$reported', not the packed $version" >&2
    exit 1
fi
echo "packages.sh: packed $version; the installed relevance --version reports $reported"
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
# The consumer ran on this run's package: the restore resolved RelevanceSharp to the packed version.
if ! grep -q "\"RelevanceSharp/$version\"" obj/project.assets.json; then
    echo "error: the consumer did not resolve RelevanceSharp $version" >&2
    exit 1
fi
echo "packages.sh: the consumer resolved RelevanceSharp $version"
echo "packages.sh: the tool, its demo and the consumer program work from the local feed"
