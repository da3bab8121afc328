"""Continue's `nextEditWithHistory.jsonl` (VS Code) linked to accepted completions.

Each line holds one cluster of edits to a file: `fileURI`, `beforeContent`,
`afterContent`, `beforeCursorPos`, `timestamp` (or `createdAt`), but no completion id. A
cluster becomes a refinement of an accepted completion only when it is unambiguous:
- same file, and the cluster logged within `window_s` after the accept;
- the accepted text occurs exactly once in `beforeContent` (the completion is there);
- the edit (before -> after, as one replaced span: common prefix and suffix removed)
  overlaps the completion's text; an insertion at its very edge stays outside, as in the
  region rule (docs/contracts.md);
- exactly one accepted completion passes all of the above.
The refined text is the completion's region after the edit (the region rule's
"overlapping edits replace the overlapped part"). `confidence` (0..1) is a plain,
untuned heuristic: half for time (1 at the accept, 0 at the window's end), half for the
cursor being inside the completion's region before the edit. Pure: no storage here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from echo_ops.adapters import AdapterLineError, Conversion, parse_ts, read_json_line
from echo_ops.adapters.continue_dev import file_uri

WINDOW_S = 300.0  # a cluster this long after an accept can still refine it


@dataclass(frozen=True)
class Accepted:
    completion_id: str
    doc_uri: str
    accepted_at: datetime
    text: str


@dataclass(frozen=True)
class Link:
    completion_id: str
    line_no: int  # the nextEditWithHistory line
    proposal_text: str
    final_text: str
    confidence: float
    gap_s: float
    accepted_at: datetime


def accepted_from(conversion: Conversion) -> list[Accepted]:
    """The accepted completions of a converted autocomplete log."""
    return [
        Accepted(e["completion_id"], e["doc"]["uri"], parse_ts(e["ts"]), e["accepted_text"])
        for stream, _, e in conversion.events
        if stream == "client" and e.get("type") == "completion.accepted"
    ]


def link(
    lines: list[str], accepted: list[Accepted], window_s: float = WINDOW_S
) -> tuple[list[Link], Conversion]:
    """Links for the clusters that match exactly one accepted completion; the Conversion
    carries the refused lines and the counts (no_match, ambiguous, linked)."""
    out = Conversion("continue")
    links: list[Link] = []
    for no, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        out.counts["next_edit_lines"] += 1
        try:
            cluster = _read(text)
        except AdapterLineError as exc:
            out.refuse(no, str(exc), text)
            continue
        found = [m for a in accepted if (m := _match(a, cluster, window_s)) is not None]
        if len(found) != 1:
            out.counts["next_edit_ambiguous" if found else "next_edit_no_match"] += 1
            continue
        out.counts["next_edit_linked"] += 1
        links.append(Link(**found[0], line_no=no))
    return links, out


def _read(text: str) -> dict[str, Any]:
    rec = read_json_line(text)
    for key in ("fileURI", "beforeContent", "afterContent"):
        if not isinstance(rec.get(key), str):
            raise AdapterLineError(f"missing_field: {key}")
    stamp = rec.get("timestamp", rec.get("createdAt"))
    if stamp is None:
        raise AdapterLineError("missing_field: timestamp")
    schema = rec.get("schema", rec.get("schemaVersion", "0.2.0"))
    if schema != "0.2.0":
        raise AdapterLineError(f"unknown_schema_version: {str(schema)[:40]!r}")
    return {**rec, "_at": parse_ts(stamp), "_uri": file_uri(rec["fileURI"])}


def _match(a: Accepted, c: dict[str, Any], window_s: float) -> dict[str, Any] | None:
    gap = (c["_at"] - a.accepted_at).total_seconds()
    if a.doc_uri != c["_uri"] or not 0 <= gap <= window_s or not a.text:
        return None
    before, after = c["beforeContent"], c["afterContent"]
    start = before.find(a.text)
    if start < 0 or before.find(a.text, start + 1) >= 0:
        return None  # not there, or there twice: which one was edited is unknown
    end = start + len(a.text)
    p, e = _changed_span(before, after)
    touches = (p < end and e > start) if p < e else (start < p < end)
    if not touches:
        return None
    delta = len(after) - len(before)
    final = after[min(start, p) : (end + delta if e <= end else e + delta)]
    cursor = _offset(before, c.get("beforeCursorPos"))
    near = 1.0 if cursor is not None and start <= cursor <= end else 0.0
    confidence = round(0.5 * (1 - gap / window_s) + 0.5 * near, 3)
    return {
        "completion_id": a.completion_id,
        "proposal_text": a.text,
        "final_text": final,
        "confidence": confidence,
        "gap_s": gap,
        "accepted_at": a.accepted_at,
    }


def _changed_span(before: str, after: str) -> tuple[int, int]:
    """[p, e) in `before` that the edit replaced (common prefix and suffix removed)."""
    p = 0
    limit = min(len(before), len(after))
    while p < limit and before[p] == after[p]:
        p += 1
    s = 0
    while s < limit - p and before[len(before) - 1 - s] == after[len(after) - 1 - s]:
        s += 1
    return p, len(before) - s


def _offset(text: str, pos: Any) -> int | None:
    """A {line, character} position as an offset (code points; the editor's UTF-16 columns
    differ only on astral characters, which cannot move a cursor across a region's edge
    by more than one)."""
    if not isinstance(pos, dict) or not isinstance(pos.get("line"), int):
        return None
    lines = text.split("\n")
    if pos["line"] >= len(lines):
        return None
    return sum(len(x) + 1 for x in lines[: pos["line"]]) + int(pos.get("character", 0))
