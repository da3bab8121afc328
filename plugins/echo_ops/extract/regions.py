"""The region rule (v1, docs/contracts.md) as an engine over LSP changes.

A region is tracked in *position space*: its start as an LSP position plus its current
text. Every rule of the contract is stated in offsets of the whole document; since an
edit's effect on a point after it depends only on the edit's range and text, the same
decisions can be made without rebuilding the document, which lets extraction skip every
event outside a completion's life. Inside the region, positions map to str indices with
`echo_ops.textdoc` on the region text itself (same clamping as the document).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from echo_ops.textdoc import Encoding, position_to_index, unit_len

_BREAK = re.compile(r"\r\n|\r|\n")
OPEN, ACCEPTED = "open", "accepted"

Pos = tuple[int, int]  # (line, character) in code units of the document's encoding


def line_breaks(text: str) -> int:
    return sum(1 for _ in _BREAK.finditer(text))


def end_of(start: Pos, text: str, encoding: Encoding) -> Pos:
    """The position just after `text` inserted at `start`."""
    matches = list(_BREAK.finditer(text)) if ("\n" in text or "\r" in text) else []
    if not matches:
        return start[0], start[1] + unit_len(text, encoding)
    return start[0] + len(matches), unit_len(text[matches[-1].end() :], encoding)


def shift(point: Pos, start: Pos, end: Pos, text: str, encoding: Encoding) -> Pos:
    """Where `point` (at or after `end`) lands once `[start, end)` is replaced by `text`."""
    new_end = end_of(start, text, encoding)
    if point[0] == end[0]:
        return new_end[0], new_end[1] + point[1] - end[1]
    return point[0] + new_end[0] - end[0], point[1]


@dataclass
class Region:
    start: Pos
    text: str
    kind: str  # open | accepted
    encoding: Encoding
    max_breaks: int  # the proposal's line breaks: an open region grows no further
    _cached: tuple = (None, None, None)  # (start, text, end): end is asked for on every edit

    @property
    def end(self) -> Pos:
        start, text, end = self._cached
        if start == self.start and text is self.text:
            return end
        end = end_of(self.start, self.text, self.encoding)
        self._cached = (self.start, self.text, end)
        return end

    def index_of(self, point: Pos) -> int:
        """The str index in the region text of a position inside the region."""
        line, char = point[0] - self.start[0], point[1]
        if line == 0:
            char -= self.start[1]
        return position_to_index(self.text, line, max(char, 0), self.encoding)

    def apply(self, start: Pos, end: Pos, text: str) -> bool:
        """Apply one change (replace `[start, end)` by `text`); True if it touched the region."""
        s, e = self.start, self.end
        insertion = start == end
        if insertion and self.kind == OPEN and start == e:
            return self._grow(text)
        if insertion and self.kind == OPEN and start == s:
            return self._overlap(start, end, text, s, e)
        if end <= s:
            self.start = shift(s, start, end, text, self.encoding)
            return False
        if start >= e:
            return False
        return self._overlap(start, end, text, s, e)

    def _grow(self, text: str) -> bool:
        """An insertion at an open region's end: absorb it up to the proposal's line extent."""
        room = self.max_breaks - line_breaks(self.text)
        cut = len(text)
        for n, match in enumerate(_BREAK.finditer(text)):
            if n >= room:
                cut = match.start()
                break
        self.text += text[:cut]
        return cut > 0

    def _overlap(self, start: Pos, end: Pos, text: str, s: Pos, e: Pos) -> bool:
        before = self.text[: self.index_of(start)] if start > s else ""
        after = self.text[self.index_of(end) :] if end < e else ""
        new_text = before + text + after
        touched = new_text != self.text
        self.start = min(s, start)
        self.text = new_text
        if not new_text:
            self.kind = OPEN  # an accepted region deleted to nothing reopens there
        return touched


def find_accept(
    region: Region, changes: list[tuple[Pos, Pos, str]], accepted_text: str
) -> int | None:
    """Index of the change inserting the accepted text: by content at the region, not by list index.

    The accepting change inserts `accepted_text` where the proposal stands (the open
    region's start or end, after the event's earlier changes); other changes in the same
    event (auto-indent trims) are ordinary edits. None if no change qualifies.
    """
    probe = Region(region.start, region.text, region.kind, region.encoding, region.max_breaks)
    fallback = None
    for i, (start, end, text) in enumerate(changes):
        if text == accepted_text:
            if start in (probe.start, probe.end):
                return i
            fallback = i if fallback is None else fallback
        probe.apply(start, end, text)
    return fallback
