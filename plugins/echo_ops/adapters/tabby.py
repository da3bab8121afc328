"""Tabby's `~/.tabby/events/YYYY-MM-DD.json` as v1 events (docs/imports.md).

JSON Lines despite the name, one file per UTC day, written by the Tabby server:
`{"ts": epoch ms, "user"?: str | null, "event": {"completion" | "view" | "select" |
"dismiss" | "chat_completion": {...}}}`, linked by `completion_id`. Optional fields are
omitted, not null. A completion's view (and so its select) may land in the next day's
file: the previous day's file, when given as `context`, is read to link them, and its own
events are emitted only when that file is imported. `dismiss` also fires when a newer
request supersedes a completion, so it is kept as a rejection flagged `may_be_superseded`
and never outweighs a select; `select` with `kind: "line"` is a partial accept.
`chat_completion` is skipped and counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from echo_ops.adapters import (
    AdapterLineError,
    Conversion,
    decision_event,
    parse_ts,
    provenance,
    pseudonym,
    read_json_line,
    server_event,
    shown_event,
)
from echo_ops.adapters.continue_dev import file_uri

SOURCE = "tabby"
SCHEMA = "events"  # Tabby's event log carries no version of its own
KINDS = ("completion", "view", "select", "dismiss", "chat_completion")


@dataclass
class _Record:
    no: int
    own: bool  # from the file being imported (False: the previous day's, for linking only)
    at: datetime
    kind: str
    body: dict[str, Any]
    user: str | None
    text: str


def convert(
    lines: list[str], file_name: str, user_key: str = "", context: list[str] | None = None
) -> Conversion:
    """One Tabby day file -> v1 events; `context`: the previous day's file, if any."""
    out = Conversion(SOURCE)
    records = _read_all(context or [], own=False, out=None)
    records += _read_all(lines, own=True, out=out)
    records.sort(key=lambda r: (r.at, not r.own, r.no))
    completions = _completions(out, records, file_name)
    first_view: dict[str, _Record] = {}
    for r in records:
        if r.kind == "completion" or (not r.own and r.kind != "view"):
            continue
        if r.kind == "chat_completion":
            out.counts["chat_completion_skipped"] += 1
            continue
        try:
            _link(out, r, completions, first_view, file_name, user_key)
        except AdapterLineError as exc:
            if r.own:
                out.refuse(r.no, str(exc), r.text, r.at.date())
    return out


def _read_all(lines: list[str], own: bool, out: Conversion | None) -> list[_Record]:
    records = []
    for no, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        if out is not None:
            out.counts["lines"] += 1
        try:
            records.append(_read(no, text, own))
        except AdapterLineError as exc:
            if out is not None:  # a bad context line is refused when its own file is imported
                out.refuse(no, str(exc), text)
    return records


def _read(no: int, text: str, own: bool) -> _Record:
    line = read_json_line(text)
    if "ts" not in line:
        raise AdapterLineError("missing_field: ts")
    if not isinstance(line["ts"], int):
        raise AdapterLineError(f"bad_timestamp: ts is {type(line['ts']).__name__}, not epoch ms")
    event = line.get("event")
    if not isinstance(event, dict) or len(event) != 1:
        raise AdapterLineError("bad_event: `event` must hold exactly one kind")
    ((kind, body),) = event.items()
    if kind not in KINDS:
        raise AdapterLineError(f"unknown_event_kind: {str(kind)[:40]!r}")
    if not isinstance(body, dict):
        raise AdapterLineError(f"bad_event: {kind} is not an object")
    if not isinstance(body.get("completion_id"), str) and kind != "chat_completion":
        raise AdapterLineError(f"missing_field: {kind}.completion_id")
    user = line.get("user", body.get("user"))  # newer servers: top level; older: in completion
    return _Record(no, own, parse_ts(line["ts"]), kind, body, user, text)


def _completions(out: Conversion, records: list[_Record], file_name: str) -> dict[str, _Record]:
    """Every completion event by id (own and context); emits the own ones' server events."""
    found: dict[str, _Record] = {}
    for r in (r for r in records if r.kind == "completion"):
        cid = r.body["completion_id"]
        if cid in found:
            if r.own and found[cid].body != r.body:
                out.refuse(r.no, f"conflict: completion_id {cid[:60]} logged twice with other content", r.text, r.at.date())  # fmt: skip
            elif r.own:
                out.counts["duplicate_lines"] += 1
            continue
        choices = r.body.get("choices")
        if (
            not isinstance(choices, list)
            or not choices
            or not all(isinstance(c, dict) and isinstance(c.get("text"), str) for c in choices)
        ):
            if r.own:
                out.refuse(r.no, "missing_field: completion.choices[].text", r.text, r.at.date())
            continue
        found[cid] = r
        if r.own:
            out.counts["completions"] += 1
            out.emit("server", r.at.date(), _request(r, cid, file_name))
    return found


def _link(out, r: _Record, completions, first_view, file_name: str, user_key: str) -> None:
    cid = r.body["completion_id"]
    comp = completions.get(cid)
    if comp is None:
        raise AdapterLineError(
            f"orphan_{r.kind}: no completion event for {cid[:60]} in this or the previous day's file"
        )
    if r.at < comp.at:
        raise AdapterLineError(f"impossible_sequence: {r.kind} logged before its completion")
    text = _choice(comp, r.body.get("choice_index", 0))
    user_id = pseudonym(SOURCE, comp.user or r.user, user_key)
    doc = _doc(comp, cid)
    if r.kind == "view":
        if cid in first_view:
            if r.own:
                out.counts["repeat_views"] += 1
            return
        first_view[cid] = r
        if r.own:
            out.counts["views"] += 1
            out.emit("client", r.at.date(), shown_event(
                source=SOURCE, completion_id=cid, shown_at=r.at, user_id=user_id,
                doc_uri=doc["uri"], language_id=doc["language_id"],
                prompt_prefix=_prompt(comp)[0], proposal=text, schema=SCHEMA,
                origin=provenance(SOURCE, SCHEMA, file_name, r.no),
            ))  # fmt: skip
        return
    view = first_view.get(cid)
    if view is None:
        if r.kind == "dismiss":  # a request superseded before it was ever shown
            out.counts["dismiss_without_view"] += 1
            return
        raise AdapterLineError("impossible_sequence: select without a view of the completion")
    kind, detail = _decision(r, text)
    out.counts[f"{r.kind}_{r.body.get('kind', 'full')}" if r.kind == "select" else r.kind] += 1
    # Decisions travel with their completion into the day it was shown (docs/imports.md).
    out.emit("client", view.at.date(), decision_event(
        kind, source=SOURCE, completion_id=cid, at=r.at, user_id=user_id, doc=doc,
        schema=SCHEMA, origin=provenance(SOURCE, SCHEMA, file_name, r.no),
        id_suffix=f"{r.kind}@{file_name}:{r.no}", detail=detail,
    ))  # fmt: skip


def _decision(r: _Record, text: str) -> tuple[str, dict[str, Any]]:
    if r.kind == "dismiss":
        return "rejected", {"reason": "dismissed", "may_be_superseded": True}
    select_kind = r.body.get("kind")
    if select_kind is None:
        return "accepted", {"item_index": 0, "accepted_text": text, "accept_kind": "full"}
    if select_kind != "line":
        raise AdapterLineError(f"unknown_select_kind: {str(select_kind)[:40]!r}")
    # A partial accept (a line or a word): Tabby does not log how much; the first line of
    # the choice is the upper bound we can name, flagged as inferred.
    first = text.split("\n", 1)[0] + ("\n" if "\n" in text else "")
    return "accepted", {
        "item_index": 0,
        "accepted_text": first or text,
        "accept_kind": "line",
        "accepted_text_inferred": True,
    }


def _choice(comp: _Record, index: Any) -> str:
    choices = comp.body["choices"]
    by_index = {c.get("index", i): c["text"] for i, c in enumerate(choices)}
    if not isinstance(index, int) or index not in by_index:
        raise AdapterLineError(f"unknown_choice: choice_index {index!r} not in the completion")
    return by_index[index]


def _prompt(comp: _Record) -> tuple[str, str]:
    segments = comp.body.get("segments")
    if isinstance(segments, dict) and isinstance(segments.get("prefix"), str):
        return segments["prefix"], segments.get("suffix") or ""
    return str(comp.body.get("prompt", "")), ""


def _doc(comp: _Record, cid: str) -> dict[str, Any]:
    segments = comp.body.get("segments") or {}
    path = segments.get("filepath") if isinstance(segments, dict) else None
    return {
        "uri": file_uri(path) if isinstance(path, str) and path else f"tabby:completion/{cid}",
        "version": 0,
        "language_id": str(comp.body.get("language") or "plaintext"),
    }


def _request(r: _Record, cid: str, file_name: str) -> dict[str, Any]:
    prefix, suffix = _prompt(r)
    return server_event(
        source=SOURCE, completion_id=cid, at=r.at, model_version=f"{SOURCE}:unknown",
        prefix=prefix, suffix=suffix, completion=_choice(r, r.body["choices"][0].get("index", 0)),
        latency_ms=None, origin=provenance(SOURCE, SCHEMA, file_name, r.no),
    )  # fmt: skip
