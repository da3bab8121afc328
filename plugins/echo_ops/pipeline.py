"""The daily pipeline as one function per `echo_daily` task.

Each takes the day (`YYYY-MM-DD`, as Airflow passes it between tasks), opens the
warehouse for the length of its stage, calls that stage, and returns a small dict
of counts for the Airflow UI. The CLI and the DAG call the same functions.
"""

from __future__ import annotations

from datetime import date

from echo_ops.config import get_settings


def open_warehouse():
    # DAG files import this module: duckdb loads only when a task runs.
    from echo_ops.warehouse import open_warehouse as _open

    return _open()


def data_errors() -> tuple[type[Exception], ...]:
    """Deterministic data errors: retrying cannot fix them, so tasks fail at once."""
    from echo_ops.accounting import AccountingError
    from echo_ops.adapters.importer import ImportInputError
    from echo_ops.datasets import TrainingDataError
    from echo_ops.extract import ExtractError
    from echo_ops.ingest import IngestError
    from echo_ops.quality import DataQualityError

    return (
        IngestError,
        ExtractError,
        AccountingError,
        TrainingDataError,
        DataQualityError,
        ImportInputError,
    )


def init_warehouse(day: str) -> dict:
    """Create the warehouse file, its layers and ops tables if missing."""
    from echo_ops.warehouse import LAYERS

    with open_warehouse():
        return {"day": day, "layers": len(LAYERS)}


def import_assistant_logs(day: str) -> dict:
    """Continue / Tabby logs in the landing zone -> v1 events (when `imports.sources` names them)."""
    settings = get_settings()
    if not settings.imports.sources:
        return {"day": day, "sources": []}
    from echo_ops.adapters.importer import import_landing

    with open_warehouse() as con:
        return {"day": day, **import_landing(con, settings)}


def ingest(day: str) -> dict:
    from echo_ops.ingest import ingest_day

    with open_warehouse() as con:
        return {"day": day, **ingest_day(con, date.fromisoformat(day)).counts()}


def align(day: str) -> dict:
    from echo_ops.align import align_day

    with open_warehouse() as con:
        return {"day": day, **align_day(con, date.fromisoformat(day)).counts()}


def extract(day: str) -> dict:
    from echo_ops.extract import extract_day

    with open_warehouse() as con:
        return {"day": day, **extract_day(con, date.fromisoformat(day)).counts()}


def validate(suite: str, day: str) -> dict:
    from echo_ops.quality import validate_day

    return validate_day(suite, day)


def build_training_examples(day: str) -> dict:
    from echo_ops.datasets import build_training_examples as build

    with open_warehouse() as con:
        return {"day": day, **build(con, date.fromisoformat(day))}


def refresh_marts(day: str) -> dict:
    from echo_ops.marts import refresh_marts as refresh

    with open_warehouse() as con:
        return {"day": day, **refresh(con, date.fromisoformat(day))}


def publish_snapshot(day: str) -> dict:
    from echo_ops.warehouse import publish_snapshot as publish

    with open_warehouse() as con:
        tables = publish(con, get_settings().storage.published_path)
    return {"day": day, "tables": len(tables), "rows": sum(tables.values())}
