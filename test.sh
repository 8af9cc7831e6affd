#!/usr/bin/env bash
# Runs the test suite, installing first what the tests need and the machine lacks (Debian and Ubuntu):
#   - the Fashion-MNIST test set (Debian package dataset-fashion-mnist), for the demo model's accuracy check;
#   - the DejaVu font (fonts-dejavu-core), for heatmap grids labelled with a real font;
#   - Chromium (chromium), which opens the token heatmap pages and the explain and evaluate reports headless to check
#     what they show.
# Arguments are passed to 'dotnet test' (e.g. --filter "Category!=Slow").
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v dotnet >/dev/null 2>&1; then
    echo "error: the .NET 10 SDK (the 'dotnet' command) is needed and was not found on PATH; install it, then run ./test.sh again" >&2
    exit 1
fi

# What the tests need from Debian: the Fashion-MNIST test set (the demo model's stated accuracy), a font file (the
# labels of heatmap grids drawn with a real font) and a browser (the HTML pages of token heatmaps and the reports,
# opened headless).
dataset=/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz
font=/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
browser=/usr/bin/chromium
if [ ! -f "$dataset" ] || [ ! -f "$font" ] || [ ! -x "$browser" ]; then
    as_root=""
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1; then as_root="sudo"; fi
    fi
    if command -v apt-get >/dev/null 2>&1 && { [ "$(id -u)" -eq 0 ] || [ -n "$as_root" ]; }; then
        echo "test.sh: installing the Debian packages dataset-fashion-mnist, fonts-dejavu-core and chromium" >&2
        $as_root apt-get update -q >/dev/null
        $as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q dataset-fashion-mnist fonts-dejavu-core chromium >/dev/null
    else
        echo "test.sh: the Fashion-MNIST test set, the DejaVu font or Chromium is missing and cannot be installed here" \
             "(needs apt-get and root): the tests that need them will be reported as skipped" >&2
    fi
fi

exec dotnet test tests/RelevanceSharp.Tests -c Release "$@"
