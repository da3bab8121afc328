"""Text documents as LSP sees them: positions, code-unit offsets and incremental changes.

Shared by the simulator (which emits `document.changed` events) and extraction (which
replays them). Python strings index code points; LSP positions count code units of the
negotiated encoding (UTF-16 unless `client.position_encoding` says utf-8 or utf-32).
Here an *index* is a Python str index and an *offset* is a code-unit offset in the
document's encoding; the region rule (docs/contracts.md) is stated in offsets.

Line breaks are `\\r\\n`, `\\n` and a lone `\\r`, as LSP defines them. A `character`
past the end of its line means the end of that line (LSP says so); a line past the
last line, or a position inside one character's code units, raises `PositionError`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import islice
from typing import Any, Literal, NamedTuple

Encoding = Literal["utf-16", "utf-8", "utf-32"]
ENCODINGS: tuple[str, ...] = ("utf-16", "utf-8", "utf-32")
DEFAULT_ENCODING: Encoding = "utf-16"

_BREAK = re.compile(r"\r\n|\r|\n")


class PositionError(ValueError):
    """A position or change that does not fit the document (malformed telemetry)."""


class Position(NamedTuple):
    line: int
    character: int

    def to_lsp(self) -> dict[str, int]:
        return {"line": self.line, "character": self.character}


@dataclass(frozen=True, slots=True)
class Edit:
    """One applied change: `[start, end)` of the text before it became `text`.

    `start`/`end` are code-unit offsets in the document's encoding, `start_index`/
    `end_index` the same span as Python str indices; `new_len` is `text`'s code units.
    """

    start: int
    end: int
    text: str
    new_len: int
    start_index: int
    end_index: int

    @property
    def delta(self) -> int:
        """How far this edit shifts every offset after it."""
        return self.new_len - (self.end - self.start)


def position_encoding(client: Mapping[str, Any] | None) -> Encoding:
    """The encoding an event's `client` object negotiated (LSP's default: utf-16)."""
    name = (client or {}).get("position_encoding") or DEFAULT_ENCODING
    if name not in ENCODINGS:
        raise PositionError(f"unknown position_encoding {name!r}; expected one of {ENCODINGS}")
    return name  # type: ignore[return-value]


def unit_len(s: str, encoding: Encoding = DEFAULT_ENCODING) -> int:
    """Length of `s` in code units of `encoding`."""
    if encoding == "utf-32" or s.isascii():
        return len(s)
    if encoding == "utf-16":
        return len(s.encode("utf-16-le", "surrogatepass")) // 2
    if encoding == "utf-8":
        return len(s.encode("utf-8", "surrogatepass"))
    raise PositionError(f"unknown encoding {encoding!r}")


def _char_units(ch: str, encoding: Encoding) -> int:
    cp = ord(ch)
    if encoding == "utf-16":
        return 2 if cp > 0xFFFF else 1
    if encoding == "utf-8":
        return 1 if cp < 0x80 else 2 if cp < 0x800 else 3 if cp < 0x10000 else 4
    return 1


def _units_to_chars(s: str, units: int, encoding: Encoding, clamp: bool) -> int:
    """How many characters of `s` make `units` code units (clamped to len(s) if asked)."""
    if units < 0:
        raise PositionError(f"negative offset {units}")
    if encoding == "utf-32" or s.isascii():
        if units > len(s) and not clamp:
            raise PositionError(f"offset {units} is past the end ({len(s)} code units)")
        return min(units, len(s))
    used = 0
    for i, ch in enumerate(s):
        if used == units:
            return i
        used += _char_units(ch, encoding)
        if used > units:
            raise PositionError(
                f"offset {units} falls inside the character {ch!r} ({encoding} code units)"
            )
    if used < units and not clamp:
        raise PositionError(f"offset {units} is past the end ({used} code units)")
    return len(s)


def _line_start(text: str, line: int) -> int:
    if line < 0:
        raise PositionError(f"negative line {line}")
    if line == 0:
        return 0
    if "\r" not in text:
        parts = text.split("\n", line)
        if len(parts) <= line:
            raise PositionError(f"line {line} is past the last line ({len(parts) - 1})")
        return len(text) - len(parts[line])
    match = next(islice(_BREAK.finditer(text), line - 1, None), None)
    if match is None:
        raise PositionError(f"line {line} is past the last line ({len(line_starts(text)) - 1})")
    return match.end()


def _line_end(text: str, start: int) -> int:
    """Index of the line break ending the line that starts at `start` (or len(text))."""
    match = _BREAK.search(text, start)
    return match.start() if match else len(text)


def line_starts(text: str) -> list[int]:
    """The str index where each line begins (always at least [0])."""
    return [0, *(m.end() for m in _BREAK.finditer(text))]


def position_to_index(
    text: str, line: int, character: int, encoding: Encoding = DEFAULT_ENCODING
) -> int:
    """The str index of an LSP position; `character` past the line's end clamps to it."""
    start = _line_start(text, line)
    end = _line_end(text, start)
    return start + _units_to_chars(text[start:end], character, encoding, clamp=True)


def index_to_position(text: str, index: int, encoding: Encoding = DEFAULT_ENCODING) -> Position:
    """The LSP position of a str index (an index inside `\\r\\n` is refused)."""
    if not 0 <= index <= len(text):
        raise PositionError(f"index {index} is outside the text (length {len(text)})")
    head = text[:index]
    if "\r" not in head:
        line = head.count("\n")
        start = head.rfind("\n") + 1
    else:
        if head.endswith("\r") and text[index : index + 1] == "\n":
            raise PositionError(f"index {index} splits a \\r\\n line break")
        starts = line_starts(head)
        line, start = len(starts) - 1, starts[-1]
    return Position(line, unit_len(head[start:], encoding))


def index_to_offset(text: str, index: int, encoding: Encoding = DEFAULT_ENCODING) -> int:
    """The code-unit offset of a str index."""
    if not 0 <= index <= len(text):
        raise PositionError(f"index {index} is outside the text (length {len(text)})")
    return unit_len(text[:index], encoding)


def offset_to_index(text: str, offset: int, encoding: Encoding = DEFAULT_ENCODING) -> int:
    """The str index of a code-unit offset (past the end or inside a character raises)."""
    return _units_to_chars(text, offset, encoding, clamp=False)


def position_to_offset(
    text: str, line: int, character: int, encoding: Encoding = DEFAULT_ENCODING
) -> int:
    return index_to_offset(text, position_to_index(text, line, character, encoding), encoding)


def offset_to_position(text: str, offset: int, encoding: Encoding = DEFAULT_ENCODING) -> Position:
    return index_to_position(text, offset_to_index(text, offset, encoding), encoding)


def slice_offsets(text: str, start: int, end: int, encoding: Encoding = DEFAULT_ENCODING) -> str:
    """The text between two code-unit offsets (a region's current text)."""
    if start > end:
        raise PositionError(f"start {start} is after end {end}")
    i = offset_to_index(text, start, encoding)
    return text[i : i + offset_to_index(text[i:], end - start, encoding)]


def make_change(
    text: str,
    start_index: int,
    end_index: int,
    new_text: str,
    encoding: Encoding = DEFAULT_ENCODING,
) -> dict[str, Any]:
    """The LSP contentChange replacing `text[start_index:end_index]` with `new_text`."""
    return {
        "range": {
            "start": index_to_position(text, start_index, encoding).to_lsp(),
            "end": index_to_position(text, end_index, encoding).to_lsp(),
        },
        "text": new_text,
    }


def apply_change(
    text: str, change: Mapping[str, Any], encoding: Encoding = DEFAULT_ENCODING
) -> tuple[str, Edit]:
    """Apply one LSP contentChange; a change without `range` replaces the whole text."""
    new = change.get("text")
    if not isinstance(new, str):
        raise PositionError(f"change text must be a string, got {type(new).__name__}")
    rng = change.get("range")
    if rng is None:
        i, j = 0, len(text)
    else:
        try:
            s, e = rng["start"], rng["end"]
            i = position_to_index(text, int(s["line"]), int(s["character"]), encoding)
            j = position_to_index(text, int(e["line"]), int(e["character"]), encoding)
        except (KeyError, TypeError) as exc:
            raise PositionError(f"malformed range {rng!r}") from exc
        if j < i:
            raise PositionError(f"range end {e} is before its start {s}")
    start = index_to_offset(text, i, encoding)
    end = start + unit_len(text[i:j], encoding)
    edit = Edit(start, end, new, unit_len(new, encoding), i, j)
    return text[:i] + new + text[j:], edit


def apply_changes(
    text: str, changes: Iterable[Mapping[str, Any]], encoding: Encoding = DEFAULT_ENCODING
) -> tuple[str, list[Edit]]:
    """Apply a `document.changed` event's changes in list order, each to the text left
    by the one before (as LSP requires); returns the new text and the edits applied."""
    edits: list[Edit] = []
    for change in changes:
        text, edit = apply_change(text, change, encoding)
        edits.append(edit)
    return text, edits


class TextDocument:
    """A document being replayed: text, encoding and LSP version, changed only by `apply`."""

    def __init__(self, text: str, encoding: Encoding = DEFAULT_ENCODING, version: int = 0) -> None:
        if encoding not in ENCODINGS:
            raise PositionError(f"unknown encoding {encoding!r}")
        self.text, self.encoding, self.version = text, encoding, version

    def apply(self, changes: Iterable[Mapping[str, Any]], version: int | None = None) -> list[Edit]:
        """Apply one `document.changed` event; the text is untouched if any change fails."""
        self.text, edits = apply_changes(self.text, changes, self.encoding)
        self.version = self.version + 1 if version is None else version
        return edits

    def offset_at(self, line: int, character: int) -> int:
        return position_to_offset(self.text, line, character, self.encoding)

    def position_at(self, offset: int) -> Position:
        return offset_to_position(self.text, offset, self.encoding)

    def slice(self, start: int, end: int) -> str:
        return slice_offsets(self.text, start, end, self.encoding)

    def __len__(self) -> int:
        """Length in code units of the document's encoding."""
        return unit_len(self.text, self.encoding)
