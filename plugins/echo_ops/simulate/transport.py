"""The way from an editor to the landing zone: delays, duplicates, reordering, lateness
and broken lines, each at a configured rate from a seeded rng.

Events arrive a little after they happen; a `late_rate` share arrives the next day and
lands in that day's partition. A `duplicate_rate` share is delivered twice (same
event_id). Neighbours swap places at `reorder_rate`. A `corrupt_rate` share gets an
extra broken copy (truncated JSON, a wrong type or an unknown event type, each with a
fresh event_id so it never shadows the good copy), and `oversize_rate` an extra line
over the collector's 1 MiB line limit. Nothing is lost, so every completion stays
extractable once ingestion has quarantined the bad lines.
"""

from __future__ import annotations

import gzip
import json
import random
from collections import Counter
from datetime import date, timedelta

from echo_ops.simulate.editor import _DAY_MS, day_start_ms

OVERSIZE_BYTES = 1_100_000  # past a 1 MiB collector line limit
PART_LINES = 100_000
_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def deliver(
    records: list[tuple[int, dict]], cfg, rng: random.Random, source: str, counts: Counter
) -> dict[int, list[str]]:
    """Serialised lines per receiving day number (days since the epoch), in arrival order."""
    late, dup, corrupt, oversize = (
        cfg.late_rate,
        cfg.duplicate_rate,
        cfg.corrupt_rate,
        cfg.oversize_rate,
    )
    rand, randint = rng.random, rng.randint
    arrivals: list[tuple[int, str]] = []
    append = arrivals.append
    for ms, event in records:
        line = _dumps(event)
        recv = ms + randint(50, 3000)
        if rand() < late:
            recv = (recv // _DAY_MS + 1) * _DAY_MS + randint(60_000, 6 * 3_600_000)
            counts[f"{source}_late"] += 1
        append((recv, line))
        if rand() < dup:
            append((recv + randint(1, 30_000), line))
            counts[f"{source}_duplicates"] += 1
        if rand() < corrupt:
            kind, bad = _corrupt(event, line, rng, source)
            append((recv + 1, bad))
            counts[f"{source}_corrupt_{kind}"] += 1
        if rand() < oversize:
            append((recv + 2, _oversize(event, source)))
            counts[f"{source}_oversize"] += 1
    arrivals.sort(key=lambda a: a[0])
    lines = [line for _, line in arrivals]
    for i in range(len(lines) - 1):
        if rand() < cfg.reorder_rate:  # a batch sent out of order
            lines[i], lines[i + 1] = lines[i + 1], lines[i]
            counts[f"{source}_reordered"] += 1
    by_day: dict[int, list[str]] = {}
    for (recv, _), line in zip(arrivals, lines, strict=True):
        by_day.setdefault(recv // _DAY_MS, []).append(line)
    counts[f"{source}_lines"] += len(lines)
    return by_day


def _corrupt(event: dict, line: str, rng: random.Random, source: str) -> tuple[str, str]:
    kind = rng.choice(("truncated", "wrong_type", "unknown_type"))
    if kind == "truncated":
        return kind, line[: rng.randint(1, max(1, len(line) - 2))]
    bad = json.loads(line)
    if source == "client":
        bad["event_id"] = bad["event_id"] + "~x"
    else:
        bad["request_id"] = bad["request_id"] + "~x"
    if kind == "unknown_type":
        bad["type"] = "editor.focus_changed"
    elif source == "client":
        key = rng.choice(("ts", "doc", "schema_version"))
        bad[key] = {"ts": 1_700_000_000, "doc": "file.py", "schema_version": "1"}[key]
    else:
        bad["latency_ms"] = "fast"
    return kind, _dumps(bad)


def _oversize(event: dict, source: str) -> str:
    big = dict(event)
    if source == "client":
        big.update(
            event_id=event["event_id"] + "~big", type="document.snapshot", text="#" * OVERSIZE_BYTES
        )
    else:
        big.update(request_id=event["request_id"] + "~big", completion="#" * OVERSIZE_BYTES)
    return _dumps(big)


def part_key(source: str, day_number: int, part: int) -> str:
    day = date(1970, 1, 1) + timedelta(days=day_number)
    return f"{source}/ds={day.isoformat()}/part-{part:05d}.jsonl.gz"


def write_parts(
    store, landing: str, source: str, by_day: dict[int, list[str]], sim_day: date, user_index: int
) -> list[str]:
    """Gzip each receiving day's lines into parts numbered 20000 x (days after the simulated
    day) + 10 x user + chunk, so a day's own parts and later arrivals never collide.
    Returns the keys written."""
    own, keys = day_start_ms(sim_day) // _DAY_MS, []
    for day_number in sorted(by_day):
        lines = by_day[day_number]
        base = user_index * 10 + 20_000 * (day_number - own)
        for chunk, i in enumerate(range(0, len(lines), PART_LINES)):
            if chunk >= 10:
                raise ValueError(f"user {user_index} made over {10 * PART_LINES} lines in a day")
            data = ("\n".join(lines[i : i + PART_LINES]) + "\n").encode("utf-8")
            key = part_key(source, day_number, base + chunk)
            store.write_bytes(landing, key, gzip.compress(data, compresslevel=1, mtime=0))
            keys.append(key)
    return keys
