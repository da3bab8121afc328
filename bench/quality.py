"""How much time the data-quality checks add to a day, against the cost of loading that day.

Builds a day of at least 2M client events as landing JSONL.gz (plus server lines), times
the baseline: DuckDB reading that day's landing files into typed raw tables (extraction
is not on this branch to time; reading the files is the floor of any extraction, so the
ratio is an upper bound). Then derives the later hops' tables at realistic sizes and
times all five suites (`run_suite`), plus the planted-secret score and the detector's
false-positive rate on a slice of the standard library.

    PYTHONPATH=plugins .venv/bin/python bench/quality.py [--events 2000000] [--truth-dir DIR]

Prints one JSON object as its last line.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import string
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))

DAY = date(2026, 11, 20)
EVENTS_PER_COMPLETION = 20  # shown + accept/reject + the edits around it, roughly


def _landing(con, root: Path, events: int) -> None:
    """Write the day's client and server landing files (4 client parts, 1 server part)."""
    client_dir, server_dir = root / "client" / f"ds={DAY}", root / "server" / f"ds={DAY}"
    client_dir.mkdir(parents=True)
    server_dir.mkdir(parents=True)
    # One completion per EVENTS_PER_COMPLETION events: shown, then accepted or rejected, then edits.
    types = (
        f"case i % {EVENTS_PER_COMPLETION} when 0 then 'completion.shown' when 1 then "
        "(case when i % 3 = 1 then 'completion.accepted' else 'completion.rejected' end) "
        "else 'document.changed' end"
    )
    for part in range(4):
        lo, hi = part * events // 4, (part + 1) * events // 4
        con.execute(f"""copy (
            select 1 as schema_version, 'e' || i as event_id, {types} as type,
                   strftime(timestamp '{DAY} 08:00:00' + to_milliseconds(i * 20), '%Y-%m-%dT%H:%M:%S.%gZ') as ts,
                   'u' || (i % 50) as user_id, 's' || (i % 400) as session_id,
                   {{'name': 'vscode', 'version': '1.95'}} as client,
                   {{'uri': 'file:///repo/m' || (i % 3000) || '.py', 'version': i // 7,
                     'language_id': 'python'}} as doc,
                   'c' || (i // {EVENTS_PER_COMPLETION}) as completion_id,
                   'r' || (i // {EVENTS_PER_COMPLETION}) as request_id
            from range({lo}, {hi}) t(i)) to '{client_dir}/part-{part}.jsonl.gz' (format json, compression gzip)""")
    n = events // EVENTS_PER_COMPLETION
    con.execute(f"""copy (
        select 1 as schema_version, 'r' || i as request_id,
               strftime(timestamp '{DAY} 08:00:00' + to_milliseconds(i * 400), '%Y-%m-%dT%H:%M:%S.%gZ') as ts,
               'm1' as model_version, {{'prefix': 'def f_' || i || '(x):\\n    ', 'suffix': '\\n'}} as prompt,
               'return x + ' || i as completion, 30 + i % 200 as latency_ms
        from range({n}) t(i)) to '{server_dir}/part-0.jsonl.gz' (format json, compression gzip)""")


def _baseline_load(con, root: Path) -> float:
    """DuckDB reading the day's files into typed, deduplicated raw tables (the timed baseline)."""
    started = time.perf_counter()
    con.execute(f"""create or replace table raw.client_events as
        select distinct on (event_id) cast('{DAY}' as date) as ds, event_id, type,
               cast(ts as timestamp) as ts, user_id, session_id, doc.uri as doc_uri,
               cast(doc.version as bigint) as doc_version, completion_id, request_id,
               filename as object_key, 0 as line_no, cast(to_json(t) as json) as payload
        from read_json('{root}/client/ds={DAY}/*.jsonl.gz', format='newline_delimited', filename=true) t""")
    con.execute(f"""create or replace table raw.server_events as
        select distinct on (request_id) cast('{DAY}' as date) as ds, request_id, cast(ts as timestamp) as ts,
               model_version, prompt.prefix as prompt_prefix, prompt.suffix as prompt_suffix, completion,
               cast(latency_ms as double) as latency_ms, filename as object_key, 0 as line_no,
               cast(to_json(t) as json) as payload
        from read_json('{root}/server/ds={DAY}/*.jsonl.gz', format='newline_delimited', filename=true) t""")
    return time.perf_counter() - started


def _later_hops(con) -> None:
    """Aligned, refinements and training examples at the sizes a 2M-event day yields (not timed)."""
    con.execute("""create or replace table staging.int_completions_aligned_to_events as
        select ds, completion_id, request_id, ts as shown_at, user_id, session_id, doc_uri,
               'm1' as model_version, true as has_server
        from raw.client_events where type = 'completion.shown'""")
    con.execute("""create or replace table staging.refinements as
        select ds, completion_id, request_id, user_id, session_id, doc_uri, 'python' as language_id,
               model_version, shown_at, 'def f(x):' as prompt_prefix, '' as prompt_suffix,
               'return x + 1' as proposal_text, 'return x + 1' as accepted_text, 'full' as accept_kind,
               ['accepted_kept', 'accepted_refined', 'rejected_empty', 'rejected_written'][1 + (hash(completion_id) % 4)::int] as outcome,
               'return x + ' || completion_id as final_text, 'quiet' as settled_reason, '{}'::json as trajectory_json,
               (hash(completion_id) % 30)::bigint as edit_distance, 0.8 as kept_rate, 10 as accepted_retained_chars
        from staging.int_completions_aligned_to_events""")
    con.execute("""create or replace table training.examples as
        select ds, 'x' || completion_id as example_id, 'refinement' as source, completion_id as refinement_id,
               user_id, doc_uri,
               'import os\\n\\n\\ndef handler_' || completion_id || '(request, retries=3):\\n    # Serve one request.\\n    value = request.get(' || chr(39) || 'key' || chr(39) || ')\\n    ' as prefix,
               '\\n\\n\\nif __name__ == ' || chr(39) || '__main__' || chr(39) || ':\\n    main()\\n' as suffix,
               'return process(value, retries=retries, tag=' || chr(39) || completion_id || chr(39) || ')' as target,
               1.0 as weight, case when hash(doc_uri) % 10 = 0 then 'eval' else 'train' end as split
        from staging.refinements where outcome <> 'rejected_empty'""")
    # Two trailing days for the volume and drift checks (copies of the day, shifted).
    for back in (1, 2):
        con.execute(
            f"insert into raw.client_events select * replace (ds - {back} as ds) from raw.client_events where ds = '{DAY}'"
        )


def _fake_secrets(rng: random.Random, n: int) -> list[tuple[str, str, str]]:
    """(kind, value, code around it): credentials the way people paste them into code."""

    def rand(chars, k):
        return "".join(rng.choice(chars) for _ in range(k))

    up, al = string.ascii_uppercase + string.digits, string.ascii_letters + string.digits
    makers = [
        (
            "aws_access_key",
            lambda: "AKIA" + rand(up, 16),
            "client = boto3.client('s3', aws_access_key_id='{v}')",
        ),
        (
            "github_token",
            lambda: "ghp_" + rand(al, 36),
            "headers = {{'Authorization': 'token {v}'}}",
        ),
        (
            "connection_password",
            lambda: rand(al, 14),
            "engine = create_engine('postgresql://svc:{v}@db:5432/x')",
        ),
        ("email", lambda: rand(string.ascii_lowercase, 7) + "@corp-mail.com", "OWNER = '{v}'"),
        (
            "private_key",
            lambda: (
                "-----BEGIN RSA PRIVATE KEY-----\n"
                + "\n".join(rand(al + "+/", 64) for _ in range(4))
                + "\n-----END RSA PRIVATE KEY-----"
            ),
            'PEM = """{v}"""',
        ),
    ]
    out = []
    for i in range(n):
        kind, make, tpl = makers[i % len(makers)]
        v = make()
        out.append((kind, v, tpl.format(v=v)))
    return out


def _secret_score(truth_dir: str | None) -> dict:
    from echo_ops.safety import redact_text, score_documents, score_planted_secrets

    if truth_dir:
        score, docs = score_planted_secrets(Path(truth_dir)), score_documents(Path(truth_dir))
        score["planted_secrets_leaked"] += docs["leaked_in_documents"]
        return {**score, **docs, "planted_source": truth_dir}
    planted = _fake_secrets(random.Random(7), 500)
    leaked = sum(
        v.splitlines()[1 if "\n" in v else 0] in redact_text(f"x = 1\n{code}\nreturn x\n").text
        for _, v, code in planted
    )
    return {
        "planted": len(planted),
        "planted_secrets_leaked": leaked,
        "planted_source": "bench-generated (no simulator truth given)",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--truth-dir", default=None, help="simulator truth with planted_secrets")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="echo-bench-quality-"))
    os.environ["ECHO_DATA_ROOT"] = str(tmp)
    from echo_ops.config import get_settings
    from echo_ops.quality import SUITE_NAMES, run_suite
    from echo_ops.safety import false_positive_rate, stdlib_sample
    from echo_ops.warehouse import connect

    try:
        settings = get_settings()
        con = connect(settings=settings)
        _landing(con, tmp / "landing", args.events)
        baseline_s = _baseline_load(con, tmp / "landing")
        _later_hops(con)
        per_suite, outcomes = {}, {}
        for name in SUITE_NAMES:
            started = time.perf_counter()
            result = run_suite(con, name, DAY, settings)
            per_suite[name] = round(time.perf_counter() - started, 2)
            outcomes[name] = {
                "checks": len(result.outcomes),
                "warnings": [w.name for w in result.warnings],
            }
            print(f"{name}: {per_suite[name]}s {outcomes[name]}", file=sys.stderr)
        (client_rows,) = con.execute(
            "select count(*) from raw.client_events where ds = ?", [DAY]
        ).fetchone()
        con.close()
        checks_s = sum(per_suite.values())
        fp = false_positive_rate(stdlib_sample(settings.quality.fp_corpus_files))
        score = _secret_score(args.truth_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(
        json.dumps(
            {
                "events": client_rows,
                "baseline": "duckdb read of the day's landing files into raw tables (no extraction on this branch)",
                "baseline_s": round(baseline_s, 2),
                "checks_s": round(checks_s, 2),
                "ratio_to_extract": round(checks_s / baseline_s, 3),
                "per_suite_s": per_suite,
                "sampled_rows_max": settings.quality.sample_rows,
                **score,
                "false_positive_rate": round(fp["rate"], 6),
                "fp_lines_scanned": fp["lines"],
                "fp_by_kind": fp["by_kind"],
            }
        )
    )


if __name__ == "__main__":
    main()
