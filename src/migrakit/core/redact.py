"""Secrets by structure: find a connection string's password the way libpq reads it, and mask it in any text.

Pure: text in, text out. The exact libpq parse (`psycopg.conninfo.conninfo_to_dict`) belongs to the driver, so
the db layer (`server.py`) passes the passwords libpq found in as `parsed`; this module adds what a parser
that gives up cannot say: the password as the user meant it and the pieces libpq's own rules scatter.

libpq's URL rule (fe-connect.c, conninfo_uri_parse_options): the user info ends at the FIRST `@` or `/` after
`scheme://`. So `postgresql://app:p@ss@w0rd@host/db` is user `app`, password `p`, host `ss@w0rd@host`: the
rest of the password turns up in "failed to resolve host 'ss@w0rd@host'". And `app:pa/ss@host` is host `app`,
port `pa`, database `ss@host/db`. Every such piece is a secret here.

Masking: the known URLs are replaced by their redacted form; any `scheme://user:password@`, `user:password@host`
and `password=` anywhere are masked by shape; then each secret and each of its pieces is masked. A piece of 6
characters or more is masked wherever it appears; a shorter one only where libpq and psycopg put what they could
not use: a quoted value ('…' or "…") that is exactly the piece, or a quoted value holding an `@` (a host read
from a mistyped password), as a whole token there. So password `x` never turns `fix:` into `fi***:`, password
`fix` never touches the word "fix", and password `1` leaves "127.0.0.1" and "statement 1 of 3" alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import unquote

MASK = "***"
POSTGRES_SCHEMES = ("postgresql", "postgres")
LONG = 6  # secrets at least this long are masked wherever they appear; shorter ones only as tokens in values

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")
_QUERY_PASSWORD = re.compile(  # `?password=`, `&password=`, and `password%3D` inside an encoded `options` value
    r"((?:^|[?&]|%20|\+)password(?:=|%3D))((?:[^&#\s%]|%(?!20)[0-9A-Fa-f]{2})*)", re.IGNORECASE
)
_KV_PASSWORD = re.compile(r"(\bpassword\s*(?:=|%3D)\s*)('(?:[^'\\]|\\.)*'?|[^\s'\"&,)]+)", re.IGNORECASE)
_URL_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]*")
# `app:pw@host`, no scheme
_BARE_USERINFO = re.compile(r"(?<![\w.+%-])([A-Za-z0-9_.-]+:)(?!//)([^\s'\"]+)(@[A-Za-z0-9\[])")
_QUOTED = re.compile(r"\"[^\"\n]*\"|'[^'\n]*'")
_KV_SHAPE = re.compile(r"^\s*[A-Za-z_]+\s*=")
_PIECES = re.compile(r"[@/:\s?#&,]+")  # where libpq (or a reader of its errors) splits a mistyped password


# ------------------------------------------------------------------------------------------ finding passwords
def scheme(url: str) -> str | None:
    """The URL's scheme (`postgresql`, `mysql`, ...) or None for a key=value DSN or a string without one."""
    m = _SCHEME.match(url.strip())
    return m.group(1).lower() if m else None


def is_dsn(url: str) -> bool:
    """A libpq key=value connection string (`host=h dbname=d`), not a URL."""
    return scheme(url) is None and bool(_KV_SHAPE.match(url))


def _cuts(url: str, fallback: bool) -> tuple[int, int, int] | None:
    """(start, first, last): after `scheme://`; libpq's end of the user info (the first `@` or `/`); the last
    `@` before the query (with `fallback`, any last `@`: `app:pa?ss@host` holds a `?`)."""
    m = _SCHEME.match(url)
    if not m:
        return None
    start = m.end()
    query = url.find("?", start)
    at = url.rfind("@", start, query if query >= 0 else len(url))
    if at < 0 and fallback:
        at = url.rfind("@", start)
    if at < 0:
        return None
    first = start
    while first < len(url) and url[first] not in "@/":
        first += 1
    return start, first, at


def _userinfo(url: str) -> tuple[int, int, int] | None:
    """(start, libpq_end, intended_end) of the user info in `scheme://user:password@host/...`: libpq ends it at
    the first `@` or `/`; the user meant the last `@` before the query (a password may hold `@`, `/`, `?`)."""
    return _cuts(url, fallback=True)


def misread_userinfo(url: str) -> bool:
    """The user info holds an unencoded `@` or `/` before its last `@`: libpq cuts the password at the first
    one and reads the rest as host, port or database (`postgresql://app:p@ss@host/db`)."""
    cuts = _cuts(url, fallback=False)
    if cuts is None or cuts[1] == cuts[2]:
        return False
    start, first, _ = cuts
    # `app:p@ss@host` (an @ before the last one), or `app:pa/ss@host` (a / inside what was meant as user:password)
    return url[first] == "@" or ":" in url[start:first]


def password_spans(url: str) -> list[tuple[int, int]]:
    """Spans of every password as written in `url`: the user info's (up to the last `@`, the widest reading),
    `?password=` / `&password=` values, and `password=` values of a key=value DSN (quotes included)."""
    spans: list[tuple[int, int]] = []
    info = _userinfo(url)
    if info:
        start, _, end = info
        colon = url.find(":", start, end)
        if colon >= 0:
            spans.append((colon + 1, end))
    pattern = _QUERY_PASSWORD if scheme(url) else _KV_PASSWORD
    for m in pattern.finditer(url):
        spans.append((m.start(2), m.end(2)))
    return [(a, b) for a, b in spans if b > a]


def _unquote_dsn(value: str) -> str:
    if value.startswith("'"):
        value = value[1:-1] if value.endswith("'") and len(value) >= 2 else value[1:]
        return re.sub(r"\\(.)", r"\1", value)
    return value


def passwords(url: str, parsed: Iterable[str] = ()) -> set[str]:
    """Every secret string `url` can leak: its passwords as written, percent-decoded and unquoted, libpq's
    own reading (`parsed`, and the first-`@` cut), what spills past libpq's cut into the host or port, and the
    pieces a mistyped password is split into. Empty strings are dropped."""
    found: set[str] = {p for p in parsed if p}
    for a, b in password_spans(url):
        written = url[a:b]
        found |= {written, _unquote_dsn(written)}
    info = _userinfo(url)
    if info:
        start, first, end = info
        colon = url.find(":", start, end)
        if colon >= 0:
            if first > colon:
                found.add(url[colon + 1 : first])  # libpq's password: up to the first `@`
            if first < end:
                found.add(url[first + 1 : end])  # the rest, which libpq reads as host, port or database
    if scheme(url) is None and not is_dsn(url) and "@" in url:  # `postgres//app:secret@host/db`: no scheme
        userinfo = url[: url.rfind("@")]
        userinfo = userinfo[userinfo.rfind("/", 0, userinfo.find(":") if ":" in userinfo else len(userinfo)) + 1 :]
        if ":" in userinfo:
            found.add(userinfo.split(":", 1)[1])
    if is_dsn(url):  # `password=se cret` unquoted: libpq reads `se`, then complains about "cret"
        m = re.search(r"\bpassword\s*=\s*(?!')(\S+)((?:\s+[^\s=]+(?=\s|$))+)", url, re.IGNORECASE)
        if m:
            found |= set(m.group(2).split())
    found |= {unquote(p) for p in found}
    for p in list(found):
        found |= {piece for piece in _PIECES.split(p) if piece}
    return {p for p in found if p}


# ------------------------------------------------------------------------------------------ showing URLs
def redact_url(url: str) -> str:
    """`url` with every password masked, keeping everything else; for a URL whose scheme is not PostgreSQL's,
    or a string that is neither URL nor DSN, only what `summarize` shows."""
    s = scheme(url)
    if s is not None and s not in POSTGRES_SCHEMES:
        return summarize(url)
    if s is None and not is_dsn(url):
        return summarize(url)
    spans = sorted(password_spans(url), reverse=True)
    for a, b in spans:
        url = url[:a] + MASK + url[b:]
    return url


def summarize(url: str) -> str:
    """Scheme, host and database only, for a connection string that cannot be parsed: never the string itself.
    `postgres//app:secret@localhost/app` -> `<unparseable database URL: host localhost, database app>`."""
    s = scheme(url)
    rest = url.strip()
    rest = rest[len(s) + 3 :] if s else rest
    at = rest.rfind("@", 0, rest.find("?") if "?" in rest else len(rest))
    if at < 0 and "@" in rest:
        at = rest.rfind("@")
    tail = rest[at + 1 :] if at >= 0 else (rest if s else "")
    host, _, path = tail.partition("/")
    host = host.split("?")[0]
    database = path.split("?")[0]
    if re.search(r"[^A-Za-z0-9._\-\[\]:,%]", host):
        host = ""
    if re.search(r"[^A-Za-z0-9._\-$%]", database):
        database = ""
    if s:
        return f"{s}://{host}{'/' + database if database else ''}"
    parts = [f"host {host}" if host else "", f"database {database}" if database else ""]
    shown = ", ".join(p for p in parts if p)
    return f"<unparseable database URL{': ' + shown if shown else ''}>"


# ------------------------------------------------------------------------------------------ masking text
def _mask_token(text: str, secret: str) -> str:
    left = r"(?<![A-Za-z0-9_])" if re.match(r"[A-Za-z0-9_]", secret) else ""
    right = r"(?![A-Za-z0-9_])" if re.match(r"[A-Za-z0-9_]", secret[-1]) else ""
    return re.sub(left + re.escape(secret) + right, MASK, text)


def _mask_url_token(m: re.Match[str]) -> str:
    token = m.group(0)
    s = scheme(token)
    if s is not None and s not in POSTGRES_SCHEMES:
        return summarize(token) if "@" in token else token  # a link in a message stays a link
    return redact_url(token)


def _sub_lines(pattern: re.Pattern[str], repl: Callable[[re.Match[str]], str], text: str, needle: str) -> str:
    """`pattern.sub(repl, text)`, run only on the lines that hold `needle`, which every match holds.

    For a pattern whose matches never hold a line end (_URL_TOKEN, _BARE_USERINFO: no blank inside) and whose
    look-behind treats a line start as it treats a newline before it: then the matches are the same. db.status
    on 10,000 migrations prints 10,000 lines, of which one names the database: ~70 ms to scan them all with
    the three patterns, ~3 ms so."""
    pos = text.find(needle)
    if pos < 0:
        return text
    out: list[str] = []
    done = 0  # text[:done] is in `out`
    while pos >= 0:
        start = max(text.rfind("\n", done, pos) + 1, done)
        end = text.find("\n", pos)
        end = len(text) if end < 0 else end
        out.append(text[done:start])
        out.append(pattern.sub(repl, text[start:end]))
        done = end
        pos = text.find(needle, end)
    out.append(text[done:])
    return "".join(out)


def redact_text(
    text: str, urls: Iterable[str] = (), secrets: Iterable[str] = (), *, short_in_quotes: bool = True
) -> str:
    """`text` with each of `urls` shown redacted, any URL's or `password=` value masked by shape, and each of
    `secrets` (see `passwords`) masked: long ones everywhere, short ones as whole tokens inside quoted values
    (unless `short_in_quotes` is False: JSON, where every key is quoted) and URL-shaped tokens."""
    try:
        urls = sorted({u for u in urls if u}, key=len, reverse=True)
        for url in urls:
            text = text.replace(url, redact_url(url))
        text = _sub_lines(_URL_TOKEN, _mask_url_token, text, "://")
        if "password" in text.casefold():  # the only way _KV_PASSWORD matches (casefold: as re.IGNORECASE's ſ)
            text = _KV_PASSWORD.sub(lambda m: m.group(1) + MASK, text)
        text = _sub_lines(_BARE_USERINFO, lambda m: m.group(1) + MASK + m.group(3), text, "@")
        ordered = sorted({s for s in secrets if s and s != MASK}, key=len, reverse=True)
        for secret in ordered:
            if len(secret) >= LONG:
                text = text.replace(secret, MASK)
        short = [s for s in ordered if len(s) < LONG]
        if short and short_in_quotes:

            def inside(m: re.Match[str]) -> str:
                quoted = m.group(0)
                value = quoted[1:-1]
                if value in short:  # invalid integer value "pa" for connection option "port"
                    return quoted[0] + MASK + quoted[-1]
                if "@" in value:  # failed to resolve host 'ss@w0rd@localhost': the spill of an unencoded @
                    for secret in short:
                        value = _mask_token(value, secret)
                return quoted[0] + value + quoted[-1]

            text = _QUOTED.sub(inside, text)
        return text
    except Exception:  # never let redaction be the thing that fails: hide the text rather than risk it
        return "<text hidden: redaction failed>"


# ------------------------------------------------------------------------------------------ with libpq's reading
# What a URL shows and which secrets it holds also depend on how libpq itself reads it: the db layer passes
# libpq's parse (`parse`: psycopg's conninfo_to_dict, which raises when libpq cannot read the string) and the
# process's command line and environment (db/connect/server.redact_url, redact_text).
Parse = Callable[[str], Mapping[str, Any]]
URL_OPTIONS = ("--database-url", "--shadow-url")
URL_ENV = ("DATABASE_URL", "MIGRAKIT_SHADOW_URL")
# a URL as Python's repr (Invoke's debug log) and JSON write it: backslashes doubled, quotes escaped
_ESCAPES: tuple[Callable[[str], str], ...] = (
    lambda t: t.replace("\\", "\\\\"),
    lambda t: t.replace("\\", "\\\\").replace("'", "\\'"),
    lambda t: t.replace("\\", "\\\\").replace('"', '\\"'),
)


def libpq_password(url: str, parse: Parse) -> str | None:
    """The password libpq reads from `url` (URL or key=value DSN), or None when it has none or cannot parse it."""
    try:
        password = parse(url).get("password")
        return str(password) if password else None
    except Exception:  # ProgrammingError for a malformed string; never let redaction fail
        return None


def parses(url: str, parse: Parse) -> bool:
    try:
        parse(url)
        return True
    except Exception:
        return False


def process_urls(argv: Iterable[str], env: Mapping[str, str]) -> list[str]:
    """Connection strings this process was given: `--database-url` / `--shadow-url` values on the command line
    and DATABASE_URL / MIGRAKIT_SHADOW_URL in the environment (what Invoke's --debug may echo)."""
    argv = list(argv)
    found = [env.get(name, "") for name in URL_ENV]
    for i, arg in enumerate(argv):
        for option in URL_OPTIONS:
            if arg == option and i + 1 < len(argv):
                found.append(argv[i + 1])
            elif arg.startswith(option + "="):
                found.append(arg[len(option) + 1 :])
    return [u for u in found if u]


def secrets_of(urls: Iterable[str], parse: Parse, env: Mapping[str, str]) -> set[str]:
    """Every secret to mask for `urls`: their passwords (libpq's reading and every piece, see `passwords`), plus
    PGPASSWORD."""
    found: set[str] = set()
    for url in urls:
        if url:
            found |= passwords(url, [p for p in [libpq_password(url, parse)] if p])
    if env.get("PGPASSWORD"):
        found |= passwords(f"password='{env['PGPASSWORD']}'", [env["PGPASSWORD"]])
    return found


def shown_url(url: str, parse: Parse) -> str:
    """`url` with its passwords masked; scheme, host and database only when libpq cannot parse it or its
    scheme is not PostgreSQL's (the string itself is never echoed then)."""
    try:
        if scheme(url) in POSTGRES_SCHEMES or is_dsn(url):
            return redact_url(url) if parses(url, parse) else summarize(url)
        return summarize(url)
    except Exception:  # never let redaction be the thing that fails
        return "<url hidden>"


def redact_all(
    text: str,
    urls: Iterable[str],
    *,
    parse: Parse,
    argv: Iterable[str],
    env: Mapping[str, str],
    short_in_quotes: bool = True,
) -> str:
    """`text` with `urls` (and the process's own URLs, from `argv` and `env`) redacted and every password piece
    masked; see `redact_text`. `short_in_quotes=False` for JSON, whose keys are quoted too."""
    urls = [u for u in (*urls, *process_urls(argv, env)) if u]
    shown: dict[str, str] = {}
    for url in urls:
        safe = shown_url(url, parse)
        shown[url] = safe
        for escape in _ESCAPES:
            shown.setdefault(escape(url), escape(safe))
    for url in sorted(shown, key=len, reverse=True):
        text = text.replace(url, shown[url])
    return redact_text(text, (), secrets_of(urls, parse, env), short_in_quotes=short_in_quotes)
