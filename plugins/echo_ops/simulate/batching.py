"""Serve the people of one process together, in lockstep, so the model decodes a batch.

Each person writes in their own thread and asks `propose` as they would ask a server;
the call waits until every person still writing is waiting too, then their requests
run as one `propose_many` batch, in person order. Who waits for whom depends only on
what each person does, never on thread timing, so the batches (and the run's bytes) are
the same every time for the same seed and `simulate.batch_people`.
"""

from __future__ import annotations

import threading


class Lockstep:
    """One model shared by `people` threads; `seat(i)` is person i's proposer."""

    def __init__(self, model, people: int) -> None:
        self.model, self.model_version = model, model.model_version
        self._cv = threading.Condition()
        self._live, self._pending, self._answers = people, {}, {}

    def seat(self, slot: int) -> Seat:
        return Seat(self, slot)

    def ask(self, slot: int, prefix: str, suffix: str) -> tuple[str, list[float]]:
        with self._cv:
            self._pending[slot] = (prefix, suffix)
            self._run_when_all_wait()
            while slot not in self._answers:
                self._cv.wait()
            answer = self._answers.pop(slot)
        if isinstance(answer, BaseException):  # one error object, many threads: wrap it
            raise RuntimeError(f"the model failed on a batch of requests: {answer}") from answer
        return answer

    def leave(self) -> None:
        """A person is done (or failed): the others no longer wait for them."""
        with self._cv:
            self._live -= 1
            self._run_when_all_wait()

    def _run_when_all_wait(self) -> None:
        if not self._pending or len(self._pending) < self._live:
            return
        slots = sorted(self._pending)
        requests = [self._pending.pop(s) for s in slots]
        try:
            answers = self.model.propose_many(requests)
        except Exception as exc:  # every waiting person sees the failure, nobody hangs
            answers = [exc] * len(slots)
        self._answers.update(zip(slots, answers, strict=True))
        self._cv.notify_all()


class Seat:
    """One person's view of a `Lockstep` model: the (text, logprobs) proposer protocol."""

    def __init__(self, lockstep: Lockstep, slot: int) -> None:
        self.lockstep, self.slot = lockstep, slot
        self.model_version = lockstep.model_version

    def propose(self, prefix: str, suffix: str) -> tuple[str, list[float]]:
        return self.lockstep.ask(self.slot, prefix, suffix)
