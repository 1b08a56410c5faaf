"""migrakit's own tasks: this repository uses its package's collections like any other project would."""

from migrakit.tasks import ns  # noqa: F401
