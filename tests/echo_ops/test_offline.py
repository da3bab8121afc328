"""The offline estimator's parts on literal inputs: judging, gating, calibration, bootstrap."""

from __future__ import annotations

import pytest

from echo_ops.offline import calibrated_gate, estimate, gated, judge, paired_bootstrap


def test_judge_follows_the_settled_text():
    assert judge("return x\n", "return x\n") == (True, 9)
    assert judge("return x\nfoo()", "return x\nbar()\n") == (True, 9)  # the line stayed
    assert judge("self.value", "self.other") == (True, 4)  # the word stayed
    assert judge("zzz", "return x") == (False, 0)
    assert judge("", "return x") == (False, 0)


def test_gate_and_its_calibration():
    served = [(0.9, True, 5), (0.5, False, 0), (0.2, True, 3), (0.0, False, 0)]
    assert gated(served, 0.3) == [(True, True, 5), (True, False, 0), (False, False, 0),
                                  (False, False, 0)]  # fmt: skip
    assert estimate(gated(served, 0.3))["acceptance"] == 0.5
    # a gate that shows as often as a reference that showed 1 request in 4
    gate = calibrated_gate([c for c, _, _ in served], 0.25)
    assert gate == 0.9 and sum(s for s, _, _ in gated(served, gate)) == 1
    assert calibrated_gate([0.1, 0.2], 0.0) == 1.0


def test_paired_bootstrap_by_file_sees_a_consistent_gain():
    better = [(True, True, 4)] * 30 + [(True, False, 0)] * 10
    worse = [(True, True, 4)] * 10 + [(True, False, 0)] * 30
    groups = [f"f{i % 8}" for i in range(40)]
    up = paired_bootstrap(better, worse, groups, "acceptance", 300, 0)
    assert up["diff"] == pytest.approx(0.5) and up["ci"][0] > 0 and up["files"] == 8
    same = paired_bootstrap(better, better, groups, "acceptance", 300, 0)
    assert same["ci"] == [0.0, 0.0]


def test_replay_gives_the_process_its_threads_back(tiny_base, settings):
    """Replay leaves the process's thread count as it found it: a fine-tune later in the
    same process (the inline flywheel) must not train on one core."""
    import torch

    from echo_ops.offline import replay

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        rows = [{"prefix": "def add(a, b):\n    return ", "suffix": "\n", "target": "a + b"}]
        assert len(replay(tiny_base, "tiny", rows, settings)) == 1
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
