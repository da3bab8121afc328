"""The team's-code memory (echo_ops.memory): longest matches, the mix, and a served
proposal that takes a project's own identifiers from it."""

from __future__ import annotations

import json
import math
from datetime import date

import numpy as np
import pytest
import torch

from echo_ops.generate import ModelProposer
from echo_ops.memory import build_index, continuations, load_memory_texts, mix, team_memory
from tests.kit import warehouse


def test_the_longest_match_decides_what_follows():
    index = build_index([[1, 2, 3, 4, 9], [7, 2, 3, 4, 8], [2, 3, 4, 8]], min_match=3)
    # [2, 3, 4] occurs three times; with the 1 before it only once
    length, nxt = continuations(index, [1, 2, 3, 4], max_order=8)
    assert (length, sorted(nxt)) == (4, [9])
    length, nxt = continuations(index, [5, 2, 3, 4], max_order=8)
    assert (length, sorted(nxt)) == (3, [8, 8, 9])


def test_matches_never_cross_documents_or_run_off_their_end():
    index = build_index([[1, 2, 3], [4, 5, 6]], min_match=2)
    assert continuations(index, [3, 4], 8)[0] == 0  # 3 then 4 only across the boundary
    assert continuations(index, [5, 6], 8)[0] == 0  # the end of a document has no next token
    assert continuations(index, [9, 9], 8)[0] == 0
    assert list(continuations(index, [4, 5], 8)[1]) == [6]


def test_the_mix_moves_mass_to_what_followed_and_weight_zero_changes_nothing():
    logp = torch.log_softmax(torch.tensor([2.0, 1.0, 0.0, -1.0]), dim=-1)
    hits = [(3, np.array([3, 3, 2])), (2, np.array([0]))]  # the longer match wins
    mixed = mix(logp, hits, weight=0.5)
    assert math.isclose(float(mixed.exp().sum()), 1.0, rel_tol=1e-5)
    lam = 0.5 * 3 / 4
    assert math.isclose(float(mixed[3].exp()), (1 - lam) * float(logp[3].exp()) + lam * 2 / 3,
                        rel_tol=1e-5)  # fmt: skip
    assert float(mixed[0].exp()) < float(logp[0].exp())  # the shorter match pooled nothing
    assert torch.equal(mix(logp, hits, weight=0.0).exp(), logp.exp())
    assert torch.equal(mix(logp, [(0, np.zeros(0, np.int64))], weight=0.5), logp)


TEAM_CODE = (
    "def total(rows):\n"
    "    widget_count = frobnicate_widget_total(rows, strict=True)\n"
    "    return widget_count\n"
)


def test_a_served_proposal_takes_the_teams_identifier_from_the_memory(tiny_base):
    prefix, suffix = "def other(rows):\n    widget_count = frob", "\n"
    plain = ModelProposer(tiny_base, "cpu", max_new_tokens=48)
    text, _ = plain.propose(prefix, suffix)
    assert not text.startswith("nicate_widget_total(")  # the tiny network cannot know it
    memory = team_memory([TEAM_CODE] * 3, plain.tokenizer)
    recalled = ModelProposer(tiny_base, "cpu", max_new_tokens=48, memory=memory,
                             memory_weight=0.9)  # fmt: skip
    text, logprobs = recalled.propose(prefix, suffix)
    assert text == "nicate_widget_total(rows, strict=True)"
    assert len(logprobs) >= 1 and all(lp <= 0 for lp in logprobs)
    off = ModelProposer(tiny_base, "cpu", max_new_tokens=48, memory=memory, memory_weight=0.0)
    assert off.propose(prefix, suffix) == plain.propose(prefix, suffix)


def test_the_memory_holds_each_document_as_last_opened_before_the_day():
    con = warehouse()
    cols = "ds, event_id, type, ts, user_id, session_id, doc_uri, position_encoding, object_key, line_no, payload"  # noqa: E501

    def opened(ds, eid, uri, text, hour=9):
        return (ds, eid, "document.opened", f"{ds} {hour:02d}:00:00", "u", "s", uri, "utf-16",
                "k", 1, json.dumps({"text": text}))  # fmt: skip

    rows = [
        opened(date(2026, 11, 2), "a1", "file:///a.py", "old a"),
        opened(date(2026, 11, 3), "a2", "file:///a.py", "newer a"),
        opened(date(2026, 11, 3), "b1", "file:///b.py", "b"),
        opened(date(2026, 11, 4), "a3", "file:///a.py", "typed on the serving day"),
    ]
    con.execute(f"insert into raw.client_events ({cols}) values "
                + ", ".join(["(" + ", ".join(["?"] * 11) + ")"] * len(rows)),
                [v for r in rows for v in r])  # fmt: skip
    assert load_memory_texts(con, date(2026, 11, 4)) == ["newer a", "b"]
    assert load_memory_texts(con, date(2026, 11, 3)) == ["old a"]
    assert load_memory_texts(con, date(2026, 11, 2)) == []


@pytest.fixture(autouse=True)
def _quiet_threads():
    torch.set_num_threads(1)
