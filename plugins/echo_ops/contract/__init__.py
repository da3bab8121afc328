"""The v1 event contract: the JSON Schema both the simulator and ingestion obey."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

SCHEMA_PATH = Path(__file__).with_name("events_v1.schema.json")
CLIENT_EVENT_TYPES = (
    "document.opened",
    "document.snapshot",
    "document.changed",
    "document.saved",
    "document.closed",
    "completion.shown",
    "completion.accepted",
    "completion.rejected",
)
# What a shown completion became (staging.refinements.outcome; docs/contracts.md).
OUTCOMES = (
    "accepted_kept",
    "accepted_refined",
    "partial_accepted",
    "rejected_written",
    "rejected_empty",
    "accepted_deleted",
)
ACCEPTED_OUTCOMES = ("accepted_kept", "accepted_refined", "partial_accepted", "accepted_deleted")


@lru_cache(maxsize=1)
def load_schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text())


@lru_cache(maxsize=2)
def validator(source: str):
    """A jsonschema validator for 'client' or 'server' events."""
    import jsonschema

    schema = load_schema()
    sub = {**schema, "oneOf": [{"$ref": f"#/$defs/{source}_event"}]}
    return jsonschema.Draft202012Validator(sub)


def first_error(event: Any, source: str) -> str | None:
    """Why `event` breaks the contract for `source`, or None if it conforms."""
    err = next(iter(validator(source).iter_errors(event)), None)
    if err is None:
        return None
    # oneOf hides the useful message in its context; surface the deepest one.
    best = max(err.context, key=lambda e: len(e.absolute_path), default=err) if err.context else err
    where = "/".join(str(p) for p in best.absolute_path) or "(root)"
    return f"schema: {where}: {best.message}"[:300]
