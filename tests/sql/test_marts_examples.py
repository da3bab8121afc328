"""Every example query in docs/marts.md runs on a published copy and answers."""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from echo_ops.marts import refresh_marts
from echo_ops.warehouse import publish_snapshot
from tests.kit import given
from tests.sql.test_marts import DAY, con  # noqa: F401  (the literal marts fixture)

DOC = Path(__file__).resolve().parents[2] / "docs" / "marts.md"
QUERIES = re.findall(r"```sql\n(.*?)```", DOC.read_text(), re.S)


def test_the_catalogue_has_ten_questions():
    assert len(QUERIES) == 10


@pytest.fixture
def published(con, tmp_path):  # noqa: F811
    given(con, "ops.quarantine", [(DAY, "ingest", "bad json")], columns=("ds", "stage", "reason"))
    given(con, "ops.extract_accounting", [(DAY, 4, 3, 1, 0, 0)],
          columns=("ds", "shown", "extracted", "deferred", "quarantined", "unaccounted"))  # fmt: skip
    given(con, "ops.dq_results", [("r1", DAY, "raw_client", "volume", False, datetime(2026, 11, 2))],
          columns=("run_id", "ds", "suite", "expectation", "success", "checked_at"))  # fmt: skip
    online = {"online": {"acceptance": {"diff": 0.03, "diff_ci": [0.01, 0.05]}}}
    given(con, "registry.models", [("ft1", "champion", "base", "/m", "fine_tune", json.dumps(online))],
          columns=("model_id", "status", "parent_id", "artifact_uri", "kind", "metrics_json"))  # fmt: skip
    refresh_marts(con, date(2026, 11, 1))
    refresh_marts(con, DAY)
    path = tmp_path / "echo_analyst.duckdb"
    publish_snapshot(con, path)
    reader = duckdb.connect(str(path), read_only=True)
    yield reader
    reader.close()


@pytest.mark.parametrize("n", range(10))
def test_each_example_query_answers_on_the_published_copy(published, n):
    rows = published.execute(QUERIES[n]).fetchall()
    assert rows, f"docs/marts.md question {n + 1} returned nothing:\n{QUERIES[n]}"
