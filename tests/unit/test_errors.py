"""The error family carries data: `fix` is a Fix (its text, and the task it names), and exit codes come from the
error class or the report class, nowhere else."""

from __future__ import annotations

import inspect
import pickle

from migrakit.core.reports.check import CheckReport, EnvReport
from migrakit.core.reports.embedded import ServerStatus, StopResult
from migrakit.core.reports.fleet import FleetReport
from migrakit.core.reports.lint import FixedMigration, LintFixReport, LintReport
from migrakit.core.reports.retire import RetirePlan
from migrakit.core.reports.run import BootstrapReport, MigrateReport, StatusReport
from migrakit.core.reports.upgrade import LayoutUpgrade, UpgradeTrackingReport
from migrakit.core.reports.write import BaselineReport, BranchCount, ConsolidationReport, Generated
from migrakit.core.rollback import DownsReport, RollbackReport
from migrakit.errors import ConfigError, ConfirmationRequired, DriftError, Fix, MigrakitError, MigrationFailed
from migrakit.render.error_text import render_error
from migrakit.render.json import shapes
from migrakit.render.json.document import load_families
from migrakit.tasks._run import run_core

RERUN = "fix the statement, then run `inv db.migrate` again; `inv db.status` shows what is applied"


def test_a_fix_is_its_text_and_names_its_task() -> None:
    fix = Fix(RERUN)
    assert fix == RERUN and str(fix) == RERUN and "`inv db.migrate`" in fix
    assert fix.command == "inv db.migrate"
    assert Fix("restore the file from git").command is None
    assert Fix("run it", command="inv db.check").command == "inv db.check"


def test_every_way_of_setting_a_fix_gives_a_fix() -> None:
    err = MigrationFailed("boom", fix=RERUN)
    assert isinstance(err.fix, Fix) and err.fix.command == "inv db.migrate"
    err.fix = f"{err.fix} (edit only statement 2 or later)"  # how db/ code extends a fix today
    assert isinstance(err.fix, Fix) and err.fix.endswith("(edit only statement 2 or later)")
    assert MigrakitError("no fix").fix is None
    assert shapes.error(err)["fix"] == str(err.fix)  # JSON: the same string as before
    assert render_error(err).endswith(f"  fix:    {err.fix}")


def test_for_command_names_the_task_to_run_instead() -> None:
    fix = Fix(RERUN).for_command("inv db.bootstrap")
    assert fix == RERUN.replace("inv db.migrate", "inv db.bootstrap") and fix.command == "inv db.bootstrap"
    assert "`inv db.status`" in fix  # another task the fix names is left as it is
    other = Fix("run `inv db.migrate-consolidated` again")  # a longer task name is another task
    assert other.for_command("inv db.bootstrap") == other
    assert Fix("run `inv db.status`, then run again").for_command("inv db.bootstrap") == "run `inv db.status`, then run again"


def test_a_fix_survives_pickling_with_its_command() -> None:
    fix = pickle.loads(pickle.dumps(Fix(RERUN).for_command("inv db.bootstrap")))
    assert isinstance(fix, Fix) and fix.command == "inv db.bootstrap"
    err = pickle.loads(pickle.dumps(ConfigError("bad", fix="set it")))
    assert isinstance(err, ConfigError) and err.fix == "set it" and err.exit_code == 2


REPORTS = [
    StatusReport, MigrateReport, BootstrapReport, UpgradeTrackingReport, LayoutUpgrade, CheckReport, BaselineReport,
    ConsolidationReport, BranchCount, Generated, RetirePlan, EnvReport, ServerStatus, StopResult, LintReport, FleetReport,
    LintFixReport, RollbackReport, DownsReport,
]  # fmt: skip


def test_every_report_class_carries_its_exit_code() -> None:
    load_families()
    assert set(REPORTS) == set(shapes.SERIALIZERS)  # every task's report has its serializer, none forgotten
    for report in REPORTS:
        assert isinstance(inspect.getattr_static(report, "exit_code", None), property), report.__name__


def test_report_exit_codes() -> None:
    assert BaselineReport("db", "planned").exit_code == ConfirmationRequired.exit_code
    assert BaselineReport("db", "written").exit_code == 0
    assert RetirePlan("db").exit_code == ConfirmationRequired.exit_code
    assert RetirePlan("db", outcome="retired").exit_code == 0
    assert Generated(None).exit_code == 0 and EnvReport().exit_code == 0
    fixed = LintFixReport("db", fixed=[FixedMigration("0001_a", ["0001_a", "0002_a_2"], [], [])])
    assert fixed.exit_code == ConfirmationRequired.exit_code and LintFixReport("db").exit_code == 0
    fixed.written = True
    assert fixed.exit_code == 0
    assert DriftError.exit_code == 3


def test_tasks_pass_no_exit_code_of_their_own() -> None:
    """run_core takes the code from the report (or the error): no `ok`/`fail_code` to pass."""
    params = inspect.signature(run_core).parameters
    assert "ok" not in params and "fail_code" not in params


def test_a_position_without_a_column_shows_the_line_alone() -> None:
    """Issue 25.10: db.migrate --lint's error knows the statement's line, not its column: no `:None`."""
    from migrakit.errors import LintFindings

    err = LintFindings("db.lint found 1 error-level finding(s)", file="migrations/0001_x.sql", line=3)
    assert "  file:   migrations/0001_x.sql:3\n" in render_error(err) + "\n" and "None" not in render_error(err)
    assert str(err) == "db.lint found 1 error-level finding(s) [migrations/0001_x.sql:3]"
    placed = MigrakitError("boom", file="m.sql", line=3, col=7)
    assert "m.sql:3:7" in render_error(placed) and str(placed) == "boom [m.sql:3:7]"
