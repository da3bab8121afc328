"""The errors a task cannot fix by trying again.

Every stage raises a subclass of `DataError` when its input (or a model it needs) is
wrong: bad landing lines, books that do not balance, a failed blocking check. The DAGs
turn any DataError into an immediate failure (no retries: the same input fails the same
way); anything else (a lock, S3, the disk) is treated as transient and retried.
"""

from __future__ import annotations


class DataError(ValueError):
    """Deterministic: the input or the registry is wrong; fix that, then clear the task."""


class NoChampionError(DataError, LookupError):
    """The registry has no champion to serve or fine-tune: run `echo-ops bootstrap-model`."""
