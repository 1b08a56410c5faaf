"""The run commands under one import, for library users and tests (`from migrakit.workflows import runner`).

Each command lives in its own module (workflows/migrate.py, status.py, bootstrap.py); nothing in migrakit
imports this module: a workflow never calls another workflow's entry point."""

from __future__ import annotations

from ..db import tracking as tracking
from ..sources.load import load_sources as load_sources
from .bootstrap import bootstrap as bootstrap
from .migrate import migrate as migrate
from .migrate import migrate_consolidated as migrate_consolidated
from .status import status as status
