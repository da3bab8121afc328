"""The collector's write path: events buffered in memory, landed as v1 day partitions.

`EventLog(landing_uri, source)` takes events (`append`) from `echo-ops serve` (its own
server events, and client events the language server posts) and writes them to
`{landing}/{source}/ds=YYYY-MM-DD/part-*.jsonl.gz` through `echo_ops.storage`, so a local
dir and s3:// behave alike. The day is the day the collector *received* the event (UTC),
as the v1 contract says, not the client's clock.

Delivery is at-least-once: a batch leaves the buffer only after its object is written; a
failed write puts it back and the next flush tries again (an S3 put that succeeded but
reported failure lands the batch twice; ingest deduplicates on event_id / request_id).
A flush runs every `flush_s` seconds and as soon as `flush_events` are waiting, and on
`close()` (clean shutdown). A crash loses what was received since the last successful
flush: at most `flush_s` seconds or `flush_events` events, plus whatever a landing outage
had kept back. While the landing zone is down at most `max_buffer_events` wait; beyond
that the oldest are dropped and counted (`stats()["dropped"]`), never silently.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime

from echo_ops import storage
from echo_ops.config import StorageSettings

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


def rfc3339(at: datetime) -> str:
    """`2026-12-07T04:01:02.345Z`: the v1 timestamp form."""
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class EventLog:
    """A thread-safe buffer in front of one landing source (`client` or `server`)."""

    def __init__(self, landing_uri: str, source: str, *, flush_s: float = 5.0,
                 flush_events: int = 1000, max_buffer_events: int = 200_000,
                 clock: Callable[[], datetime] = utc_now,
                 store: StorageSettings | None = None) -> None:  # fmt: skip
        if source not in ("client", "server"):
            raise ValueError(f"unknown landing source {source!r}; expected client or server")
        self.landing_uri, self.source, self.clock = landing_uri, source, clock
        self.store = store  # the storage settings (endpoint, region): needed for s3://
        self.flush_s, self.flush_events = flush_s, max(1, flush_events)
        self.max_buffer_events = max(self.flush_events, max_buffer_events)
        self._lines: list[tuple[date, bytes]] = []
        self._lock = threading.Lock()  # guards _lines and the counters
        self._flushing = threading.Lock()  # one flush at a time: parts keep their order
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._tag = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self._parts = 0
        self.counts = {"received": 0, "written": 0, "dropped": 0, "failed_flushes": 0}

    def append(self, event: dict) -> None:
        """Take one event; it lands in the partition of the day it arrived."""
        line = json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
        with self._lock:
            self._lines.append((self.clock().date(), line))
            self.counts["received"] += 1
            if len(self._lines) > self.max_buffer_events:
                over = len(self._lines) - self.max_buffer_events
                del self._lines[:over]
                self.counts["dropped"] += over
                log.error("event buffer full (%s): dropped %d oldest", self.source, over)
            full = len(self._lines) >= self.flush_events
        if full:
            self._wake.set()

    def flush(self) -> int:
        """Write what is buffered, one object per day; returns events written. On failure
        the batch goes back to the front of the buffer and the error is logged."""
        with self._flushing:
            with self._lock:
                batch, self._lines = self._lines, []
            if not batch:
                return 0
            try:
                self._write(batch)
            except Exception as exc:
                with self._lock:
                    self._lines[:0] = batch
                    self.counts["failed_flushes"] += 1
                log.warning("landing %s events failed (%s); kept %d for the next flush",
                            self.source, exc, len(batch))  # fmt: skip
                return 0
            with self._lock:
                self.counts["written"] += len(batch)
            return len(batch)

    def _write(self, batch: list[tuple[date, bytes]]) -> None:
        by_day: dict[date, list[bytes]] = {}
        for day, line in batch:
            by_day.setdefault(day, []).append(line)
        stamp = self.clock().strftime("%Y%m%dT%H%M%S")
        for day, lines in sorted(by_day.items()):
            self._parts += 1
            key = (f"{self.source}/ds={day.isoformat()}/"
                   f"part-{stamp}-{self._tag}-{self._parts:06d}.jsonl.gz")  # fmt: skip
            data = gzip.compress(b"".join(lines), 6)
            storage.write_bytes(self.landing_uri, key, data, self.store)

    def start(self) -> EventLog:
        """Flush in a background thread every `flush_s` (or when `flush_events` wait)."""
        self._thread = threading.Thread(target=self._run, name=f"eventlog-{self.source}",
                                        daemon=True)  # fmt: skip
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.flush_s)
            self._wake.clear()
            self.flush()

    def close(self) -> int:
        """Stop the thread and flush what is left (clean shutdown); returns events written
        since close() was called."""
        before = self.stats()["written"]
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self.flush()
        return self.stats()["written"] - before

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {**self.counts, "buffered": len(self._lines)}
