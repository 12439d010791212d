#!/usr/bin/env bash
# Creates (once) a Python virtual environment with numpy and zarr-python 3.x at
# <repo>/target/pyenv, used by the store tests to write and check Zarr stores.
# Idempotent: does nothing if the venv already imports both packages. Prints the
# path of the venv's python on its last line of stdout.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${DARRAY_PYENV:-$repo_root/target/pyenv}"
py="$venv/bin/python"

has_packages() {
    [ -x "$py" ] && "$py" -c 'import numpy, zarr, sys; sys.exit(0 if int(zarr.__version__.split(".")[0]) >= 3 else 1)' >/dev/null 2>&1
}

if has_packages; then
    echo "$py"
    exit 0
fi

python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' || {
    echo "python-env.sh: zarr-python 3 needs Python >= 3.11, found $(python3 --version 2>&1)" >&2
    exit 1
}

# Debian/Ubuntu ship venv (ensurepip) separately from python3.
if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        pyver="$(python3 -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
        apt-get update >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y "python${pyver}-venv" >&2 \
            || DEBIAN_FRONTEND=noninteractive apt-get install -y python3-venv >&2
    else
        echo "python-env.sh: python3 lacks venv/ensurepip; install python3-venv" >&2
        exit 1
    fi
fi

# A half-made venv (interrupted run) is rebuilt from scratch.
if [ -d "$venv" ] && [ ! -x "$py" ]; then
    rm -rf "$venv"
fi
mkdir -p "$(dirname "$venv")"
[ -x "$py" ] || python3 -m venv "$venv" >&2
"$py" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2 || true
"$py" -m pip install --quiet --disable-pip-version-check numpy 'zarr>=3,<4' >&2

if ! has_packages; then
    echo "python-env.sh: numpy/zarr still not importable from $py" >&2
    exit 1
fi
echo "$py"
