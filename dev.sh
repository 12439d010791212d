#!/usr/bin/env bash
# darray's two commands (see README):
#   ./dev.sh run    install what is missing, build in release mode, run the quickstart
#   ./dev.sh test   install what is missing, run the whole test suite
# Extra verbs: ./dev.sh setup (only install), ./dev.sh bench (criterion benches),
#              ./dev.sh compare (side-by-side with dask, see benches/compare/).
set -euo pipefail
cd "$(dirname "$0")"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

setup_system() {
    local missing=()
    dpkg -s libopenblas-dev >/dev/null 2>&1 || missing+=(libopenblas-dev)
    command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
    python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || missing+=(python3-venv)
    if [ ${#missing[@]} -gt 0 ]; then
        echo "dev.sh: installing ${missing[*]}" >&2
        as_root apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}

setup_python() { bash scripts/python-env.sh >/dev/null; }

# One BLAS thread per task: parallelism comes from the task graph.
export OPENBLAS_NUM_THREADS=1

case "${1:-}" in
    setup) setup_system; setup_python ;;
    run)
        setup_system
        cargo run --release --example quickstart
        ;;
    test)
        setup_system
        setup_python
        cargo test --workspace --lib --bins --tests --examples
        cargo test --workspace --doc
        # Tests ignored for lack of privileges elsewhere (network namespaces),
        # run where they are there (root): they fail if they cannot make them.
        if [ "$(id -u)" = 0 ]; then
            cargo test --test distributed_security -- --ignored
        fi
        # End to end: a program that is its own client and its own workers.
        cargo run --example distributed_custom_kernel
        ;;
    bench)
        setup_system
        cargo bench --bench "${2:-fused_mean}" -- --warm-up-time 1 --measurement-time 5
        ;;
    compare)
        setup_system
        setup_python
        bash benches/compare/run.sh
        ;;
    *)
        echo "usage: ./dev.sh run|test|setup|bench [name]|compare" >&2
        exit 2
        ;;
esac
