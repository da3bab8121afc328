"""Structured stage logging: every stage logs its inputs and its row counts in and out.

Lines are `key=value` pairs after a fixed `echo.<stage>` prefix, so they read well in
the Airflow task log and grep well in aggregated logs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def get_logger(stage: str) -> logging.Logger:
    return logging.getLogger(f"echo.{stage}")


def format_fields(**fields: Any) -> str:
    return " ".join(f"{k}={_fmt(v)}" for k, v in fields.items())


def _fmt(value: Any) -> str:
    text = f"{value:.3f}" if isinstance(value, float) else str(value)
    return f'"{text}"' if (" " in text or not text) else text


@contextmanager
def stage_run(stage: str, **inputs: Any) -> Iterator[dict[str, Any]]:
    """Log a stage's start with its inputs, then its counts and duration when it ends.

    The caller fills the yielded dict with counts (rows_in, rows_out, ...); it is logged
    on success and, with the error, on failure.
    """
    log = get_logger(stage)
    counts: dict[str, Any] = {}
    log.info("start %s", format_fields(**inputs))
    started = time.perf_counter()
    try:
        yield counts
    except Exception as exc:
        log.error("failed %s error=%r", format_fields(**inputs, **counts), exc)
        raise
    log.info("done %s", format_fields(**inputs, **counts, seconds=time.perf_counter() - started))


def configure_cli_logging(level: str = "INFO") -> None:
    """Plain stderr logging for the CLI; Airflow configures its own handlers for tasks."""
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        datefmt="%H:%M:%S",
    )
