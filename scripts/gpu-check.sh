#!/usr/bin/env bash
# gpu-check.sh: on a machine with a GPU, build eggroll with its GPU backends (wgpu through
# Vulkan; cubecl's wgpu runtime, plus its CUDA runtime when CUDA=1), run the GPU backends'
# conformance suites (core's float checks and eggroll-llm's integer kernels) on the device,
# then `eggroll bench lowrank` on a few shapes for every backend (CPU included, for the
# ratio), and write every figure to a file:
#   scripts/gpu-check.sh [OUTFILE]        (default: $OUT/gpu-check.txt)
# The bench lines are the JSON objects of `eggroll bench lowrank --json`.
# Environment: SHAPES overrides the benchmark shapes ("HIDDEN LAYERS N RANK [full]" separated
# by ';'; `full` also times the naive full-rank OpenES baseline, slow by design), PROFILE the
# cargo profile (default release), BACKENDS the backends benchmarked (default "cpu wgpu
# cubecl"), CUDA=1 adds the cubecl CUDA runtime, WGPU_ADAPTER_NAME picks an adapter.
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
# The GPU tests must run on the device here, never skip for want of an adapter.
export EGGROLL_REQUIRE_GPU=1
profile=${PROFILE:-release}
case "$profile" in
  dev | test) profile_dir=debug ;;
  *) profile_dir=$profile ;;
esac
shapes=${SHAPES:-"256 3 4096 1 full;1024 3 4096 1;1024 3 16384 1;1024 3 16384 4;4096 2 4096 1"}
backends=${BACKENDS:-"cpu wgpu cubecl"}
features="wgpu,cubecl"
packages=(-p eggroll-shaders -p eggroll-cubecl)
if [[ "${CUDA:-0}" == 1 ]]; then
  features="$features,cuda"
  backends="$backends cubecl-cuda"
fi

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
log "## build + GPU conformance tests (profile $profile, features $features)"
cuda_feature=()
[[ "${CUDA:-0}" == 1 ]] && cuda_feature=(--features eggroll-cubecl/cuda)
cargo test --profile "$profile" "${packages[@]}" "${cuda_feature[@]}" >"$out.tests.log" 2>&1
rc=$?
grep -E '^test |test result|panicked' "$out.tests.log" | tee -a "$out"
if ((rc != 0)); then
  log "## TESTS FAILED (cargo exit $rc; full log: $out.tests.log)"
  status=1
fi

log "## bench lowrank (one JSON object per backend and shape)"
if cargo build --profile "$profile" --features "$features" >>"$out.tests.log" 2>&1; then
  bin="${CARGO_TARGET_DIR:-target}/$profile_dir/eggroll"
  IFS=';' read -ra shape_list <<<"$shapes"
  for shape in "${shape_list[@]}"; do
    read -r hidden layers n rank full <<<"$shape"
    for backend in $backends; do
      args=(bench lowrank --hidden "$hidden" --layers "$layers" -n "$n" --rank "$rank" --json
        --backend "$backend")
      [[ "${full:-}" == full ]] || args+=(--skip-naive)
      if ! "$bin" "${args[@]}" >>"$out" 2>>"$out.tests.log"; then
        log "## bench failed: backend $backend shape $shape"
        status=1
      fi
    done
  done
else
  log "## BUILD FAILED (see $out.tests.log)"
  status=1
fi
log "# done, status $status"
exit $status
