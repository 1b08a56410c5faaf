import pytest

from migrakit.config import load_settings
from migrakit.errors import ConfigError


def write(tmp_path, body: str):
    (tmp_path / "pyproject.toml").write_text(body, encoding="utf-8")


def test_defaults_match_drizzle(tmp_path):
    write(tmp_path, "[project]\nname='x'\n")
    s = load_settings(tmp_path, env={})
    assert s.migrations_dir == tmp_path / "migrations"
    assert s.consolidated_dir == tmp_path / "migrations-consolidated"
    assert (s.migrations_schema, s.migrations_table) == ("drizzle", "__drizzle_migrations")
    assert s.database_url is None


def test_pyproject_then_env_then_options(tmp_path):
    write(tmp_path, '[tool.migrakit]\nmigrations_dir = "db/m"\nmigrations_table = "t1"\ndatabase_url_env = "MY_DB"\n')
    env = {"MIGRAKIT_MIGRATIONS_TABLE": "t2", "MY_DB": "postgresql://u:p@h/d"}
    s = load_settings(tmp_path, env=env)
    assert s.migrations_dir == tmp_path / "db/m"
    assert s.migrations_table == "t2"
    assert s.database_url == "postgresql://u:p@h/d"
    s = load_settings(tmp_path, env=env, migrations_dir="other", database_url="postgresql://x@y/z")
    assert s.migrations_dir == tmp_path / "other"
    assert s.database_url == "postgresql://x@y/z"


def test_unknown_key_is_an_error_naming_it(tmp_path):
    write(tmp_path, '[tool.migrakit]\nmigration_dir = "typo"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path, env={})
    assert "migration_dir" in info.value.message
    assert "migrations_dir" in (info.value.fix or "")
    assert info.value.exit_code == 2


def test_wrong_type_is_an_error(tmp_path):
    write(tmp_path, "[tool.migrakit]\nlock_retries = 'many'\n")
    with pytest.raises(ConfigError, match="lock_retries"):
        load_settings(tmp_path, env={})
