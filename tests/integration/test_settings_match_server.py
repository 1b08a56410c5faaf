"""The load-time checks agree exactly with the server: every value below is sent to a real PostgreSQL with
set_config, and migrakit must accept what it accepts (to the same number of milliseconds) and refuse what it
refuses. Also the `options` cutting: the server sees the settings migrakit read from a libpq `options` string."""

import psycopg
import pytest

from migrakit.core.postgres import pgvalues

DURATIONS = [
    "5s", "5", "0", "500ms", "2min", "1h", "1d", "100us", "1500us", "1.5", "1.5s", "2.5", "0.5", "0.4ms", "1.25min",
    " 5s", "5s ", "5 s", "5\ts", " 5 min ", "+5s", "-0", "-1", "-1s", "0x10", "0X1Fs", "010", "08", "0x", "0x1.8p1",
    "1e3", "1e3ms", "1E-3s", "1e", "1e-400", "1e400", ".5s", " .5s", "5.", "5.s", "e5", "", " ", "5 seconds", "5sec",
    "5S", "5 MS", "5 mins", "5m", "5 h ", "5 h x", "5 hh", "nan", "inf", "-inf", "2147483647", "2147483648",
    "2147483647ms", "24d", "25d", "596h", "597h", "9999999999999999999", "99999999999999999999s", "1,5s", "5_000",
    "١", "5ms5", "0.0005s", "3.0000001ms",
]  # fmt: skip


def server_ms(conn, setting, value):
    """Milliseconds the server stores for `setting = value`, or None when it refuses the value. Set and read in
    one statement in autocommit (the setting is local to that statement's implicit transaction): a
    statement_timeout of 1ms must not cancel the read, and the new value applies from the next statement only."""
    try:
        row = conn.execute(
            "SELECT (SELECT set_config(%s, %s, true)) AS applied, (SELECT setting FROM pg_settings WHERE name = %s)",
            (setting, value, setting),
        ).fetchone()
        return int(row[1])
    except (psycopg.errors.InvalidParameterValue, psycopg.errors.DataException, psycopg.errors.ProgramLimitExceeded):
        return None


def ours(value, setting):
    try:
        return pgvalues.parse_duration(value, setting)
    except pgvalues.InvalidValue:
        return None


@pytest.mark.parametrize("setting", ["lock_timeout", "statement_timeout"])
def test_durations_are_read_as_the_server_reads_them(db_url, setting):
    with psycopg.connect(db_url, autocommit=True) as conn:
        both = {v: (ours(v, setting), server_ms(conn, setting, v)) for v in DURATIONS}
    disagree = {v: pair for v, pair in both.items() if pair[0] != pair[1]}
    assert disagree == {}, "value: (migrakit, server) ms"
    accepted = [v for v, (_, server) in both.items() if server is not None]
    assert len(accepted) >= 30 and len(both) - len(accepted) >= 25  # both sides of the line are covered
    assert both["5s"] == (5000, 5000) and both["5 seconds"] == (None, None)


def test_options_reach_the_server_as_migrakit_reads_them(db_url):
    options = r"-c lock_timeout=1500ms --statement-timeout=2min -c search_path=a,\ b -capplication_name=x\ y"
    settings, stray = pgvalues.option_settings(options)
    assert stray is None
    with psycopg.connect(db_url, options=options) as conn:
        for s in settings:
            shown = conn.execute("SELECT current_setting(%s)", (s.name,)).fetchone()[0]
            expected = {"lock_timeout": "1500ms", "statement_timeout": "2min"}.get(s.name, s.value)
            assert shown == expected, s


def test_an_argument_the_server_refuses_is_found_before_connecting(db_url):
    settings, stray = pgvalues.option_settings("-c lock_timeout=5 seconds")
    assert stray == "seconds"
    with pytest.raises(psycopg.OperationalError, match='invalid command-line argument for server process: seconds'):
        psycopg.connect(db_url, options="-c lock_timeout=5 seconds").close()
