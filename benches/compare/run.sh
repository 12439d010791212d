#!/usr/bin/env bash
# darray vs dask.array vs the decode floor, on one Zarr v3 store (float64
# 16384 x 8192 in 2048 x 2048 chunks, zstd level 1, 1 GiB), created once by darray
# under target/bench-data/. Prints a table and writes target/bench-data/compare.json.
#
#   bash benches/compare/run.sh [compare.py options, e.g. --repeats 1 --workloads mean,tiny]
#   ./dev.sh compare
#
# Needs the Python venv of scripts/python-env.sh (numpy, zarr) and dask[array] (and scipy, for its dense linear algebra) in it,
# installed here when missing. Builds darray's side (benches/compare.rs) in release
# mode once, then runs the built binary directly, one process per run.
set -euo pipefail
cd "$(dirname "$0")/../.."

export OPENBLAS_NUM_THREADS=1

py="$(bash scripts/python-env.sh | tail -n 1)"
if ! "$py" -c 'import dask.array, threadpoolctl, scipy, flox' >/dev/null 2>&1; then
    echo "run.sh: installing dask[array] into $(dirname "$(dirname "$py")")" >&2
    "$py" -m pip install --quiet --disable-pip-version-check 'dask[array]' threadpoolctl scipy flox >&2
fi

echo "run.sh: building benches/compare.rs (release)" >&2
bin="$(bash benches/compare/bench_bin.sh compare "$py")"

# Some machines here set OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE for old OpenBLAS
# builds; they slow a current numpy. Unset both, for this command only.
if [ -n "${OPENBLAS_CORETYPE:-}${OPENBLAS_L2_SIZE:-}" ]; then
    echo "run.sh: unsetting OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-} OPENBLAS_L2_SIZE=${OPENBLAS_L2_SIZE:-} for the comparison" >&2
fi
exec env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$py" benches/compare/compare.py --darray "$bin" --python "$py" "$@"
