#!/usr/bin/env bash
# Keeps this folder identical to the place where new reference cases arrive, ../shared/conformance next to the
# repository (or the folder given as SOURCE).
#
#   tests/conformance/sync.sh --check [SOURCE]   lists every file that differs and exits 1 if any does, 0 if none
#   tests/conformance/sync.sh [SOURCE]           makes this folder a copy of SOURCE, then checks again
#
# The files that are ours and not part of the copy are left alone and not compared: this script, PROVENANCE.md and
# tools/ (the test ConformanceCopyTests keeps the same list).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
ours=(sync.sh PROVENANCE.md tools)

check=0
if [ "${1:-}" = "--check" ]; then
    check=1
    shift
fi
if [ "$#" -gt 1 ] || [[ "${1:-}" == -* ]]; then
    echo "usage: $0 [--check] [SOURCE]" >&2
    exit 2
fi
source_dir="${1:-$here/../../../shared/conformance}"
if [ ! -d "$source_dir" ]; then
    echo "error: $source_dir does not exist: there is nothing to compare this copy with" >&2
    exit 2
fi
source_dir="$(cd "$source_dir" && pwd)"

# The relative paths of the files below a folder, sorted, without ours when the folder is this copy.
list_files() {
    local dir="$1" skip="$2"
    (cd "$dir" && find . -type f -printf '%P\n') | while IFS= read -r file; do
        if [ "$skip" = 1 ]; then
            for own in "${ours[@]}"; do
                if [ "$file" = "$own" ] || [[ "$file" == "$own"/* ]]; then continue 2; fi
            done
        fi
        printf '%s\n' "$file"
    done | LC_ALL=C sort
}

# Prints one line per difference; returns 1 when there was any.
compare() {
    local differ=0 file
    while IFS= read -r file; do
        echo "only in $source_dir: $file"
        differ=1
    done < <(LC_ALL=C comm -23 <(list_files "$source_dir" 0) <(list_files "$here" 1))
    while IFS= read -r file; do
        echo "only in $here: $file"
        differ=1
    done < <(LC_ALL=C comm -13 <(list_files "$source_dir" 0) <(list_files "$here" 1))
    while IFS= read -r file; do
        if ! cmp -s "$source_dir/$file" "$here/$file"; then
            echo "contents differ: $file"
            differ=1
        fi
    done < <(LC_ALL=C comm -12 <(list_files "$source_dir" 0) <(list_files "$here" 1))
    return "$differ"
}

if [ "$check" = 0 ]; then
    # Remove what the source no longer has, then copy everything over (modes are not copied: the source may be
    # read-only, and git keeps no modes but the executable bit).
    while IFS= read -r file; do
        rm -- "$here/$file"
        echo "removed $file"
    done < <(LC_ALL=C comm -13 <(list_files "$source_dir" 0) <(list_files "$here" 1))
    find "$here" -mindepth 1 -type d -empty -delete
    while IFS= read -r file; do
        if ! cmp -s "$source_dir/$file" "$here/$file" 2>/dev/null; then
            mkdir -p "$(dirname "$here/$file")"
            cp --no-preserve=mode,ownership -- "$source_dir/$file" "$here/$file"
            echo "copied $file"
        fi
    done < <(list_files "$source_dir" 0)
fi

if compare; then
    echo "tests/conformance is identical to $source_dir"
else
    echo "error: tests/conformance differs from $source_dir (update it with tests/conformance/sync.sh)" >&2
    exit 1
fi
