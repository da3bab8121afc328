"""The collector's buffered landing writer: day partitions, at-least-once, the loss bound."""

from __future__ import annotations

import gzip
import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from echo_ops import storage
from echo_ops.eventlog import EventLog


def _landed(root: Path | str, source: str = "server") -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for obj in storage.list_objects(str(root), source):
        day = obj.key.split("/")[1]
        data = storage.read_bytes(str(root), obj.key)
        lines = gzip.decompress(data).decode().splitlines()
        out.setdefault(day, []).extend(json.loads(line) for line in lines)
    return out


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def test_events_land_in_the_day_they_were_received_not_the_day_they_were_flushed(tmp_path):
    clock = Clock(datetime(2026, 12, 6, 23, 59, 59, tzinfo=UTC))
    elog = EventLog(str(tmp_path), "server", clock=clock)
    elog.append({"request_id": "late-evening"})
    clock.at = datetime(2026, 12, 7, 0, 0, 1, tzinfo=UTC)
    elog.append({"request_id": "after-midnight"})
    assert elog.flush() == 2
    assert _landed(tmp_path) == {
        "ds=2026-12-06": [{"request_id": "late-evening"}],
        "ds=2026-12-07": [{"request_id": "after-midnight"}],
    }
    assert elog.flush() == 0  # nothing twice


def test_a_failed_write_keeps_the_batch_and_the_next_flush_lands_it_once(tmp_path):
    blocker = tmp_path / "landing"
    blocker.write_text("a file where the landing dir should be")  # writes fail
    elog = EventLog(str(blocker), "client")
    elog.append({"event_id": "e1"})
    assert elog.flush() == 0
    assert elog.stats() == {"received": 1, "written": 0, "dropped": 0, "failed_flushes": 1,
                            "buffered": 1}  # fmt: skip
    elog.append({"event_id": "e2"})
    blocker.unlink()
    assert elog.flush() == 2
    (day,) = _landed(blocker, "client").values()
    assert [e["event_id"] for e in day] == ["e1", "e2"]  # in order, once each


def test_a_full_buffer_drops_the_oldest_and_counts_them(tmp_path):
    elog = EventLog(str(tmp_path / "x" / "y"), "server", flush_events=2, max_buffer_events=3)
    for i in range(5):
        elog.append({"request_id": f"r{i}"})
    assert elog.stats()["dropped"] == 2 and elog.stats()["buffered"] == 3
    elog.flush()
    assert [e["request_id"] for d in _landed(tmp_path / "x" / "y").values() for e in d] == [
        "r2", "r3", "r4"]  # fmt: skip


def test_the_background_flush_and_the_clean_shutdown_bound_what_a_crash_loses(tmp_path):
    elog = EventLog(str(tmp_path), "server", flush_s=60, flush_events=3).start()
    for i in range(3):
        elog.append({"request_id": f"r{i}"})
    deadline = time.monotonic() + 10
    while elog.stats()["written"] < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    elog.append({"request_id": "r3"})
    time.sleep(0.2)
    # a crash now loses only what came after the size-triggered flush (flush_s is far off)
    assert elog.stats()["written"] == 3 and elog.stats()["buffered"] == 1
    assert elog.close() == 1  # a clean shutdown leaves nothing in memory
    assert sum(len(d) for d in _landed(tmp_path).values()) == 4


def test_the_landing_zone_can_be_s3(s3_server, settings):
    root = f"s3://{s3_server}/landing"
    elog = EventLog(root, "client", store=settings.storage)
    elog.append({"event_id": "e1"})
    assert elog.close() == 1
    (obj,) = storage.list_objects(root, "client", settings.storage)
    assert obj.key.startswith("client/ds=") and obj.key.endswith(".jsonl.gz")


def test_an_unknown_source_is_refused(tmp_path):
    with pytest.raises(ValueError, match="client or server"):
        EventLog(str(tmp_path), "editor")
