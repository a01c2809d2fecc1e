#!/usr/bin/env bash
# Runs the NumPy reference programs beside the crate's benches, in one run, and prints each pair
# with its ratio (NumPy's time over the crate's: above 1, the crate is faster).
#
#   benches/compare.sh                       # all three tasks
#   ROUNDS=3 benches/compare.sh              # interleaved rounds, medians compared
#   BACKPROP_BENCH_REFS=/path/to/bench benches/compare.sh
#
# Tasks: xor-20000-f64 (benches/training.rs) with xor_numpy.py; digits-mlp and mnist-mlp
# (benches/mlp.rs) with mlp_numpy.py --task digits-mlp / mnist-mlp. Each task's cases (the
# default thread count, -threads1, -threads2) come from one bench run and are each compared with
# the same NumPy run (NumPy on one thread). The crate's figure is the bench line's median_ms,
# NumPy's its RESULT line's train_s (the training loop alone for both). The mnist runs' product
# floors (gemm-mnist-mlp-f32, dense-mnist-mlp-f32 at 1 and 2 threads) are printed after the
# table.
#
# The reference programs are looked for in $BACKPROP_BENCH_REFS, else ../shared/bench beside
# the repository. Data: $BACKPROP_DATA (default data/ for the benches, ../data for NumPy), passed
# to both. The machine may be shared and noisy: compare ratios from one run, not seconds from
# different runs.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
refs="${BACKPROP_BENCH_REFS:-$repo/../shared/bench}"
if [[ ! -f "$refs/xor_numpy.py" || ! -f "$refs/mlp_numpy.py" ]]; then
    echo "compare.sh: the NumPy reference programs are missing: no xor_numpy.py and mlp_numpy.py in $refs" >&2
    echo "compare.sh: set BACKPROP_BENCH_REFS to the directory that holds them" >&2
    exit 2
fi
python="${PYTHON:-python3}"
if ! "$python" -c 'import numpy' 2>/dev/null; then
    echo "compare.sh: $python cannot import numpy (python3 -m pip install numpy)" >&2
    exit 2
fi
export BACKPROP_DATA="${BACKPROP_DATA:-$repo/data}"
rounds="${ROUNDS:-1}"
# A current NumPy is slowed by these (see the reference programs' README).
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
export OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-1}"

cd "$repo"
cargo bench --no-run --bench training --bench mlp >/dev/null 2>&1 || cargo bench --no-run --bench training --bench mlp

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

# bench_ms <bench> <filter> <case>...: one `cargo bench` run with the filter, then each case's
# median_ms from it, one per line (the filter "digits-mlp" also runs -threads1, -threads2 and -rows).
bench_ms() {
    local bench="$1" filter="$2"
    shift 2
    cargo bench --bench "$bench" -- "$filter" 2>/dev/null >"$out/run"
    cat "$out/run" >>"$out/log"
    for case in "$@"; do
        awk -v name="$case" '$1 == "bench:" && $2 == "name=" name { sub("median_ms=", "", $3); v = $3 } END { print (v == "" ? "missing" : v) }' "$out/run"
    done
}

# numpy_ms <args...>: train_s of the reference program's RESULT line, in ms.
numpy_ms() {
    "$python" "$@" | tee -a "$out/log" |
        awk '$1 == "RESULT" { for (i = 2; i <= NF; i++) if ($i ~ /^train_s=/) { sub("train_s=", "", $i); print $i * 1000 } }'
}

# <cases>|<bench>|<NumPy program>: the first case is the bench filter; every case listed is
# compared with the same NumPy run.
pairs=(
    "xor-20000-f64,xor-20000-f64-threads1|training|$refs/xor_numpy.py"
    "digits-mlp,digits-mlp-threads1,digits-mlp-threads2,digits-mlp-rows|mlp|$refs/mlp_numpy.py --task digits-mlp"
    "mnist-mlp,mnist-mlp-threads1,mnist-mlp-threads2,mnist-mlp-rows|mlp|$refs/mlp_numpy.py --task mnist-mlp"
)

# Rounds interleave the two sides of every pair, so drift hits both.
for ((r = 1; r <= rounds; r++)); do
    for pair in "${pairs[@]}"; do
        IFS='|' read -r cases bench numpy <<<"$pair"
        IFS=',' read -r -a names <<<"$cases"
        mapfile -t times < <(bench_ms "$bench" "${names[0]}" "${names[@]}")
        # shellcheck disable=SC2086 # the program and its arguments
        ref="$(numpy_ms $numpy)"
        for i in "${!names[@]}"; do
            echo "${names[$i]} ${times[$i]:-missing} ${ref:-missing}" >>"$out/pairs"
        done
    done
done

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "missing"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

printf '%-22s %14s %14s %10s\n' case backprop_ms numpy_ms numpy/backprop
for case in $(awk '!seen[$1]++ { print $1 }' "$out/pairs"); do
    crate="$(awk -v c="$case" '$1 == c && $2 != "missing" { print $2 }' "$out/pairs" | median)"
    ref="$(awk -v c="$case" '$1 == c && $3 != "missing" { print $3 }' "$out/pairs" | median)"
    if [[ "$crate" == missing || "$ref" == missing ]]; then
        printf '%-22s %14s %14s %10s\n' "$case" "$crate" "$ref" "-"
        grep -E "skipped|Error|error" "$out/log" | grep -i "${case%%-*}" | head -2 || true
    else
        awk -v c="$case" -v a="$crate" -v b="$ref" 'BEGIN { printf "%-22s %14.3f %14.3f %9.2fx\n", c, a, b, b / a }'
    fi
done
echo "($rounds round(s); crate: median_ms of the bench line, NumPy: train_s; data: $BACKPROP_DATA)"
# The product floors the mnist runs measured beside their cases (see benches/mlp.rs).
grep -E "^(gemm|dense)-mnist-mlp.* floor_s=" "$out/log" | sed 's/^/floor: /' || true
