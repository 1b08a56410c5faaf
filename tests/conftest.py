"""Shared fixtures: a PostgreSQL server per session and a fresh database per test (tests/fixtures/pg.py)."""

pytest_plugins = ["tests.fixtures.pg", "tests.fixtures.pgbouncer"]
