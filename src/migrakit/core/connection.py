"""What sits between migrakit and PostgreSQL (a connection pooler, and its mode), as data. Pure.

db/connect/pooler.py finds it out; db.status, env.check and the runs read it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Pooler:
    present: bool  # something between the client and PostgreSQL multiplexes connections
    transaction: bool  # server connections are handed out per transaction (session state does not survive)
    name: str  # what it probably is, for messages ("" when direct)
    evidence: str  # what was seen, for messages
    statement: bool = False  # server connections are handed out per statement: no transaction survives

    def describe(self) -> str:
        """One line for env.check and db.status."""
        if not self.present:
            return "direct to PostgreSQL (no pooler seen)"
        if self.statement:
            return f"through a statement pooler ({self.name}, pool_mode=statement): migrations cannot run here"
        if self.transaction:
            return (
                f"through a transaction pooler ({self.name}): each transaction may run on another server "
                "connection; migrations are guarded per transaction; CONCURRENTLY steps and files with their own "
                "BEGIN/COMMIT need direct_url (MIGRAKIT_DIRECT_URL)"
            )
        return f"through a session pooler ({self.name}): each client keeps its server connection; everything works"


DIRECT = Pooler(False, False, "", "")
