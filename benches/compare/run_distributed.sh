#!/usr/bin/env bash
# darray's local executor vs a darray LocalCluster (2 workers x 1 thread) vs
# dask.distributed's LocalCluster (2 workers x 1 thread, processes), on the store of
# benches/compare (created when missing). Prints a table and writes
# target/bench-data/compare_distributed.json.
#
#   bash benches/compare/run_distributed.sh [compare_distributed.py options, e.g. --repeats 2 --workloads tiny,transfer]
#
# Needs the Python venv of scripts/python-env.sh; installs dask[array] and
# distributed into it when missing. Builds darray's side (benches/compare_dist.rs,
# and the darray worker binary) in release mode once, then runs the built binary
# directly, one process per run.
set -euo pipefail
cd "$(dirname "$0")/../.."

export OPENBLAS_NUM_THREADS=1

py="$(bash scripts/python-env.sh | tail -n 1)"
if ! "$py" -c 'import dask.array, dask.distributed, zarr' >/dev/null 2>&1; then
    echo "run_distributed.sh: installing dask[array] and distributed into $(dirname "$(dirname "$py")")" >&2
    "$py" -m pip install --quiet --disable-pip-version-check 'dask[array]' distributed >&2
fi

echo "run_distributed.sh: building benches/compare_dist.rs (release)" >&2
bin="$(bash benches/compare/bench_bin.sh compare_dist "$py")"

# As run.sh: OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE slow a current numpy; unset both here only.
exec env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$py" benches/compare/compare_distributed.py --darray "$bin" --python "$py" "$@"
