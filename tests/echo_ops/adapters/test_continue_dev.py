"""Continue's autocomplete log -> v1 events: one test per quirk of the format."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from echo_ops.adapters import continue_dev
from echo_ops.contract import first_error

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "imports" / "continue"
TOKEN = "ctok-SECRET-alice-9f2c"  # the userId in the 0.2.0 fixture: a credential


def line(cid="c1", ts="2026-11-02T09:00:00.000Z", accepted=True, **extra) -> str:
    rec = {
        "eventName": "autocomplete", "schema": "0.2.0", "timestamp": ts, "userId": TOKEN,
        "prefix": "# Path: a.py\n# snippet\n\ndef f():\n    ", "suffix": "\n", "prompt": "...",
        "completion": "return 1", "modelProvider": "ollama", "modelName": "qwen",
        "filepath": "file:///home/a/a.py", "completionId": cid, "time": 120,
    }  # fmt: skip
    if accepted is not None:
        rec["accepted"] = accepted
    rec.update(extra)
    return json.dumps(rec)


def by_type(conv, kind):
    return [e for s, _, e in conv.events if e.get("type", "server") == kind]


def test_every_event_obeys_the_v1_contract_and_says_where_it_came_from():
    conv = continue_dev.convert(
        (FIXTURES / "alice/dev_data/0.2.0/autocomplete.jsonl").read_text().splitlines(),
        "autocomplete.jsonl", "key", "0.2.0",
    )  # fmt: skip
    assert conv.events
    for stream, _, event in conv.events:
        assert first_error(event, stream) is None, event
        assert event["import"]["source"] == "continue"
        assert event["import"]["adapter_version"] == "1"
        assert event["import"]["source_schema"] == "0.2.0"
        assert event["import"]["file"] == "autocomplete.jsonl" and event["import"]["line"] >= 1


def test_a_late_accept_keeps_both_lines_and_the_accept_is_later():
    conv = continue_dev.convert(
        [line(accepted=False), line(ts="2026-11-02T09:00:25.000Z", accepted=True)], "f", "k"
    )
    (rejected,) = by_type(conv, "completion.rejected")
    (accepted,) = by_type(conv, "completion.accepted")
    assert accepted["ts"] > rejected["ts"]  # the warehouse lets the later outcome win
    assert conv.counts["late_accepts"] == 1 and not conv.bad
    assert len(by_type(conv, "completion.shown")) == 1


def test_an_accept_then_a_rejection_is_impossible_and_quarantined():
    conv = continue_dev.convert(
        [line(accepted=True), line(ts="2026-11-02T09:00:20.000Z", accepted=False)], "f", "k"
    )
    assert [b.line_no for b in conv.bad] == [2]
    assert conv.bad[0].reason.startswith("impossible_sequence")
    assert not by_type(conv, "completion.rejected")


def test_iso_and_epoch_millisecond_timestamps_give_the_same_instant():
    iso = continue_dev.convert([line(ts="2026-11-02T09:00:00.000Z")], "f", "k")
    ms = continue_dev.convert(
        [line(ts=1793610000000), line(cid="c2", ts="1793610000000")], "f", "k"
    )
    assert not ms.bad
    assert {e["ts"] for e in by_type(ms, "completion.shown")} == {
        by_type(iso, "completion.shown")[0]["ts"]
    }


def test_events_go_to_the_day_partition_they_belong_to():
    conv = continue_dev.convert(
        [line("a", "2026-11-02T23:59:59.000Z"), line("b", "2026-11-03T00:00:01.000Z")], "f", "k"
    )
    days = {e["completion_id"]: d for _, d, e in conv.events if "completion_id" in e}
    assert days == {"a": date(2026, 11, 2), "b": date(2026, 11, 3)}


@pytest.mark.parametrize(
    ("layout", "path"),
    [("0.2.0", "alice/dev_data/0.2.0/autocomplete.jsonl"),
     ("0.1.0", "bob/dev_data/0.1.0/autocomplete.jsonl"),
     ("unversioned", "carol/dev_data/autocomplete.jsonl")],
)  # fmt: skip
def test_the_three_layouts_are_read(layout, path):
    assert continue_dev.layout_of(str(FIXTURES / path)) == layout
    lines = (FIXTURES / path).read_text().splitlines()
    conv = continue_dev.convert(lines, "autocomplete.jsonl", "k", layout)
    shown = by_type(conv, "completion.shown")
    assert shown and {e["client"]["version"] for e in shown} == {layout}
    assert all(e["doc"]["uri"].startswith("file:///") for e in shown)  # plain paths become URIs


def test_unknown_schema_versions_and_broken_lines_are_quarantined_with_line_and_reason():
    conv = continue_dev.convert(
        [line("ok"), line("new", schema="0.3.0"), '{"completionId": "x", "timest', "[1, 2]",
         line("nots", eventName="chatInteraction"), line("nofile", filepath=None)],
        "f", "k",
    )  # fmt: skip
    reasons = {b.line_no: b.reason.split(":")[0] for b in conv.bad}
    assert reasons == {2: "unknown_schema_version", 3: "invalid_json", 4: "not_an_object",
                       5: "not_autocomplete", 6: "missing_field"}  # fmt: skip
    assert len(by_type(conv, "completion.shown")) == 1


def test_the_user_token_is_never_stored_raw():
    refused = continue_dev.convert([line(schema="9.9.9")], "f", "a-key")
    assert TOKEN not in refused.bad[0].raw and '"userId": "<removed>"' in refused.bad[0].raw
    keyed = continue_dev.convert([line()], "f", "a-key")
    unkeyed = continue_dev.convert([line()], "f", "")
    for conv in (keyed, unkeyed):
        assert TOKEN not in json.dumps([e for *_, e in conv.events])
    assert by_type(keyed, "completion.shown")[0]["user_id"].startswith("continue:u-")
    assert by_type(unkeyed, "completion.shown")[0]["user_id"] == "continue:unkeyed"
    other_key = continue_dev.convert([line()], "f", "b-key")
    assert (
        by_type(keyed, "completion.shown")[0]["user_id"]
        != by_type(other_key, "completion.shown")[0]["user_id"]
    )


def test_the_prompt_is_the_models_not_the_document():
    conv = continue_dev.convert([line()], "f", "k")
    (request,) = [e for s, _, e in conv.events if s == "server"]
    assert request["prompt"]["prefix"].startswith("# Path: a.py\n# snippet")  # snippets as sent
    (shown,) = by_type(conv, "completion.shown")
    assert shown["position"] == {"line": 4, "character": 4}  # a position in that prompt
    assert request["model_version"] == "continue:ollama/qwen" and request["latency_ms"] == 120


def test_a_line_delivered_twice_counts_once():
    conv = continue_dev.convert([line(accepted=False), line(accepted=False)], "f", "k")
    assert conv.counts["duplicate_lines"] == 1 and not conv.bad
    assert len(by_type(conv, "completion.rejected")) == 1


def test_a_missing_accepted_field_is_not_an_accept_and_is_counted():
    conv = continue_dev.convert([line(accepted=None)], "f", "k")
    assert by_type(conv, "completion.rejected") and not by_type(conv, "completion.accepted")
    assert conv.counts["accepted_field_missing"] == 1


def test_later_0_2_0_field_names_are_read():
    rec = json.loads(line())
    rec["schemaVersion"] = rec.pop("schema")
    rec["createdAt"] = rec.pop("timestamp")
    conv = continue_dev.convert([json.dumps(rec)], "f", "k")
    assert not conv.bad and by_type(conv, "completion.shown")[0]["client"]["version"] == "0.2.0"
