#!/usr/bin/env bash
# Install everything the tests need (Debian packages when missing, the package with its test extra and
# the lint group in .venv, a wheelhouse for the packaging tests), then run ruff, mypy --strict and the
# whole pytest suite.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the suite drives as real components: command -> package.
declare -A NEEDED=( [openssl]=openssl [docker-registry]=docker-registry [skopeo]=skopeo [softhsm2-util]=softhsm2 )
missing=()
for cmd in "${!NEEDED[@]}"; do
    command -v "$cmd" >/dev/null 2>&1 || missing+=("${NEEDED[$cmd]}")
done
if ((${#missing[@]})); then
    echo "==> installing Debian packages: ${missing[*]}"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
fi

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    echo "==> creating .venv"
    "$PYTHON" -m venv .venv
fi
echo "==> installing notation-py with the test extra and the lint group"
.venv/bin/python -m pip install -q --upgrade pip </dev/null  # pip >= 25.1 for --group (PEP 735)
.venv/bin/python -m pip install -q -e '.[test]' --group lint </dev/null

# tests/packaging installs the wheel into fresh environments without the network: a wheelhouse of the
# build backend and of the base dependencies (with theirs) for this Python. The project's own wheel is
# left out: the tests build it from the working tree.
echo "==> filling .wheelhouse"
.venv/bin/python -m pip wheel -q -w .wheelhouse . 'setuptools>=77' </dev/null
rm -f .wheelhouse/notation_py-*.whl

# The independent C2SP verifier (aics-tlog) used by tests/tlog/test_independent_verifier.py declares
# Python >= 3.12: find one (PATH, then pyenv's versions) and give it its own environment. Without
# one, it is installed on this Python anyway (it imports and passes the test on 3.11), with a warning.
verifier_pip_flags=()
if [ ! -x .venv-verifier/bin/python ]; then
    verifier_python=""
    for candidate in python3.14 python3.13 python3.12 \
        "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.1[2-9]*/bin/python3 /usr/bin/python3.1[2-9]; do
        if "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1; then
            verifier_python="$candidate"
            break
        fi
    done
    if [ -z "$verifier_python" ]; then
        verifier_python="$PYTHON"
        echo "warning: no Python >= 3.12 found; the independent tlog verifier (aics-tlog) runs on $("$PYTHON" --version)" >&2
    fi
    echo "==> creating .venv-verifier with $verifier_python"
    "$verifier_python" -m venv .venv-verifier
fi
if ! .venv-verifier/bin/python -c 'import sys; sys.exit(sys.version_info < (3, 12))'; then
    verifier_pip_flags=(--ignore-requires-python)
fi
.venv-verifier/bin/python -m pip install -q "${verifier_pip_flags[@]}" "aics-tlog==0.2.1" </dev/null

echo "==> ruff check"
.venv/bin/ruff check .
echo "==> ruff format --check"
.venv/bin/ruff format --check .
echo "==> mypy --strict"
.venv/bin/mypy --strict
echo "==> pytest"
.venv/bin/pytest -q -p no:cacheprovider -n auto --dist loadgroup "$@"  # serial: pass -n 0
