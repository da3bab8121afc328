"""Follow one completion through its document's events until its region settles.

Events come in `doc.version` order (a change before the non-change events that carry
its version; those by client clock), never by timestamp alone. The walk is a pure
function of the events it is given: extraction runs it on "data up to day D".
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from typing import Any, NamedTuple

from echo_ops.extract.regions import ACCEPTED, OPEN, Region, find_accept, line_breaks
from echo_ops.textdoc import PositionError

TRAJECTORY_CAP = 40  # states kept per completion: the first and last halves


Change = tuple[tuple[int, int], tuple[int, int], str]  # (start, end, text) of one LSP change


class Event(NamedTuple):
    """One client event, column for column as extract/doc_events_for_candidates.sql
    returns it (DuckDB has flattened it already). A tuple: a day holds millions, and
    building one from a fetched row then costs no Python-level call (`as_event`)."""

    doc_no: int  # which candidate document (the query's grouping key)
    type: str
    version: int
    ts: float  # client clock, epoch seconds
    ds: int  # landing day (earliest copy), as days since 1970-01-01
    completion_id: str | None
    start_line: int | None  # the first change (all an edit usually holds)
    start_character: int | None
    end_line: int | None
    end_character: int | None
    text: str | None
    changes_json: str | None  # the whole `changes` JSON, only when an event holds several
    detail: str | None  # accepted_text or rejection reason
    kind: str | None  # accept_kind
    line_count: int | None = None  # a full text's (opened, snapshot) lines

    @property
    def changes(self) -> list[Change]:
        if self.changes_json:
            return [_as_change(c) for c in json.loads(self.changes_json)]
        if self.start_line is None:
            return []
        start, end = (self.start_line, self.start_character), (self.end_line, self.end_character)
        return [(start, end, self.text)]

    @property
    def is_change(self) -> bool:
        return self.type == "document.changed"


as_event = partial(tuple.__new__, Event)  # a fetched row as an Event, in C (no __new__ call)


def _as_change(c: dict[str, Any]) -> Change:
    s, e = c["range"]["start"], c["range"]["end"]
    return (int(s["line"]), int(s["character"])), (int(e["line"]), int(e["character"])), c["text"]


def day_number(day: date) -> int:
    return (day - _EPOCH).days


_EPOCH = date(1970, 1, 1)


class Document:
    """One document's events in walk order (doc.version, changes first), indexed by completion.

    Its line count is followed from its last full text (opened or snapshot) through every
    change, so that a change or a proposal on a line past the last one is caught: LSP
    clamps a character past its line's end, but a line past the last one is no position.
    Without a full text in the window the count is unknown and nothing is checked."""

    __slots__ = ("events", "shown", "accepts", "rejected", "lines_at_shown", "impossible")

    def __init__(self, events: list[Event]) -> None:
        self.events = events
        self.shown: dict[str, int] = {}
        self.accepts: dict[str, dict[int, tuple[str, str]]] = {}
        self.rejected: set[str] = set()
        self.lines_at_shown: dict[str, int | None] = {}
        # (the first change that does not fit the document, why): a walk over it fails
        self.impossible: tuple[Event, str] | None = None
        lines = None
        for i, e in enumerate(events):
            if e.type == "document.changed":
                if lines is not None:
                    lines = self._lines_after(e, lines)
            elif e.line_count is not None:
                lines = e.line_count
            elif e.type == "completion.shown":
                self.shown.setdefault(e.completion_id, i)
                self.lines_at_shown.setdefault(e.completion_id, lines)
            elif e.type == "completion.rejected":
                self.rejected.add(e.completion_id)
            elif e.type == "completion.accepted":
                by_version = self.accepts.setdefault(e.completion_id, {})
                by_version.setdefault(e.version, (e.detail, e.kind))

    def _lines_after(self, e: Event, lines: int) -> int | None:
        """The line count after change event `e`; None (and `impossible` set) when one of
        its changes reaches past the last line, which leaves the count unknown."""
        if e.changes_json is None:  # one change, flattened (the common case)
            changes = ((e.start_line, e.end_line, e.text),)
        else:
            try:
                changes = [(s[0], end[0], t) for s, end, t in e.changes]
            except (KeyError, TypeError, ValueError):
                return None  # the walk names what is wrong with it (bad_change)
        for k, (first, last, text) in enumerate(changes):
            if first > last:
                return None  # an inverted range: the walk names it (impossible_range)
            if last >= lines:
                why = (f"position_past_end: change {k} of version {e.version} reaches line "
                       f"{last}, past the document's last line {lines - 1}")  # fmt: skip
                self.impossible = self.impossible or (e, why[:200])
                return None
            breaks = text.count("\n")
            if "\r" in text:
                breaks = line_breaks(text)
            lines += breaks - (last - first)
        return lines


@dataclass
class Outcome:
    """What the walk found: settled (final text), pending (needs data) or failed (bad data)."""

    status: str  # settled | pending | failed
    reason: str  # quiet | saved | closed | horizon, or why pending / failed
    ready_ds: int  # day number of the last landing day the walk needed
    final_text: str = ""
    settled_at: float = 0.0
    trajectory: list[str] = field(default_factory=list)
    touches: int = 0
    accepted_text: str | None = None
    accept_kind: str | None = None
    rejected_reason: str | None = None
    deleted_after_accept: bool = False  # the accepted region was emptied at some point
    accept_like: bool = False  # a proposal prefix was inserted whole, with no accept event
    held_reason: str = ""  # how it settled, while pending for a missing accept event


@dataclass
class _Walk:
    region: Region
    shown: Event
    proposal: str
    ready: int
    last_touch: float
    version: int
    accepted: list[tuple[str, str]] = field(default_factory=list)  # (text, kind)
    rejected_reason: str | None = None
    states: list[str] = field(default_factory=list)
    touches: int = 0
    deleted_after_accept: bool = False
    accept_like: bool = False
    may_accept: bool = True  # no rejection event for it: an accept event may still land

    def outcome(self, status: str, reason: str, at: float = 0.0) -> Outcome:
        held = ""
        if status == "settled" and self.accept_like and not self.accepted:
            # Looks accepted, but no completion.accepted event has landed (yet): wait for it.
            status, reason, held = "pending", "accept_event_missing", reason
        return Outcome(
            status,
            reason,
            self.ready,
            self.region.text,
            at,
            _capped([*self.states]),
            self.touches,
            "".join(t for t, _ in self.accepted) or None,
            self.accepted[0][1] if self.accepted else None,
            self.rejected_reason,
            self.deleted_after_accept,
            self.accept_like,
            held,
        )


def follow(
    doc: Document,
    shown_index: int,
    position: tuple[int, int],
    proposal: str,
    quiet_s: float,
    horizon_s: float,
    encoding: str,
) -> Outcome:
    """Walk `doc` from the shown event at `shown_index` until the region settles."""
    events = doc.events
    shown = events[shown_index]
    region = Region(position, "", OPEN, encoding, line_breaks(proposal))
    w = _Walk(region, shown, proposal, shown.ds, shown.ts, shown.version, states=[proposal])
    accepts = doc.accepts.get(shown.completion_id, {})
    w.may_accept = shown.completion_id not in doc.rejected
    lines = doc.lines_at_shown.get(shown.completion_id)
    if lines is not None and position[0] >= lines:
        why = f"position_past_end: shown at line {position[0]}, past the document's last line {lines - 1}"
        return Outcome("failed", why[:200], w.ready)
    bad, bad_reason = doc.impossible or (None, "")
    for ev in events[shown_index + 1 :]:
        expected = w.version + 1 if ev.is_change else w.version
        if ev.version > expected:
            return Outcome("pending", "doc_version_gap", w.ready)
        if ev.version < expected:
            return Outcome("failed", "doc_version_conflict", max(w.ready, ev.ds))
        if ev.type in _SETTLE_CHECKS:
            due = _due(w, ev, quiet_s, horizon_s)
            if due is not None:
                return due
        w.ready = max(w.ready, ev.ds)
        if ev is bad:
            return Outcome("failed", bad_reason, w.ready)
        done = _step(w, ev, accepts)
        if done is not None:
            return done
    return Outcome("pending", "horizon_not_covered", w.ready)


# Editors (and the simulator's truth) look at the clock when the document changes,
# is saved or is closed: completion events alone never settle a region.
_SETTLE_CHECKS = ("document.changed", "document.saved", "document.closed")


def _due(w: _Walk, ev: Event, quiet_s: float, horizon_s: float) -> Outcome | None:
    """Settled by the clock before `ev` applies: quiet first, then the horizon."""
    if ev.ts - w.last_touch >= quiet_s:
        w.ready = max(w.ready, ev.ds)
        return w.outcome("settled", "quiet", w.last_touch + quiet_s)
    if ev.ts - w.shown.ts >= horizon_s:
        w.ready = max(w.ready, ev.ds)
        return w.outcome("settled", "horizon", w.shown.ts + horizon_s)
    return None


def _step(w: _Walk, ev: Event, accepts: dict[int, tuple[str, str]]) -> Outcome | None:
    """Apply one event; an Outcome when the walk ends here."""
    if ev.is_change:
        w.version = ev.version
        inverted = _inverted_range(ev)
        if inverted is not None:
            return Outcome("failed", inverted, w.ready)
        try:
            touched = _apply_changes(w, ev, accepts.get(ev.version))
        except (PositionError, KeyError, TypeError, ValueError) as exc:
            return Outcome("failed", f"bad_change: {exc}"[:200], w.ready)
        if touched is None:
            return Outcome("failed", "accept_insertion_not_found", w.ready)
        if touched:
            w.touches += 1
            w.last_touch = ev.ts
            if w.states[-1] != w.region.text:
                w.states.append(w.region.text)
        return None
    # A decision never touches the region by itself: only edits change its text.
    if ev.completion_id == w.shown.completion_id and ev.type == "completion.rejected":
        w.rejected_reason = ev.detail
    if ev.type in ("document.saved", "document.closed"):
        return w.outcome("settled", ev.type.split(".")[1], ev.ts)
    return None


def _inverted_range(ev: Event) -> str | None:
    for i, (start, end, _text) in enumerate(ev.changes):
        if tuple(start) > tuple(end):
            return (
                f"impossible_range: change {i} of version {ev.version} ends at {tuple(end)}, "
                f"before it starts at {tuple(start)}"
            )[:200]
    return None


def _apply_changes(w: _Walk, ev: Event, accept: tuple[str, str] | None) -> bool | None:
    """Apply a change event's changes in order; None if it should accept and cannot."""
    changes = ev.changes
    hit = find_accept(w.region, changes, accept[0]) if accept else None
    if accept and hit is None:
        return None
    touched = False
    region = w.region
    for i, (start, end, text) in enumerate(changes):
        if i == hit:
            _take_accept(region, start, end, text)
            w.accepted.append(accept)
            touched = True
            continue
        if (
            not accept
            and w.may_accept
            and region.kind == OPEN
            and not region.text
            and text
            and start == end == region.start
            and w.proposal.startswith(text)
        ):
            w.accept_like = True
        was_accepted = region.kind == ACCEPTED
        touched |= region.apply(start, end, text)
        if was_accepted and region.kind == OPEN:
            w.deleted_after_accept = True
    return touched


def _take_accept(region: Region, start, end, text: str) -> None:
    """The accepting change becomes the region; a further accept at its end extends it."""
    if region.kind == ACCEPTED and start == end == region.end:
        region.text += text
        return
    region.start, region.text, region.kind = start, text, ACCEPTED


def _capped(states: list[str]) -> list[str]:
    if len(states) <= TRAJECTORY_CAP:
        return states
    half = TRAJECTORY_CAP // 2
    return states[:half] + states[-half:]
