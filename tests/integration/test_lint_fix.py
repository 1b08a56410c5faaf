"""db.lint --fix in a real git repository: the plan, the proof, the rewritten folder, and the refusals."""

import json
import shutil
from pathlib import Path

import pytest

from migrakit.core.drizzle.journal import parse_journal
from migrakit.db.connect import server
from migrakit.db.inspect import schema_diff as schema
from migrakit.errors import MigrakitError
from migrakit.sources.config import load_settings
from migrakit.workflows import lint as lint_workflow
from migrakit.workflows.migrate import migrate
from tests.fixtures.folders import add_migration, add_v1_migration, make_drizzle_folder
from tests.fixtures.gitrepo import commit_all, new_project_repo

BASE = [("0000_users", "CREATE TABLE users (id int PRIMARY KEY, email text);")]
FEATURE = [
    ("0001_orders", "CREATE TABLE orders (id int PRIMARY KEY, user_id int);\n--> statement-breakpoint\n"
     "CREATE INDEX orders_user_idx ON orders (user_id);"),
    ("0002_users_email", "CREATE INDEX users_email_idx ON users (email);\n--> statement-breakpoint\n"
     "ALTER TABLE users ADD CONSTRAINT users_email_check CHECK (email <> '');"),
    ("0003_users_nick", "ALTER TABLE users ADD COLUMN nick text;"),
]  # fmt: skip
ROWS = "INSERT INTO users SELECT g, 'u' || g FROM generate_series(1, 30000) g; ANALYZE users;"


@pytest.fixture
def repo(tmp_path):
    """main: users; feature (checked out): orders (its index on the new table needs no fix), an index and a CHECK on
    users (both need one), then a nullable column."""
    r = new_project_repo(tmp_path)
    folder = make_drizzle_folder(tmp_path, BASE)
    (folder / "meta" / "0000_snapshot.json").write_text(json.dumps({"id": "s0", "prevId": "none"}))
    commit_all(r, "base")
    r.git.checkout("-b", "feature")
    for i, (tag, body) in enumerate(FEATURE, start=1):
        add_migration(folder, tag, body)
        (folder / "meta" / f"{i:04d}_snapshot.json").write_text(json.dumps({"id": f"s{i}", "prevId": f"s{i - 1}"}))
    commit_all(r, "feature")
    return r


def settings_for(repo, db_url, shadow):
    root = Path(repo.working_tree_dir)
    return load_settings(root, env={}, database_url=db_url, migrations_dir="migrations", shadow_url=shadow)


def target_with_rows(settings, db_url):
    migrate(settings, to="0000_users")
    with server.connect(db_url, autocommit=True) as conn:
        conn.execute(ROWS.encode())


def test_fix_without_yes_prints_the_proved_plan_and_writes_nothing(repo, db_url, pg_server_url):
    settings = settings_for(repo, db_url, pg_server_url)
    target_with_rows(settings, db_url)
    folder = settings.migrations_dir
    before = {p.name: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    report = lint_workflow.fix(settings)
    assert report.exit_code == 5 and not report.written
    assert [(m.tag, m.tags) for m in report.fixed] == [
        ("0002_users_email", ["0002_users_email", "0003_users_email_2", "0004_users_email_3"])
    ]
    assert report.renamed == [("0003_users_nick", "0005_users_nick")]
    assert len(report.proof) == 2
    assert {p.name: p.read_bytes() for p in folder.rglob("*") if p.is_file()} == before


def test_fix_with_yes_writes_a_folder_that_migrates_to_the_original_schema(repo, db_url, pg_server_url, tmp_path_factory):
    settings = settings_for(repo, db_url, pg_server_url)
    target_with_rows(settings, db_url)
    original = tmp_path_factory.mktemp("original") / "migrations"
    shutil.copytree(settings.migrations_dir, original)
    report = lint_workflow.fix(settings, yes=True)
    assert report.written and report.exit_code == 0
    folder = settings.migrations_dir
    journal = parse_journal((folder / "meta" / "_journal.json").read_text())
    tags = [e.tag for e in journal.entries]
    assert tags == ["0000_users", "0001_orders", "0002_users_email", "0003_users_email_2", "0004_users_email_3",
                    "0005_users_nick"]  # fmt: skip
    assert [e.idx for e in journal.entries] == list(range(6))
    whens = [e.when for e in journal.entries]
    assert whens == sorted(set(whens))
    assert sorted(p.stem for p in folder.glob("*.sql")) == tags
    assert [(folder / f"{t}.sql").read_text() for t in tags[2:5]] == [
        "CREATE INDEX CONCURRENTLY users_email_idx ON users (email);\n",
        "ALTER TABLE users ADD CONSTRAINT users_email_check CHECK (email <> '') NOT VALID;\n",
        "ALTER TABLE users VALIDATE CONSTRAINT users_email_check;\n",
    ]
    snaps = [json.loads((folder / "meta" / f"{t[:4]}_snapshot.json").read_text()) for t in tags]
    assert [s["prevId"] for s in snaps[1:]] == [s["id"] for s in snaps[:-1]]  # drizzle-kit's chain holds
    assert lint_workflow.lint(settings).ok  # the pending fixed migrations, measured against the rows of users
    assert migrate(settings).applied == tags[1:]
    with server.shadow_database(pg_server_url) as expected:
        migrate(load_settings(Path(repo.working_tree_dir), env={}, database_url=expected,
                                     migrations_dir=str(original)))  # fmt: skip
        assert schema.diff_statements(db_url, expected) == []


def test_fix_refuses_a_migration_that_is_not_new_on_this_branch(repo, db_url, pg_server_url):
    root = Path(repo.working_tree_dir)
    repo.git.checkout("main")
    add_migration(root / "migrations", "0001_users_idx", "CREATE INDEX users_email_idx ON users (email);")
    commit_all(repo, "an index on main")
    repo.git.checkout("-b", "feature2")
    settings = settings_for(repo, db_url, pg_server_url)
    with pytest.raises(MigrakitError) as info:
        lint_workflow.fix(settings, yes=True)
    assert "0001_users_idx: not new on this branch (main has it)" in info.value.details[0]
    assert "nothing was written" in info.value.state


def test_fix_with_nothing_to_fix_says_so_and_exits_0(repo, db_url, pg_server_url):
    settings = settings_for(repo, db_url, pg_server_url)
    migrate(settings)
    report = lint_workflow.fix(settings)
    assert report.exit_code == 0 and not report.fixed and "no pending migration needs a fix" in report.notes[0]


def test_fix_refreshes_concurrently_only_a_view_the_target_has_a_unique_index_on(tmp_path, db_url, pg_server_url):
    r = new_project_repo(tmp_path)
    folder = make_drizzle_folder(tmp_path, [("0000_views", (
        "CREATE TABLE t (id int PRIMARY KEY);\n--> statement-breakpoint\n"
        "CREATE MATERIALIZED VIEW keyed AS SELECT id FROM t;\n--> statement-breakpoint\n"
        "CREATE UNIQUE INDEX keyed_id ON keyed (id);\n--> statement-breakpoint\n"
        "CREATE MATERIALIZED VIEW plain AS SELECT id FROM t;"))])  # fmt: skip
    commit_all(r, "base")
    r.git.checkout("-b", "feature")
    add_migration(folder, "0001_refresh", "REFRESH MATERIALIZED VIEW keyed;\n--> statement-breakpoint\n"
                                          "REFRESH MATERIALIZED VIEW plain;")  # fmt: skip
    commit_all(r, "feature")
    settings = settings_for(r, db_url, pg_server_url)
    migrate(settings, to="0000_views")
    report = lint_workflow.fix(settings)  # plain has no unique index: it stays as written
    assert [m.bodies for m in report.fixed] == [
        ["REFRESH MATERIALIZED VIEW CONCURRENTLY keyed;\n--> statement-breakpoint\nREFRESH MATERIALIZED VIEW plain;\n"]
    ]


def test_fix_splits_a_drizzle_v1_folder_into_folders_that_sort_in_order(tmp_path, db_url, pg_server_url):
    r = new_project_repo(tmp_path)
    folder = tmp_path / "migrations"
    add_v1_migration(folder, "20250101000000_users", BASE[0][1], "s0", "none")
    commit_all(r, "base")
    r.git.checkout("-b", "feature")
    add_v1_migration(folder, "20250102000000_email_idx", FEATURE[1][1], "s1", "s0")
    add_v1_migration(folder, "20250103000000_nick", "ALTER TABLE users ADD COLUMN nick text;", "s2", "s1")
    commit_all(r, "feature")
    settings = settings_for(r, db_url, pg_server_url)
    migrate(settings, to="20250101000000_users")
    with server.connect(db_url, autocommit=True) as conn:
        conn.execute(ROWS.encode())
    report = lint_workflow.fix(settings, yes=True)
    assert report.written
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["20250101000000_users", "20250102000000_email_idx", "20250102000000_email_idx_2",
                     "20250102000000_email_idx_3", "20250103000000_nick"]  # fmt: skip
    assert (folder / names[1] / "migration.sql").read_text().startswith("CREATE INDEX CONCURRENTLY")
    snaps = [json.loads((folder / n / "snapshot.json").read_text()) for n in names]
    assert [s["prevIds"] for s in snaps[1:]] == [[s["id"]] for s in snaps[:-1]]
    assert migrate(settings).applied == names[1:]


def test_the_task_prints_the_plan_with_exit_5_then_writes_it_with_yes(repo, db_url, pg_server_url):
    from tests.fixtures.cli import run_in_process

    root = Path(repo.working_tree_dir)
    settings = settings_for(repo, db_url, pg_server_url)
    target_with_rows(settings, db_url)
    env = {"DATABASE_URL": db_url, "MIGRAKIT_SHADOW_URL": pg_server_url, "GIT_CONFIG_GLOBAL": "/dev/null"}
    planned = run_in_process(["db.lint", "--fix", "--base", "main"], cwd=root, env=env)
    assert planned.returncode == 5, planned.stderr
    assert "0002_users_email -> 0002_users_email, 0003_users_email_2, 0004_users_email_3" in planned.stdout
    assert not (root / "migrations" / "0004_users_email_3.sql").exists()
    written = run_in_process(["db.lint", "--fix", "--yes", "--json"], cwd=root, env=env)
    assert written.returncode == 0, written.stderr
    document = json.loads(written.stdout)
    assert document["task"] == "db.lint" and document["written"] is True
    assert (root / "migrations" / "0004_users_email_3.sql").is_file()


def test_fix_writes_nothing_when_the_fixed_folder_still_lints_with_an_error(repo, db_url, pg_server_url):
    settings = settings_for(repo, db_url, pg_server_url)
    target_with_rows(settings, db_url)
    folder = settings.migrations_dir
    (folder / "0003_users_nick.sql").write_text("ALTER TABLE users ALTER COLUMN email TYPE varchar(500);")
    before = {p.name: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    with pytest.raises(MigrakitError) as info:  # a type change that rewrites users: no fix for it
        lint_workflow.fix(settings, yes=True)
    assert "error-level lint finding" in info.value.message and "nothing was written" in info.value.state
    assert any("0005_users_nick.sql" in line and "] error:" in line for line in info.value.details)
    assert {p.name: p.read_bytes() for p in folder.rglob("*") if p.is_file()} == before


TOKEN = 'ALTER TABLE "users" ADD COLUMN "token" uuid DEFAULT gen_random_uuid() NOT NULL;'  # drizzle-kit's form


def token_repo(tmp_path, tag="0001_token", body=TOKEN):
    """main: users; feature: a NOT NULL column with a volatile default (a rewrite of users under its lock)."""
    r = new_project_repo(tmp_path)
    make_drizzle_folder(tmp_path, BASE)
    commit_all(r, "base")
    r.git.checkout("-b", "feature")
    add_migration(tmp_path / "migrations", tag, body)
    commit_all(r, "feature")
    return r


def test_fix_backfills_a_volatile_default_in_batches_that_each_commit(tmp_path, db_url, pg_server_url, tmp_path_factory):
    repo = token_repo(tmp_path)
    settings = settings_for(repo, db_url, pg_server_url)
    target_with_rows(settings, db_url)
    original = tmp_path_factory.mktemp("original") / "migrations"
    shutil.copytree(settings.migrations_dir, original)
    report = lint_workflow.fix(settings, yes=True)
    assert [m.tags for m in report.fixed] == [["0001_token", "0002_token_2", "0003_token_3", "0004_token_4",
                                               "0005_token_5"]]  # fmt: skip
    backfill = (settings.migrations_dir / "0002_token_2.sql").read_text()
    assert backfill.startswith("DO $migrakit$") and "COMMIT;" in backfill
    assert migrate(settings).applied == report.fixed[0].tags
    with server.connect(db_url, autocommit=True) as conn:
        rows, tokens, transactions = conn.execute(
            "SELECT count(*), count(DISTINCT token), count(DISTINCT xmin::text) FROM users").fetchone()
        nullable = conn.execute("SELECT attnotnull FROM pg_attribute WHERE attrelid = 'users'::regclass "
                                "AND attname = 'token'").fetchone()[0]  # fmt: skip
    assert rows == tokens == 30000 and nullable  # every row got its own value, and the column is NOT NULL
    assert transactions >= 30  # 1,000 rows a transaction: each batch committed on its own
    with server.shadow_database(pg_server_url) as expected:
        migrate(load_settings(Path(repo.working_tree_dir), env={}, database_url=expected, migrations_dir=str(original)))
        assert schema.diff_statements(db_url, expected) == []


def test_a_stopped_backfill_keeps_its_committed_batches_and_the_next_run_finishes(tmp_path, db_url, pg_server_url):
    from migrakit.errors import LockTimeout

    repo = token_repo(tmp_path)
    settings = settings_for(repo, db_url, pg_server_url)
    target_with_rows(settings, db_url)
    lint_workflow.fix(settings, yes=True)
    impatient = settings.with_overrides(lock_timeout="300ms", lock_retries=0)
    migrate(impatient, to="0001_token")
    with server.connect(db_url) as holder:  # an application transaction holds the last row
        holder.execute("SELECT 1 FROM users WHERE id = 30000 FOR UPDATE")
        with pytest.raises(LockTimeout) as info:
            migrate(impatient)
        assert "kept the batches it committed before it stopped" in info.value.state
        holder.execute("ROLLBACK")
    with server.connect(db_url, autocommit=True) as conn:
        done = conn.execute("SELECT count(token) FROM users").fetchone()[0]
    assert 0 < done < 30000  # the batches before the held row committed; the run stopped at that one
    assert migrate(settings).applied == ["0002_token_2", "0003_token_3", "0004_token_4", "0005_token_5"]
    with server.connect(db_url, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM users WHERE token IS NULL").fetchone()[0] == 0


SEQUENCED = {  # drizzle-kit's forms; the first statement --fix writes for each
    "serial": ('ALTER TABLE "users" ADD COLUMN "seq_no" serial NOT NULL;', "CREATE SEQUENCE users_seq_no_seq AS integer;"),
    "identity": ('ALTER TABLE "users" ADD COLUMN "seq_no" integer GENERATED ALWAYS AS IDENTITY;',
                 "CREATE SEQUENCE users_seq_no_migrakit_seq;"),
}  # fmt: skip


@pytest.mark.parametrize("kind", sorted(SEQUENCED))
def test_fix_writes_a_serial_or_identity_column_out_and_backfills_it_from_its_sequence(
    tmp_path, db_url, pg_server_url, tmp_path_factory, kind
):
    body, first = SEQUENCED[kind]
    repo = token_repo(tmp_path, "0001_seq_no", body)
    settings = settings_for(repo, db_url, pg_server_url)
    target_with_rows(settings, db_url)
    original = tmp_path_factory.mktemp("original") / "migrations"
    shutil.copytree(settings.migrations_dir, original)
    report = lint_workflow.fix(settings, yes=True)
    tags = ["0001_seq_no", "0002_seq_no_2", "0003_seq_no_3", "0004_seq_no_4", "0005_seq_no_5"]
    assert [m.tags for m in report.fixed] == [tags]
    assert (settings.migrations_dir / "0001_seq_no.sql").read_text().startswith(first)
    assert lint_workflow.lint(settings).ok  # the pending fixed migrations, measured against the rows of users
    assert migrate(settings).applied == tags
    with server.connect(db_url, autocommit=True) as conn:
        rows, distinct, nulls, top = conn.execute(
            "SELECT count(*), count(DISTINCT seq_no), count(*) FILTER (WHERE seq_no IS NULL), max(seq_no) "
            "FROM users").fetchone()  # fmt: skip
        owned = conn.execute("SELECT pg_get_serial_sequence('users', 'seq_no')").fetchone()[0]
        following = conn.execute("SELECT nextval('users_seq_no_seq')").fetchone()[0]
    assert rows == distinct == 30000 and nulls == 0  # every row got its own number
    assert owned == "public.users_seq_no_seq" and following == top + 1  # owned by the column, going on after the max
    with server.shadow_database(pg_server_url) as expected:
        migrate(load_settings(Path(repo.working_tree_dir), env={}, database_url=expected, migrations_dir=str(original)))
        assert schema.diff_statements(db_url, expected) == []
