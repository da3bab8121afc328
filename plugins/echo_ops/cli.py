"""`echo-ops`: the command line over Echo's stages (the same functions the DAGs call).

Exit codes: 0 ok, 1 the work failed, 2 bad usage.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path

from echo_ops import __version__

Handler = Callable[[argparse.Namespace], int]


def _parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from exc


def _print_json(obj) -> None:
    print(json.dumps(obj, indent=2, default=str, sort_keys=True))


# --- handlers: each imports its stage lazily so `--help` stays instant -------------


def cmd_config(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from echo_ops.config import config_file, describe, get_settings

    rows = describe(get_settings())
    if args.json:
        _print_json({name: {"value": value, "source": source} for name, value, source in rows})
        return 0
    table = Table(title=f"Echo settings (TOML file: {config_file()})")
    for column in ("setting", "value", "source"):
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    Console().print(table)
    return 0


def cmd_init(args: argparse.Namespace) -> int:
    from echo_ops.config import get_settings
    from echo_ops.warehouse import LAYERS, open_warehouse

    with open_warehouse(get_settings()) as con:
        (path,) = con.execute(
            "select path from duckdb_databases() where database_name = current_database()"
        ).fetchone()
    print(f"warehouse ready at {path} with layers: {', '.join(LAYERS)}")
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    from echo_ops.config import get_settings
    from echo_ops.warehouse import open_warehouse, publish_snapshot

    settings = get_settings()
    with open_warehouse(settings) as con:
        tables = publish_snapshot(con, settings.storage.published_path)
    _print_json({"published_path": settings.storage.published_path, "tables": tables})
    return 0


# --- quality, consent and safety


def cmd_quality(args: argparse.Namespace) -> int:
    from echo_ops.config import get_settings
    from echo_ops.quality import DataQualityError, run_suite
    from echo_ops.warehouse import open_warehouse

    settings = get_settings()
    with open_warehouse(settings) as con:
        try:
            result = run_suite(con, args.suite, args.ds, settings)
        except DataQualityError as exc:
            print(str(exc), file=sys.stderr)
            return 1
    for o in result.outcomes:
        mark = "ok  " if o.success else ("WARN" if o.severity == "warning" else "FAIL")
        print(f"{mark} {o.name:<32} {o.observed}  [{o.sampled}]")
    print(f"Data Docs: {result.docs_path}")
    return 0


def cmd_consent(args: argparse.Namespace) -> int:
    from echo_ops.config import get_settings
    from echo_ops.consent import set_consent
    from echo_ops.warehouse import open_warehouse

    with open_warehouse(get_settings()) as con:
        _print_json(set_consent(con, args.user, args.opt_out))
    return 0


def cmd_forget(args: argparse.Namespace) -> int:
    import getpass

    from echo_ops.config import get_settings
    from echo_ops.consent import forget

    if not args.yes:
        if not sys.stdin.isatty():
            print(
                "echo-ops forget: refusing to erase without --yes (no terminal to confirm)",
                file=sys.stderr,
            )
            return 2
        typed = input(
            f"erase every record of user {args.user!r} everywhere? type the user id to confirm: "
        )
        if typed.strip() != args.user:
            print("not confirmed; nothing erased", file=sys.stderr)
            return 1
    report = forget(args.user, args.requested_by or getpass.getuser(), get_settings())
    _print_json(
        {
            "erasure_id": report.erasure_id,
            "by_layer": report.by_layer(),
            "removed": report.removed,
            "total": report.total,
            "warehouse_file_bytes_before_after": report.file_bytes,
        }
    )
    return 0


def cmd_scan_secrets(args: argparse.Namespace) -> int:
    from echo_ops.config import get_settings
    from echo_ops.safety import false_positive_rate, stdlib_sample
    from echo_ops.simulate.score import score_documents, score_planted_secrets
    from echo_ops.warehouse import open_warehouse, table_exists

    settings = get_settings()
    texts: list[str] = []
    if args.check_training_set and settings.storage.warehouse_path.exists():
        with open_warehouse(settings, read_only=True) as con:
            if table_exists(con, "training.examples"):
                q = "select concat_ws(chr(10), prefix, target, suffix) from training.examples"
                texts = [t for (t,) in con.execute(q).fetchall()]
    truth_dir = args.truth_dir or settings.storage.truth_dir
    score = score_planted_secrets(truth_dir, texts)
    docs = score_documents(truth_dir)
    score["planted_secrets_leaked"] += docs["leaked_in_documents"]
    fp = false_positive_rate(stdlib_sample(args.fp_files or settings.quality.fp_corpus_files))
    _print_json(
        {
            **score,
            **docs,
            "false_positive_rate": fp["rate"],
            "fp_lines_scanned": fp["lines"],
            "fp_flagged_lines": fp["flagged_lines"],
            "fp_by_kind": fp["by_kind"],
        }
    )
    return 1 if score["planted_secrets_leaked"] else 0


# --- ingest / align / extract / score


def cmd_ingest(args: argparse.Namespace) -> int:
    from echo_ops import pipeline

    _print_json(pipeline.ingest(args.ds))
    return 0


def cmd_align(args: argparse.Namespace) -> int:
    from echo_ops import pipeline

    _print_json(pipeline.align(args.ds))
    return 0


def cmd_extract(args: argparse.Namespace) -> int:
    from rich.progress import Progress

    from echo_ops import pipeline

    with Progress(transient=True) as bar:
        task = bar.add_task(f"extract {args.ds}: completions followed", total=None)
        result = pipeline.extract(args.ds, progress=lambda n: bar.advance(task, n))
    _print_json(result)
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    from echo_ops.config import get_settings
    from echo_ops.simulate.score import score_day
    from echo_ops.warehouse import open_warehouse

    settings = get_settings()
    with open_warehouse(settings, read_only=args.read_only) as con:
        fidelity = score_day(con, args.ds, settings)
    _print_json(fidelity.as_dict())
    return 0 if fidelity.unaccounted == 0 else 1


def _add_extract_commands(sub) -> None:
    for name, handler, text in (
        (
            "ingest",
            cmd_ingest,
            "load one landing day into raw tables (quarantine, manifest, dedup)",
        ),
        ("align", cmd_align, "join shown completions with server requests for one day"),
        (
            "extract",
            cmd_extract,
            "follow each completion to its settled text (staging.refinements)",
        ),
        ("score", cmd_score, "compare staging.refinements with the simulator's truth for one day"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("--ds", type=_parse_date, required=True, help="landing day YYYY-MM-DD")
        if name == "score":
            p.add_argument("--read-only", action="store_true", help="open the warehouse read-only")
        p.set_defaults(handler=handler)


# --- simulate


def cmd_simulate(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    from echo_ops.config import get_settings
    from echo_ops.simulate import simulate_days

    console = Console(stderr=True)
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("simulating people, one day each", total=None)
        result = simulate_days(
            args.start_date,
            args.days,
            seed=args.seed,
            users=args.users,
            target_events=args.target_events,
            proposer=args.proposer,
            landing_uri=args.landing,
            workers=args.workers,
            settings=get_settings(),
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    if args.json:
        _print_json(result)
        return 0
    table = Table(title=f"echo-ops simulate: {args.start_date} + {args.days} day(s)")
    table.add_column("what")
    table.add_column("value", justify="right")
    for key in (
        "days",
        "client_events",
        "server_events",
        "lines",
        "completions_shown",
        "acceptance_rate",
        "seconds",
        "events_per_s",
    ):
        table.add_row(key, str(result[key]))
    Console().print(table)
    print(f"landing: {result['landing']}")
    print(f"truth:   {result['truth_dir']}")
    return 0


def _add_simulate_parser(sub) -> None:
    p = sub.add_parser(
        "simulate", help="play people writing code with completions: landing + truth"
    )
    p.add_argument("--start-date", type=_parse_date, required=True, help="first day (YYYY-MM-DD)")
    p.add_argument("--days", type=int, default=1, help="how many days (default 1)")
    p.add_argument(
        "--seed", type=int, default=None, help="same seed, same bytes (default: settings)"
    )
    p.add_argument("--users", type=int, default=None, help="people per day (default: settings)")
    p.add_argument(
        "--target-events",
        type=int,
        default=None,
        help="client events to reach over the run (default: fixed sessions per user)",
    )
    p.add_argument(
        "--proposer",
        choices=("fast", "model"),
        default=None,
        help="fast = intended text, corrupted; model = the registry's champion",
    )
    p.add_argument(
        "--landing", default=None, help="local dir or s3://bucket/prefix (default: settings)"
    )
    p.add_argument("--workers", type=int, default=None, help="processes (default: settings, 2)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=cmd_simulate)


def cmd_simulate_ab(args: argparse.Namespace) -> int:
    from rich.console import Console

    from echo_ops.config import get_settings
    from echo_ops.registry import RegistryError
    from echo_ops.simulate.ab import ab_models, acceptance_ab

    settings = get_settings()
    if args.if_promoted and not (args.a and args.b):
        try:
            ab_models(settings)
        except RegistryError as exc:
            _print_json({"skipped": str(exc)})
            return 0
    result = acceptance_ab(
        args.ds, model_a=args.a, model_b=args.b, users=args.users, seed=args.seed,
        workers=args.workers, settings=settings,
    )  # fmt: skip
    if args.json:
        _print_json(result)
        return 0
    Console().print(_ab_table(result))
    per_shown, per_request = result["acceptance"], result["accepted_per_request"]
    print(f"acceptance {per_shown['verdict']}; per request {per_request['verdict']}")
    return 0


def _ab_table(result: dict):
    from rich.table import Table

    a, b = result["a"], result["b"]
    table = Table(title=f"echo-ops simulate-ab: {result['ds']}, {result['users']} people")
    for col in ("", "A (before)", "B (after)", "B - A [95% CI]", "p"):
        table.add_column(col, justify="right")
    for key in ("model_id", "requests", "shown", "accepted"):
        table.add_row(key, str(a[key]), str(b[key]), "", "")
    for key, rate, label in (
        ("acceptance", "acceptance_rate", "accepted / shown"),
        ("accepted_per_request", "accepted_per_request", "accepted / request"),
    ):
        t = result[key]
        ci = f"{t['diff']:+.3f} [{t['ci_low']:+.3f}, {t['ci_high']:+.3f}]"
        table.add_row(label, f"{a[rate]:.3f}", f"{b[rate]:.3f}", ci, f"{t['p_value']:.3g}")
    return table


def cmd_flywheel(args: argparse.Namespace) -> int:
    from echo_ops.config import get_settings
    from echo_ops.simulate.flywheel import run_flywheel

    settings = get_settings()
    out = run_flywheel(args.start_date, args.days, users=args.users or settings.simulate.users,
                       control_share=args.control_share, settings=settings, seed=args.seed,
                       runner=args.runner, say=lambda s: print(s, flush=True))  # fmt: skip
    if args.json:
        _print_json(out)
        return 0
    from rich.console import Console

    Console(width=160).print(_flywheel_table(out, settings))  # logs are not terminals
    return 0


def _flywheel_table(out: dict, settings):
    """Acceptance per day for both arms from the marts, promotions and rollbacks marked."""
    from rich.table import Table

    from echo_ops.warehouse import open_warehouse, read_sql

    with open_warehouse(settings, read_only=True) as con:
        rows = con.execute(read_sql("reports/arm_daily")).fetchall()
    events = {}
    for e in out["log"]:
        t, g = e["train"], e["guard"]
        mark = [f"promoted {t['candidate_id']}" if t.get("promoted") else
                f"rejected {t['candidate_id']}" if t.get("candidate_id") else ""]  # fmt: skip
        if g.get("rolled_back"):
            mark.append(f"ROLLBACK {g['rolled_back']} -> {g['restored']}")
        events[e["day"]] = "; ".join(m for m in mark if m)
    table = Table(title=f"flywheel: acceptance per day and arm (marts), base {out['base_model']}")
    for col in (
        "day",
        "arm",
        "served by",
        "requests",
        "shown",
        "accepted",
        "acceptance",
        "after the day",
    ):
        table.add_column(col)
    for ds, arm, versions, req, shown, acc, rate in rows:
        note = events.get(str(ds), "") if arm == "treatment" else ""
        table.add_row(str(ds), arm, versions, str(req), str(shown), str(acc),
                      "" if rate is None else f"{rate:.3f}", note)  # fmt: skip
    return table


def _add_flywheel_parser(sub) -> None:
    p = sub.add_parser(
        "flywheel",
        help="the closed loop: days served by the champion with a control arm, echo_daily, "
        "echo_train (docs/metrics.md)",
    )
    p.add_argument("--start-date", type=_parse_date, required=True, help="first day YYYY-MM-DD")
    p.add_argument("--days", type=int, default=3)
    p.add_argument("--users", type=int, default=None, help="people a day (default: settings)")
    p.add_argument("--control-share", type=float, default=0.5, help="people kept on the base")
    p.add_argument("--seed", type=int, default=None, help="default: settings")
    p.add_argument("--runner", choices=("inprocess", "airflow"), default="inprocess",
                   help="stage functions in this process, or the real DAGs (airflow dags test)")  # fmt: skip
    p.add_argument("--json", action="store_true", help="print the run's log as JSON")
    p.set_defaults(handler=cmd_flywheel)


def _add_simulate_ab_parser(sub) -> None:
    p = sub.add_parser(
        "simulate-ab",
        help="one simulated day served by the previous and the current champion: acceptance up?",
    )
    p.add_argument("--ds", type=_parse_date, required=True, help="simulated day YYYY-MM-DD")
    p.add_argument("--users", type=int, default=2, help="people (default 2)")
    p.add_argument("--seed", type=int, default=None, help="default: settings")
    p.add_argument("--a", default=None, help="model id of arm A (default: the previous champion)")
    p.add_argument("--b", default=None, help="model id of arm B (default: the champion)")
    p.add_argument("--workers", type=int, default=None, help="processes (default: settings, 2)")
    p.add_argument(
        "--if-promoted", action="store_true", help="exit 0 without a run if no model was promoted"
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=cmd_simulate_ab)


# --- models: base model, training set, fine-tune, evaluate, promote, registry


def _step_progress(description: str):
    """A rich progress bar and the `on_step(step, total, loss)` callback that drives it."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
    from rich.progress import TimeRemainingColumn as Remaining

    # stderr, so stdout stays one JSON document for scripts
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("loss {task.fields[loss]:.3f}"), Remaining(),
                        console=Console(stderr=True))  # fmt: skip
    task_id = progress.add_task(description, total=None, loss=float("nan"))

    def on_step(step: int, total: int, loss: float) -> None:
        progress.update(task_id, completed=step, total=total, loss=loss)

    return progress, on_step


def cmd_bootstrap_model(args: argparse.Namespace) -> int:
    from echo_ops.bootstrap import bootstrap_and_register
    from echo_ops.config import get_settings

    settings = get_settings()
    if args.if_no_champion:
        from echo_ops.registry import champion
        from echo_ops.warehouse import open_warehouse

        with open_warehouse(settings) as con:
            existing = champion(con)
        if existing is not None:
            _print_json({"model_id": existing.model_id, "skipped": "a champion already exists"})
            return 0
    progress, on_step = _step_progress(f"pretraining ({args.preset})")
    with progress:
        summary = bootstrap_and_register(
            args.preset, settings, args.out, args.corpus, on_step=on_step
        )
    _print_json({k: summary[k] for k in ("model_id", "out_dir", "params", "steps", "final_loss",
                                         "eval_loss", "tokens_per_s", "wall_s", "files")})  # fmt: skip
    return 0


def cmd_build_trainset(args: argparse.Namespace) -> int:
    from echo_ops import pipeline

    _print_json(pipeline.build_training_examples(args.ds))
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from echo_ops import pipeline

    progress, on_step = _step_progress("fine-tuning")
    with progress:
        result = pipeline.fine_tune(resume=args.resume, on_step=on_step)
    if args.register:  # the pod leaves it to echo_train's register_candidate (writers' pool)
        result["registered"] = pipeline.register_candidate(result["candidate_id"])
    _print_json(result)
    if args.result_file:  # written only on success: a KubernetesPodOperator's XCom
        Path(args.result_file).parent.mkdir(parents=True, exist_ok=True)
        Path(args.result_file).write_text(json.dumps(result, default=str, sort_keys=True))
    return 0


def _candidate_id(con, given: str | None) -> str:
    from echo_ops.registry import latest_candidate

    if given:
        return given
    record = latest_candidate(con)
    if record is None:
        raise LookupError("no candidate waiting for a decision: run `echo-ops train` first")
    return record.model_id


def cmd_evaluate(args: argparse.Namespace) -> int:
    from echo_ops.config import get_settings
    from echo_ops.evaluate import evaluate_candidate
    from echo_ops.warehouse import open_warehouse

    settings = get_settings()
    with open_warehouse(settings) as con:
        report = evaluate_candidate(con, _candidate_id(con, args.candidate), settings)
    _print_json(
        {
            k: report[k]
            for k in ("candidate_id", "champion_id", "candidate", "champion", "report_uri")
        }
    )
    return 0


def cmd_promote(args: argparse.Namespace) -> int:
    from echo_ops.config import get_settings
    from echo_ops.promote import promote_or_reject
    from echo_ops.warehouse import open_warehouse

    settings = get_settings()
    with open_warehouse(settings) as con:
        decision = promote_or_reject(con, _candidate_id(con, args.candidate), settings)
    decision.pop("config", None)
    _print_json(decision)
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from echo_ops import registry
    from echo_ops.config import get_settings
    from echo_ops.warehouse import open_warehouse

    settings = get_settings()
    # list and show only read: they must not take the writer's lock (nor need one)
    with open_warehouse(settings, read_only=args.action in ("list", "show", None)) as con:
        if args.action == "show":
            _print_json(registry.get_model(con, args.model_id).to_dict())
        elif args.action == "rollback":
            rejected, restored = registry.rollback(con, args.reason, settings)
            _print_json({"rejected": rejected, "champion": restored})
        elif args.action == "register":
            model_id = registry.register_model(con, args.path, kind="registered", settings=settings)
            if args.champion or registry.champion(con) is None:
                registry.set_champion(
                    con, model_id, f"registered by hand from {args.path}", settings
                )
            _print_json(registry.get_model(con, model_id).to_dict())
        elif args.json:
            _print_json([m.to_dict() for m in registry.list_models(con)])
        else:
            table = Table(title="registry.models")
            for column in ("model_id", "status", "parent", "window to", "eval loss", "decided"):
                table.add_column(column)
            for m in registry.list_models(con):
                loss = m.metrics.get("eval", {}).get("loss")
                table.add_row(m.model_id, m.status, m.parent_id or "", str(m.data_window.get("to", "")),
                              f"{loss:.4f}" if loss is not None else "", m.decided_reason or "")  # fmt: skip
            Console().print(table)
    return 0


def _add_models_parsers(sub) -> None:
    p = sub.add_parser(
        "bootstrap-model", help="train a tokenizer + small base model from scratch; register it"
    )
    p.add_argument("--preset", choices=["tiny", "demo", "small"], default="demo",
                   help="model size: tiny (tests), demo (<5 min on 2 CPU cores), small (GPU)")  # fmt: skip
    p.add_argument(
        "--corpus", type=Path, default=None, help="directory of *.py files (default: stdlib)"
    )
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="HF directory to write (default: data_root/bootstrap/PRESET)",
    )
    p.add_argument(
        "--if-no-champion", action="store_true", help="do nothing when the registry has a champion"
    )
    p.set_defaults(handler=cmd_bootstrap_model)

    p = sub.add_parser(
        "build-trainset", help="one day of refinements -> training.examples (+ preference pairs)"
    )
    p.add_argument("--ds", type=_parse_date, required=True, help="the day (YYYY-MM-DD)")
    p.set_defaults(handler=cmd_build_trainset)

    p = sub.add_parser(
        "train", help="fine-tune a candidate from the champion on the new data window"
    )
    p.add_argument(
        "--resume",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="continue from the last checkpoint of this run (--no-resume: start afresh)",
    )
    p.add_argument("--result-file", default=None, help="also write the result JSON here (pod XCom)")
    p.add_argument(
        "--register",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="add the candidate to the registry (--no-register: stage its files only)",
    )
    p.set_defaults(handler=cmd_train)

    for name, handler, text in (("evaluate", cmd_evaluate, "score candidate vs champion on the eval set"),
                                ("promote", cmd_promote, "promote the candidate if measurably better, else reject")):  # fmt: skip
        p = sub.add_parser(name, help=text)
        p.add_argument("--candidate", default=None, help="model id (default: the newest candidate)")
        p.set_defaults(handler=handler)

    p = sub.add_parser(
        "models", help="the model registry: list | show ID | rollback | register DIR"
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("list", help="every model with status and lineage").add_argument(
        "--json", action="store_true", help="machine-readable output"
    )
    actions.add_parser("show", help="one model as JSON").add_argument("model_id")
    rb = actions.add_parser("rollback", help="reject the champion, restore the previous one")
    rb.add_argument("--reason", default="manual rollback")
    rg = actions.add_parser("register", help="add any Hugging Face causal-LM directory")
    rg.add_argument("path", type=Path)
    rg.add_argument("--champion", action="store_true", help="make it the champion at once")
    p.set_defaults(handler=cmd_models)


# --- imports of other assistants' logs


def cmd_import(args: argparse.Namespace) -> int:
    from echo_ops.adapters.importer import import_files, local_files
    from echo_ops.config import get_settings
    from echo_ops.warehouse import open_warehouse

    settings = get_settings()
    files = local_files(args.source, args.paths)
    with open_warehouse(settings) as con:
        result = import_files(con, args.source, files, settings)
    _print_json(result.summary())
    if result.stale_days:
        print(
            "these days were ingested before and got new events: re-run echo_daily for "
            + ", ".join(sorted(d.isoformat() for d in result.stale_days)),
            file=sys.stderr,
        )
    return 0


def cmd_acceptance(args: argparse.Namespace) -> int:
    """The acceptance report, per day, client and model, from the published analyst copy."""
    import duckdb
    from rich.console import Console
    from rich.table import Table

    from echo_ops.config import get_settings

    path = get_settings().storage.published_path
    if not path.exists():
        print(f"no analyst snapshot at {path}: run echo_daily first", file=sys.stderr)
        return 1
    con = duckdb.connect(str(path), read_only=True)
    try:
        rows = con.execute(
            "select ds, client, model_version, shown_count, accepted_count, acceptance_rate "
            "from marts.rpt_daily_acceptance where $ds is null or ds = $ds "
            "order by ds, client, model_version",
            {"ds": args.ds},
        ).fetchall()
    finally:
        con.close()
    columns = ("ds", "client", "model_version", "shown", "accepted", "acceptance")
    if args.json:
        _print_json([dict(zip(columns, r, strict=True)) for r in rows])
        return 0
    table = Table(title="Acceptance by client: Echo's collector beside imported logs")
    for column in columns:
        table.add_column(column)
    for r in rows:
        table.add_row(*(str(v) if not isinstance(v, float) else f"{v:.1%}" for v in r))
    Console().print(table)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """One self-contained HTML report with plots, from the published analyst copy."""
    import duckdb

    from echo_ops.config import get_settings
    from echo_ops.report import write_report

    settings = get_settings()
    path = settings.storage.published_path
    if not path.exists():
        print(f"no analyst snapshot at {path}: run echo_daily (or `make demo`) first",
              file=sys.stderr)  # fmt: skip
        return 1
    out = args.out or settings.data_root / "reports" / "echo_report.html"
    con = duckdb.connect(str(path), read_only=True)
    try:
        written = write_report(con, out)
    finally:
        con.close()
    print(written.resolve())
    return 0


def _add_import_parser(sub) -> None:
    p = sub.add_parser(
        "import",
        help="convert Continue or Tabby logs into v1 events in the landing zone (docs/imports.md)",
    )
    p.add_argument("source", choices=["continue", "tabby"])
    p.add_argument(
        "paths",
        nargs="+",
        type=Path,
        metavar="PATH",
        help="Continue: dev_data/[0.2.0/]autocomplete.jsonl; Tabby: events/YYYY-MM-DD.json",
    )
    p.set_defaults(handler=cmd_import)

    p = sub.add_parser(
        "acceptance", help="acceptance per day, client (echo, continue, tabby) and model"
    )
    p.add_argument("--ds", type=_parse_date, default=None, help="one day (default: all)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=cmd_acceptance)

    p = sub.add_parser(
        "report",
        help="one self-contained HTML file with plots (acceptance per arm, promotions, outcomes, "
        "data quality, accounting, training curves) from the published copy; prints its path",
    )
    p.add_argument(
        "--out", type=Path, help="where to write it (default: DATA_ROOT/reports/echo_report.html)"
    )
    p.set_defaults(handler=cmd_report)


# --- serving in front of editors


def _serve_settings(args: argparse.Namespace):
    """The settings with the command line's serve/lsp overrides applied."""
    from echo_ops.config import get_settings

    settings = get_settings()
    serve = {k: v for k, v in (("host", getattr(args, "host", None)),
             ("port", getattr(args, "port", None)), ("pin_model", getattr(args, "pin", None)),
             ("arm", getattr(args, "arm", None))) if v is not None}  # fmt: skip
    lsp = {"server_url": args.server_url} if getattr(args, "server_url", None) else {}
    return settings.model_copy(update={
        "serve": settings.serve.model_copy(update=serve),
        "lsp": settings.lsp.model_copy(update=lsp)})  # fmt: skip


def cmd_serve(args: argparse.Namespace) -> int:
    from echo_ops.serve import run_server

    settings = _serve_settings(args)
    cfg = settings.serve
    print(f"echo-ops serve: http://{cfg.host}:{cfg.port} (OpenAPI at /openapi.json; "
          f"landing {settings.storage.landing_uri})", file=sys.stderr, flush=True)  # fmt: skip
    run_server(settings)
    return 0


def cmd_lsp(args: argparse.Namespace) -> int:
    from echo_ops.lsp import run_lsp

    run_lsp(_serve_settings(args))
    return 0


def _add_serving_parsers(sub) -> None:
    p = sub.add_parser(
        "serve", help="serve the champion over HTTP for editors; log v1 server events"
    )
    p.add_argument("--host", default=None, help="bind address (default: serve.host)")
    p.add_argument("--port", type=int, default=None, help="port (default: serve.port)")
    p.add_argument("--pin", default=None, help="serve this model id for good (a control arm)")
    p.add_argument("--arm", default=None, help="arm name in the log (default: treatment|control)")
    p.set_defaults(handler=cmd_serve)
    p = sub.add_parser("lsp", help="language server over stdio: inline completions + client events")
    p.add_argument(
        "--server-url", default=None, help="echo-ops serve URL (default: lsp.server_url)"
    )
    p.set_defaults(handler=cmd_lsp)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="echo-ops",
        description="Echo: turn how people refine AI code completions into training data.",
        epilog="Settings come from ECHO_* environment variables; `echo-ops config` lists them.",
    )
    parser.add_argument("--version", action="version", version=f"echo-ops {__version__}")
    parser.add_argument(
        "--log-level", default=None, help="DEBUG, INFO, WARNING (default: settings)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("config", help="print the effective settings and where each came from")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=cmd_config)

    p = sub.add_parser("init", help="create the warehouse file, its layers and ops tables")
    p.set_defaults(handler=cmd_init)

    p = sub.add_parser(
        "publish", help="publish the analyst snapshot (atomic copy of the warehouse)"
    )
    p.set_defaults(handler=cmd_publish)

    _add_models_parsers(sub)

    # quality, consent and safety
    p = sub.add_parser("quality", help="run one hop's data-quality suite on a day")
    p.add_argument(
        "--suite",
        required=True,
        choices=["raw_client", "raw_server", "aligned", "refinements", "training_set"],
    )
    p.add_argument("--ds", required=True, type=_parse_date, help="day to check (YYYY-MM-DD)")
    p.set_defaults(handler=cmd_quality)

    p = sub.add_parser("consent", help="record a user's training consent (opt out or back in)")
    p.add_argument("--user", required=True, help="pseudonymous user id")
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--opt-out", dest="opt_out", action="store_true")
    group.add_argument("--opt-in", dest="opt_out", action="store_false")
    p.set_defaults(handler=cmd_consent)

    p = sub.add_parser(
        "forget", help="erase a user from every layer, the published copy and the landing zone"
    )
    p.add_argument("--user", required=True, help="pseudonymous user id")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.add_argument("--requested-by", default=None, help="who asked (audit); default: the OS user")
    p.set_defaults(handler=cmd_forget)

    p = sub.add_parser(
        "scan-secrets", help="score redaction against the simulator's planted secrets"
    )
    p.add_argument("--truth-dir", default=None, help="simulator truth (default: settings)")
    p.add_argument(
        "--fp-files", type=int, default=None, help="stdlib files for the false-positive rate"
    )
    p.add_argument(
        "--check-training-set",
        action="store_true",
        help="also count planted values found in training.examples",
    )
    p.set_defaults(handler=cmd_scan_secrets)
    _add_extract_commands(sub)
    _add_import_parser(sub)
    _add_simulate_parser(sub)
    _add_simulate_ab_parser(sub)
    _add_flywheel_parser(sub)
    _add_serving_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from echo_ops.config import get_settings
    from echo_ops.logs import configure_cli_logging

    try:
        configure_cli_logging(args.log_level or get_settings().log_level)
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 1
    except Exception as exc:  # a CLI user needs the reason, not a traceback
        print(f"echo-ops {args.command}: error: {exc}", file=sys.stderr)
        if (args.log_level or "").upper() == "DEBUG":
            raise
        return 1


if __name__ == "__main__":
    sys.exit(main())
