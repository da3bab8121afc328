"""The way from an editor to the landing zone: delays, duplicates, reordering, lateness
and broken lines, each at a configured rate from a seeded rng.

Events travel in batches of BATCH and arrive a little after they happen; a `late_rate` share arrives the next day and
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
import math
import random
from collections import Counter
from datetime import date, timedelta
from operator import itemgetter

from echo_ops import storage
from echo_ops.config import StorageSettings
from echo_ops.simulate.editor import _DAY_MS, day_start_ms

OVERSIZE_BYTES = 1_100_000  # past a 1 MiB collector line limit
PART_LINES = 100_000
BATCH = 32  # events a client sends at once
_dumps = json.JSONEncoder(separators=(",", ":")).encode  # ASCII lines join and gzip fastest


def picks(n: int, rate: float, rng: random.Random) -> list[int]:
    """Indices in range(n), each chosen independently with probability `rate`; drawn by
    geometric gaps, so the cost is the number chosen, not n."""
    if rate <= 0 or n <= 0:
        return []
    if rate >= 1:
        return list(range(n))
    out, i, log_q = [], -1, math.log(1.0 - rate)
    while True:
        i += int(math.log(1.0 - rng.random()) / log_q) + 1
        if i >= n:
            return out
        out.append(i)


def deliver(
    records: list[tuple[int, str]], cfg, rng: random.Random, source: str, counts: Counter
) -> dict[int, list[str]]:
    """Serialised lines per receiving day number (days since the epoch), in arrival order.

    The client sends BATCH events at a time, a little after the last of them happened."""
    n = len(records)
    arrivals = []
    for b in range(0, n, BATCH):
        batch = records[b : b + BATCH]
        recv = batch[-1][0] + rng.randint(50, 3000)
        arrivals += [(recv, line) for _, line in batch]
    extra = []
    for i in picks(n, cfg.late_rate, rng):  # delivered the next day: the next partition
        recv, line = arrivals[i]
        arrivals[i] = ((recv // _DAY_MS + 1) * _DAY_MS + rng.randint(60_000, 6 * 3_600_000), line)
        counts[f"{source}_late"] += 1
    for i in picks(n, cfg.duplicate_rate, rng):
        extra.append((arrivals[i][0] + rng.randint(1, 30_000), arrivals[i][1]))
        counts[f"{source}_duplicates"] += 1
    for i in picks(n, cfg.corrupt_rate, rng):
        kind, bad = _corrupt(arrivals[i][1], rng, source)
        extra.append((arrivals[i][0] + 1, bad))
        counts[f"{source}_corrupt_{kind}"] += 1
    for i in picks(n, cfg.oversize_rate, rng):
        extra.append((arrivals[i][0] + 2, _oversize(arrivals[i][1], source)))
        counts[f"{source}_oversize"] += 1
    arrivals += extra
    arrivals.sort(key=itemgetter(0))
    lines = [line for _, line in arrivals]
    for i in picks(len(lines) - 1, cfg.reorder_rate, rng):  # a neighbour overtakes
        lines[i], lines[i + 1] = lines[i + 1], lines[i]
        counts[f"{source}_reordered"] += 1
    by_day: dict[int, list[str]] = {}
    for (recv, _), line in zip(arrivals, lines, strict=True):
        by_day.setdefault(recv // _DAY_MS, []).append(line)
    counts[f"{source}_lines"] += len(lines)
    return by_day


def _corrupt(line: str, rng: random.Random, source: str) -> tuple[str, str]:
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


def _oversize(line: str, source: str) -> str:
    """A line over the collector's limit that is harmless if accepted anyway: a client
    opening a huge minified file, or a server record no client event refers to."""
    event = json.loads(line)
    if source == "client":
        big = {k: event[k] for k in ("schema_version", "ts", "user_id", "session_id", "client")}
        big.update(
            event_id=event["event_id"] + "~big",
            type="document.opened",
            doc={
                "uri": event["doc"]["uri"] + ".bundle.min.js",
                "version": 1,
                "language_id": "javascript",
            },
            text="x" * OVERSIZE_BYTES,
        )
    else:
        big = {
            **event,
            "request_id": event["request_id"] + "~big",
            "completion": "#" * OVERSIZE_BYTES,
        }
    return _dumps(big)


def part_key(source: str, day_number: int, part: int) -> str:
    day = date(1970, 1, 1) + timedelta(days=day_number)
    return f"{source}/ds={day.isoformat()}/part-{part:05d}.jsonl.gz"


def write_parts(
    store: StorageSettings,
    landing: str,
    source: str,
    by_day: dict[int, list[str]],
    sim_day: date,
    user_index: int,
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
            data = ("\n".join(lines[i : i + PART_LINES]) + "\n").encode("ascii")
            key = part_key(source, day_number, base + chunk)
            storage.write_bytes(landing, key, gzip.compress(data, compresslevel=1, mtime=0), store)
            keys.append(key)
    return keys
