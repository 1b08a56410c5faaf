"""The run commands under one import, for library users and tests (`from migrakit.workflows import runner`).

Each command lives in its own module (workflows/migrate.py, status.py, bootstrap.py); nothing in migrakit
imports this module: a workflow never calls another workflow's entry point."""

from __future__ import annotations

from migrakit.db import tracking as tracking
from migrakit.sources.load import load_sources as load_sources
from migrakit.workflows.bootstrap import bootstrap as bootstrap
from migrakit.workflows.migrate import migrate as migrate
from migrakit.workflows.migrate import migrate_consolidated as migrate_consolidated
from migrakit.workflows.status import status as status
