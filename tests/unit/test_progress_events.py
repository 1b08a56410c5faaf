"""render/run.Progress over every typed event (core/events.py): each one is printed or deliberately silent,
and the plain lines are the ones users and CI logs know."""

import io
import typing

import pytest

from migrakit.core import events as e
from migrakit.core.migration import Migration
from migrakit.render.run import Progress

M = Migration(tag="0001_x", when=1, path="m/0001_x.sql", text="SELECT 1;", hash="h")
IDX = '"public"."i"'
UNDER_DRIZZLE = "what follows runs as under Drizzle (each query its own transaction, or the file's own BEGIN ... COMMIT)"
PLAIN = [
    (e.TargetChosen("db"), None),
    (e.LockWait((42, "app", None)), "waiting for the migration lock (held by pid 42) ..."),
    (e.LockWait(None), "waiting for the migration lock ..."),
    (e.LockAcquired(), "got the migration lock; re-reading the tracking table"),
    (e.TrackingUpgraded(3), "upgraded the tracking table to Drizzle 1.0's columns (3 row(s) named)"),
    (e.Planned(2), None),
    (e.Queued((M, M)), "sending 2 migration(s) in one pipelined batch: 0001_x, 0001_x; each is shown below as the server starts it"),
    (e.Started(M, 4), "applying 0001_x (4 statement(s)) ..."),
    (e.StatementDone(M, 1), None),
    (e.Resumed(M, 2, 4), "0001_x: resuming at statement 3 of 4 (statements 1-2 completed in an earlier run and are unchanged)"),
    (e.Done(M), "applied 0001_x"),  # no Started seen here: no duration
    (e.Recorded(M), "recorded 0001_x without running it: every migration it replaces already ran here"),
    (e.LockRetry("0001_x", 1, 3), "0001_x: lock_timeout hit, retry 1 of 3 (watching who blocks it)"),
    (e.AppliedElsewhereSeen("0001_x", True), "0001_x: another migrator's migration transaction was open; rolled back, re-planning"),
    (e.AppliedElsewhereSeen("0001_x", False), "0001_x: another migrator applied it first; rolled back, re-reading the tracking table"),
    (e.DroppedInvalidIndex(M, IDX), f"0001_x: dropped the INVALID index {IDX} an earlier failed or interrupted run left"),
    (e.IndexAlreadyBuilt(M, IDX), f"0001_x: the index {IDX} was built by an interrupted run; recorded as done"),
    (e.DrizzleTransactionEnded(M, True), f"0001_x: the file itself committed the run's single transaction; {UNDER_DRIZZLE}"),
    (e.DrizzleTransactionEnded(M, False), f"0001_x: the file itself rolled back the run's single transaction; {UNDER_DRIZZLE}"),
    (e.Finished(), None),
]


def test_every_event_type_has_a_case_here():
    assert {type(event) for event, _ in PLAIN} == set(typing.get_args(e.Event))


@pytest.mark.parametrize("event,line", PLAIN, ids=[f"{type(ev).__name__}-{i}" for i, (ev, _) in enumerate(PLAIN)])
def test_plain_output_of_each_event(event, line):
    out = io.StringIO()
    Progress("plain", out)(event)
    assert out.getvalue() == ("" if line is None else line + "\n")


def test_json_output_prints_no_progress():
    out = io.StringIO()
    progress = Progress("json", out)
    for event, _ in PLAIN:
        progress(event)
    assert out.getvalue() == ""


def test_rich_bar_runs_from_plan_to_finished():
    out = io.StringIO()
    progress = Progress("rich", out)
    for event in (e.Planned(1), e.Queued((M,)), e.Started(M, 1), e.Done(M), e.Finished()):
        progress(event)
    assert progress._bar is None and "0001_x (1 statement(s))" in out.getvalue()
    assert "pipelined batch" not in out.getvalue()  # a bar shows the batch; no line for it
