"""How a landing object becomes lines and a line becomes an event: one reading, shared.

Ingest and `forget` both read landing objects through these functions, so a line that
ingest loads is a line that forget finds (the same splitting, the same JSON semantics).

- Lines split as JSON Lines readers do: `\\n` ends a line and a `\\r` just before it
  belongs to the break; nothing else splits (U+2028, U+0085 and a form feed are text).
- The contract's JSON is strict: a duplicate key or a non-finite number (NaN, Infinity,
  or 1e400, which overflows to infinity) is refused with a reason, as is nesting too deep
  to read; readers differ on each of these (DuckDB keeps the first of two keys, Python
  the last), so an event that says two things says nothing.
"""

from __future__ import annotations

import json
import math
import re
import zlib
from typing import Any

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_BRACKET = re.compile(r"[\[\]{}]")
MAX_DEPTH = 64  # v1 events nest 6 deep; a deeper line is refused before a parser recurses


class EventJSONError(ValueError):
    """A line that is not one contract-conforming JSON value; `reason` is its quarantine text."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def split_lines(data: bytes) -> list[bytes]:
    """The lines of a JSON Lines body (no line ends kept); a final line needs no `\\n`."""
    if not data:
        return []
    parts = data.split(b"\n")
    if parts[-1] == b"":
        parts.pop()
    return [p[:-1] if p.endswith(b"\r") else p for p in parts]


def join_lines(lines: list[bytes]) -> bytes:
    return b"".join(line + b"\n" for line in lines)


def gunzip(data: bytes) -> tuple[bytes, str | None]:
    """Decompress every gzip member of `data`; (bytes read, why the rest could not be).

    A truncated or corrupt stream keeps what came out before the damage, so the lines
    before it still load; an object that is not gzip at all gives b"" and a reason.
    """
    if not data:
        return b"", "unreadable_object: zero bytes where a gzip stream was expected"
    out, rest, first = [], data, True
    while rest:
        member = zlib.decompressobj(wbits=31)
        try:
            out.append(member.decompress(rest))
        except zlib.error as exc:
            if first:
                return b"", f"unreadable_object: not a gzip stream ({exc})"
            return b"".join(out), f"truncated_object: corrupt gzip member after the first ({exc})"
        if not member.eof:
            out.append(member.flush())
            return b"".join(out), "truncated_object: the gzip stream ends before its end marker"
        rest, first = member.unused_data, False
    return b"".join(out), None


def parse_event(text: str) -> Any:
    """The JSON value of one line, as the contract reads it; raises EventJSONError."""
    _check_depth(text)
    try:
        return json.loads(
            text,
            object_pairs_hook=_unique_keys,
            parse_constant=_no_constant,
            parse_float=_finite_float,
        )
    except EventJSONError:
        raise
    except json.JSONDecodeError as exc:
        raise EventJSONError(f"invalid_json: {exc.msg} at column {exc.colno}") from None
    except (RecursionError, ValueError) as exc:  # ValueError: an integer too long to convert
        raise EventJSONError(f"invalid_json: {str(exc)[:120]}") from None


def _check_depth(text: str) -> None:
    # Only a line with that many brackets at all can nest that deep: the count is cheap.
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return
    depth = deepest = 0
    for ch in _BRACKET.findall(_STRING.sub("", text)):
        depth += 1 if ch in "[{" else -1
        deepest = max(deepest, depth)
    if deepest > MAX_DEPTH:
        raise EventJSONError(f"too_deep: nested {deepest} levels, over the contract's {MAX_DEPTH}")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict:
    out: dict = {}
    for key, value in pairs:
        if key in out:
            raise EventJSONError(f"duplicate_key: {key[:60]!r} appears twice in one object")
        out[key] = value
    return out


def _no_constant(name: str) -> float:
    raise EventJSONError(f"non_finite_number: {name} is not a JSON number")


def _finite_float(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        raise EventJSONError(f"non_finite_number: {literal[:40]} overflows a double")
    return value


# A "key": "value" pair of JSON text, escapes kept: how ids are found in text that is not
# (or no longer, once cut to a quarantine's length) one JSON value.
_PAIR = re.compile(r'"((?:[^"\\\n]|\\.){1,200})"\s*:\s*"((?:[^"\\\n]|\\.){0,600})"')


def string_fields(text: str, keys: tuple[str, ...]) -> dict[str, set[str]]:
    """Every string value of `keys` in `text`, at any depth and in every copy of a key,
    JSON escapes decoded: what a line (or a cut-off copy of one) says about whose it is.

    Lenient on purpose (forget must find a user in a line ingest refused): duplicate keys
    all count, and text that is not JSON is scanned for "key": "value" pairs.
    """
    found: dict[str, set[str]] = {k: set() for k in keys}

    def collect(pairs):
        for key, value in pairs:
            if key in found and isinstance(value, str):
                found[key].add(value)
        return {}

    try:
        _check_depth(text)
        json.loads(text, object_pairs_hook=collect)
        return found
    except (ValueError, RecursionError):
        pass
    for raw_key, raw_value in _PAIR.findall(text):
        key, value = _unescape(raw_key), _unescape(raw_value)
        if key in found and value is not None:
            found[key].add(value)
    return found


def _unescape(raw: str) -> str | None:
    try:
        return json.loads(f'"{raw}"')
    except ValueError:
        return None
