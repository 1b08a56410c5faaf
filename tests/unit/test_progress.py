"""progress.resume_point: where a migration that stopped halfway continues, and when it must not."""

import pytest

from migrakit.core.migration import Migration
from migrakit.db.run.progress import Completed, forget_sql, resume_point, statement_hash
from migrakit.errors import DriftError

TEXT = "CREATE TABLE a (id int);\nCOMMIT;\nCREATE INDEX CONCURRENTLY a_idx ON a (id);\nCREATE TABLE b (id int);\n"


def migration(text=TEXT):
    return Migration(tag="0003_x", when=1, path="migrations/0003_x.sql", text=text, hash="h")


def done(m, n):
    return [Completed(i + 1, statement_hash(s.text), "old", "2026-11-24 10:00:00+00") for i, s in enumerate(m.statements[:n])]


def test_nothing_recorded_starts_at_the_first_statement():
    assert resume_point(migration(), [], "drizzle.__drizzle_migrations") == 0


@pytest.mark.parametrize("n", [1, 2, 4])
def test_unchanged_completed_statements_are_skipped(n):
    m = migration()
    assert resume_point(m, done(m, n), "drizzle.__drizzle_migrations") == n


def test_the_statement_that_failed_and_later_ones_may_change():
    ran = done(migration(), 2)
    fixed = migration(TEXT.replace("a_idx ON a (id)", "a_idx ON a (id) WHERE id > 0").replace("TABLE b", "TABLE c"))
    assert resume_point(fixed, ran, "drizzle.__drizzle_migrations") == 2


@pytest.mark.parametrize(
    "text, number",
    [
        (TEXT.replace("COMMIT;", "END;"), 2),  # the same meaning spelled differently still counts as changed
        (TEXT.replace("a (id int)", "a (id  int)"), 1),  # so does whitespace inside a completed statement
        ("CREATE TABLE z (id int);\n" + TEXT, 1),  # a statement inserted before the completed ones
        ("CREATE TABLE a (id int);\n", 2),  # completed statements removed from the file
    ],
)
def test_a_changed_completed_statement_is_drift_with_the_way_out(text, number):
    ran = done(migration(), 2)
    with pytest.raises(DriftError) as info:
        resume_point(migration(text), ran, "drizzle.__drizzle_migrations")
    err = info.value
    assert err.statement_no == number and err.migration == "0003_x" and err.exit_code == 3
    assert "statements 1-2 completed on 2026-11-24 10:00:00" in err.cause
    assert forget_sql("drizzle.__drizzle_migrations", "0003_x") in err.fix


def test_forget_sql_quotes_its_literals():
    assert forget_sql("s.t", "it's") == (
        "DELETE FROM migrakit.statement_progress WHERE tracking_table = 's.t' AND migration = 'it''s';"
    )
