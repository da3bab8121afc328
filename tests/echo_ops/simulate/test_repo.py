"""The flywheel's deployment: one growing codebase, arms by user, the arm in the server log."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path

import pytest
from simkit import good_events

from echo_ops.config import Settings
from echo_ops.corpus import default_corpus
from echo_ops.simulate.repo import day_document, plan_repo
from echo_ops.simulate.run import assign_arms, simulate_days

DAYS = 4


@pytest.fixture(scope="module")
def plan():
    return plan_repo(default_corpus("deploy"), 7, DAYS)


def test_days_revisit_files_and_new_files_appear(plan):
    appear = [f.appear_day for f in plan.files]
    assert appear.count(0) >= len(appear) // 3 and max(appear) > 0
    revisited = [f for f in plan.files if len({d for *_, d in f.blocks}) > 1]
    assert len(revisited) > len(plan.files) // 2
    work = plan.work(2, 3)
    assert sum(len(v) for v in work.values()) > 0
    assert all(f.appear_day <= 2 for fs in work.values() for f in fs)


def test_no_line_is_typed_twice_in_one_file(plan):
    """A line's text is written on one day at most in its file (copies are scaffold), so no
    line typed on a later day was a training target there before."""
    for f in plan.files:
        written_on: dict[str, int] = {}
        for h, c, day in f.blocks:
            for line in f.lines[h : h + c]:
                text = line.strip()
                if text:
                    assert written_on.setdefault(text, day) == day, (f.relpath, text)
                    written_on[text] = day


def test_a_day_opens_the_file_as_it_is_then(plan):
    import random

    f = next(f for f in plan.files if len({d for *_, d in f.blocks}) > 2)
    days = sorted({d for *_, d in f.blocks})
    first, later = days[0], days[-1]
    doc = day_document(f, first, random.Random(0), 0.0, 0.0, None, "python")
    assert later > first
    future = sum(c for _, c, d in f.blocks if d > first)
    assert len(doc.lines) == len(f.lines) - future  # later blocks do not exist yet
    today = [ln for h, c, d in f.blocks if d == first for ln in f.lines[h : h + c]]
    assert [ln for h, c in doc.holes for ln in doc.lines[h : h + c]] == today


def test_arms_are_stable_by_user_and_logged_by_the_server(tmp_path):
    settings = Settings(data_root=tmp_path)
    landing = str(tmp_path / "landing")
    arms = {"control": ("fast-oracle-v1", None), "treatment": ("fast-oracle-v1", None)}
    simulate_days(date(2026, 11, 2), 2, users=4, proposer="fast", landing_uri=landing,
                  workers=1, settings=settings, arms=arms, control_share=0.5, repo_day=0,
                  repo_days=2)  # fmt: skip
    server, _ = good_events(landing, "server")
    by_user = defaultdict(set)
    for e in server:
        by_user[e["user_id"]].add(e["arm"])
    assert len(by_user) == 4 and all(len(a) == 1 for a in by_user.values())
    assigned = assign_arms(sorted(by_user), 0.5)
    assert all(assigned[u] in a for u, a in by_user.items())
    assert sorted(assigned.values()) == ["control"] * 2 + ["treatment"] * 2
    # the repo: each person's files of the day come from the plan, under one codebase
    docs = [
        json.loads(line)
        for d in range(2)
        for line in (
            tmp_path / "truth" / f"ds={date(2026, 11, 2) + timedelta(days=d)}" / "documents.jsonl"
        )
        .read_text()
        .splitlines()
    ]
    plan = plan_repo(default_corpus("deploy"), 7, 2)
    planned = {f.relpath for f in plan.files}
    assert docs and all(
        Path(d["doc_uri"]).as_posix().split("/rich/", 1)[1] in planned for d in docs
    )


def test_same_seed_same_repo_day(tmp_path):
    """A flywheel day's serving is a pure function of seed and settings (two runs, same bytes)."""
    from simkit import read_lines

    arms = {"control": ("fast-oracle-v1", None), "treatment": ("fast-oracle-v1", 0.5)}
    out = []
    for run in ("a", "b"):
        settings = Settings(data_root=tmp_path / run)
        landing = str(tmp_path / run / "landing")
        simulate_days(date(2026, 11, 3), 1, users=3, proposer="fast", landing_uri=landing,
                      workers=1, settings=settings, arms=arms, repo_day=1, repo_days=3)  # fmt: skip
        out.append(read_lines(landing, "client") + read_lines(landing, "server"))
    assert out[0] == out[1] and len(out[0]) > 100
    assert plan_repo(default_corpus("deploy"), 7, 3) == plan_repo.__wrapped__(
        default_corpus("deploy"), 7, 3
    )


def test_arms_split_as_configured_by_a_stable_hash():
    ids = [f"u-{i:03d}" for i in range(24)]
    arms = assign_arms(ids, 0.5)
    assert sum(a == "control" for a in arms.values()) == 12  # a threshold gave 16 of 24
    assert assign_arms(list(reversed(ids)), 0.5) == arms  # order of the roster is irrelevant
    assert sum(a == "control" for a in assign_arms(ids, 0.25).values()) == 6
    grown = assign_arms([*ids, "u-new"], 0.5)  # one more person moves at most one other
    assert sum(grown[u] != arms[u] for u in ids) <= 1
