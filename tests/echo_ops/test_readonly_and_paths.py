"""Read-only CLI verbs open the warehouse read-only and say clearly when it is missing or
held; lock errors tell on-call what to do; a data root with an apostrophe works."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest
from eventkit import Kit

from echo_ops.cli import main
from echo_ops.config import reset_settings_cache
from echo_ops.warehouse import WarehouseLocked, connect


def test_models_list_on_a_missing_warehouse_says_so_and_creates_nothing(settings, capsys):
    assert main(["models", "list", "--json"]) == 1
    err = capsys.readouterr().err
    assert "no warehouse at" in err and "echo-ops init" in err
    assert not settings.storage.warehouse_path.exists()  # was: created a file to list nothing


@pytest.mark.parametrize(
    "argv",
    [["models", "show", "m1"], ["score", "--ds", "2026-11-02", "--read-only"],
     ["flywheel-table"]],
    ids=["models-show", "score", "flywheel-table"],
)  # fmt: skip
def test_read_only_verbs_on_a_missing_warehouse_fail_clearly(settings, capsys, argv):
    if argv == ["flywheel-table"]:  # not a verb: the flywheel's closing table reads the marts
        from echo_ops.cli import _flywheel_table
        from echo_ops.warehouse import WarehouseMissing

        with pytest.raises(WarehouseMissing, match="no warehouse at"):
            _flywheel_table({"log": [], "base_model": "b"}, settings)
    else:
        assert main(argv) == 1
        assert "no warehouse at" in capsys.readouterr().err
    assert not settings.storage.warehouse_path.exists()


def test_models_list_reads_without_the_writers_lock(settings, capsys):
    connect(settings).close()  # a warehouse with no registry tables yet
    holder = subprocess.Popen(  # a reader holds the file: a read-write open would fail
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1], read_only=True);"
         "print('held', flush=True); time.sleep(60)", str(settings.storage.warehouse_path)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        assert main(["models", "list", "--json"]) == 0
        assert json.loads(capsys.readouterr().out) == []
    finally:
        holder.kill()
        holder.wait()


def _hold(path, mode: str, seconds: float) -> subprocess.Popen:
    """Another process with the file open (read-only or read-write) for `seconds`."""
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1], "
         f"read_only={mode == 'ro'}); print('held', flush=True); time.sleep({seconds}); c.close()",
         str(path)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_a_held_warehouse_tells_on_call_what_to_do(settings):
    connect(settings).close()
    holder = _hold(settings.storage.warehouse_path, "rw", 60)
    try:
        started = time.monotonic()
        with pytest.raises(WarehouseLocked) as err:
            connect(settings, lock_wait_s=1.0)
        assert time.monotonic() - started >= 1.0  # it waited before giving up
        message = str(err.value)
        assert "echo_duckdb pool" in message and "retry" in message and "after 1 s" in message
        assert "read-only mode" not in message  # DuckDB's own hint misleads on-call
        with pytest.raises(WarehouseLocked):  # readers meet a writer's lock too
            connect(settings, read_only=True, lock_wait_s=0)
    finally:
        holder.kill()
        holder.wait()


def test_a_writer_waits_out_a_brief_reader(settings):
    """A reader outside the writers' pool (fine_tune, evaluate) holds the file for seconds;
    a writer waits for it (storage.lock_wait_s) instead of failing."""
    connect(settings).close()
    holder = _hold(settings.storage.warehouse_path, "ro", 1.5)
    try:
        con = connect(settings, lock_wait_s=20)
        con.execute("create table ops.after_the_reader as select 1 as x")
        con.close()
    finally:
        holder.kill()
        holder.wait()


def test_a_data_root_with_an_apostrophe_ingests_and_publishes(tmp_path, monkeypatch):
    from echo_ops.ingest import ingest_day
    from echo_ops.warehouse import publish_snapshot

    root = tmp_path / "o'brien's data"
    monkeypatch.setenv("ECHO_DATA_ROOT", str(root))
    reset_settings_cache()
    from echo_ops.config import get_settings

    settings = get_settings()
    kit = Kit()
    d = kit.open("file:///a.py", "x = 1\n")
    d.show("c1", 6, "y = 2")
    d.accept("c1", 6, "y = 2")
    d.close()
    day = date(2026, 11, 20)
    kit.write(Path(settings.storage.landing_uri), day)
    con = connect(settings)
    result = ingest_day(con, day, settings)  # was: a parser error at the apostrophe
    assert result.loaded["client"] == len(kit.client)
    con.execute("create table marts.t as select 1 as x")
    tables = publish_snapshot(con, settings.storage.published_path)
    assert tables["marts.t"] == 1
    con.close()
