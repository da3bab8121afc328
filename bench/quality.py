"""How much time the data-quality checks add to a day, as a ratio to extracting that day.

Lands one simulated day (the simulator, as `bench/extract.py --source sim` does, with a
raised planted-secret rate so redaction has something to score), then times extraction =
ingest_day + align_day + extract_day, builds the day's training examples (untimed), and
times the five suites (`run_suite`: raw_client, raw_server, aligned, refinements,
training_set) on those real tables. ratio_to_extract = checks_seconds / extraction_seconds;
checks_seconds includes loading Great Expectations once (each validate task pays it).

planted_secrets_leaked: distinct planted values of the day (truth `planted_secrets` and
`doc_secrets`) found in that day's training.examples (prefix, suffix or target) after the
build; a key block counts if any substantial line of its body is there, as
echo_ops.safety scores leaks (its BEGIN/END lines, the same in every key, do not count). false_positive_rate: the detector on a slice of the standard library.

    PYTHONPATH=plugins .venv/bin/python bench/quality.py             # 2M events, minutes
    PYTHONPATH=plugins .venv/bin/python bench/quality.py --quick     # 100k events, smoke run

Progress goes to stderr; the last stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from extract import DAY, generate_day  # noqa: E402  (the bench's sibling, shared generator)

_TEXTS = {
    "staging.refinements": ("prompt_prefix", "prompt_suffix", "proposal_text", "final_text"),
    "training.examples": ("prefix", "suffix", "target"),
}


def _timed(label: str, fn, *args):
    started = time.perf_counter()
    out = fn(*args)
    seconds = round(time.perf_counter() - started, 2)
    print(f"{label}: {seconds}s", file=sys.stderr)
    return out, seconds


def _extraction(con, settings) -> dict[str, float]:
    """Seconds of each extraction stage for DAY (writes raw, staging)."""
    from echo_ops.align import align_day
    from echo_ops.extract import extract_day
    from echo_ops.ingest import ingest_day

    stages = (("ingest", ingest_day), ("align", align_day), ("extract", extract_day))
    return {name: _timed(name, fn, con, DAY, settings)[1] for name, fn in stages}


def _checks(con, settings) -> tuple[dict[str, float], dict[str, dict]]:
    """Seconds and outcome summary of each suite on DAY (writes ops.dq_results)."""
    from echo_ops.quality import DataQualityError, run_suite
    from echo_ops.quality.suites import HOP_SUITES

    seconds, summary = {}, {}
    for name in HOP_SUITES:  # the marts suite checks marts this bench does not build
        started = time.perf_counter()
        try:
            result = run_suite(con, name, DAY, settings)
        except DataQualityError as exc:  # a red suite still took its time: record, go on
            result = exc.result
        seconds[name] = round(time.perf_counter() - started, 2)
        summary[name] = {
            "checks": len(result.outcomes),
            "failed_blocking": [o.name for o in result.failed_blocking],
            "warnings": [o.name for o in result.warnings],
            "sampled": sorted({o.sampled for o in result.outcomes}),
        }
        print(f"{name}: {seconds[name]}s {summary[name]}", file=sys.stderr)
    return seconds, summary


def _planted_values(truth_dir: Path) -> dict[str, str]:
    """Distinct values (-> kind) the simulator planted on DAY, near completions or elsewhere
    in a file."""
    values: dict[str, str] = {}
    path = truth_dir / f"ds={DAY}" / "completions.jsonl"
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line) if line.strip() else {}
        for s in (row.get("planted_secrets") or []) + (row.get("doc_secrets") or []):
            if s.get("value"):
                values[s["value"]] = s.get("kind", "?")
    return dict(sorted(values.items()))


def _pieces(value: str) -> list[str]:
    # A PEM block's BEGIN/END lines are the same in every key: only its body is secret.
    lines = [p.strip() for p in value.splitlines()]
    return [p for p in lines if len(p) >= 8 and not p.startswith("-----")] or [value]


def _found_in(con, table: str, values: dict[str, str]) -> dict[str, int]:
    """How many of `values` appear in DAY's texts of `table`, per kind; a multi-line value
    counts if any line of 8+ characters of its body does (the leak rule of echo_ops.safety,
    less the PEM armor lines that every key shares)."""
    pieces = [(i, p) for i, v in enumerate(values) for p in _pieces(v)]
    if not pieces:
        return {}
    con.execute("create or replace temp table bench_pieces (value_id integer, piece varchar)")
    con.executemany("insert into bench_pieces values (?, ?)", pieces)
    hit = " or ".join(f"contains(t.{c}, p.piece)" for c in _TEXTS[table])
    found = con.execute(
        f"select distinct p.value_id from bench_pieces p join {table} t on t.ds = $ds and ({hit})",
        {"ds": DAY},
    ).fetchall()
    kinds = list(values.values())
    by_kind: dict[str, int] = {}
    for (i,) in found:
        by_kind[kinds[i]] = by_kind.get(kinds[i], 0) + 1
    return dict(sorted(by_kind.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2_000_000, help="client events to land")
    parser.add_argument("--quick", action="store_true", help="smoke run: --events 100000")
    parser.add_argument("--secret-rate", type=float, default=0.5,
                        help="share of simulated sessions that plant a secret")  # fmt: skip
    parser.add_argument("--workdir", type=Path, default=None, help="default: a temp dir, removed")
    args = parser.parse_args()
    events = 100_000 if args.quick else args.events
    root = args.workdir or Path(tempfile.mkdtemp(prefix="echo-bench-quality-"))
    os.environ.update(
        {
            "ECHO_DATA_ROOT": str(root / "data"),
            "ECHO_STORAGE__LANDING_URI": str(root / "landing"),
            "ECHO_SIMULATE__SECRET_RATE": str(args.secret_rate),
        }
    )
    from echo_ops.config import get_settings
    from echo_ops.datasets import build_training_examples
    from echo_ops.safety import false_positive_rate, stdlib_sample
    from echo_ops.warehouse import connect

    try:
        settings = get_settings()
        landed, gen_s = _timed("generate", generate_day, root, events, "sim")
        con = connect(settings)
        extract_s = _extraction(con, settings)
        built, build_s = _timed(
            "build_training_examples", build_training_examples, con, DAY, settings
        )
        _, gx_import_s = _timed("import great_expectations", __import__, "great_expectations")
        per_suite, summary = _checks(con, settings)
        rows = {
            t: con.execute(f"select count(*) from {t} where ds = ?", [DAY]).fetchone()[0]
            for t in ("raw.client_events", "raw.server_events", *_TEXTS)
        }
        values = _planted_values(Path(settings.storage.truth_dir))
        reached = _found_in(con, "staging.refinements", values)
        leaked = _found_in(con, "training.examples", values)
        con.close()
        fp = false_positive_rate(stdlib_sample(settings.quality.fp_corpus_files))
    finally:
        if args.workdir is None:
            shutil.rmtree(root, ignore_errors=True)
    extraction_s = sum(extract_s.values())
    checks_s = gx_import_s + sum(per_suite.values())
    print(
        json.dumps(
            {
                "events": landed,
                "rows": rows,
                "extraction_seconds": round(extraction_s, 2),
                "extraction_stage_seconds": extract_s,
                "checks_seconds": round(checks_s, 2),
                "ratio_to_extract": round(checks_s / extraction_s, 3),
                "per_suite_seconds": per_suite,
                "gx_import_seconds": gx_import_s,
                "suites": summary,
                "sample_rows_max": settings.quality.sample_rows,
                "build_training_seconds": build_s,
                "training_build": built,
                "planted_values": len(values),
                "planted_in_refinements": sum(reached.values()),
                "planted_secrets_leaked": sum(leaked.values()),
                "leaked_by_kind": leaked,
                "secret_rate": args.secret_rate,
                "false_positive_rate": round(fp["rate"], 6),
                "fp_lines_scanned": fp["lines"],
                "fp_by_kind": fp["by_kind"],
                "generate_seconds": gen_s,
                "load_avg_1m": round(os.getloadavg()[0], 2),
            }
        )
    )


if __name__ == "__main__":
    main()
