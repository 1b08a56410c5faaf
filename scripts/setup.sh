#!/usr/bin/env bash
# Set up a fresh checkout: a virtualenv with migrakit installed (editable) and its embedded PostgreSQL.
#   scripts/setup.sh          what `inv build` needs: migrakit[embedded] in .venv
#   scripts/setup.sh --test   also the test extras and Drizzle's migrators from npm (for interop tests)
# PYTHON picks the interpreter (default python3; 3.11 or newer): a command, a path, or a bare version such as 3.13
# (found as python3.13 on PATH, in pyenv's versions, or by `uv python find`). VENV is the folder (default .venv):
#   PYTHON=3.13 VENV=.venv313 scripts/setup.sh --test
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
VENV="${VENV:-.venv}"
if [[ "$PYTHON" =~ ^3\.[0-9]+$ ]]; then
  version="$PYTHON"
  PYTHON=""
  for candidate in "python$version" "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$version".*/bin/python; do
    if "$candidate" -c "import sys; sys.exit('%d.%d' % sys.version_info[:2] != '$version')" 2>/dev/null; then
      PYTHON="$candidate"
      break
    fi
  done
  if [ -z "$PYTHON" ] && command -v uv >/dev/null; then
    PYTHON="$(uv python find "$version" 2>/dev/null || true)"
  fi
  if [ -z "$PYTHON" ]; then
    echo "error: no Python $version found (python$version on PATH, pyenv, uv)" >&2
    echo "  fix:   install it (e.g. pip install uv && uv python install $version), or set PYTHON=/path/to/python$version" >&2
    exit 2
  fi
fi
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "error: migrakit needs Python 3.11 or newer; $PYTHON is $("$PYTHON" --version 2>&1 || echo 'not found')" >&2
  echo "  fix:   PYTHON=/path/to/python3.11-or-newer scripts/setup.sh" >&2
  exit 2
fi
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
pip=("$VENV/bin/python" -m pip install --quiet --disable-pip-version-check)
if [ "${1:-}" = "--test" ]; then
  "${pip[@]}" -e '.[embedded,test]'
  node_dir=tests/interop/node
  # npm ci deletes and reinstalls node_modules: skip it when the lock file is already installed as is.
  if ! cmp -s "$node_dir/package-lock.json" "$node_dir/node_modules/.migrakit-installed-lock.json" 2>/dev/null; then
    (cd "$node_dir" && npm ci --no-audit --no-fund --loglevel=error)
    cp "$node_dir/package-lock.json" "$node_dir/node_modules/.migrakit-installed-lock.json"
  fi
else
  "${pip[@]}" -e '.[embedded]'
fi
echo "setup done: $VENV ready ($("$VENV/bin/python" --version))"
