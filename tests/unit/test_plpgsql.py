"""Which statements PL/pgSQL's EXECUTE runs as sending them would (the large-statement path streams only those)."""

import pytest

from migrakit.core.postgres.plpgsql import runs_in_execute


@pytest.mark.parametrize(
    "sql",
    [
        'WITH "a" AS (SELECT 1) SELECT * INTO "t" FROM "a"',
        '(SELECT 1 AS "x" INTO "t")',
        "/* note */ ((SELECT 1 INTO t))",
        "SELECT 1 INTO t UNION SELECT 2",
        "select 1 into t",
        "COPY t FROM STDIN",
    ],
)
def test_select_into_anywhere_and_copy_do_not_run_in_execute(sql):
    assert not runs_in_execute(sql)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 1",
        "INSERT INTO t SELECT 1",
        "CREATE TABLE t AS SELECT 1",
        'WITH "a" AS (SELECT 1) INSERT INTO t SELECT * FROM "a"',
        "SELECT '\"intoClause\": 1'",
        "CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$ DECLARE x int; BEGIN SELECT 1 INTO x; RETURN x; END $$",
    ],
)
def test_other_statements_run_in_execute(sql):
    assert runs_in_execute(sql)


def test_only_the_slice_is_judged():
    source = "SELECT 1 INTO t; INSERT INTO u VALUES (1)"
    assert runs_in_execute(source, source.index("INSERT"))
    assert not runs_in_execute(source, 0, source.index(";"))
