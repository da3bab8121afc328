import logging

import pytest

from echo_ops.logs import format_fields, stage_run


def test_stage_run_logs_inputs_counts_and_duration(caplog):
    caplog.set_level(logging.INFO, logger="echo")
    with stage_run("ingest", day="2026-11-02", source="s3://b/landing") as counts:
        counts.update(rows_in=10, rows_out=9)
    start, done = [r.getMessage() for r in caplog.records if r.name == "echo.ingest"]
    assert start == "start day=2026-11-02 source=s3://b/landing"
    assert done.startswith(
        "done day=2026-11-02 source=s3://b/landing rows_in=10 rows_out=9 seconds="
    )


def test_stage_run_logs_failure_with_partial_counts(caplog):
    caplog.set_level(logging.INFO, logger="echo")
    with pytest.raises(RuntimeError):
        with stage_run("extract", day="d") as counts:
            counts["rows_in"] = 3
            raise RuntimeError("boom")
    failed = [r for r in caplog.records if r.levelno == logging.ERROR][0].getMessage()
    assert "rows_in=3" in failed and "boom" in failed


def test_values_with_spaces_are_quoted():
    assert format_fields(a="x y", b="", c=1.23456) == 'a="x y" b="" c=1.235'
