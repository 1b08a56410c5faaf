#!/usr/bin/env bash
# Set up a fresh checkout: a virtualenv in .venv with migrakit installed (editable).
#   scripts/setup.sh          what `inv build` needs
#   scripts/setup.sh --test   also the test extras and Drizzle's migrators from npm (for interop tests)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
if [ "${1:-}" = "--test" ]; then
  .venv/bin/pip install --quiet --disable-pip-version-check -e '.[test]'
  (cd tests/interop/node && npm ci --no-audit --no-fund --loglevel=error)
else
  .venv/bin/pip install --quiet --disable-pip-version-check -e .
fi
echo "setup done: .venv ready ($(.venv/bin/python --version))"
