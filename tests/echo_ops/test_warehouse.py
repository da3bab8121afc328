from __future__ import annotations

from datetime import date, datetime

import duckdb
import pytest

from echo_ops.config import get_settings
from echo_ops.warehouse import (
    LAYERS,
    connect,
    log_run,
    publish_snapshot,
    replace_partition,
    run_sql_file,
    sql_path,
    table_exists,
)


def test_connect_creates_layers_and_ops_tables(settings):
    con = connect(get_settings())
    schemas = {
        r[0] for r in con.execute("select schema_name from information_schema.schemata").fetchall()
    }
    assert set(LAYERS) <= schemas
    for table in ("ops.run_log", "ops.quarantine", "ops.manifest", "ops.dq_results"):
        assert table_exists(con, table)
    con.close()
    connect(get_settings()).close()  # a second open reuses what exists


def test_replace_partition_is_idempotent_and_touches_one_day(settings):
    con = connect(get_settings())
    con.execute("create table staging.t (ds date, v int)")
    con.execute("insert into staging.t values ('2026-11-01', 1)")
    select = "select $ds::date as ds, range::int as v from range(3)"
    for _ in range(2):
        assert replace_partition(con, "staging.t", select, date(2026, 11, 2)) == 3
    rows = con.execute("select ds, count(*) from staging.t group by 1 order by 1").fetchall()
    assert rows == [(date(2026, 11, 1), 1), (date(2026, 11, 2), 3)]


def test_replace_partition_rolls_back_on_error(settings):
    con = connect(get_settings())
    con.execute("create table staging.t (ds date, v int)")
    con.execute("insert into staging.t values ('2026-11-02', 1)")
    with pytest.raises(duckdb.Error):
        replace_partition(
            con, "staging.t", "select $ds::date, 'not a number'::int", date(2026, 11, 2)
        )
    assert con.execute("select count(*) from staging.t").fetchone() == (1,)


def test_publish_is_a_readable_copy_of_the_marts_and_registry_only(settings, tmp_path):
    con = connect(get_settings())
    for table in ("raw.secret_stuff", "staging.code_text", "training.targets", "ops.bad_lines"):
        con.execute(f"create table {table} as select 'AKIAIOSFODNN7EXAMPLE' as x")
    con.execute("create table marts.fct_x as select 42 as answer")
    con.execute("create table registry.m as select 'base' as model_id")
    log_run(con, "test", date(2026, 11, 2), datetime(2026, 11, 2), "success", {"rows": 1})
    target = tmp_path / "pub" / "analyst.duckdb"
    published = publish_snapshot(con, target)
    assert published["marts.fct_x"] == 1 and published["registry.m"] == 1
    assert {t.split(".")[0] for t in published} == {"marts", "registry"}
    reader = duckdb.connect(str(target), read_only=True)
    assert reader.execute("select answer from marts.fct_x").fetchone() == (42,)
    schemas = {r[0] for r in reader.execute("select schema_name from duckdb_schemas()").fetchall()}
    assert not schemas & {"raw", "staging", "training", "ops"}
    reader.close()
    assert b"AKIAIOSFODNN7EXAMPLE" not in target.read_bytes()
    # Publishing again while nobody reads replaces the file atomically.
    con.execute("insert into marts.fct_x values (43)")
    assert publish_snapshot(con, target)["marts.fct_x"] == 2
    assert not list(target.parent.glob("*.tmp"))


def test_sql_lookup_errors_name_the_file(settings):
    with pytest.raises(FileNotFoundError, match="no_such_model.sql"):
        sql_path("no_such_model")
    con = duckdb.connect()
    run_sql_file(con, "ddl/schemas")
    assert table_exists(con, "ops.run_log") is False
