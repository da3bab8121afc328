"""People served together in lockstep (echo_ops.simulate.batching): the batches depend on
what people ask, never on thread timing; a failure reaches everyone and hangs nobody."""

from __future__ import annotations

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from echo_ops.simulate.batching import Lockstep


class Recorder:
    """A stand-in model that answers each prompt with its reverse and logs the batches."""

    model_version = "recorder"

    def __init__(self, fail_on: int | None = None) -> None:
        self.batches: list[list[str]] = []
        self.fail_on = fail_on

    def propose_many(self, requests):
        if self.fail_on is not None and len(self.batches) == self.fail_on:
            raise RuntimeError("model out of memory")
        self.batches.append([prefix for prefix, _ in requests])
        return [(prefix[::-1], [-0.1]) for prefix, _ in requests]


def _person(lockstep: Lockstep, slot: int, asks: int, seed: int) -> list[str]:
    rng, seat, got = random.Random(seed), lockstep.seat(slot), []
    try:
        for k in range(asks):
            time.sleep(rng.uniform(0, 0.01))  # people type at their own pace
            text, _ = seat.propose(f"p{slot}-{k}", "")
            got.append(text)
        return got
    finally:
        lockstep.leave()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_batches_are_everyone_still_writing_in_person_order(seed):
    asks = [3, 1, 4, 0, 2]
    model = Recorder()
    lockstep = Lockstep(model, len(asks))
    with ThreadPoolExecutor(len(asks)) as pool:
        futures = [pool.submit(_person, lockstep, i, n, seed * 10 + i) for i, n in enumerate(asks)]
        answers = [f.result(timeout=30) for f in futures]
    assert model.batches == [
        [f"p{i}-{k}" for i, n in enumerate(asks) if n > k] for k in range(max(asks))
    ]
    assert answers == [[f"p{i}-{k}"[::-1] for k in range(n)] for i, n in enumerate(asks)]


def test_a_failing_model_fails_every_waiting_person_and_hangs_nobody():
    lockstep = Lockstep(Recorder(fail_on=1), 3)
    with ThreadPoolExecutor(3) as pool:
        futures = [pool.submit(_person, lockstep, i, 3, i) for i in range(3)]
        for f in futures:
            with pytest.raises(RuntimeError, match="out of memory"):
                f.result(timeout=30)


def test_a_person_who_stops_early_does_not_hold_the_others():
    lockstep = Lockstep(Recorder(), 2)

    def crashes() -> None:
        try:
            raise ValueError("a bad file")
        finally:
            lockstep.leave()

    crash = threading.Thread(target=lambda: pytest.raises(ValueError, crashes))
    crash.start()
    with ThreadPoolExecutor(1) as pool:
        assert pool.submit(_person, lockstep, 0, 2, 0).result(timeout=30) == ["0-0p", "1-0p"]
    crash.join(timeout=30)


def test_groups_keep_one_day_and_one_served_model_and_their_size():
    from datetime import date

    from echo_ops.simulate.run import Unit, group_units

    def unit(day: int, user: int, arm: str) -> Unit:
        model = ("base", "/m/base") if arm == "control" else ("ft", "/m/ft")
        return Unit(date(2026, 11, day), user, None, 1, "/l", "/c", "model", model, arm)

    arms = ["control", "treatment", "treatment", "control", "treatment", "control"]
    units = [unit(d, u, arm) for d in (2, 3) for u, arm in enumerate(arms)]
    assert group_units(units, 2) == [[0, 3], [1, 2], [4], [5], [6, 9], [7, 8], [10], [11]]
    assert group_units(units, 12) == [[0, 3, 5], [1, 2, 4], [6, 9, 11], [7, 8, 10]]
    assert group_units(units, 1) == [[i] for i in range(len(units))]
    fast = [Unit(date(2026, 11, 2), u, None, 1, "/l", "/c", "fast") for u in range(3)]
    assert group_units(fast, 12) == [[0], [1], [2]]  # no model to share: any worker takes one
