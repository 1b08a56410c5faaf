"""core/fleet_targets.py: the fleet's targets file and --targets-query rows, checked before anything connects.
No message ever holds a target's password."""

import pytest

from migrakit.core.fleet_targets import Target, from_rows, parse_file
from migrakit.errors import ConfigError

SECRET = "s3cr3t-Pa55"


def fails(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_file(text, "fleet.toml")
    err = info.value
    assert err.exit_code == 2 and err.state and err.fix
    for field in (err.message, err.cause or "", err.fix, err.state, *err.details):
        assert SECRET not in field
    return err


def test_a_file_of_targets_with_and_without_schemas():
    text = f"""
[[targets]]
name = "t001"
url = "postgresql://app:{SECRET}@db1:5432/t001"

[[targets]]
name = "acme"
url = "postgresql://app@db2/tenants"
schema = "acme"
"""
    got = parse_file(text, "fleet.toml")
    assert got == [
        Target("t001", f"postgresql://app:{SECRET}@db1:5432/t001"),
        Target("acme", "postgresql://app@db2/tenants", "acme"),
    ]
    assert SECRET not in got[0].display and "db1:5432/t001" in got[0].display
    assert got[1].display.endswith("(schema acme)")


@pytest.mark.parametrize(
    "text, words",
    [
        (f'[[targets]]\nname = "a"\nurl = "postgresql://u:{SECRET}@h/d', "not valid TOML"),
        ("", "lists no target"),
        ("targets = 3", "not an array of tables"),
        ('tenants = []', "unknown top-level key 'tenants'"),
        (f'[[targets]]\nurl = "postgresql://u:{SECRET}@h/d"', "target 1 has no name"),
        ('[[targets]]\nname = "a"', "target 1 ('a') has no url"),
        ('[[targets]]\nname = "a"\nurl = 5', "a url that is not a string"),
        (f'[[targets]]\nname = "a"\nurl = "postgresql://u:{SECRET}@h/d"\nshema = "x"', "unknown key 'shema'"),
        (f'[[targets]]\nname = "a b"\nurl = "postgresql://u:{SECRET}@h/d"', "is not a plain name"),
        (f'[[targets]]\nname = "a"\nurl = "mysql://u:{SECRET}@h/d"', "is not a PostgreSQL URL"),
        (f'[[targets]]\nname = "a"\nurl = "postgresql://u:{SECRET}@h/d"\nschema = "x\\"y"', "cannot name a schema"),
        (f'[[targets]]\nname = "a"\nurl = "postgresql://u:{SECRET}@h/d"\n[[targets]]\nname = "a"\nurl = "postgresql://h/e"',
         "names two targets 'a' (entries 1 and 2)"),
        (f'[[targets]]\nname = "a"\nurl = "postgresql://u:{SECRET}@h/d"\n[[targets]]\nname = "b"\nurl = "postgresql://u:{SECRET}@h/d"',
         "lists the same database twice: 'a' and 'b'"),
    ],
)
def test_a_bad_targets_file_is_refused_naming_the_entry(text, words):
    err = fails(text)
    assert words in err.message, err.message
    assert err.message.startswith(("the targets file fleet.toml", "cannot read the targets file fleet.toml"))


def test_a_targets_file_nested_too_deep_is_exit_2_not_a_recursion_error():
    err = fails("x = " + "[" * 100_000 + "]" * 100_000)
    assert err.message == "cannot read the targets file fleet.toml: it is nested too deep"


def test_the_toml_error_gives_the_line_but_never_the_line_itself():
    err = fails(f'[[targets]]\nname = "a"\nurl = postgresql://u:{SECRET}@h/d\n')  # unquoted
    assert (err.line, err.file) == (3, "fleet.toml") and "Invalid value" in err.cause


def test_one_database_many_schemas_is_fine_but_not_the_same_schema_twice():
    ok = '[[targets]]\nname = "a"\nurl = "postgresql://h/d"\nschema = "a"\n[[targets]]\nname = "b"\nurl = "postgresql://h/d"\nschema = "b"'
    assert [t.schema for t in parse_file(ok, "f.toml")] == ["a", "b"]
    err = fails(ok.replace('schema = "b"', 'schema = "a"'))
    assert "same database and schema twice" in err.message


def test_query_rows_become_targets_and_bad_columns_are_refused():
    rows = [("t1", f"postgresql://u:{SECRET}@h/t1", None), ("t2", "postgresql://h/shared", "t2")]
    got = from_rows(rows, ["name", "url", "schema"], "--targets-query")
    assert [(t.name, t.schema) for t in got] == [("t1", None), ("t2", "t2")]
    for columns, words in ((["slug", "url"], "missing name"), (["name", "url", "region"], "unknown region")):
        with pytest.raises(ConfigError) as info:
            from_rows([("a", "postgresql://h/d")], columns, "--targets-query")
        assert info.value.message.startswith("--targets-query returns the columns") and words in info.value.message
    with pytest.raises(ConfigError, match="returned no row"):
        from_rows([], ["name", "url"], "--targets-query")
