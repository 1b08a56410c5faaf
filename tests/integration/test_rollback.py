"""`db.rollback`: the plan without --yes (exit 5), each migration undone in its own transaction with its tracking row
deleted, refusals before anything runs (missing down: exit 2; edited: exit 3; data loss: exit 5), errors with
file:line:col and state, --single-transaction, a down outside a transaction, Drizzle 1.0 folders, the JSON."""

import json
import threading

import psycopg
import pytest

from tests.fixtures.cli import migrate_args, run_cli, run_in_process
from tests.fixtures.folders import make_consolidation, make_drizzle_folder

UPS = [
    ("0000_a", 'CREATE TABLE "a" ("id" int);'),
    ("0001_b", 'CREATE TABLE "b" ("id" int);\n--> statement-breakpoint\nCREATE INDEX "b_id" ON "b" ("id");'),
    ("0002_c", 'ALTER TABLE "a" ADD COLUMN "c" text;'),
]
DOWNS = {
    "0000_a": 'DROP TABLE "a";',
    "0001_b": 'DROP INDEX "b_id";\n--> statement-breakpoint\nDROP TABLE "b";',
    "0002_c": 'ALTER TABLE "a" DROP COLUMN "c";',
}


def project(tmp_path, ups=UPS, downs=DOWNS):
    folder = make_drizzle_folder(tmp_path, ups)
    for tag, text in downs.items():
        (folder / f"{tag}.down.sql").write_text(text)
    return folder


def cli(tmp_path, db_url, folder, *args):
    return run_in_process(["db.rollback", "--migrations-dir", str(folder), "--database-url", db_url, *args], cwd=tmp_path)


def migrate(tmp_path, db_url, folder, *args):
    result = run_in_process(migrate_args(db_url, folder, *args), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def rows(db_url):
    with psycopg.connect(db_url) as conn:
        return [r[0] for r in conn.execute("SELECT hash FROM drizzle.__drizzle_migrations ORDER BY id")]


def schema(db_url):
    with psycopg.connect(db_url) as conn:
        return sorted(
            conn.execute(
                "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public'"
            ).fetchall()
        ) + sorted(conn.execute("SELECT indexname FROM pg_indexes WHERE schemaname = 'public'").fetchall())


def hashes(folder, tags):
    from migrakit.sources.folders import load_folder

    by_tag = {m.tag: m.hash for m in load_folder(folder).migrations}
    return [by_tag[t] for t in tags]


def test_without_yes_prints_the_plan_newest_first_and_exits_5(tmp_path, db_url):
    folder = project(tmp_path)
    migrate(tmp_path, db_url, folder)
    before = (rows(db_url), schema(db_url))
    result = cli(tmp_path, db_url, folder, "--steps", "2")
    assert result.returncode == 5, result.stdout + result.stderr
    out = result.stdout
    assert out.index("-- 0002_c") < out.index("-- 0001_b") and "-- 0000_a" not in out
    assert 'DROP INDEX "b_id";' in out and "0001_b.down.sql" in out
    assert "would roll back 2 migration(s), newest first: 0002_c, 0001_b" in out
    assert (rows(db_url), schema(db_url)) == before


def test_yes_undoes_each_migration_and_deletes_exactly_its_row(tmp_path, db_url):
    folder = project(tmp_path)
    migrate(tmp_path, db_url, folder, "--to", "0000_a")
    after_first = schema(db_url)
    migrate(tmp_path, db_url, folder)
    full = schema(db_url)
    result = cli(tmp_path, db_url, folder, "--steps", "2", "--yes")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "rolled back 2 migration(s), newest first: 0002_c, 0001_b" in result.stdout
    assert "rolling back 0002_c (1 statement(s)) ..." in result.stderr
    assert rows(db_url) == hashes(folder, ["0000_a"])
    assert schema(db_url) == after_first
    migrate(tmp_path, db_url, folder)  # forward again: the full schema back
    assert schema(db_url) == full and rows(db_url) == hashes(folder, ["0000_a", "0001_b", "0002_c"])


def test_to_tag_keeps_that_migration_applied(tmp_path, db_url):
    folder = project(tmp_path)
    migrate(tmp_path, db_url, folder)
    result = cli(tmp_path, db_url, folder, "--to", "0000", "--yes")
    assert result.returncode == 0, result.stdout + result.stderr
    assert rows(db_url) == hashes(folder, ["0000_a"])
    nothing = cli(tmp_path, db_url, folder, "--to", "0000_a", "--yes")
    assert nothing.returncode == 0 and "nothing to roll back" in nothing.stdout


def test_missing_down_file_refuses_with_exit_2_naming_the_file_and_generate_down(tmp_path, db_url):
    folder = project(tmp_path, downs={k: v for k, v in DOWNS.items() if k != "0001_b"})
    migrate(tmp_path, db_url, folder)
    result = cli(tmp_path, db_url, folder, "--steps", "2", "--yes")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "0001_b.down.sql does not exist" in result.stderr
    assert "migrakit db.generate-down --tags 0001_b" in result.stderr
    assert len(rows(db_url)) == 3 and ("a", "c") in schema(db_url)  # 0002_c was not undone either


def test_edited_applied_migration_refuses_with_exit_3(tmp_path, db_url):
    folder = project(tmp_path)
    migrate(tmp_path, db_url, folder)
    (folder / "0002_c.sql").write_text('ALTER TABLE "a" ADD COLUMN "c" varchar;')
    result = cli(tmp_path, db_url, folder, "--steps", "1", "--yes")
    assert result.returncode == 3, result.stdout + result.stderr
    assert len(rows(db_url)) == 3


def test_data_loss_on_a_table_with_rows_refuses_unless_allowed(tmp_path, db_url):
    folder = project(tmp_path)
    migrate(tmp_path, db_url, folder)
    with psycopg.connect(db_url) as conn:
        conn.execute("INSERT INTO a (id, c) VALUES (1, 'x'), (2, 'y')")
    plan = cli(tmp_path, db_url, folder, "--steps", "1")
    assert plan.returncode == 5
    assert 'data loss: DROP COLUMN "c" on public.a' in plan.stdout
    refused = cli(tmp_path, db_url, folder, "--steps", "1", "--yes")
    assert refused.returncode == 5, refused.stdout + refused.stderr
    assert "0002_c.down.sql:1:1: DROP COLUMN \"c\" on public.a" in refused.stderr
    assert "--allow-data-loss" in refused.stderr
    assert len(rows(db_url)) == 3
    allowed = cli(tmp_path, db_url, folder, "--steps", "1", "--yes", "--allow-data-loss")
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    assert ("a", "c") not in schema(db_url) and len(rows(db_url)) == 2


def test_failing_down_statement_names_file_line_col_and_keeps_its_row(tmp_path, db_url):
    downs = {**DOWNS, "0001_b": 'DROP INDEX "b_id";\n--> statement-breakpoint\nDROP TABLE "nope";'}
    folder = project(tmp_path, downs=downs)
    migrate(tmp_path, db_url, folder)
    result = cli(tmp_path, db_url, folder, "--steps", "2", "--yes")
    assert result.returncode == 1, result.stdout + result.stderr
    err = result.stderr
    assert "the down file of 0001_b failed at statement 2 of 2" in err
    assert "0001_b.down.sql:3:" in err
    assert "undone before it: 0002_c" in err
    assert rows(db_url) == hashes(folder, ["0000_a", "0001_b"])
    assert ("b_id",) in schema(db_url)  # statement 1's DROP INDEX was rolled back with its transaction


def test_a_down_waiting_for_a_lock_is_bounded_by_lock_timeout_retried_then_names_the_blocking_session(
    tmp_path, db_url
):
    """The down runs with db.migrate's settings: lock_timeout per attempt, lock_retries more attempts, then exit 4
    naming the session in the way; that migration's transaction rolled back (its row and table kept)."""
    folder = project(tmp_path)
    migrate(tmp_path, db_url, folder)
    with psycopg.connect(db_url, application_name="nightly-report") as blocker:
        blocker.execute('SELECT count(*) FROM "b"')  # an open transaction holding ACCESS SHARE on b
        pid = blocker.info.backend_pid
        env = {"MIGRAKIT_LOCK_TIMEOUT": "300ms", "MIGRAKIT_LOCK_RETRIES": "1"}
        result = run_in_process(["db.rollback", "--migrations-dir", str(folder), "--database-url", db_url,
                                 "--steps", "2", "--yes"], cwd=tmp_path, env=env)  # fmt: skip
        blocker.rollback()
    assert result.returncode == 4, result.stdout + result.stderr
    err = result.stderr
    assert "the down file of 0001_b could not get its locks within lock_timeout=300ms after 2 attempts" in err
    assert "0001_b: lock_timeout hit in its down, retry 1 of 1" in err
    assert f"blocked by pid {pid} (nightly-report, idle in transaction" in err
    assert f"SELECT pg_terminate_backend({pid})" in err and "db.rollback` again" in err
    assert "undone before it: 0002_c" in err
    assert rows(db_url) == hashes(folder, ["0000_a", "0001_b"])
    assert ("b_id",) in schema(db_url)


def test_single_transaction_rolls_back_everything_on_a_failure(tmp_path, db_url):
    downs = {**DOWNS, "0001_b": 'DROP TABLE "nope";'}
    folder = project(tmp_path, downs=downs)
    migrate(tmp_path, db_url, folder)
    before = (rows(db_url), schema(db_url))
    result = cli(tmp_path, db_url, folder, "--steps", "2", "--yes", "--single-transaction")
    assert result.returncode == 1
    assert "single transaction was rolled back" in result.stderr
    assert (rows(db_url), schema(db_url)) == before
    (folder / "0001_b.down.sql").write_text(DOWNS["0001_b"])
    ok = cli(tmp_path, db_url, folder, "--steps", "2", "--yes", "--single-transaction")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert rows(db_url) == hashes(folder, ["0000_a"])


def test_down_that_must_run_outside_a_transaction_runs_alone(tmp_path, db_url):
    ups = [*UPS, ("0003_idx", 'CREATE INDEX CONCURRENTLY "a_id" ON "a" ("id");')]
    downs = {**DOWNS, "0003_idx": 'DROP INDEX CONCURRENTLY IF EXISTS "a_id";'}
    folder = project(tmp_path, ups=ups, downs=downs)
    migrate(tmp_path, db_url, folder)
    result = cli(tmp_path, db_url, folder, "--steps", "1", "--yes")
    assert result.returncode == 0, result.stdout + result.stderr
    assert ("a_id",) not in schema(db_url) and len(rows(db_url)) == 3
    refused = cli(tmp_path, db_url, folder, "--steps", "1", "--yes", "--single-transaction")
    assert refused.returncode == 0  # 0002_c's down runs in a transaction: nothing refused
    migrate(tmp_path, db_url, folder)
    single = cli(tmp_path, db_url, folder, "--steps", "1", "--yes", "--single-transaction")
    assert single.returncode == 2 and "--single-transaction cannot hold" in single.stderr


def test_drizzle_v1_folder_rolls_back_with_down_sql(tmp_path, db_url):
    folder = tmp_path / "migrations"
    for name, up, down in [
        ("20250101000000_a", UPS[0][1], DOWNS["0000_a"]),
        ("20250102000000_b", UPS[1][1], DOWNS["0001_b"]),
    ]:
        (folder / name).mkdir(parents=True)
        (folder / name / "migration.sql").write_text(up)
        (folder / name / "down.sql").write_text(down)
    migrate(tmp_path, db_url, folder)
    result = cli(tmp_path, db_url, folder, "--steps", "1", "--yes")
    assert result.returncode == 0, result.stdout + result.stderr
    with psycopg.connect(db_url) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM drizzle.__drizzle_migrations ORDER BY id")]
    assert names == ["20250101000000_a"]
    assert [t for t, _ in schema(db_url)] == ["a"]


def test_consolidated_migration_is_refused_with_its_reason(tmp_path, db_url):
    folder = project(tmp_path, ups=UPS[:1], downs={"0000_a": DOWNS["0000_a"]})
    cons = tmp_path / "migrations-consolidated"
    replaced = [("0001_gone", 1_799_000_000_000, "0" * 64)]  # a migration the consolidation folded in
    make_consolidation(cons, "20270115080000_consolidated", 'CREATE TABLE "z" ("id" int);', 1_800_000_000_000, replaced)
    migrate(tmp_path, db_url, folder)
    result = cli(tmp_path, db_url, folder, "--steps", "1", "--yes")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "consolidated migration: db.rollback does not undo it" in result.stderr
    assert len(rows(db_url)) == 2


def test_json_contract(tmp_path, db_url):
    folder = project(tmp_path)
    migrate(tmp_path, db_url, folder)
    plan = json.loads(cli(tmp_path, db_url, folder, "--steps", "1", "--json").stdout)
    assert (plan["task"], plan["exit_code"], plan["ok"], plan["changed"]) == ("db.rollback", 5, False, False)
    step = plan["planned"][0]
    assert (step["tag"], step["state"], step["statement_count"]) == ("0002_c", "applied", 1)
    assert step["down_file"].endswith("0002_c.down.sql") and step["row"]["id"] == 3
    assert step["data_loss"] == [
        {"statement": 1, "line": 1, "col": 1, "what": 'DROP COLUMN "c"', "table": "public.a", "rows_at_risk": 0}
    ]
    done = json.loads(cli(tmp_path, db_url, folder, "--steps", "1", "--yes", "--json").stdout)
    assert (done["exit_code"], done["changed"], done["rolled_back"]) == (0, True, ["0002_c"])
    assert done["still_applied"] == ["0000_a", "0001_b"] and done["planned"][0]["state"] == "rolled-back"


@pytest.mark.concurrency
@pytest.mark.parametrize("route", ["direct", "pgbouncer-transaction"])
def test_racing_rollback_and_migrate_undo_and_apply_each_exactly_once(tmp_path, db_url, route, request):
    """Real processes racing, directly and through PgBouncer in transaction mode: whichever wins, each migration
    is undone or applied exactly once (never two rows, never a schema the rows do not describe)."""
    from psycopg.conninfo import conninfo_to_dict

    folder = project(tmp_path)
    target = db_url
    if route != "direct":
        target = request.getfixturevalue("pgbouncer_transaction").url(conninfo_to_dict(db_url)["dbname"])
    migrate(tmp_path, db_url, folder, "--to", "0000_a")
    results = {}

    def run(name, args):
        results[name] = run_cli(args, cwd=tmp_path)

    for _ in range(3):
        if len(rows(db_url)) == 3:  # start each round from 0000_a alone
            assert cli(tmp_path, db_url, folder, "--to", "0000_a", "--yes").returncode == 0
        racers = [
            threading.Thread(target=run, args=("migrate", migrate_args(target, folder))),
            threading.Thread(target=run, args=("rollback", ["db.rollback", "--migrations-dir", str(folder),
                                                            "--database-url", target, "--to", "0000_a", "--yes"])),
        ]  # fmt: skip
        for t in racers:
            t.start()
        for t in racers:
            t.join()
        assert results["migrate"].returncode == 0, results["migrate"].stderr
        assert results["rollback"].returncode == 0, results["rollback"].stderr
        tracked = rows(db_url)
        assert len(tracked) == len(set(tracked))  # never twice
        if len(tracked) == 3:  # rollback first, then migrate
            assert ("a", "c") in schema(db_url)
        else:  # migrate first, then rollback
            assert tracked == hashes(folder, ["0000_a"]) and schema(db_url) == [("a", "id")]


@pytest.mark.parametrize("args", [[], ["--to", "0000", "--steps", "1"]])
def test_needs_exactly_one_of_to_and_steps(tmp_path, db_url, args):
    folder = project(tmp_path)
    result = cli(tmp_path, db_url, folder, *args)
    assert result.returncode == 2 and "exactly one of --to TAG and --steps N" in result.stderr


def test_untouched_custom_down_template_is_refused_but_a_comment_only_down_deletes_just_its_row(tmp_path, db_url):
    from migrakit.core.rollback import custom_down_text

    folder = project(tmp_path, downs={**DOWNS, "0002_c": custom_down_text("0002_c")})
    migrate(tmp_path, db_url, folder)
    refused = cli(tmp_path, db_url, folder, "--steps", "1", "--yes")
    assert refused.returncode == 2 and "still the empty template db.generate --custom wrote" in refused.stderr
    (folder / "0002_c.down.sql").write_text("-- 0002_c changed data only: nothing to undo in the schema\n")
    done = cli(tmp_path, db_url, folder, "--steps", "1", "--yes")
    assert done.returncode == 0, done.stdout + done.stderr
    assert rows(db_url) == hashes(folder, ["0000_a", "0001_b"]) and ("a", "c") in schema(db_url)
