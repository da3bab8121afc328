"""Score the pipeline against the simulator's truth: extraction fidelity (final text and
outcome of every completion) and redaction of the secrets the simulated people planted.

Reads staging.refinements, ops.extract_deferrals and ops.quarantine (any run day) and
`{truth_dir}/ds=D/{completions,documents}.jsonl`; writes nothing. Safe to run any time.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

import duckdb

from echo_ops.config import Settings
from echo_ops.safety import redact_text
from echo_ops.warehouse import read_sql


@dataclass(frozen=True)
class Fidelity:
    ds: date
    truth: int  # completions the simulator showed that day
    extracted: int
    deferred: int
    quarantined: int  # at extract, or their shown line refused at ingest
    unaccounted: int
    fidelity_exact: float  # share of extracted whose final_text equals the truth
    outcome_accuracy: float  # share of extracted whose outcome equals intended_outcome
    mismatches: list[dict]  # a few examples to look at

    def as_dict(self) -> dict:
        return asdict(self)


def truth_path(settings: Settings, ds: date) -> Path:
    return Path(settings.storage.truth_dir) / f"ds={ds.isoformat()}" / "completions.jsonl"


def score_day(con: duckdb.DuckDBPyConnection, ds: date, settings: Settings) -> Fidelity:
    """Compare every truth row of day ds with what extraction made of it."""
    path = truth_path(settings, ds)
    if not path.is_file():
        raise FileNotFoundError(f"no simulator truth for {ds} at {path}")
    con.execute(
        "create or replace temp table _truth as select completion_id, intended_outcome, final_text "
        "from read_json(?, format='newline_delimited', columns={'completion_id': 'VARCHAR', "
        "'intended_outcome': 'VARCHAR', 'final_text': 'VARCHAR'})",
        [str(path)],
    )
    rows = con.execute(read_sql("simulate/completion_fates")).fetchall()
    fate = {}
    for cid, status, same_text, same_outcome, got, want in rows:
        fate[cid] = (status, same_text, same_outcome, got, want)
    extracted = [v for v in fate.values() if v[0] == "extracted"]
    n = len(extracted) or 1
    mismatches = [
        {"completion_id": cid, "got": got, "want": want}
        for cid, (status, same, _o, got, want) in sorted(fate.items())
        if status == "extracted" and not same
    ][:5]
    count = lambda s: sum(1 for v in fate.values() if v[0] == s)  # noqa: E731
    return Fidelity(
        ds,
        len(fate),
        len(extracted),
        count("deferred"),
        count("quarantined"),
        count("unaccounted"),
        sum(1 for v in extracted if v[1]) / n,
        sum(1 for v in extracted if v[2]) / n,
        mismatches,
    )


def format_fidelity(f: Fidelity) -> str:
    return json.dumps(f.as_dict(), default=str, indent=2, ensure_ascii=False)


def _leaks(value: str, text: str) -> bool:
    # A key body leaks even if its header was caught: any substantial line of it counts.
    pieces = [p.strip() for p in value.splitlines() if len(p.strip()) >= 8] or [value]
    return any(p in text for p in pieces)


def score_planted_secrets(truth_dir: Path, training_texts: Iterable[str] = ()) -> dict:
    """Score redaction against the simulator's planted secrets (truth `planted_secrets`).

    Each planted value is looked for in its completion's texts after redaction; when
    `training_texts` are given (the warehouse's training examples), any planted value
    found there counts as leaked too. Reads only; safe to run any time.
    """
    planted, leaked, by_kind = 0, 0, {}
    values: list[str] = []
    for path in sorted(Path(truth_dir).glob("ds=*/completions.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line) if line.strip() else {}
            texts = [row.get(k) or "" for k in ("final_text", "proposal_text")]
            for secret in row.get("planted_secrets") or []:
                kind, value = secret.get("kind", "?"), secret.get("value") or ""
                # Where the value sits only in the document around the completion (the
                # training prefix/suffix), score it on its own: no context to help.
                contexts = [t for t in texts if value and value in t] or [value]
                hit = bool(value) and any(_leaks(value, redact_text(t).text) for t in contexts)
                planted, leaked = planted + 1, leaked + hit
                stats = by_kind.setdefault(kind, {"planted": 0, "leaked": 0})
                stats["planted"] += 1
                stats["leaked"] += hit
                values.append(value)
    in_training = sum(1 for t in training_texts for v in values if v and _leaks(v, t or ""))
    return {
        "planted": planted,
        "planted_secrets_leaked": leaked + in_training,
        "leaked_after_redaction": leaked,
        "leaked_in_training_set": in_training,
        "by_kind": by_kind,
    }


def score_documents(truth_dir: Path) -> dict:
    """Redact every simulated document whole (truth `documents.jsonl`), as training context is.

    A planted value (`doc_secrets` of the document's completions) still present after
    redaction is a leak; on documents with nothing planted, any finding counts as a false
    positive line (truth that lists only `planted_secrets` near completions overstates it).
    Reads only.
    """
    leaked = planted = lines = flagged = 0
    for day in sorted(Path(truth_dir).glob("ds=*")):
        secrets: dict[tuple, set[str]] = {}
        for row in _jsonl(day / "completions.jsonl"):
            key = (row.get("session_id"), row.get("doc_uri"))
            found = (row.get("doc_secrets") or []) + (row.get("planted_secrets") or [])
            secrets.setdefault(key, set()).update(s["value"] for s in found)
        for doc in _jsonl(day / "documents.jsonl"):
            text = doc.get("final_text") or ""
            red = redact_text(text)
            values = secrets.get((doc.get("session_id"), doc.get("doc_uri")), set())
            planted += len(values)
            leaked += sum(_leaks(v, red.text) for v in values)
            if not values:
                lines += sum(1 for ln in text.splitlines() if ln.strip())
                flagged += len({text.count("\n", 0, f.start) for f in red.findings})
    return {
        "doc_planted": planted,
        "leaked_in_documents": leaked,
        "clean_doc_lines": lines,
        "clean_doc_flagged_lines": flagged,
        "doc_false_positive_rate": flagged / lines if lines else 0.0,
    }


def _jsonl(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return [json.loads(ln) for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
