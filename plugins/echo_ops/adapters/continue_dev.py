"""Continue's `dev_data/<version>/autocomplete.jsonl` as v1 events (docs/imports.md).

Continue writes one line per shown completion: when it is accepted, or with
`accepted: false` about 10 s after display; a late accept writes a second line for the
same `completionId`. Every line is kept as an event (shown from the first line, then one
accepted / rejected event per line), and the warehouse lets the later outcome win
(include/sql/intermediate/int_imported_completions_decided.sql), so a re-import of a file
that has grown since gives the same events for the lines it had. Layouts: `0.2.0`
(`schema` on each line, ISO `timestamp`), `0.1.0` and the unversioned `dev_data/`
(epoch-millisecond timestamps, nested `completionOptions`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import quote

from echo_ops.adapters import (
    AdapterLineError,
    Conversion,
    decision_event,
    language_of,
    need_str,
    parse_ts,
    provenance,
    pseudonym,
    read_json_line,
    server_event,
    shown_event,
)

SOURCE = "continue"
KNOWN_SCHEMAS = ("0.2.0", "0.1.0", "unversioned")


@dataclass
class _Line:
    no: int
    text: str
    at: datetime
    schema: str
    record: dict[str, Any]

    @property
    def accepted(self) -> bool:
        return self.record.get("accepted") is True


def layout_of(path: str) -> str:
    """The schema a file's directory implies: `dev_data/0.2.0/x.jsonl` -> 0.2.0."""
    parent = PurePosixPath(path.replace("\\", "/")).parent.name
    return parent if parent[:1].isdigit() else "unversioned"


def convert(lines: list[str], file_name: str, user_key: str = "", layout: str = "") -> Conversion:
    """Continue autocomplete lines -> v1 events; `layout` is the directory's schema (layout_of)."""
    out = Conversion(SOURCE)
    by_completion: dict[str, list[_Line]] = {}
    last_day = None  # an unreadable line is filed under the day of the line before it
    for no, text in enumerate(lines, start=1):
        if not text.strip():
            out.counts["blank_lines"] += 1
            continue
        out.counts["lines"] += 1
        try:
            line = _read(no, text, layout or "unversioned")
        except AdapterLineError as exc:
            out.refuse(no, str(exc), text, last_day)
            continue
        last_day = line.at.date()
        by_completion.setdefault(line.record["completionId"], []).append(line)
    for completion_id, group in by_completion.items():
        _convert_completion(out, completion_id, sorted(group, key=lambda x: (x.at, x.no)),
                            file_name, user_key)  # fmt: skip
    return out


def _read(no: int, text: str, layout: str) -> _Line:
    record = read_json_line(text)
    # later 0.2.0 builds renamed `schema` -> `schemaVersion` and `timestamp` -> `createdAt`
    schema = record.get("schema", record.get("schemaVersion", layout))
    if schema not in KNOWN_SCHEMAS:
        raise AdapterLineError(f"unknown_schema_version: {str(schema)[:40]!r}")
    if record.get("eventName", "autocomplete") != "autocomplete":
        raise AdapterLineError(f"not_autocomplete: eventName {str(record['eventName'])[:40]!r}")
    for key in ("completionId", "completion", "prefix", "filepath"):
        need_str(record, key)
    stamp = record.get("timestamp", record.get("createdAt"))
    if stamp is None:
        raise AdapterLineError("missing_field: timestamp")
    if "accepted" in record and not isinstance(record["accepted"], bool):
        raise AdapterLineError(f"bad_field: accepted is {type(record['accepted']).__name__}")
    return _Line(no, text, parse_ts(stamp), schema, record)


def _convert_completion(
    out: Conversion, completion_id: str, group: list[_Line], file_name: str, user_key: str
) -> None:
    first = group[0]
    rec, day = first.record, first.at.date()
    user_id = pseudonym(SOURCE, rec.get("userId"), user_key)
    origin = provenance(SOURCE, first.schema, file_name, first.no)
    shown = shown_event(
        source=SOURCE, completion_id=completion_id, shown_at=first.at, user_id=user_id,
        doc_uri=file_uri(rec["filepath"]), language_id=language_of(rec["filepath"]),
        prompt_prefix=rec["prefix"], proposal=rec["completion"], schema=first.schema,
        origin=origin,
    )  # fmt: skip
    out.emit("client", day, shown)
    out.emit("server", day, _request(completion_id, first, origin))
    out.counts["completions"] += 1
    decided: set[str] = set()
    seen_texts: set[str] = set()
    for line in group:
        if line.text in seen_texts:
            out.counts["duplicate_lines"] += 1  # delivered twice, byte for byte
            continue
        seen_texts.add(line.text)
        reason = _impossible(line, first, decided)
        if reason:
            out.refuse(line.no, reason, line.text, line.at.date())
            continue
        kind = "accepted" if line.accepted else "rejected"
        if kind in decided:
            out.counts[f"repeated_{kind}"] += 1
            continue
        decided.add(kind)
        out.counts["late_accepts" if kind == "accepted" and "rejected" in decided else kind] += 1
        if "accepted" not in line.record:
            out.counts["accepted_field_missing"] += 1  # taken as not accepted
        detail = (
            {"item_index": 0, "accepted_text": line.record["completion"], "accept_kind": "full"}
            if kind == "accepted"
            else {"reason": "dismissed"}
        )
        out.emit("client", day, decision_event(
            kind, source=SOURCE, completion_id=completion_id, at=line.at, user_id=user_id,
            doc=shown["doc"], schema=line.schema,
            origin=provenance(SOURCE, line.schema, file_name, line.no), id_suffix=kind,
            detail=detail,
        ))  # fmt: skip


def _impossible(line: _Line, first: _Line, decided: set[str]) -> str | None:
    """Why this line cannot follow the earlier ones of its completionId, or None."""
    if line.record["completion"] != first.record["completion"]:
        return f"conflict: same completionId as line {first.no}, other completion text"
    if line.record["filepath"] != first.record["filepath"]:
        return f"conflict: same completionId as line {first.no}, other filepath"
    if not line.accepted and "accepted" in decided:
        # Continue logs `accepted: false` only for a completion not accepted by then.
        return "impossible_sequence: accepted:false logged after an accept of this completionId"
    if line.accepted and not line.record["completion"]:
        return "impossible_sequence: an empty completion accepted"
    return None


def _request(completion_id: str, line: _Line, origin: dict[str, Any]) -> dict[str, Any]:
    rec = line.record
    model = "/".join(str(rec[k]) for k in ("modelProvider", "modelName") if rec.get(k))
    latency = rec.get("time")
    return server_event(
        source=SOURCE, completion_id=completion_id, at=line.at,
        model_version=f"{SOURCE}:{model or 'unknown'}",
        # what the model was sent (context snippets as comments in front), not the document
        prefix=rec["prefix"], suffix=rec.get("suffix") or "", completion=rec["completion"],
        latency_ms=float(latency) if isinstance(latency, int | float) and latency >= 0 else None,
        origin=origin,
    )  # fmt: skip


def file_uri(path: str) -> str:
    """Continue's `filepath` is a file URI in new versions and a plain path in old ones."""
    if "://" in path:
        return path
    posix = path.replace("\\", "/")
    if posix[1:3] == ":/":  # a Windows drive path
        posix = "/" + posix
    return "file://" + quote(posix if posix.startswith("/") else "/" + posix)
