"""The transport's noise knobs, each at its configured rate, on synthetic events."""

from __future__ import annotations

import json
import random
from collections import Counter
from datetime import date

from echo_ops.config import SimulateSettings
from echo_ops.contract import first_error
from echo_ops.simulate.editor import _DAY_MS, day_start_ms
from echo_ops.simulate.transport import OVERSIZE_BYTES, deliver, picks

N = 20_000
RATES = {
    "duplicate_rate": 0.05,
    "late_rate": 0.03,
    "corrupt_rate": 0.02,
    "oversize_rate": 0.001,
    "reorder_rate": 0.04,
}


def _records() -> list[tuple[int, str]]:
    start = day_start_ms(date(2026, 11, 2)) + 9 * 3_600_000
    out = []
    for i in range(N):
        event = {
            "schema_version": 1,
            "event_id": f"e{i:05d}",
            "type": "document.saved",
            "ts": "2026-11-02T09:00:00.000Z",
            "user_id": "u",
            "session_id": "s",
            "client": {"name": "t", "version": "1"},
            "doc": {"uri": "file:///a.py", "version": i + 1, "language_id": "python"},
        }
        out.append((start + i * 150, json.dumps(event, separators=(",", ":"))))
    return out


def _within(count: int, rate: float, n: int = N) -> bool:
    mean = rate * n
    return abs(count - mean) <= 4 * (mean * (1 - rate)) ** 0.5 + 1


def test_every_knob_shows_up_at_its_rate_and_in_the_lines():
    counts: Counter = Counter()
    by_day = deliver(_records(), SimulateSettings(**RATES), random.Random(1), "client", counts)
    assert _within(counts["client_duplicates"], RATES["duplicate_rate"])
    assert _within(counts["client_late"], RATES["late_rate"])
    corrupt = sum(v for k, v in counts.items() if k.startswith("client_corrupt_"))
    assert _within(corrupt, RATES["corrupt_rate"])
    assert {k for k in counts if k.startswith("client_corrupt_")} == {
        "client_corrupt_truncated",
        "client_corrupt_wrong_type",
        "client_corrupt_unknown_type",
    }
    assert _within(counts["client_oversize"], RATES["oversize_rate"])
    assert _within(
        counts["client_reordered"], RATES["reorder_rate"], sum(map(len, by_day.values()))
    )

    own = day_start_ms(date(2026, 11, 2)) // _DAY_MS
    assert set(by_day) == {own, own + 1}
    ids, broken, oversize, late = Counter(), Counter(), 0, 0
    for day, lines in by_day.items():
        for line in lines:
            if len(line) > OVERSIZE_BYTES:
                oversize += 1
                continue
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                broken["truncated"] += 1
                continue
            if event["event_id"].endswith("~x"):
                kind = "unknown_type" if event["type"] == "editor.focus_changed" else "wrong_type"
                broken[kind] += 1
                assert first_error(event, "client") is not None
                continue
            ids[event["event_id"]] += 1
            late += day == own + 1
    assert len(ids) == N  # nothing lost
    assert sum(c - 1 for c in ids.values()) == counts["client_duplicates"]
    assert oversize == counts["client_oversize"]
    for kind in ("truncated", "wrong_type", "unknown_type"):
        assert broken[kind] == counts[f"client_corrupt_{kind}"]
    assert late >= counts["client_late"]  # plus the duplicates of late events


def test_picks_is_a_bernoulli_process():
    rng = random.Random(4)
    assert picks(10, 0.0, rng) == [] and picks(3, 1.0, rng) == [0, 1, 2]
    chosen = picks(100_000, 0.01, rng)
    assert chosen == sorted(set(chosen)) and all(0 <= i < 100_000 for i in chosen)
    assert _within(len(chosen), 0.01, 100_000)


def test_same_seed_same_lines():
    a = deliver(_records(), SimulateSettings(**RATES), random.Random(9), "client", Counter())
    b = deliver(_records(), SimulateSettings(**RATES), random.Random(9), "client", Counter())
    c = deliver(_records(), SimulateSettings(**RATES), random.Random(10), "client", Counter())
    assert a == b and a != c
