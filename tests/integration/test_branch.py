"""Branch counting and db.consolidate in real git repositories made in temporary folders."""

import json
from pathlib import Path

import pytest

from migrakit.errors import ConfigError
from migrakit.sources.config import load_settings
from migrakit.sources.git import count_branch_migrations
from migrakit.workflows.migrate import migrate
from tests.fixtures.cli import run_in_process
from tests.fixtures.folders import add_migration, make_drizzle_folder
from tests.fixtures.gitrepo import commit_all, new_project_repo

BASE = [("0000_users", "CREATE TABLE users (id int PRIMARY KEY);"), ("0001_users_email", "ALTER TABLE users ADD COLUMN email text;")]
FEATURE = [
    ("0002_orders", "CREATE TABLE orders (id int PRIMARY KEY, user_id int REFERENCES users(id));"),
    ("0003_orders_total", "ALTER TABLE orders ADD COLUMN total numeric NOT NULL DEFAULT 0;"),
    ("0004_orders_idx", "CREATE INDEX orders_user_idx ON orders (user_id);"),
]


@pytest.fixture
def repo(tmp_path):
    """main: two migrations; feature (checked out): three more; main then moves on without migrations. The embedded
    server a test started in the repository (the default shadow server) is stopped afterwards."""
    r = new_project_repo(tmp_path)
    folder = make_drizzle_folder(tmp_path, BASE)
    for i in range(len(BASE)):
        (folder / "meta" / f"{i:04d}_snapshot.json").write_text(json.dumps({"id": f"s{i}", "prevId": f"s{i - 1}"}))
    commit_all(r, "base")
    r.git.checkout("-b", "feature")
    for i, (tag, body) in enumerate(FEATURE, start=len(BASE)):
        add_migration(folder, tag, body)
        (folder / "meta" / f"{i:04d}_snapshot.json").write_text(json.dumps({"id": f"s{i}", "prevId": f"s{i - 1}"}))
        commit_all(r, tag)
    r.git.checkout("main")
    (tmp_path / "README.md").write_text("main moved on\n")
    commit_all(r, "docs on main")
    r.git.checkout("feature")
    yield r
    if (tmp_path / ".migrakit" / "pgdata").exists():  # db.consolidate --yes proved on the embedded server: stop it
        stopped = cli(tmp_path, "db.server-stop")
        assert stopped.returncode == 0, stopped.stderr


def settings_in(path, **extra):
    return load_settings(Path(path), env={}, **extra)


def test_counts_the_migrations_the_branch_added_since_it_left_main(repo):
    result = count_branch_migrations(settings_in(repo.working_tree_dir), env={})
    assert result.branch.tags == tuple(t for t, _ in FEATURE)
    assert (result.branch.head, result.branch.base, result.branch.base_source) == ("feature", "main", "base_branch")
    assert result.branch.merge_base == repo.commit("main~1").hexsha
    assert result.ok and not count_branch_migrations(settings_in(repo.working_tree_dir), max_count=2, env={}).ok


def test_uncommitted_new_migrations_count_too(repo):
    add_migration(Path(repo.working_tree_dir) / "migrations", "0005_wip", "SELECT 1;")
    assert count_branch_migrations(settings_in(repo.working_tree_dir), env={}).branch.tags[-1] == "0005_wip"


def test_on_the_base_branch_itself_nothing_is_new(repo):
    repo.git.checkout("main")
    assert count_branch_migrations(settings_in(repo.working_tree_dir), env={}).branch.tags == ()


def test_detached_head_in_ci_takes_the_base_from_github_base_ref_and_origin(repo):
    sha = repo.head.commit.hexsha
    repo.git.update_ref("refs/remotes/origin/main", repo.commit("main").hexsha)
    repo.git.checkout("--detach", sha)
    repo.git.branch("-D", "main")  # a CI checkout has only origin/main
    result = count_branch_migrations(settings_in(repo.working_tree_dir), env={"GITHUB_BASE_REF": "main"})
    assert result.branch.head == f"detached HEAD at {sha[:7]}"
    assert (result.branch.base, result.branch.base_source) == ("origin/main", "GITHUB_BASE_REF")
    assert result.branch.tags == tuple(t for t, _ in FEATURE)
    # the option wins over the environment
    repo.git.update_ref("refs/remotes/origin/release", sha)
    assert count_branch_migrations(settings_in(repo.working_tree_dir), base="release", env={"GITHUB_BASE_REF": "main"}).branch.tags == ()


def test_unknown_base_branch_says_how_to_fetch_it(repo):
    with pytest.raises(ConfigError, match="'develop' .* is not in this clone") as info:
        count_branch_migrations(settings_in(repo.working_tree_dir), base="develop", env={})
    assert "fetch-depth: 0" in info.value.fix


def cli(cwd, *args, db_url=None):
    env = {"GITHUB_BASE_REF": "", "NO_COLOR": "1", **({"DATABASE_URL": db_url} if db_url else {})}  # "": unset
    return run_in_process(args, cwd=Path(cwd), env=env)


def test_count_task_exits_non_zero_above_max_with_the_advice_to_consolidate(repo):
    over = cli(repo.working_tree_dir, "db.count-branch-migrations", "--max", "2")
    assert over.returncode == 1
    assert all(t in over.stdout for t, _ in FEATURE) and "db.consolidate" in over.stdout
    ok = cli(repo.working_tree_dir, "db.count-branch-migrations", "--json")
    assert ok.returncode == 0 and json.loads(ok.stdout)["added_count"] == 3


def tree_bytes(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in Path(root).rglob("*") if p.is_file() and ".git" not in p.parts}


def test_consolidate_without_yes_prints_the_plan_and_changes_nothing(repo, db_url):
    root = repo.working_tree_dir
    before = tree_bytes(root)
    result = cli(root, "db.consolidate", db_url=db_url)
    assert result.returncode == 5
    assert all(t in result.stdout for t, _ in FEATURE) and "new on feature since it left main" in result.stdout
    assert "run again with --yes" in result.stdout
    assert tree_bytes(root) == before


def test_consolidate_with_yes_folds_the_branch_and_migrate_runs_it(repo, db_url):
    root = Path(repo.working_tree_dir)
    result = cli(root, "db.consolidate", "--yes", "--name", "orders", db_url=db_url)
    assert result.returncode == 0, result.stderr
    assert "schema diff is empty" in result.stdout
    journal = json.loads((root / "migrations" / "meta" / "_journal.json").read_text())
    assert [e["tag"] for e in journal["entries"]] == [t for t, _ in BASE]
    [manifest] = (root / "migrations-consolidated").glob("*_orders.toml")
    assert manifest.with_suffix(".sql").is_file()
    # drizzle-kit's latest snapshot (the feature's last one) is kept under the journal's new last entry
    assert sorted(p.name for p in (root / "migrations" / "meta").glob("*_snapshot.json")) == ["0000_snapshot.json", "0001_snapshot.json"]
    assert json.loads((root / "migrations" / "meta" / "0001_snapshot.json").read_text())["id"] == "s4"
    assert count_branch_migrations(settings_in(root), env={}).branch.tags == ()  # nothing new left on the branch
    report = migrate(settings_in(root, database_url=db_url))
    assert report.applied == ["0000_users", "0001_users_email", manifest.stem]
