"""db/connect/answer.py's error, without a server: what it says and that it crosses a process boundary."""

import pickle

import psycopg

from migrakit.db.connect.answer import STOPPED, NoAnswer


def test_no_answer_is_a_lost_connection_that_names_the_address_and_the_bound():
    err = NoAnswer("db.internal:6432", 30.0)
    assert isinstance(err, psycopg.OperationalError) and err.sqlstate == "08006"
    assert str(err).startswith("no answer from db.internal:6432 for 30 s")
    shown = err.unavailable(STOPPED)
    assert shown.exit_code == 6 and shown.message == "no answer from db.internal:6432 for 30 s"
    assert "network_timeout=30s" in str(shown.fix) and shown.state == STOPPED


def test_no_answer_survives_pickling():
    again = pickle.loads(pickle.dumps(NoAnswer("/tmp/.s.PGSQL.5432", 2.5)))
    assert isinstance(again, NoAnswer) and (again.where, again.seconds) == ("/tmp/.s.PGSQL.5432", 2.5)
