"""Staging and intermediate models from literal raw rows, compared with literal expected rows."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import pytest

from echo_ops.warehouse import read_sql
from tests.kit import given, rows, warehouse

D1, D2 = date(2026, 11, 1), date(2026, 11, 2)
T = datetime(2026, 11, 2, 9, 0)


def _client(ds, event_id, type_, at, completion_id=None, request_id=None, payload=None, **kw):
    return {"ds": ds, "event_id": event_id, "type": type_, "ts": at, "user_id": "u1",
            "session_id": "s1", "doc_uri": "file:///a.py", "doc_version": kw.pop("version", 3),
            "language_id": "python", "position_encoding": "utf-16", "completion_id": completion_id,
            "request_id": request_id, "object_key": f"client/ds={ds}/p.jsonl", "line_no": 1,
            "payload": json.dumps(payload) if payload else None, **kw}  # fmt: skip


def _server(ds, request_id, completion="x = 1", at=T):
    return {"ds": ds, "request_id": request_id, "ts": at, "model_version": "m1",
            "prompt_prefix": "pre", "prompt_suffix": "suf", "completion": completion,
            "latency_ms": 12.5, "object_key": f"server/ds={ds}/p.jsonl", "line_no": 1}  # fmt: skip


SHOWN = {"position": {"line": 4, "character": 2},
         "items": [{"insert_text": "x = 1", "range": {"start": {"line": 4, "character": 2}}}]}  # fmt: skip


@pytest.fixture
def con():
    return warehouse()


def test_stg_model_server__completions_renames_and_types(con):
    given(con, "raw.server_events", [_server(D2, "r1")])
    assert rows(con, "select * from staging.stg_model_server__completions") == [
        {
            "ds": D2,
            "request_id": "r1",
            "requested_at": T,
            "model_version": "m1",
            "prompt_prefix": "pre",
            "prompt_suffix": "suf",
            "completion_text": "x = 1",
            "latency_ms": 12.5,
        }  # fmt: skip
    ]


def test_stg_telemetry__editor_events_renames_and_keeps_the_flattened_change(con):
    given(con, "raw.client_events", [_client(D2, "e1", "document.changed", T, change_count=1,
                                             change_start_line=0, change_text="a")])  # fmt: skip
    (row,) = rows(con, "select * from staging.stg_telemetry__editor_events")
    assert (row["event_type"], row["event_at"], row["doc_version"]) == ("document.changed", T, 3)
    assert (row["change_count"], row["change_start_line"], row["change_text"]) == (1, 0, "a")
    assert "type" not in row and "object_key" not in row


def _aligned(con, ds, lookback=2):
    sql = read_sql("int_completions_aligned_to_events")
    params = {"ds": ds, "lo": ds - timedelta(days=2 * lookback),
              "shown_lo": ds - timedelta(days=lookback)}  # fmt: skip
    return rows(con, f"select * from ({sql}) order by completion_id", params)


def test_int_completions_aligned_to_events_joins_decision_and_server(con):
    given(con, "raw.client_events", [
        _client(D2, "e1", "completion.shown", T, "c1", "r1", SHOWN),
        _client(D2, "e2", "completion.accepted", T + timedelta(seconds=2), "c1", version=4,
                payload={"accepted_text": "x = 1", "accept_kind": "full"}),
        _client(D2, "e3", "completion.shown", T, "c2", "r2", SHOWN),
        _client(D2, "e4", "completion.rejected", T + timedelta(seconds=3), "c2",
                payload={"reason": "dismissed"}),
    ])  # fmt: skip
    given(con, "raw.server_events", [_server(D2, "r1"), _server(D1, "r2", completion="y")])
    c1, c2 = _aligned(con, D2)
    assert {k: c1[k] for k in ("ds", "completion_id", "request_id", "shown_ds", "shown_line",
                               "shown_character", "proposal_text", "accepted_doc_version",
                               "accepted_text", "accept_kind", "decision_ds", "server_ds",
                               "has_server", "server_matches_proposal")} == {
        "ds": D2, "completion_id": "c1", "request_id": "r1", "shown_ds": D2, "shown_line": 4,
        "shown_character": 2, "proposal_text": "x = 1", "accepted_doc_version": 4,
        "accepted_text": "x = 1", "accept_kind": "full", "decision_ds": D2, "server_ds": D2,
        "has_server": True, "server_matches_proposal": True,
    }  # fmt: skip
    # the server line landed a day earlier and says something else than the editor showed
    assert (c2["rejected_reason"], c2["server_ds"], c2["server_matches_proposal"]) == (
        "dismissed", D1, False,
    )  # fmt: skip


def test_int_completions_aligned_to_events_keeps_the_first_copy_and_the_window(con):
    old = D2 - timedelta(days=3)  # shown before the window's shown_lo: not a candidate
    given(con, "raw.client_events", [
        _client(D1, "e1", "completion.shown", T - timedelta(days=1), "c1", "r1", SHOWN),
        _client(D2, "e1", "completion.shown", T - timedelta(days=1), "c1", "r1", SHOWN),
        _client(old, "e9", "completion.shown", T - timedelta(days=3), "c9", "r9", SHOWN),
    ])  # fmt: skip
    (c1,) = _aligned(con, D2)
    assert (c1["completion_id"], c1["shown_ds"], c1["has_server"]) == ("c1", D1, False)
