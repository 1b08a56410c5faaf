"""Database migrations: apply, inspect and check drizzle-kit folders (Mode 1) and consolidated files (Mode 2).

One Invoke collection, `db`; its tasks live in this package's modules by job: migrate.py (db.migrate, db.status,
db.check, db.migrate-consolidated, db.bootstrap), write.py (db.generate, db.baseline, db.count-branch-migrations,
db.consolidate), lint.py (db.lint), upgrade.py (db.upgrade-tracking, db.upgrade-layout), embedded.py
(db.server-status, db.server-stop), rollback.py (db.rollback, db.generate-down).
"""

from __future__ import annotations

from invoke import Collection

from migrakit.tasks.db.embedded import server_status, server_stop
from migrakit.tasks.db.lint import lint
from migrakit.tasks.db.migrate import bootstrap, check, migrate, migrate_consolidated, status
from migrakit.tasks.db.rollback import generate_down, rollback
from migrakit.tasks.db.upgrade import upgrade_layout, upgrade_tracking
from migrakit.tasks.db.write import baseline, consolidate, count_branch_migrations, generate

ns = Collection(
    "db", generate, migrate, status, upgrade_tracking, upgrade_layout, check, baseline,
    migrate_consolidated, bootstrap, count_branch_migrations, consolidate,
)
ns.add_task(lint)
ns.add_task(server_status)
ns.add_task(server_stop)
ns.add_task(rollback)
ns.add_task(generate_down)
