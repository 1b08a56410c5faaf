"""The help strings several db tasks share."""

from __future__ import annotations

ALLOW_EMPTY = (
    "Accept an empty migrations folder while the tracking table has rows (else exit 2), and record a pending "
    "--custom migration still holding only its header as applied, as Drizzle does (else exit 1 before anything "
    "runs). A migration of comments only is always recorded, with a note."
)
COMMON = {
    "database_url": "Database URL (default: $DATABASE_URL, else the embedded server in .migrakit/).",
    "migrations_dir": "drizzle-kit migrations folder (default: [tool.migrakit] migrations_dir, 'migrations').",
}
SHADOW = "Admin URL of a server for the throwaway shadow databases (default: [tool.migrakit] shadow_url, else the embedded server)."
