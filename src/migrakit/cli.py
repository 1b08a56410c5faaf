"""The `migrakit` console script: the same collections as `inv`, without a tasks.py."""

from __future__ import annotations

from invoke import Program

from . import __version__
from .tasks import ns

program = Program(namespace=ns, version=__version__, name="migrakit", binary="migrakit")


def main() -> None:
    program.run()
