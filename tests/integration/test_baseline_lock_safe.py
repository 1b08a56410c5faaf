"""db.baseline writes its statements through the fixer db.generate uses (core/fix): a hand-made change to a table
with rows becomes its lock-safe sequence, proven and tracked as a whole, adopted as a whole elsewhere, linted
before it is written; an object the change does not touch is never dropped and re-added."""

import json

import psycopg

from migrakit.db.connect import server
from migrakit.db.inspect import schema_diff as schema
from migrakit.sources.config import load_settings
from migrakit.workflows import check as drift
from migrakit.workflows.baseline import command as baseline
from migrakit.workflows.migrate import migrate
from migrakit.workflows.status import status
from tests.fixtures.cli import run_in_process
from tests.fixtures.folders import make_drizzle_folder

BASE = [("0000_users", "CREATE TABLE users (id int PRIMARY KEY, email text, age int);\n--> statement-breakpoint\n"
         "CREATE TABLE orders (id int PRIMARY KEY, user_id int REFERENCES users (id));")]  # fmt: skip
BY_HAND = ("CREATE INDEX users_email_idx ON users (email); "
           "ALTER TABLE users ADD CONSTRAINT users_age_check CHECK (age >= 0);")  # fmt: skip
PIECES = ["0001_baseline", "0002_baseline_2", "0003_baseline_3"]


def project(tmp_path, db_url, shadow_url):
    """users and orders from the migrations, 20,000 rows each, and an index and a CHECK made by hand on users."""
    make_drizzle_folder(tmp_path, BASE)
    settings = load_settings(tmp_path, env={}, database_url=db_url, migrations_dir="migrations", shadow_url=shadow_url)
    migrate(settings)
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("INSERT INTO users SELECT g, 'u' || g, g FROM generate_series(1, 20000) g; "
                     "INSERT INTO orders SELECT g, g FROM generate_series(1, 20000) g; ANALYZE")  # fmt: skip
        conn.execute(BY_HAND)
    return settings


def rows(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT count(*) FROM drizzle.__drizzle_migrations").fetchone()[0]


def test_a_baseline_of_a_change_to_a_table_with_rows_is_its_lock_safe_sequence_tracked_whole(
    tmp_path, db_url, pg_server_url
):
    settings = project(tmp_path, db_url, pg_server_url)
    report = baseline.baseline(settings, yes=True)
    assert report.outcome == baseline.WRITTEN and report.tags == PIECES
    folder = settings.migrations_dir
    assert [(folder / f"{t}.sql").read_text() for t in PIECES] == [
        "CREATE INDEX CONCURRENTLY users_email_idx ON public.users USING btree (email);\n",
        'alter table "public"."users" add constraint "users_age_check" CHECK ((age >= 0)) not valid;\n',
        'alter table "public"."users" validate constraint "users_age_check";\n',  # moved after the CHECK's migration
    ]
    assert len(report.fixes) == 2 and report.lint  # what was made lock-safe, and db.lint's verdict on it
    assert not any("] error:" in line for line in report.lint)
    assert rows(db_url) == 4 and status(settings).plan.pending == ()  # all three tracked here, none run
    assert not drift.check(settings).drifted
    with server.shadow_database(pg_server_url) as fresh:  # a database lacking the change runs the pieces
        assert migrate(settings.with_overrides(database_url=fresh)).applied == ["0000_users", *PIECES]
        assert schema.compare(fresh, db_url).equal


def test_another_environment_adopts_the_baseline_with_its_pieces(tmp_path, db_url, pg_server_url):
    settings = project(tmp_path, db_url, pg_server_url)
    baseline.baseline(settings, yes=True)
    with server.shadow_database(pg_server_url) as staging:  # built the same way: migrations, then by hand
        there = settings.with_overrides(database_url=staging)
        migrate(there, to="0000_users")
        with psycopg.connect(staging, autocommit=True) as conn:
            conn.execute(BY_HAND)
        assert baseline.baseline(there).outcome == baseline.ADOPT_PLANNED and rows(staging) == 1
        adopted = baseline.baseline(there, yes=True)
        assert adopted.outcome == baseline.ADOPTED and adopted.tags == PIECES
        assert rows(staging) == 4 and status(there).plan.pending == ()


def test_the_plan_prints_what_was_made_lock_safe_and_the_lint(tmp_path, db_url, pg_server_url):
    settings = project(tmp_path, db_url, pg_server_url)
    env = {"DATABASE_URL": db_url, "MIGRAKIT_SHADOW_URL": pg_server_url, "NO_COLOR": "1"}
    planned = run_in_process(["db.baseline"], cwd=tmp_path, env=env)
    assert planned.returncode == 5, planned.stderr
    assert "written as 3 migrations (its lock-safe sequence): 0001_baseline, 0002_baseline_2, 0003_baseline_3" in planned.stdout
    assert "made lock-safe:" in planned.stdout and "db.lint on it" in planned.stdout
    assert "and insert their 3 tracking rows here" in planned.stdout
    assert not (settings.migrations_dir / "0001_baseline.sql").exists() and rows(db_url) == 1
    data = json.loads(run_in_process(["db.baseline", "--json"], cwd=tmp_path, env=env).stdout)
    assert data["tags"] == PIECES and len(data["fixes"]) == 2 and data["lint"]


def test_a_baseline_never_drops_and_re_adds_a_foreign_key_it_does_not_touch(tmp_path, db_url, pg_server_url):
    make_drizzle_folder(tmp_path, BASE)
    settings = load_settings(tmp_path, env={}, database_url=db_url, migrations_dir="migrations", shadow_url=pg_server_url)
    migrate(settings)
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("ALTER TABLE users ADD COLUMN nick text")  # users is referenced by orders_user_id_fkey
    report = baseline.baseline(settings, yes=True)
    assert report.statements == ['alter table "public"."users" add column "nick" text;']
    assert report.tags == ["0001_baseline"] and report.fixes == []


def test_a_drizzle_v1_baseline_sequence_is_a_folder_per_piece_all_tracked(tmp_path, db_url, pg_server_url):
    from tests.fixtures.folders import add_v1_migration

    folder = tmp_path / "migrations"
    add_v1_migration(folder, "20250101000000_users", BASE[0][1], "s0", "00000000-0000-0000-0000-000000000000")
    settings = load_settings(tmp_path, env={}, database_url=db_url, migrations_dir="migrations", shadow_url=pg_server_url)
    migrate(settings)
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("INSERT INTO users SELECT g, 'u' || g, g FROM generate_series(1, 20000) g; ANALYZE users")
        conn.execute(BY_HAND)
    report = baseline.baseline(settings, yes=True)
    assert [t.split("_", 1)[1] for t in report.tags] == ["baseline", "baseline_2", "baseline_3"]
    assert sorted(p.name for p in folder.iterdir()) == ["20250101000000_users", *report.tags]
    assert (folder / report.tags[0] / "migration.sql").read_text().startswith("CREATE INDEX CONCURRENTLY")
    assert status(settings).plan.pending == () and not drift.check(settings).drifted
    with server.shadow_database(pg_server_url) as fresh:
        assert migrate(settings.with_overrides(database_url=fresh)).applied == ["20250101000000_users", *report.tags]
        assert schema.compare(fresh, db_url).equal
