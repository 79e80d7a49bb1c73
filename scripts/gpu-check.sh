#!/usr/bin/env bash
# gpu-check.sh: on a machine with a GPU (NVIDIA or other, through Vulkan), build the wgpu
# backend, run its whole test suite (core conformance + CPU comparisons) on the GPU, then
# the low-rank benchmark on a few shapes, and write every figure to a file:
#   scripts/gpu-check.sh [OUTFILE]        (default: $OUT/gpu-check.txt)
# The bench lines are JSON objects (see eggroll_shaders::LowRankBench::to_json).
# Environment: SHAPES overrides the benchmark shapes ("HIDDEN LAYERS N RANK [full]" separated
# by ';'; `full` also times the naive full-rank OpenES baseline, slow by design), REPEATS the timed repetitions (default 5), PROFILE the cargo profile (default
# release), WGPU_ADAPTER_NAME picks an adapter.
set -uo pipefail

out=${1:-}
if [[ -z "$out" ]]; then
  if [[ -z "${OUT:-}" ]]; then
    echo "gpu-check.sh: give an output file as \$1 or set OUT to a directory" >&2
    exit 2
  fi
  out="$OUT/gpu-check.txt"
fi
mkdir -p "$(dirname "$out")"
cd "$(dirname "$0")/.." || exit 2

export WGPU_BACKEND=${WGPU_BACKEND:-vulkan}
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}
export CARGO_INCREMENTAL=0
repeats=${REPEATS:-5}
profile=${PROFILE:-release}
case "$profile" in
  dev | test) profile_dir=debug ;;
  *) profile_dir=$profile ;;
esac
shapes=${SHAPES:-"256 3 4096 1 full;1024 3 4096 1 full;1024 3 16384 1;1024 3 16384 4;4096 2 4096 1"}

log() { echo "$*" | tee -a "$out"; }
: >"$out"
log "# eggroll gpu-check $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname)"
log "# commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 |
    sed 's/^/# gpu: /' | tee -a "$out"
fi
# wgpu reaches NVIDIA GPUs through Vulkan: the loader (libvulkan1) plus the driver's ICD.
icds=$(ls /usr/share/vulkan/icd.d/ /etc/vulkan/icd.d/ 2>/dev/null | tr '\n' ' ')
log "# vulkan ICDs: ${icds:-none found}"
if ! ldconfig -p 2>/dev/null | grep -q libvulkan.so.1; then
  log "# libvulkan.so.1 missing: trying apt-get install libvulkan1"
  (apt-get update -qq && apt-get install -y -qq --no-install-recommends libvulkan1) >/dev/null 2>&1 ||
    log "# could not install libvulkan1 (no package access?)"
fi

status=0
log "## build + tests (profile $profile)"
cargo test --profile "$profile" -p eggroll-shaders >"$out.tests.log" 2>&1
rc=$?
grep -E '^test |test result|panicked' "$out.tests.log" | tee -a "$out"
if ((rc != 0)); then
  log "## TESTS FAILED (cargo exit $rc; full log: $out.tests.log)"
  status=1
fi

log "## bench lowrank (JSON per shape; seconds are best of $repeats)"
if cargo build --profile "$profile" -p eggroll-shaders --example bench_lowrank >>"$out.tests.log" 2>&1; then
  bin="${CARGO_TARGET_DIR:-target}/$profile_dir/examples/bench_lowrank"
  IFS=';' read -ra list <<<"$shapes"
  for shape in "${list[@]}"; do
    read -ra f <<<"$shape"
    if ! "$bin" "${f[0]}" "${f[1]}" "${f[2]}" "${f[3]}" "$repeats" "${f[4]:-}" 2>&1 | tee -a "$out"; then
      log "## bench failed for shape: $shape"
      status=1
    fi
  done
  if grep -q '"software":true' "$out"; then
    log "## WARNING: the adapter is a software rasteriser; these are not GPU figures"
  fi
else
  log "## bench build failed (log: $out.tests.log)"
  status=1
fi
log "# done, status $status"
exit $status
