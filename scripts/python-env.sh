#!/usr/bin/env bash
# Creates (once) a Python virtual environment with numpy and zarr-python 3.x at
# <repo>/target/pyenv (or at $DARRAY_PYENV), used by the store tests to write and check
# Zarr stores, plus a real S3 server (moto[server]) and s3fs, zarr-python's S3 path,
# for tests/object_store.rs. Idempotent: does nothing if the venv already imports them.
# Progress goes to stderr; the last line of stdout is the path of the venv's python.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${DARRAY_PYENV:-$repo_root/target/pyenv}"
py="$venv/bin/python"

has_packages() {
    [ -x "$py" ] && "$py" -c '
import sys, numpy, zarr, moto, s3fs
sys.exit(0 if int(zarr.__version__.split(".")[0]) >= 3 else 1)' >/dev/null 2>&1
}

if has_packages; then
    echo "$py"
    exit 0
fi

python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' || {
    echo "python-env.sh: zarr-python 3 needs Python >= 3.11, found $(python3 --version 2>&1)" >&2
    exit 1
}

# Debian/Ubuntu ship venv's pip bootstrap (ensurepip) in a separate package.
install_venv_package() {
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        local pyver
        pyver="$(python3 -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
        apt-get update >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y "python${pyver}-venv" >&2 \
            || DEBIAN_FRONTEND=noninteractive apt-get install -y python3-venv >&2
    else
        echo "python-env.sh: 'python3 -m venv' failed; install python3-venv" >&2
        exit 1
    fi
}

mkdir -p "$(dirname "$venv")"
if [ ! -x "$py" ] || ! "$py" -m pip --version >/dev/null 2>&1; then
    # A half-made venv (interrupted run, missing ensurepip) is rebuilt from scratch.
    rm -rf "$venv"
    if ! python3 -m venv "$venv" >&2; then
        rm -rf "$venv"
        install_venv_package
        python3 -m venv "$venv" >&2
    fi
fi
"$py" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2 || true
"$py" -m pip install --quiet --disable-pip-version-check numpy 'zarr>=3,<4' \
    'moto[server]>=5' 's3fs>=2024.6' >&2

if ! has_packages; then
    echo "python-env.sh: numpy/zarr/moto/s3fs still not importable from $py" >&2
    exit 1
fi
echo "$py"
