"""Test helpers: read a landing zone back and replay its documents with echo_ops.textdoc."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from echo_ops import storage
from echo_ops.config import get_settings
from echo_ops.contract import CLIENT_EVENT_TYPES, first_error
from echo_ops.textdoc import TextDocument, position_encoding


def read_lines(landing: str, source: str) -> list[tuple[str, str]]:
    """(object key, line) for every line under `landing/source`, in key order."""
    out = []
    for obj in storage.list_objects(landing, source, get_settings().storage):
        text = gzip.decompress(storage.read_bytes(landing, obj.key, get_settings().storage)).decode(
            "utf-8"
        )
        out += [(obj.key, line) for line in text.split("\n") if line]
    return out


_CACHE: dict[tuple[str, str, bool], tuple[list[dict], int]] = {}


def good_events(landing: str, source: str, validate: bool = True) -> tuple[list[dict], int]:
    """Contract-valid events, first copy of each id; and how many lines were bad.
    `validate=False` checks only JSON, size and a known type (jsonschema is slow)."""
    key = (landing, source, validate)
    if key not in _CACHE:
        _CACHE[key] = _good_events(landing, source, validate)
    return _CACHE[key]


def _good_events(landing: str, source: str, validate: bool) -> tuple[list[dict], int]:
    seen, events, bad = set(), [], 0
    key_name = "event_id" if source == "client" else "request_id"
    for _, line in read_lines(landing, source):
        if len(line) > 1_048_576:
            bad += 1
            continue
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            bad += 1
            continue
        if not validate:
            if not _plausible(event, source):
                bad += 1
                continue
        elif first_error(event, source) is not None:
            bad += 1
            continue
        if event[key_name] not in seen:
            seen.add(event[key_name])
            events.append(event)
    return events, bad


def replay_documents(events: list[dict]) -> dict[tuple[str, str], str]:
    """Final text of each (session_id, doc uri): snapshot, then changes in version order."""
    docs: dict[tuple[str, str], list[dict]] = {}
    for e in events:
        if e["type"] in ("document.opened", "document.changed"):
            docs.setdefault((e["session_id"], e["doc"]["uri"]), []).append(e)
    out = {}
    for key, evs in docs.items():
        evs.sort(key=lambda e: e["doc"]["version"])
        opened = evs[0]
        assert opened["type"] == "document.opened", key
        doc = TextDocument(
            opened["text"], position_encoding(opened["client"]), opened["doc"]["version"]
        )
        for e in evs[1:]:
            assert e["doc"]["version"] == doc.version + 1, (key, e["doc"]["version"], doc.version)
            doc.apply(e["changes"], e["doc"]["version"])
        out[key] = doc.text
    return out


def truth_rows(truth_dir: Path, name: str) -> list[dict]:
    rows = []
    for path in sorted(truth_dir.glob(f"ds=*/{name}")):
        rows += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return rows


def _plausible(event, source: str) -> bool:
    if not isinstance(event, dict):
        return False
    if source == "server":
        return isinstance(event.get("latency_ms"), int) and "type" not in event
    return (
        event.get("type") in CLIENT_EVENT_TYPES
        and isinstance(event.get("ts"), str)
        and isinstance(event.get("doc"), dict)
        and event.get("schema_version") == 1
    )


def texts_at(
    events: list[dict], wanted: set[tuple[str, str, int]]
) -> dict[tuple[str, str, int], TextDocument]:
    """The document (a TextDocument copy) at each wanted (session_id, uri, version)."""
    docs: dict[tuple[str, str], list[dict]] = {}
    for e in events:
        if e["type"] in ("document.opened", "document.changed"):
            docs.setdefault((e["session_id"], e["doc"]["uri"]), []).append(e)
    out = {}
    for (sid, uri), evs in docs.items():
        evs.sort(key=lambda e: e["doc"]["version"])
        doc = TextDocument(
            evs[0]["text"], position_encoding(evs[0]["client"]), evs[0]["doc"]["version"]
        )
        for e in evs:
            if e["type"] == "document.changed":
                doc.apply(e["changes"], e["doc"]["version"])
            if (sid, uri, doc.version) in wanted:
                out[(sid, uri, doc.version)] = TextDocument(doc.text, doc.encoding, doc.version)
    return out
