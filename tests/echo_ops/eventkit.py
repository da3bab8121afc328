"""A tiny hand-driven editor for tests: emits v1 events with known answers."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from echo_ops.textdoc import make_change

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


class Kit:
    def __init__(self, user: str = "u1", session: str = "s1", encoding: str | None = None):
        self.user, self.session, self.encoding = user, session, encoding
        self.now = T0
        self.client: list[dict] = []
        self.server: list[dict] = []
        self._n = 0

    def tick(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    def emit(self, type_: str, doc: Doc | None = None, dt: float = 0.5, **fields) -> dict:
        self.tick(dt)
        self._n += 1
        client = {"name": "testkit", "version": "1"}
        if self.encoding:
            client["position_encoding"] = self.encoding
        ev = {
            "schema_version": 1,
            "event_id": f"{self.session}-e{self._n}",
            "type": type_,
            "ts": self.now.isoformat().replace("+00:00", "Z"),
            "user_id": self.user,
            "session_id": self.session,
            "client": client,
            **fields,
        }
        if doc is not None:
            ev["doc"] = {"uri": doc.uri, "version": doc.version, "language_id": "python"}
        self.client.append(ev)
        return ev

    def open(self, uri: str, text: str) -> Doc:
        doc = Doc(self, uri, text)
        self.emit("document.opened", doc, text=text)
        return doc

    def write(self, landing: Path, day: date, client=None, server=None, gz: bool = False) -> None:
        for source, events in (
            ("client", client or self.client),
            ("server", server or self.server),
        ):
            folder = landing / source / f"ds={day.isoformat()}"
            folder.mkdir(parents=True, exist_ok=True)
            body = "".join(json.dumps(e) + "\n" for e in events).encode()
            name = "part-0.jsonl.gz" if gz else "part-0.jsonl"
            (folder / name).write_bytes(gzip.compress(body) if gz else body)


class Doc:
    def __init__(self, kit: Kit, uri: str, text: str):
        self.kit, self.uri, self.text, self.version = kit, uri, text, 1

    @property
    def enc(self) -> str:
        return self.kit.encoding or "utf-16"

    def change(self, *edits: tuple[int, int, str], dt: float = 0.5) -> dict:
        """Apply (start_index, end_index, text) edits in order, as one document.changed."""
        changes = []
        for i, j, t in edits:
            changes.append(make_change(self.text, i, j, t, self.enc))
            self.text = self.text[:i] + t + self.text[j:]
        self.version += 1
        return self.kit.emit("document.changed", self, dt=dt, changes=changes)

    def type(self, index: int, s: str, dt: float = 0.3) -> int:
        for ch in s:
            self.change((index, index, ch), dt=dt)
            index += len(ch)
        return index

    def show(self, cid: str, index: int, proposal: str, dt: float = 0.5) -> dict:
        from echo_ops.textdoc import index_to_position

        pos = index_to_position(self.text, index, self.enc).to_lsp()
        rid = f"req-{cid}"
        self.kit.server.append(
            {
                "request_id": rid,
                "ts": self.kit.now.isoformat().replace("+00:00", "Z"),
                "model_version": "m1",
                "prompt": {"prefix": self.text[:index], "suffix": self.text[index:]},
                "completion": proposal,
                "latency_ms": 40,
            }
        )
        return self.kit.emit(
            "completion.shown",
            self,
            dt=dt,
            completion_id=cid,
            request_id=rid,
            position=pos,
            items=[{"insert_text": proposal, "range": {"start": pos, "end": pos}}],
        )

    def accept(
        self, cid: str, index: int, text: str, kind: str = "full", before=(), after=(), dt=0.5
    ):
        self.change(*before, (index, index, text), *after, dt=dt)
        return self.kit.emit(
            "completion.accepted",
            self,
            dt=0.01,
            completion_id=cid,
            item_index=0,
            accepted_text=text,
            accept_kind=kind,
        )

    def reject(self, cid: str, reason: str = "dismissed", dt: float = 0.2):
        return self.kit.emit("completion.rejected", self, dt=dt, completion_id=cid, reason=reason)

    def save(self, dt: float = 0.5):
        return self.kit.emit("document.saved", self, dt=dt)

    def close(self, dt: float = 0.5):
        return self.kit.emit("document.closed", self, dt=dt)


def align_and_extract(con, day: date, settings):
    """What echo_daily's align and extract tasks do for one day, on an open connection:
    ingest any lookback day never ingested, align, then extract."""
    from echo_ops.extract import extract_day
    from echo_ops.pipeline import catch_up_and_align

    catch_up_and_align(con, day, settings)
    return extract_day(con, day, settings)
