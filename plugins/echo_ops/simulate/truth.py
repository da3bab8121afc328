"""Ground truth: each completion's region tracked through the person's real edits.

Implements "The region rule (v1)" of docs/contracts.md on str indices (the rule is the
same in any code units: every edit boundary falls on a character boundary). This is
the simulator's own reading of the rule, independent of extraction's.
"""

from __future__ import annotations

import re

_BREAK = re.compile(r"\r\n|\r|\n")

OPEN, ACCEPTED = "open", "accepted"


def count_breaks(text: str) -> int:
    if "\r" not in text:
        return text.count("\n")
    return len(_BREAK.findall(text))


def _cut_before_break(text: str, allowed: int) -> int:
    """Length of `text` up to (not including) its (allowed+1)-th line break."""
    for n, match in enumerate(_BREAK.finditer(text)):
        if n == allowed:
            return match.start()
    return len(text)


class Region:
    """One completion's region `[start, end)` in the current text, and when it settled."""

    __slots__ = (
        "row",
        "kind",
        "start",
        "end",
        "max_breaks",
        "shown_ms",
        "touched_ms",
        "final",
        "settled_reason",
    )

    def __init__(self, row: dict, at: int, proposal: str, shown_ms: int) -> None:
        self.row = row  # the truth row this region completes
        self.kind = OPEN
        self.start = self.end = at
        self.max_breaks = count_breaks(proposal)
        self.shown_ms = self.touched_ms = shown_ms
        self.final: str | None = None
        self.settled_reason = ""

    def accept(self, start: int, end: int, ts_ms: int) -> None:
        self.kind, self.start, self.end, self.touched_ms = ACCEPTED, start, end, ts_ms

    def due(self, ts_ms: int, quiet_ms: int, horizon_ms: int) -> str:
        """Why the region has settled by `ts_ms` ('' if it has not)."""
        if ts_ms - self.touched_ms >= quiet_ms:
            return "quiet"
        if ts_ms - self.shown_ms >= horizon_ms:
            return "horizon"
        return ""

    def settle(self, text: str, reason: str) -> None:
        self.final, self.settled_reason = text[self.start : self.end], reason

    def insert_char(self, a: int, ts_ms: int) -> None:
        """`apply(a, a, c, ...)` for one character that is not a line break (the rule's
        cases reduce to: shift, nothing, or grow by one and touch)."""
        s, e, accepted = self.start, self.end, self.kind == ACCEPTED
        if a < s or (a == s and accepted):
            self.start, self.end = s + 1, e + 1
        elif a < e or (a == e and not accepted):
            self.end, self.touched_ms = e + 1, ts_ms

    def apply(self, a: int, b: int, t: str, old: str, ts_ms: int) -> None:
        """Follow the edit replacing `old[a:b]` with `t`."""
        s, e, is_open = self.start, self.end, self.kind == OPEN
        insertion = a == b
        if b < s or (b == s and not (insertion and is_open)):
            shift = len(t) - (b - a)
            self.start, self.end = s + shift, e + shift
            return
        if a > e or (a == e and not (insertion and is_open)):
            return
        if insertion and is_open and a == e:
            room = self.max_breaks - count_breaks(old[s:e])
            take = _cut_before_break(t, max(room, 0))
            if take:
                self.end, self.touched_ms = e + take, ts_ms
            return
        before = old[s:e]
        head = old[s:a] if a > s else ""
        tail = old[b:e] if b < e else ""
        self.start = min(s, a)
        self.end = self.start + len(head) + len(t) + len(tail)
        if head + t + tail != before:
            self.touched_ms = ts_ms
        if self.kind == ACCEPTED and self.end == self.start:
            self.kind = OPEN  # an accepted region deleted to nothing reopens at its place
