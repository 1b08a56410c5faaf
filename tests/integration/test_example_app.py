"""The example app `inv build` / `inv dev` end with (scripts/metrics_app.py, README's first command): it runs on the
repository's own migrations, applied by migrakit, and imports only names migrakit still has."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from migrakit.sources.config import load_settings
from migrakit.workflows.migrate import migrate

ROOT = Path(__file__).resolve().parents[2]


def test_the_example_app_saves_and_reads_a_metric_after_migrating_the_repository_folder(db_url):
    report = migrate(load_settings(ROOT, env={}, database_url=db_url))
    assert report.applied  # the repository's migrations/ ran on this fresh database

    env = {k: v for k, v in os.environ.items() if not k.startswith("MIGRAKIT_")} | {"DATABASE_URL": db_url}
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "metrics_app.py")], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip

    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("saved metric: checkout p95_ms = 742.5 (threshold 800) on "), proc.stdout
    assert "Traceback" not in proc.stderr
