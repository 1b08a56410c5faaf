"""Interop tests run Drizzle's own migrators through node (tests/interop/node, installed by `npm ci`)."""

import os

import pytest

from tests.interop.drizzle import NODE_DIR, node_available


@pytest.fixture(scope="session", autouse=True)
def _require_node() -> None:
    """Skip locally when the node harness is not installed; in CI that is a failure, never a skip."""
    if node_available():
        return
    reason = f"Drizzle harness not installed: need `node` on PATH and `npm ci` in {NODE_DIR}"
    if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
        pytest.fail(f"{reason} (CI is set, so this is not skipped)")
    pytest.skip(reason)
