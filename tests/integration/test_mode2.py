"""Mode 2 on a real PostgreSQL: one transaction per file, errors mapped to the file, one sequence with Mode 1,
recording a consolidation without running it, refusing a partial one."""

import pytest

from migrakit.core.migration import drizzle_hash
from migrakit.errors import DriftError, MigrationFailed
from migrakit.render.json import run as as_json
from migrakit.render.run import render_migrate, render_status
from migrakit.sources.config import load_settings
from migrakit.workflows.migrate import migrate, migrate_consolidated
from migrakit.workflows.status import status as run_status
from tests.fixtures.folders import add_migration, make_consolidation, make_drizzle_folder
from tests.integration.test_migrate import rows, tables

W = 1_700_000_000_000
ORIGINALS = [
    ("0000_base", "CREATE TABLE base (id int PRIMARY KEY);"),
    ("0001_orders", "CREATE TABLE orders (id int PRIMARY KEY, base_id int REFERENCES base(id));"),
    ("0002_orders_total", "ALTER TABLE orders ADD COLUMN total numeric NOT NULL DEFAULT 0;"),
]


def settings_for(tmp_path, db_url, **extra):
    return load_settings(
        tmp_path, env={}, database_url=db_url, migrations_dir=str(tmp_path / "migrations"),
        consolidated_dir=str(tmp_path / "migrations-consolidated"), **extra,
    )  # fmt: skip


def failing_mode2_file(tmp_path, db_url, text):
    """The MigrationFailed raised by db.migrate for a consolidation holding `text`."""
    make_drizzle_folder(tmp_path, [])
    make_consolidation(tmp_path / "migrations-consolidated", "k", text, W, [("0000_x", W, "0" * 64)])
    with pytest.raises(MigrationFailed) as info:
        migrate(settings_for(tmp_path, db_url))
    return info.value


def consolidate_tail(tmp_path, hashes, text="CREATE TABLE orders (id int PRIMARY KEY, base_id int REFERENCES base(id));\n"
                     "ALTER TABLE orders ADD COLUMN total numeric NOT NULL DEFAULT 0;\n"):
    """Consolidate 0001 and 0002 by hand: manifest, journal without them, files removed."""
    make_drizzle_folder(tmp_path, ORIGINALS[:1])
    for tag, _ in ORIGINALS[1:]:
        (tmp_path / "migrations" / f"{tag}.sql").unlink(missing_ok=True)
    replaces = [(tag, W + i * 1000, hashes[tag]) for i, (tag, _) in enumerate(ORIGINALS) if i > 0]
    return make_consolidation(tmp_path / "migrations-consolidated", "20231114223322_orders", text, W + 2000, replaces)


def original_hashes(tmp_path):
    return {tag: drizzle_hash(body.encode()) for tag, body in ORIGINALS}


def test_mode2_file_runs_in_one_transaction_with_one_row(tmp_path, db_url):
    consolidate_tail(tmp_path, original_hashes(tmp_path))
    report = migrate(settings_for(tmp_path, db_url))
    assert report.applied == ["0000_base", "20231114223322_orders"]
    assert tables(db_url) == {"base", "orders"}
    assert [r[1] for r in rows(db_url)] == [W, W + 2000]  # the consolidation's created_at is its manifest's `when`


def test_mode2_failure_with_a_position_points_at_the_file_line_and_statement(tmp_path, db_url):
    text = "-- header\nCREATE TABLE a (id int);\nCREATE TABLE b (id int);\n\nINSERT INTO a SELECT * FROM nowhere;\nCREATE TABLE c (id int);\n"
    err = failing_mode2_file(tmp_path, db_url, text)
    assert err.file.endswith("migrations-consolidated/k.sql")
    assert (err.line, err.col) == (5, 29)  # "nowhere"
    assert (err.statement_no, err.statement_count) == (3, 4)
    assert err.sqlstate == "42P01" and err.fix
    assert "nothing from k was applied" in err.state
    assert tables(db_url) == set()  # a and b were rolled back with the rest of the file
    assert rows(db_url) == []


def test_mode2_failure_without_a_position_names_the_statement_the_server_did_not_complete(tmp_path, db_url):
    text = "CREATE TABLE a (id int);\nCREATE TABLE b (id int);\n  CREATE TABLE a (id int);\nCREATE TABLE c (id int);\n"
    err = failing_mode2_file(tmp_path, db_url, text)
    assert err.sqlstate == "42P07"  # duplicate table: the server gives no position
    assert (err.statement_no, err.line, err.col) == (3, 3, 3)
    assert tables(db_url) == set()


def test_mode1_and_mode2_run_as_one_sequence_by_when(tmp_path, db_url):
    consolidate_tail(tmp_path, original_hashes(tmp_path))
    add_migration(tmp_path / "migrations", "0003_orders_note", "ALTER TABLE orders ADD COLUMN note text;", when=W + 3000)
    report = migrate(settings_for(tmp_path, db_url))
    assert report.applied == ["0000_base", "20231114223322_orders", "0003_orders_note"]


def test_database_that_ran_the_originals_records_the_consolidation_without_running_it(tmp_path, db_url):
    make_drizzle_folder(tmp_path, ORIGINALS)
    migrate(settings_for(tmp_path, db_url))
    consolidate_tail(tmp_path, original_hashes(tmp_path))
    settings = settings_for(tmp_path, db_url)

    status = run_status(settings)
    assert [m.tag for m in status.plan.recorded_without_running] == ["20231114223322_orders"]
    assert status.plan.problems == ()  # the originals' rows are explained by the manifest
    text = render_status(status)
    assert "recorded without running" in text and "proven by hash" in text

    report = migrate(settings)  # the consolidation's CREATE TABLE orders would fail if it ran
    assert report.applied == [] and report.recorded == ["20231114223322_orders"]
    assert "recorded without running" in render_migrate(report)
    assert len(rows(db_url)) == 4
    again = migrate(settings)
    assert again.applied == [] and again.recorded == []


def test_status_counts_every_migration_once_beside_a_replaced_applied_and_an_edited_one(tmp_path, db_url):
    """A consolidation recorded from its originals' rows and a migration edited since it ran are neither applied
    nor pending: db.status's count line and JSON `state_counts` name them, so the counts add up to the table."""
    make_drizzle_folder(tmp_path, ORIGINALS)
    migrate(settings_for(tmp_path, db_url))
    consolidate_tail(tmp_path, original_hashes(tmp_path))
    add_migration(tmp_path / "migrations", "0003_note", "CREATE TABLE note (id int);", when=W + 3000)
    (tmp_path / "migrations" / "0000_base.sql").write_text("CREATE TABLE base (id bigint PRIMARY KEY);")
    status = run_status(settings_for(tmp_path, db_url))
    assert [status.plan.state_of(m) for m in status.plan.migrations] == ["edited", "replaced-applied", "pending"]
    counts = status.plan.state_counts()
    assert counts == {"replaced-applied": 1, "edited": 1, "pending": 1}
    assert sum(counts.values()) == len(status.plan.migrations)
    text = render_status(status)
    assert ("0 applied, 1 recorded from what it replaced (replaced-applied), 1 edited since it ran (edited), "
            "1 pending") in text.splitlines()
    assert as_json.status(status)["state_counts"] == [
        {"state": "replaced-applied", "count": 1}, {"state": "edited", "count": 1}, {"state": "pending", "count": 1}
    ]


def test_database_that_ran_only_some_originals_refuses_and_lists_them(tmp_path, db_url):
    make_drizzle_folder(tmp_path, ORIGINALS[:2])
    migrate(settings_for(tmp_path, db_url))
    consolidate_tail(tmp_path, original_hashes(tmp_path))
    with pytest.raises(DriftError) as info:
        migrate(settings_for(tmp_path, db_url))
    err = info.value
    assert "ran only 1 of them" in err.message and "not run: 0002_orders_total" in err.message
    assert err.state == "nothing was run" and "git log" in err.fix
    assert len(rows(db_url)) == 2
    status = run_status(settings_for(tmp_path, db_url))
    assert [p.kind for p in status.plan.blocking] == ["replaced-partial"]


def test_migrate_consolidated_runs_only_mode2_and_refuses_to_pass_an_earlier_mode1(tmp_path, db_url):
    consolidate_tail(tmp_path, original_hashes(tmp_path))
    add_migration(tmp_path / "migrations", "0003_orders_note", "ALTER TABLE orders ADD COLUMN note text;", when=W + 3000)
    settings = settings_for(tmp_path, db_url)
    with pytest.raises(DriftError, match=r"0000_base \(standard\) is pending and comes before"):
        migrate_consolidated(settings)
    assert tables(db_url) == set()

    first = make_drizzle_folder(tmp_path / "first", ORIGINALS[:1])  # Mode 1 deployed by another tool first
    migrate(load_settings(tmp_path, env={}, database_url=db_url, migrations_dir=str(first), consolidated_dir="none"))
    report = migrate_consolidated(settings)
    assert report.applied == ["20231114223322_orders"]  # 0003 (Mode 1, later) is left for db.migrate
    assert [m.tag for m in run_status(settings).plan.pending] == ["0003_orders_note"]


def test_mode2_file_in_a_single_transaction_run_is_one_query_in_it(tmp_path, db_url):
    """--single-transaction sends a consolidated file whole, as one query inside the run's one transaction: a
    later failure rolls it back with everything else."""
    consolidate_tail(tmp_path, original_hashes(tmp_path))
    add_migration(tmp_path / "migrations", "0003_bad", "CREATE TABLE later (id int);\n--> statement-breakpoint\nSELECT 1/0;", when=W + 3000)
    with pytest.raises(MigrationFailed) as info:
        migrate(settings_for(tmp_path, db_url), single_transaction=True)
    assert (info.value.migration, info.value.statement_no) == ("0003_bad", 2)
    assert tables(db_url) == set() and rows(db_url) == []
    (tmp_path / "migrations" / "0003_bad.sql").write_text("CREATE TABLE later (id int);")
    report = migrate(settings_for(tmp_path, db_url), single_transaction=True)
    assert report.applied == ["0000_base", "20231114223322_orders", "0003_bad"]
    assert tables(db_url) == {"base", "orders", "later"} and [r[1] for r in rows(db_url)] == [W, W + 2000, W + 3000]
