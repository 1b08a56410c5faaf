"""The splitter on a real server: random scripts from the grammar of tests/unit/test_split_property.py, run one
statement at a time, each through the extended protocol (which refuses two statements in one query), must give
the same schema as psql running the whole text in one transaction (`psql -X -v ON_ERROR_STOP=1 -1 -f`).
"""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings

from migrakit.core.postgres.statements import split_statements
from migrakit.db.connect import server
from tests.fixtures.pg import dump_schema
from tests.unit.test_split_property import script


# ------------------------------------------------------------------------------------------ on a real server
def _run_one_by_one(url: str, text: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for s in split_statements(text):
            conn.execute(s.text, binary=True)  # binary=True: the extended protocol, one statement per query


def _run_psql(url: str, text: str, pg_bin: Path, tmp_path: Path) -> None:
    path = tmp_path / f"{uuid.uuid4().hex}.sql"
    path.write_text(text, encoding="utf-8", newline="")
    proc = subprocess.run(
        [str(pg_bin / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-1", "-f", str(path), "-d", url],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, f"psql refused the generated script: {proc.stderr}"


@pytest.mark.slow
@settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(text=script())
def test_split_statements_run_alone_build_the_same_schema_as_psql(text, db_url, pg_server_url, pg_bin, tmp_path):
    name = f"t_psql_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(db_url, autocommit=True) as conn:  # db_url lives across examples: start it afresh
        conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        template = conn.info.dbname
    psql_url = server.create_database(pg_server_url, name, template=template)  # the same fresh start
    try:
        _run_psql(psql_url, text, pg_bin, tmp_path)
        _run_one_by_one(db_url, text)
        assert dump_schema(db_url, pg_bin) == dump_schema(psql_url, pg_bin)
    finally:
        server.drop_database(pg_server_url, name)
