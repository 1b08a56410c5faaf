import pytest

from migrakit.errors import ConfigError
from migrakit.sources.config import load_settings


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


# ------------------------------------------------------------------ checked at load, once (issue 13, item 4)
def refused(tmp_path, env=None, pyproject="", **options) -> ConfigError:
    write(tmp_path, pyproject or "[project]\nname='x'\n")
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path, env=env or {}, **options)
    assert info.value.exit_code == 2 and info.value.fix and "nothing was run" in (info.value.state or "")
    return info.value


def test_unknown_pyproject_key_says_did_you_mean(tmp_path):
    err = refused(tmp_path, pyproject='[tool.migrakit]\nmigration_dir = "typo"\n')
    assert "did you mean 'migrations_dir'?" in err.message and err.file == "pyproject.toml"
    assert (err.fix or "").startswith("rename it to migrations_dir")


def test_an_unknown_migrakit_variable_is_a_warning_naming_the_closest_setting(tmp_path):
    write(tmp_path, "[project]\nname='x'\n")
    s = load_settings(tmp_path, env={"MIGRAKIT_LOCK_TIMOUT": "5s", "MIGRAKIT_VERSION": "1.2.3"})
    assert s.lock_timeout == "5s" and s.is_default("lock_timeout")  # ignored, not read as the setting
    assert s.warnings == (
        "environment variable MIGRAKIT_LOCK_TIMOUT is not a migrakit setting and is ignored; "
        "did you mean MIGRAKIT_LOCK_TIMEOUT?",
        "environment variable MIGRAKIT_VERSION is not a migrakit setting and is ignored; "
        "the closest setting is MIGRAKIT_PIPELINE",
    )
    assert load_settings(tmp_path, env={"MIGRAKIT_LOCK_TIMEOUT": "5s"}).warnings == ()


def test_migrakit_database_url_stays_an_error_as_ignoring_it_would_target_another_database(tmp_path):
    err = refused(tmp_path, env={"MIGRAKIT_DATABASE_URL": "postgresql://h/d"})
    assert err.message.startswith("unknown environment variable MIGRAKIT_DATABASE_URL")
    assert "DATABASE_URL" in (err.fix or "")


def test_unknown_pyproject_keys_stay_errors_while_variables_warn(tmp_path):
    err = refused(tmp_path, pyproject='[tool.migrakit]\nversion = "1.2.3"\n', env={"MIGRAKIT_VERSION": "1"})
    assert err.message.startswith("unknown key 'version' in [tool.migrakit]")


def test_variables_that_are_not_settings_stay_accepted(tmp_path):
    write(tmp_path, "[project]\nname='x'\n")
    env = dict.fromkeys(["MIGRAKIT_TEST_DATABASE_URL", "MIGRAKIT_SHARED", "MIGRAKIT_CORPUS", "MIGRAKIT_REGEN_GOLDENS",
                         "MIGRAKIT_FAILPOINT", "MIGRAKIT_DIRECT_URL"], "")  # fmt: skip
    s = load_settings(tmp_path, env={**env, "MIGRAKIT_DIRECT_URL": "postgresql://u@direct/app"})
    assert s.direct_url == "postgresql://u@direct/app"


@pytest.mark.parametrize(
    "source, expected",
    [
        ({"env": {"MIGRAKIT_LOCK_RETRIES": "three"}}, "lock_retries = 'three' (environment variable MIGRAKIT_LOCK_RETRIES) is not an integer"),
        ({"pyproject": "[tool.migrakit]\nlock_retries = true\n"}, "lock_retries = True (pyproject.toml [tool.migrakit] lock_retries) is not an integer"),
        ({"pyproject": "[tool.migrakit]\npipeline = 'maybe'\n"}, "pipeline = 'maybe' (pyproject.toml [tool.migrakit] pipeline) is not a boolean"),
        ({"pyproject": "[tool.migrakit]\nlock_timeout = 5\n"}, "lock_timeout = 5 (pyproject.toml [tool.migrakit] lock_timeout) is not a string"),
        ({"env": {"MIGRAKIT_LOCK_WAIT_TIMEOUT": "nan"}}, "lock_wait_timeout = 'nan' (environment variable MIGRAKIT_LOCK_WAIT_TIMEOUT) is not a number"),
        ({"env": {"MIGRAKIT_LOCK_RETRIES": "-1"}}, "lock_retries = -1 (environment variable MIGRAKIT_LOCK_RETRIES) is negative"),
        ({"env": {"MIGRAKIT_NETWORK_TIMEOUT": "-5"}}, "network_timeout = -5.0 (environment variable MIGRAKIT_NETWORK_TIMEOUT) is negative"),
        ({"migrations_table": 7}, "migrations_table = 7 (option --migrations-table) is not a string"),
    ],
)
def test_a_value_of_the_wrong_type_names_key_value_origin_and_type(tmp_path, source, expected):
    assert refused(tmp_path, **source).message == expected


@pytest.mark.parametrize(
    "value, origin, cause",
    [
        ({"env": {"MIGRAKIT_LOCK_TIMEOUT": "5 seconds"}}, "environment variable MIGRAKIT_LOCK_TIMEOUT", "'seconds' is not a unit"),
        ({"pyproject": '[tool.migrakit]\nlock_timeout = "5 seconds"\n'}, "pyproject.toml [tool.migrakit] lock_timeout", "'seconds'"),
        ({"env": {"MIGRAKIT_STATEMENT_TIMEOUT": "-1"}}, "environment variable MIGRAKIT_STATEMENT_TIMEOUT", "outside the valid range"),
    ],
)
def test_a_duration_postgresql_refuses_is_refused_at_load(tmp_path, value, origin, cause):
    err = refused(tmp_path, **value)
    assert origin in err.message and "is not a duration PostgreSQL accepts" in err.message
    assert cause in (err.cause or "") and "us, ms, s, min, h, d" in (err.fix or "")


@pytest.mark.parametrize(
    "name, why",
    [('x"y', "double quote"), ("", "empty"), ("a\x00b", "NUL"), ("t" * 64, "64 bytes long"), ("é" * 32, "64 bytes long")],
)
def test_a_tracking_name_postgresql_would_change_is_refused(tmp_path, name, why):
    err = refused(tmp_path, env={"MIGRAKIT_MIGRATIONS_TABLE": name})
    assert "cannot name the tracking table" in err.message and why in (err.cause or "")


def test_names_that_need_quoting_are_fine(tmp_path):
    write(tmp_path, "[project]\nname='x'\n")
    s = load_settings(tmp_path, env={"MIGRAKIT_MIGRATIONS_SCHEMA": "My Schema", "MIGRAKIT_MIGRATIONS_TABLE": "t" * 63})
    assert (s.migrations_schema, len(s.migrations_table)) == ("My Schema", 63)


@pytest.mark.parametrize(
    "url, needle, fix",
    [
        ("postgresql://app:Pw-s3cret@h/db?sslmode=requir", "sslmode='requir'", "verify-full"),
        ("postgresql://app:Pw-s3cret@h/db?sslmode=REQUIRE", "did you mean 'require'?", "lower case"),
        ("host=h password=Pw-s3cret sslmode=x", "sslmode='x' (in environment variable DATABASE_URL)", "disable"),
        ("postgresql://app:Pw-s3cret@h/db?sslmod=require", "libpq does not know: 'sslmod'; did you mean 'sslmode'?", "rename sslmod to sslmode"),
        ("host=h password=Pw-s3cret sslmod=require", "'sslmod'", "sslmode"),
        ("postgresql://app:Pw-s3cret@h/db?target_session_attrs=writer", "target_session_attrs='writer'", "read-write"),
        ("postgresql://app:Pw-s3cret@h/db?options=-c%20lock_timeout%3D5%20seconds", "refuse: 'seconds'", "5s, not 5 seconds"),
        ("postgresql://app:Pw-s3cret@h/db?options=-c%20lock_timeout%3D5parsecs", "is not a duration", "us, ms"),
        ("postgresql://app:Pw-s3cret@h/db?options=-c%20lock_timout%3D5s", "did you mean 'lock_timeout'?", "-c lock_timeout=5s"),
        ("postgresql://app:Pw-s3cret@h/db?options=-c%20statement_timeout", "has no value", "statement_timeout=VALUE"),
    ],
)
def test_url_parameters_are_checked_without_printing_the_password(tmp_path, url, needle, fix):
    err = refused(tmp_path, env={"DATABASE_URL": url})
    text = " ".join(str(v) for v in err.as_dict().values())
    assert needle in err.message and fix in (err.fix or "")
    assert "Pw-s3cret" not in text


def test_libpq_environment_variables_are_checked_too(tmp_path):
    err = refused(tmp_path, env={"PGSSLMODE": "on"})
    assert "sslmode='on' (environment variable PGSSLMODE)" in err.message
    err = refused(tmp_path, env={"PGOPTIONS": "-c lock_timeout=5 parsecs"})
    assert "environment variable PGOPTIONS" in err.message
    err = refused(tmp_path, env={"PGOPTIONS": "-c statement_timeout=1x"}, shadow_url="postgresql://h/d")
    assert "statement_timeout" in err.message


def test_shadow_and_direct_urls_are_checked_with_their_origin(tmp_path):
    assert "option --shadow-url" in refused(tmp_path, shadow_url="postgresql://h/d?sslmode=bad").message
    err = refused(tmp_path, pyproject='[tool.migrakit]\ndirect_url = "postgresql://h/d?sslmode=bad"\n')
    assert "pyproject.toml [tool.migrakit] direct_url" in err.message


def test_good_urls_and_settings_load(tmp_path):
    write(tmp_path, '[tool.migrakit]\nlock_timeout = "1.5s"\nstatement_timeout = "2min"\nlock_wait_timeout = 0\n')
    url = r"postgresql://u:p@h:5432/d?sslmode=verify-full&options=-c%20search_path%3Da%2C%5C%20b%20-c%20x.y%3D1&ssl=true"
    s = load_settings(tmp_path, env={"DATABASE_URL": url, "PGOPTIONS": "--lock-timeout=3s", "MIGRAKIT_PIPELINE": "off"})
    assert (s.lock_timeout, s.statement_timeout, s.lock_wait_timeout, s.pipeline) == ("1.5s", "2min", 0.0, False)


def test_defaults_are_the_settings_fields_own(tmp_path):
    """Defaults are written once (core/settings.py): every Settings field but root/database_url/origins is a key,
    and loading nothing gives each field its default (paths: PATH_DEFAULTS under the root)."""
    from dataclasses import MISSING, fields

    from migrakit.core.settings import PATH_DEFAULTS, Settings

    write(tmp_path, "[project]\nname='x'\n")
    s = load_settings(tmp_path, env={})
    checked = 0
    for f in fields(Settings):
        if f.name in ("root", "database_url", "origins", "search_path", "warnings"):  # not settings a user writes
            continue
        if f.name in PATH_DEFAULTS:
            expected = tmp_path / PATH_DEFAULTS[f.name]
        else:
            expected = f.default_factory() if f.default_factory is not MISSING else f.default
        assert getattr(s, f.name) == expected, f.name
        assert s.is_default(f.name)
        checked += 1
    assert checked == 21  # max_file_mb and network_timeout came last


def test_a_pyproject_nested_too_deep_is_exit_2_not_a_recursion_error(tmp_path):
    err = refused(tmp_path, pyproject="[tool.migrakit]\nx = " + "[" * 100_000 + "]" * 100_000 + "\n")
    assert err.message == "pyproject.toml is nested too deep to read" and err.file == "pyproject.toml"


def test_max_file_mb_is_a_whole_positive_number_of_mib(tmp_path):
    write(tmp_path, "[project]\nname='x'\n")
    s = load_settings(tmp_path, env={"MIGRAKIT_MAX_FILE_MB": "512"})
    assert s.max_file_mb == 512 and s.max_file_bytes == 512 << 20
    assert load_settings(tmp_path, env={}).max_file_bytes == 256 << 20
    assert "is below 1" in refused(tmp_path, env={"MIGRAKIT_MAX_FILE_MB": "0"}).message
