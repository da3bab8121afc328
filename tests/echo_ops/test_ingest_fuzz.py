"""A seeded mix of corrupt objects and lines in one simulated day: every good line loads as
it would from a clean day, every bad one is in ops.quarantine with its object, line and
reason, and the books of extraction balance (shown = extracted + deferred + quarantined)."""

from __future__ import annotations

import base64
import gzip
import json
import os
import random
import shutil
from datetime import date
from pathlib import Path

from eventkit import align_and_extract

from echo_ops.ingest import ingest_day
from echo_ops.warehouse import connect

DAY = date(2026, 11, 10)
SEED = 1414
_SAME = "* exclude (object_key, line_no)"  # a row's content, wherever it was read from


def _bad_lines(rng: random.Random, good: str) -> list[tuple[bytes, str]]:
    """(line bytes, the reason category ingest must give), a seeded pick of each kind."""
    event = json.loads(good)
    kinds = [
        (b'{"schema_version": 1, "event_id": ', "invalid_json"),
        (b"", "empty_line"),
        (b"   ", "empty_line"),
        (b"\xff\xfe not utf-8", "invalid_utf8"),
        (("[" * 5000 + "]" * 5000).encode(), "too_deep"),
        (
            json.dumps({**event, "event_id": f"nan-{rng.random()}"})
            .replace('"schema_version": 1', '"schema_version": NaN')
            .encode(),
            "non_finite_number",
        ),  # fmt: skip
        (
            json.dumps({**event, "event_id": f"dup-{rng.random()}"})[:-1].encode()
            + b', "user_id": "u-other"}',
            "duplicate_key",
        ),  # fmt: skip
        (
            json.dumps(
                {**event, "event_id": f"big-{rng.random()}", "pad": "x" * 1_100_000}
            ).encode(),
            "oversize_line",
        ),  # fmt: skip
        (
            json.dumps(
                {**event, "event_id": f"schema-{rng.random()}", "type": "document.exploded"}
            ).encode(),
            "schema",
        ),  # fmt: skip
    ]
    return [rng.choice(kinds) for _ in range(12)]


def _fuzz(landing: Path, outside: Path, rng: random.Random) -> list[tuple[str, int | None, str]]:
    """Corrupt the landed day in place; returns what must be quarantined (key, line, reason)."""
    folder = landing / "client" / f"ds={DAY.isoformat()}"
    objects = sorted(folder.iterdir())
    expected = []
    # Good objects change form, not content: CRLF inside a gzip stream, CRLF in plain text.
    for i, path in enumerate(objects):
        body = (
            gzip.decompress(path.read_bytes()) if path.name.endswith(".gz") else path.read_bytes()
        )
        crlf = body.replace(b"\n", b"\r\n")
        if i % 2 == 0:
            path.write_bytes(gzip.compress(crlf) if path.name.endswith(".gz") else crlf)
    good = next(
        ln
        for ln in gzip.decompress(objects[0].read_bytes()).decode().splitlines()
        if '"document.opened"' in ln or '"completion.shown"' in ln
    )
    bad = _bad_lines(rng, good)
    (folder / "fuzz-lines.jsonl").write_bytes(b"\r\n".join(line for line, _ in bad) + b"\r\n")
    expected += [(f"client/ds={DAY}/fuzz-lines.jsonl", n, r) for n, (_, r) in enumerate(bad, 1)]
    # one long line, cut mid-way by the truncation: the object's one quarantine row
    junk = gzip.compress(b'{"pad": "' + base64.b64encode(rng.randbytes(20_000)) + b'"}\n')
    broken = {
        "fuzz-zero.jsonl.gz": (b"", "unreadable_object"),
        "fuzz-plain.jsonl.gz": (b'{"not": "gzip"}\n', "unreadable_object"),
        "fuzz-cut.jsonl.gz": (junk[: len(junk) // 2], "truncated_object"),
    }
    for name, (data, reason) in broken.items():
        (folder / name).write_bytes(data)
        expected.append((f"client/ds={DAY}/{name}", None, reason))
    outside.write_text(good + "\n")
    os.symlink(outside, folder / "fuzz-link.jsonl")
    expected.append((f"client/ds={DAY}/fuzz-link.jsonl", 0, "symlink_refused"))
    return expected


def test_a_fuzzed_day_loads_every_good_line_and_accounts_for_every_bad_one(
    settings, tmp_path, monkeypatch
):
    from echo_ops.simulate import simulate_days

    simulate_days(DAY, 1, users=1, target_events=4000, workers=1, settings=settings)
    landing = Path(settings.storage.landing_uri)
    clean_copy = tmp_path / "clean-landing"
    shutil.copytree(landing, clean_copy)

    # The day as landed: what every good line loads as, and what the transport broke.
    con = connect(settings)
    ingest_day(con, DAY, settings)
    want = con.execute(f"select {_SAME} from raw.client_events order by all").fetchall()
    want_server = con.execute(f"select {_SAME} from raw.server_events order by all").fetchall()
    before = con.execute("select count(*) from ops.quarantine where stage = 'ingest'").fetchone()[0]

    expected = _fuzz(landing, tmp_path / "outside.jsonl", random.Random(SEED))
    monkeypatch.setattr(settings.extract, "max_quarantine_rate", 0.05)
    result = ingest_day(con, DAY, settings)

    assert con.execute(f"select {_SAME} from raw.client_events order by all").fetchall() == want
    assert (
        con.execute(f"select {_SAME} from raw.server_events order by all").fetchall() == want_server
    )
    fuzz = con.execute(
        "select object_key, line_no, split_part(reason, ':', 1) from ops.quarantine "
        "where stage = 'ingest' and object_key like '%/fuzz-%' order by 1, 2"
    ).fetchall()
    for key, line, reason in expected:
        assert any(k == key and (line is None or n == line) and r == reason for k, n, r in fuzz), (
            key, line, reason, [f for f in fuzz if f[0] == key],
        )  # fmt: skip
    assert len(fuzz) == len(expected)
    total = con.execute("select count(*) from ops.quarantine where stage = 'ingest'").fetchone()[0]
    assert total == before + len(expected) and result.quarantined == total

    align_and_extract(con, DAY, settings)
    shown, extracted, deferred, quarantined, unaccounted = con.execute(
        "select shown, extracted, deferred, quarantined, unaccounted from ops.extract_accounting "
        "where ds = ?",
        [DAY],
    ).fetchone()
    assert shown > 50 and unaccounted == 0
    assert shown == extracted + deferred + quarantined
    con.close()
