"""The example app that `inv build` / `inv dev` run after migrating: save one flow metric and read it back.

It uses the database migrakit just migrated ($DATABASE_URL, else the embedded server in .migrakit/).
"""

from __future__ import annotations

import json
import sys

from migrakit.db.connect.server import connect
from migrakit.db.connect.session import resolve_target
from migrakit.errors import MigrakitError
from migrakit.sources.config import load_settings
from migrakit.workflows.steps.options import target_options


def main() -> int:
    try:
        settings = load_settings()
        target = resolve_target(target_options(settings))
        conn = connect(target.url)
    except MigrakitError as err:
        print(f"error: {err.message}\n  fix:   {err.fix}", file=sys.stderr)
        return 1
    with conn:
        flow_id = conn.execute(
            """
            INSERT INTO flow_metrics_config (flow_name, config)
            VALUES ('checkout', %s::jsonb)
            ON CONFLICT (flow_name) DO UPDATE SET config = EXCLUDED.config
            RETURNING id
            """,
            (json.dumps({"thresholds": {"p95_ms": 800}, "enabled": True}),),
        ).fetchone()[0]
        conn.execute(
            "INSERT INTO flow_metrics (flow_id, name, value) VALUES (%s, 'p95_ms', %s)", (flow_id, 742.5)
        )
        name, value, threshold = conn.execute(
            """
            SELECT m.name, m.value, c.config -> 'thresholds' ->> 'p95_ms'
            FROM flow_metrics m JOIN flow_metrics_config c ON c.id = m.flow_id
            WHERE c.flow_name = 'checkout' ORDER BY m.id DESC LIMIT 1
            """
        ).fetchone()
    print(f"saved metric: checkout {name} = {value} (threshold {threshold}) on {target.display}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
