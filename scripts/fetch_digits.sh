#!/usr/bin/env bash
# Rebuild data/digits.u8 (the 8x8 handwritten digits, 1,797 images) from scikit-learn's wheel on PyPI.
# Each record is 65 bytes: 64 pixels (0..16, row-major 8x8) then the label (0..9).
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
python3 -m pip download --no-deps --only-binary=:all: --python-version 3.11 --implementation cp \
  --platform manylinux2014_x86_64 scikit-learn==1.5.2 -d "$tmp" >/dev/null
echo "f8b0ccd4a902836493e026c03256e8b206656f91fbcc4fde28c57a5b752561f1  $(ls "$tmp"/*.whl)" | sha256sum -c -
(cd "$tmp" && unzip -q -o ./*.whl 'sklearn/datasets/data/digits.csv.gz')
python3 - "$tmp/sklearn/datasets/data/digits.csv.gz" data/digits.u8 <<'PY'
import gzip, sys
out = bytearray()
for line in gzip.open(sys.argv[1], "rt"):
    if line.strip():
        out += bytes(int(v) for v in line.strip().split(","))
open(sys.argv[2], "wb").write(out)
PY
echo "68aea062d35a127749050fa0e52dca09d6569ac08092c925610e0954e172dde2  data/digits.u8" | sha256sum -c -
rm -rf "$tmp"
