"""After `db.rollback`, migrakit and Drizzle's own migrator agree on what is applied: Drizzle (0.x on a journal
folder, 1.0 on a Drizzle 1.0 folder) re-applies exactly the rolled-back migrations on its next run, and then
migrakit finds nothing pending."""

import shutil

import pytest

from migrakit.sources.config import load_settings
from migrakit.sources.folders import load_folder
from migrakit.workflows.generate_down import generate_down
from migrakit.workflows.rollback import rollback
from migrakit.workflows.status import status as read_status
from tests.interop.drizzle import drizzle_migrate, tracking_rows

pytestmark = pytest.mark.interop


def without_ids(rows):
    return [{k: v for k, v in r.items() if k not in ("id", "applied_at_is_null")} for r in rows]


@pytest.mark.parametrize(("case", "major"), [("vercel-ai-chatbot", 0), ("reactive-resume-v1", 1)])
def test_drizzle_reapplies_what_migrakit_rolled_back(case, major, corpus_dir, db_url, pg_server_url, tmp_path):
    folder = tmp_path / "migrations"
    shutil.copytree(corpus_dir / case / "migrations", folder)
    settings = load_settings(tmp_path, env={}, database_url=db_url, migrations_dir=str(folder), shadow_url=pg_server_url)
    tags = [m.tag for m in load_folder(folder).migrations]
    assert generate_down(settings, tags[-2:]).exit_code == 0

    assert drizzle_migrate(folder, db_url, major=major) == {"ok": True}
    full = without_ids(tracking_rows(db_url))
    report = rollback(settings, steps=2, yes=True, allow_data_loss=True)
    assert report.undone == [tags[-1], tags[-2]]
    assert without_ids(tracking_rows(db_url)) == full[:-2]
    assert [m.tag for m in read_status(settings).plan.pending] == tags[-2:]

    assert drizzle_migrate(folder, db_url, major=major) == {"ok": True}  # Drizzle's next run
    assert without_ids(tracking_rows(db_url)) == full
    status = read_status(settings)
    assert status.plan.pending == () and status.plan.problems == ()
