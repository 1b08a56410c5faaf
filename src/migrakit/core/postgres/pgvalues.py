"""PostgreSQL's own rules for setting values and names, reproduced exactly so they can be checked before connecting.

- `parse_duration`: a time setting (lock_timeout, statement_timeout, ...) as the server reads it (guc.c
  `parse_int` + `convert_to_base_unit`): C `strtol` (base 0: hex and octal too), re-read with `strtod` at `.`/`e`,
  optional spaces, then one unit of `us ms s min h d` (case-sensitive), fractions rounded half-even.
  A bare number is in the setting's base unit (milliseconds for the timeouts).
- `identifier_problem`: why a name cannot be used as migrakit's tracking schema/table name.
- `split_options`: libpq's `options` string cut into arguments as the server does (postinit.c `pg_split_opts`),
  and `option_settings` the `-c name=value` / `--name=value` pairs in it.
- `parse_bool`: PostgreSQL's boolean spellings (`on`, `off`, `true`, `t`, `yes`, `0`, ...).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

INT_MAX = 2**31 - 1
NAMEDATALEN = 64  # identifiers longer than NAMEDATALEN - 1 bytes are truncated by the server
_LONG_MAX = 2**63 - 1
_DBL_MIN = 2.2250738585072014e-308
_SPACE = " \t\n\v\f\r"

# guc.c time_unit_conversion_table, base unit milliseconds (in table order: the next entry sets the rounding).
_MS_UNITS: tuple[tuple[str, float], ...] = (
    ("d", 1000 * 60 * 60 * 24),
    ("h", 1000 * 60 * 60),
    ("min", 1000 * 60),
    ("s", 1000),
    ("ms", 1),
    ("us", 1.0 / 1000),
)
UNITS_HINT = 'Valid units for this parameter are "us", "ms", "s", "min", "h", and "d".'

# Session settings that are durations in milliseconds, with their valid range (as in PostgreSQL 13-18).
DURATION_SETTINGS: dict[str, tuple[int, int]] = {
    "lock_timeout": (0, INT_MAX),
    "statement_timeout": (0, INT_MAX),
    "idle_in_transaction_session_timeout": (0, INT_MAX),
    "idle_session_timeout": (0, INT_MAX),
    "transaction_timeout": (0, INT_MAX),
}


class InvalidValue(ValueError):
    """The server would refuse the value; `reason` says why in PostgreSQL's words, `hint` how to write it."""

    def __init__(self, reason: str, hint: str | None = None) -> None:
        super().__init__(reason)
        self.reason, self.hint = reason, hint


def _strtol(text: str) -> tuple[int, int, bool]:
    """C strtol(text, &end, 0): (value, end index, overflowed). end == 0 when nothing was converted."""
    i, n = 0, len(text)
    while i < n and text[i] in _SPACE:
        i += 1
    sign = 1
    if i < n and text[i] in "+-":
        sign = -1 if text[i] == "-" else 1
        i += 1
    if text[i : i + 2].lower() == "0x" and i + 2 < n and text[i + 2] in "0123456789abcdefABCDEF":
        base, i = 16, i + 2
    elif text[i : i + 1] == "0":
        base = 8
    else:
        base = 10
    digits = "0123456789abcdef"[:base]
    start = i
    while i < n and text[i].lower() in digits:
        i += 1
    if i == start:
        return 0, 0, False
    value = sign * int(text[start:i], base)
    if value > _LONG_MAX or value < -_LONG_MAX - 1:
        return (_LONG_MAX if sign > 0 else -_LONG_MAX - 1), i, True
    return value, i, False


_STRTOD_DEC = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_STRTOD_HEX = re.compile(r"[+-]?0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?\d+)?")
_STRTOD_SPECIAL = re.compile(r"[+-]?(?:inf(?:inity)?|nan(?:\([0-9A-Za-z_]*\))?)", re.IGNORECASE)


def _strtod(text: str) -> tuple[float, int, bool]:
    """C strtod in the C locale: (value, end index, out of range). end == 0 when nothing was converted."""
    i = 0
    while i < len(text) and text[i] in _SPACE:
        i += 1
    for pattern in (_STRTOD_HEX, _STRTOD_DEC, _STRTOD_SPECIAL):
        m = pattern.match(text, i)
        if m:
            token = m.group(0)
            if pattern is _STRTOD_HEX:
                body = token.lstrip("+-")
                sign = "-" if token.startswith("-") else ""
                value = float.fromhex(sign + body + ("" if "p" in body.lower() else "p0"))
            elif pattern is _STRTOD_SPECIAL:
                value = float(token.split("(")[0].lower().replace("infinity", "inf"))
            else:
                value = float(token)
            mantissa = re.split(r"[eEpP]", token.lstrip("+-").removeprefix("0x").removeprefix("0X"))[0]
            nonzero = any(c in "123456789abcdefABCDEF" for c in mantissa)
            out_of_range = math.isinf(value) and pattern is not _STRTOD_SPECIAL
            out_of_range |= nonzero and abs(value) < _DBL_MIN and pattern is not _STRTOD_SPECIAL
            return value, m.end(), out_of_range
    return 0.0, 0, False


def _to_base_unit(value: float, unit: str) -> float | None:
    """guc.c convert_to_base_unit for a milliseconds setting; None for an unknown unit or text after it."""
    length = 0
    while length < len(unit) and unit[length] not in _SPACE and length < 3:
        length += 1
    name, rest = unit[:length], unit[length:]
    if rest.strip(_SPACE):
        return None
    for i, (candidate, multiplier) in enumerate(_MS_UNITS):
        if candidate == name:
            converted = value * multiplier
            if i + 1 < len(_MS_UNITS) and multiplier >= 1:  # "us" is the last entry for a ms base
                smaller = _MS_UNITS[i + 1][1]
                converted = round(converted / smaller) * smaller
            return converted
    return None


def parse_duration(text: str, setting: str = "lock_timeout") -> int:
    """Milliseconds, exactly as PostgreSQL reads `text` for the time setting `setting`; InvalidValue otherwise."""
    low, high = DURATION_SETTINGS.get(setting, (0, INT_MAX))
    if "\x00" in text:
        raise InvalidValue("it contains a NUL character")
    value: float
    ivalue, end, overflow = _strtol(text)
    value = float(ivalue)
    # strtol leaves its end pointer at the very start when it converts nothing, so " .5" is refused and ".5" is not
    if overflow or text[end : end + 1] in (".", "e", "E"):
        value, end, out_of_range = _strtod(text)
        if out_of_range:
            raise InvalidValue("the number is out of range")
    if end == 0:
        raise InvalidValue("it does not start with a number", UNITS_HINT)
    if math.isnan(value):
        raise InvalidValue("it is not a number")
    rest = text[end:].lstrip(_SPACE)
    if rest:
        converted = _to_base_unit(value, rest)
        if converted is None:
            raise InvalidValue(f"{rest.strip()!r} is not a unit PostgreSQL knows", UNITS_HINT)
        value = converted
    value = round(value)
    if value > INT_MAX or value < -INT_MAX - 1:
        raise InvalidValue("the value exceeds the integer range", "Value exceeds integer range.")
    if not low <= value <= high:
        raise InvalidValue(f"{int(value)} ms is outside the valid range ({low} .. {high} ms)")
    return int(value)


def parse_bool(text: str) -> bool | None:
    """PostgreSQL's parse_bool: True/False, or None when `text` is not a boolean spelling."""
    value = text.strip(_SPACE).lower()
    if not value:
        return None
    if value in ("1", "0"):
        return value == "1"
    for word, result in (("true", True), ("false", False), ("yes", True), ("no", False)):
        if word.startswith(value):
            return result
    if len(value) >= 2 and "on".startswith(value):
        return True
    if len(value) >= 2 and "off".startswith(value):
        return False
    return None


def identifier_problem(name: str) -> str | None:
    """Why `name` cannot name the tracking schema or table (None when it can).

    Any other character is fine: migrakit always quotes the names, so case and spaces are kept."""
    if not name:
        return "it is empty"
    if "\x00" in name:
        return "it contains a NUL character, which PostgreSQL never allows in a name"
    if '"' in name:
        return (
            'it contains a double quote ("), which must be doubled in every SQL text, GRANT and psql command that '
            "names the table; migrakit refuses it rather than risk a name that differs between tools"
        )
    size = len(name.encode("utf-8"))
    if size > NAMEDATALEN - 1:
        return (
            f"it is {size} bytes long; PostgreSQL silently truncates names to {NAMEDATALEN - 1} bytes, so the table "
            "created would not be the one configured"
        )
    return None


def split_options(options: str) -> list[str]:
    """libpq's `options` as the server cuts it: whitespace separates arguments, a backslash escapes a character."""
    args: list[str] = []
    i, n = 0, len(options)
    while i < n:
        while i < n and options[i] in _SPACE:
            i += 1
        if i >= n:
            break
        current: list[str] = []
        escaped = False
        while i < n:
            ch = options[i]
            if ch in _SPACE and not escaped:
                break
            if not escaped and ch == "\\":
                escaped = True
            else:
                escaped = False
                current.append(ch)
            i += 1
        args.append("".join(current))
    return args


@dataclass(frozen=True)
class OptionSetting:
    name: str  # as the server reads it: lower case, dashes of --name=value turned into underscores
    value: str | None  # None: `-c name` without `=value` (the server refuses it)
    written: str  # the argument(s) as written, for messages


# The server's switches that take a value
# (postgres.c process_postgres_switches: "B:bc:C:D:d:EeFf:h:ijk:lN:nOPp:r:S:sTt:v:W:-:").
_SWITCHES_WITH_VALUE = "BcCDdfhkNprStvW"


def option_settings(options: str) -> tuple[list[OptionSetting], str | None]:
    """The `-c name=value`, `-cname=value` and `--name=value` settings in libpq's `options`, in order, and the
    first argument that is no switch at all (the server refuses the connection for it: "invalid command-line
    argument for server process"), typically the second word of an unescaped value such as `-c x=5 seconds`."""
    args = split_options(options)
    found: list[OptionSetting] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if not arg.startswith("-") or arg == "-":
            return found, arg
        letter = arg[1]
        if letter in _SWITCHES_WITH_VALUE and len(arg) == 2:
            value = args[i + 1] if i + 1 < len(args) else None
            written, i = f"{arg} {value or ''}".strip(), i + 2
        else:
            value, written, i = arg[2:], arg, i + 1
        if letter not in ("c", "-"):
            continue
        name, eq, setting = (value or "").partition("=")  # `-c` or `--` last, without a value: no name, no value
        if letter == "-":
            name = name.replace("-", "_")
        found.append(OptionSetting(name.lower(), setting if eq else None, written))
    return found, None
