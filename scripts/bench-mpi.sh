#!/usr/bin/env bash
# bench-mpi.sh: does splitting a population over MPI ranks cost anything? Trains the digits
# task with a fixed population at two model sizes, once as 1 process x 2 threads (no MPI) and
# once as 2 MPI ranks x 1 thread, and prints the median generation time (metrics.jsonl
# `seconds`, first generation and the final evaluation excluded) and the bytes each rank
# exchanged per generation.
#   scripts/bench-mpi.sh
# Environment: POP (population, default 4096), GENS (generations, default 12), SIZES (hidden
# shapes separated by ';', default "[64];[512, 512]"), BATCH (task.batch, default 32),
# EGGROLL_BIN (a binary built with --features mpi; default: build one in release).
set -euo pipefail
cd "$(dirname "$0")/.."

pop=${POP:-4096}
gens=${GENS:-12}
batch=${BATCH:-32}
sizes=${SIZES:-"[64];[512, 512]"}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

bin=${EGGROLL_BIN:-}
if [[ -z "$bin" ]]; then
  cargo build --release --features mpi --bin eggroll >&2
  bin="${CARGO_TARGET_DIR:-target}/release/eggroll"
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# median seconds per generation (generations 1..G-2) and bytes per generation of a run dir
summarise() {
  python3 - "$1/metrics.jsonl" <<'EOF'
import json, sys, statistics
rows = [json.loads(l) for l in open(sys.argv[1])]
secs = [r["seconds"] for r in rows[1:-1]]
print(f"{statistics.median(secs):.4f} {rows[-1].get('bytes_exchanged', 0)}")
EOF
}

args=(train --set "es.population=$pop" --set "task.batch=$batch" --generations "$gens"
  --set run.eval_every=1000000 --set run.checkpoint_every=1000000)
printf '%-12s %-22s %12s %14s\n' hidden layout "s/generation" "bytes/gen/rank"
i=0
IFS=';' read -ra shapes <<<"$sizes"
for hidden in "${shapes[@]}"; do
  i=$((i + 1))
  EGGROLL_MPI=0 "$bin" --threads 2 "${args[@]}" \
    --set "model.hidden=$hidden" --out "$work/one-$i" >/dev/null
  read -r s1 b1 < <(summarise "$work/one-$i")
  mpirun -np 2 "$bin" --threads 1 "${args[@]}" \
    --set "model.hidden=$hidden" --out "$work/two-$i" >/dev/null
  read -r s2 b2 < <(summarise "$work/two-$i")
  printf '%-12s %-22s %12s %14s\n' "$hidden" "1 rank x 2 threads" "$s1" "$b1"
  printf '%-12s %-22s %12s %14s\n' "$hidden" "2 ranks x 1 thread" "$s2" "$b2"
  python3 -c "print(f'{\"\":12s} ratio (2x1)/(1x2) = {$s2/$s1:.3f}')"
done
