"""Tabby's event log -> v1 events: one test per quirk of the format."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from echo_ops.adapters import tabby
from echo_ops.contract import first_error

EVENTS = Path(__file__).resolve().parents[2] / "fixtures" / "imports" / "tabby" / "events"
T0 = 1793620800000  # 2026-11-02T12:00:00Z


def ev(ms, kind, body, user="dev@example.invalid") -> str:
    line = {"ts": T0 + ms, "event": {kind: body}}
    if user != "omit":
        line["user"] = user
    return json.dumps(line)


def completion(cid="cmpl-a", text="return 1\nprint(2)", **extra):
    return {"completion_id": cid, "language": "python", "prompt": "p",
            "segments": {"prefix": "def f():\n    ", "suffix": "\n", "filepath": "src/f.py"},
            "choices": [{"index": 0, "text": text}], **extra}  # fmt: skip


def ref(cid="cmpl-a", **extra):
    return {"completion_id": cid, "choice_index": 0, **extra}


def types(conv):
    return [e.get("type", "server") for _, _, e in conv.events]


def test_the_fixture_days_obey_the_v1_contract():
    day1 = (EVENTS / "2026-11-02.json").read_text().splitlines()
    day2 = (EVENTS / "2026-11-03.json").read_text().splitlines()
    for conv in (tabby.convert(day1, "2026-11-02.json", "k"),
                 tabby.convert(day2, "2026-11-03.json", "k", context=day1)):  # fmt: skip
        assert conv.events
        for stream, _, event in conv.events:
            assert first_error(event, stream) is None, event
            assert event["import"]["source"] == "tabby" and event["import"]["adapter_version"]


def test_view_select_dismiss_link_by_completion_id():
    conv = tabby.convert(
        [ev(0, "completion", completion()), ev(100, "view", ref()), ev(900, "select", ref())], "d"
    )
    assert types(conv) == ["server", "completion.shown", "completion.accepted"]
    accepted = conv.events[-1][2]
    assert accepted["accepted_text"] == "return 1\nprint(2)" and accepted["accept_kind"] == "full"


def test_a_dismiss_is_kept_but_flagged_as_possibly_superseded():
    conv = tabby.convert(
        [ev(0, "completion", completion()), ev(100, "view", ref()), ev(900, "dismiss", ref())], "d"
    )
    rejected = conv.events[-1][2]
    assert rejected["type"] == "completion.rejected" and rejected["may_be_superseded"] is True


def test_a_dismiss_of_a_completion_never_viewed_is_a_superseded_request_counted_not_shown():
    conv = tabby.convert([ev(0, "completion", completion()), ev(50, "dismiss", ref())], "d")
    assert types(conv) == ["server"] and conv.counts["dismiss_without_view"] == 1


def test_select_kind_line_is_a_partial_accept():
    conv = tabby.convert(
        [ev(0, "completion", completion()), ev(100, "view", ref()),
         ev(900, "select", ref(kind="line"))], "d",
    )  # fmt: skip
    accepted = conv.events[-1][2]
    assert accepted["accept_kind"] == "line" and accepted["accepted_text"] == "return 1\n"
    assert accepted["accepted_text_inferred"] is True


def test_optional_fields_may_be_omitted_and_user_may_be_null():
    bare = {"completion_id": "cmpl-b", "language": "rust", "prompt": "fn main() {",
            "choices": [{"index": 0, "text": "}"}]}  # fmt: skip
    conv = tabby.convert(
        [ev(0, "completion", bare, user=None), ev(10, "view", {"completion_id": "cmpl-b",
         "choice_index": 0}, user="omit")], "d",
    )  # fmt: skip
    assert not conv.bad
    shown = conv.events[-1][2]
    assert (
        shown["user_id"] == "tabby:anonymous" and shown["doc"]["uri"] == "tabby:completion/cmpl-b"
    )
    assert conv.events[0][2]["prompt"] == {"prefix": "fn main() {", "suffix": ""}
    assert conv.events[0][2]["latency_unknown"] is True


def test_a_view_in_the_next_days_file_links_to_the_previous_days_completion():
    day1 = (EVENTS / "2026-11-02.json").read_text().splitlines()
    day2 = (EVENTS / "2026-11-03.json").read_text().splitlines()
    alone = tabby.convert(day2, "2026-11-03.json", "k")
    assert any(b.reason.startswith("orphan_view") for b in alone.bad)
    linked = tabby.convert(day2, "2026-11-03.json", "k", context=day1)
    assert not linked.bad
    shown = [(d, e) for _, d, e in linked.events if e.get("completion_id") == "cmpl-5"]
    assert [e["type"] for _, e in shown] == ["completion.shown", "completion.accepted"]
    assert {d for d, _ in shown} == {date(2026, 11, 3)}
    assert shown[0][1]["items"][0]["insert_text"] == "return a ** b"
    # the context's own events are emitted when its own file is imported, not here
    assert not [e for _, _, e in linked.events if e.get("request_id") == "tabby:cmpl-1"]


def test_chat_completions_are_skipped_with_a_count():
    chat = {"completion_id": "chat-1", "input_messages": [], "output_message": {}}
    conv = tabby.convert([ev(0, "chat_completion", chat)], "d")
    assert conv.events == [] and conv.counts["chat_completion_skipped"] == 1 and not conv.bad


def test_impossible_sequences_and_bad_lines_are_quarantined_with_line_and_reason():
    conv = tabby.convert(
        [ev(0, "completion", completion()),
         ev(10, "select", ref()),  # no view before it
         ev(20, "view", ref("cmpl-zzz")),  # no completion anywhere
         ev(-50, "view", ref()),  # before its completion
         "nope",
         ev(30, "teleport", ref()),
         json.dumps({"ts": "2026-11-02", "event": {"view": ref()}}),
         ev(40, "view", {"completion_id": "cmpl-a", "choice_index": 3}),
         ev(50, "completion", completion(text="other"))],
        "d",
    )  # fmt: skip
    reasons = {b.line_no: b.reason.split(":")[0] for b in conv.bad}
    assert reasons == {2: "impossible_sequence", 3: "orphan_view", 4: "impossible_sequence",
                       5: "invalid_json", 6: "unknown_event_kind", 7: "bad_timestamp",
                       8: "unknown_choice", 9: "conflict"}  # fmt: skip


def test_repeat_views_give_one_shown_completion():
    conv = tabby.convert(
        [ev(0, "completion", completion()), ev(10, "view", ref(view_id="1")),
         ev(3000, "view", ref(view_id="2"))], "d",
    )  # fmt: skip
    assert types(conv).count("completion.shown") == 1 and conv.counts["repeat_views"] == 1
