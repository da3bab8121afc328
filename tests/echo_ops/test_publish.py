"""The published analyst copy under a reader in another process: publishing never waits on
the analyst, the analyst never sees a half-written or mixed copy; Parquet beside it."""

from __future__ import annotations

import multiprocessing as mp
import time
from pathlib import Path

import duckdb

from echo_ops.warehouse import connect, parquet_dir, publish_snapshot

ROWS_PER_VERSION = 500


def _analyst(path: str, stop: str, results) -> None:
    """Read the copy over and over, always holding a connection open (a BI tool would)."""
    reads, problems, held = 0, [], None
    while not Path(stop).exists():
        try:
            con = duckdb.connect(path, read_only=True)
        except duckdb.Error as exc:  # a copy caught mid-swap would show up here
            problems.append(f"open: {exc}")
            continue
        if held is not None:
            held.close()
        held = con
        t = con.execute("select min(v), max(v), count(*) from marts.t").fetchone()
        u = con.execute("select max(v) from marts.u").fetchone()[0]
        if t[0] != t[1] or t[2] != t[1] * ROWS_PER_VERSION or u != t[1]:
            problems.append(f"inconsistent copy: t={t} u={u}")
        reads += 1
        time.sleep(0.01)
    if held is not None:
        held.close()
    results.put((reads, problems))


def _write_version(con, v: int) -> None:
    con.execute(
        f"create or replace table marts.t as select {v} as v, i from range({v * ROWS_PER_VERSION}) r(i)"
    )  # noqa: E501
    con.execute(f"create or replace table marts.u as select {v} as v")


def test_an_analyst_holding_the_copy_never_blocks_a_publish_nor_sees_half_of_one(settings):
    con = connect(settings)
    target = settings.storage.published_path
    _write_version(con, 1)
    publish_snapshot(con, target)
    ctx = mp.get_context("spawn")
    stop = settings.data_root / "stop"
    results = ctx.Queue()
    reader = ctx.Process(target=_analyst, args=(str(target), str(stop), results))
    reader.start()
    try:
        time.sleep(2)  # the analyst is connected and reading
        slowest = 0.0
        for v in range(2, 13):
            _write_version(con, v)
            started = time.perf_counter()
            publish_snapshot(con, target)  # would raise if the analyst's lock blocked it
            slowest = max(slowest, time.perf_counter() - started)
            time.sleep(0.2)
    finally:
        stop.touch()
        reads, problems = results.get(timeout=60)
        reader.join(timeout=30)
    con.close()
    assert reads > 20 and not problems, problems[:3]
    assert slowest < 10
    final = duckdb.connect(str(target), read_only=True)
    assert final.execute("select max(v), count(*) from marts.t").fetchone() == (
        12,
        12 * ROWS_PER_VERSION,
    )
    final.close()


def test_parquet_exports_match_the_copy_and_only_the_latest_stays(settings):
    con = connect(settings)
    target = settings.storage.published_path
    for v in (1, 2):
        _write_version(con, v)
        tables = publish_snapshot(con, target)
    con.close()
    exports = parquet_dir(target)
    assert exports.is_symlink()
    files = sorted(p.name for p in exports.iterdir())
    assert files == sorted(f"{t}.parquet" for t in tables)
    (n, v) = duckdb.sql(f"select count(*), max(v) from '{exports / 'marts.t.parquet'}'").fetchall()[
        0
    ]
    assert (n, v) == (2 * ROWS_PER_VERSION, 2)
    assert len(list(target.parent.glob("parquet-*"))) == 1  # the older export is gone
