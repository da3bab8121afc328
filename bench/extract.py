"""Benchmark: ingest + align + extract of one simulated day against DuckDB's floor.

The floor is DuckDB merely reading the same landing files into tables of a database
file (read_json), measured in the same run on the same files. Events come from the
simulator (`--source sim`, default settings and noise; its truth scores fidelity) or
from a built-in generator of known-answer sessions (`--source synth`). Only day D is
timed: ingest and align once, then its extract for each `--shards K` as echo_daily's
tasks run it (plan, K shard processes at once, merge: one process each), with the peak
RSS of the process tree; every K must write the same tables. The next landing day (late
arrivals) is then processed untimed so that deferred completions can settle before scoring.

    PYTHONPATH=plugins .venv/bin/python bench/extract.py --events 2000000 --shards 1 2 4

Last line: one JSON object (events, events_per_s and floor_ratio per K under "shards", ...).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))

DAY = date(2026, 11, 20)
_FILLER = "    value = compute(items, key=lambda item: item.name)\n"


class _Writer:
    """Writes v1 events for one session straight to a gzip file, cheaply."""

    def __init__(self, out, session: str, start: datetime):
        self.out, self.session, self.now, self.n = out, session, start, 0
        self.head = f'"user_id": "u-{session}", "session_id": "{session}", "client": {{"name": "bench", "version": "1"}}'

    def emit(self, type_: str, uri: str, version: int, dt: float, body: dict) -> None:
        self.now += timedelta(seconds=dt)
        self.n += 1
        ts = self.now.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        fields = json.dumps(body)[1:-1]
        self.out.write(
            f'{{"schema_version": 1, "event_id": "{self.session}.{self.n:x}", "type": "{type_}", '
            f'"ts": "{ts}", {self.head}, "doc": {{"uri": "{uri}", "version": {version}, '
            f'"language_id": "python"}}{", " + fields if fields else ""}}}\n'
        )


def _pos(line: int, ch: int) -> dict:
    return {"line": line, "character": ch}


def _ins(line: int, ch: int, text: str) -> dict:
    return {"range": {"start": _pos(line, ch), "end": _pos(line, ch)}, "text": text}


def _session(w: _Writer, server, truth, sid: str, docs: int, cycles: int) -> None:
    """Each cycle appends a line at the end of the document: type a prefix, get a proposal,
    then one of six known behaviours; quiet gaps between cycles settle every region."""
    for k in range(docs):
        uri, v, line = f"file:///{sid}/m{k}.py", 1, 40
        w.emit("document.opened", uri, v, 1.0, {"text": _FILLER * line})
        for c in range(cycles):
            cid = f"{sid}.{k}.{c}"
            for i, ch in enumerate("x = "):  # four keystrokes
                v += 1
                w.emit("document.changed", uri, v, 0.15, {"changes": [_ins(line, i, ch)]})
            prop = f"f{c}(a, b)"
            pos = _pos(line, 4)
            w.emit(
                "completion.shown",
                uri,
                v,
                0.1,
                {
                    "completion_id": cid,
                    "request_id": "r" + cid,
                    "position": pos,
                    "items": [{"insert_text": prop, "range": {"start": pos, "end": pos}}],
                },
            )
            server.write(
                json.dumps(
                    {
                        "request_id": "r" + cid,
                        "ts": w.now.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                        "model_version": "m1",
                        "prompt": {"prefix": "x = ", "suffix": ""},
                        "completion": prop,
                        "latency_ms": 31,
                    }
                )
                + "\n"
            )
            kind = c % 6
            end = 4 + len(prop)
            if kind in (0, 1, 2, 3):  # accepted: kept / refined / deleted / partial
                text = prop if kind != 3 else prop[: len(f"f{c}")]
                v += 1
                w.emit("document.changed", uri, v, 0.3, {"changes": [_ins(line, 4, text)]})
                w.emit(
                    "completion.accepted",
                    uri,
                    v,
                    0.01,
                    {
                        "completion_id": cid,
                        "item_index": 0,
                        "accepted_text": text,
                        "accept_kind": "full" if kind != 3 else "word",
                    },
                )
                final, outcome = text, ["accepted_kept", "", "", "partial_accepted"][kind]
                col = 4 + len(text)
                if kind == 1:  # replace "b" with "c" inside the region
                    v += 1
                    w.emit(
                        "document.changed",
                        uri,
                        v,
                        0.8,
                        {
                            "changes": [
                                {
                                    "range": {
                                        "start": _pos(line, end - 2),
                                        "end": _pos(line, end - 1),
                                    },
                                    "text": "c",
                                }
                            ]
                        },
                    )
                    final, outcome = prop[:-2] + "c)", "accepted_refined"
                if kind == 2:
                    v += 1
                    w.emit(
                        "document.changed",
                        uri,
                        v,
                        0.8,
                        {
                            "changes": [
                                {
                                    "range": {"start": _pos(line, 4), "end": _pos(line, end)},
                                    "text": "",
                                }
                            ]
                        },
                    )
                    final, outcome, col = "", "accepted_deleted", 4
                if kind in (0, 3):  # typing at the region's end stays outside it
                    at = 4 + len(text)
                    for i, ch in enumerate("  # ok"):
                        v += 1
                        w.emit(
                            "document.changed", uri, v, 0.15, {"changes": [_ins(line, at + i, ch)]}
                        )
                    col = at + 6
            elif kind == 4:  # typed over, rejection after the keystrokes
                for i, ch in enumerate("g(z)"):
                    v += 1
                    w.emit("document.changed", uri, v, 0.15, {"changes": [_ins(line, 4 + i, ch)]})
                w.emit(
                    "completion.rejected",
                    uri,
                    v,
                    0.05,
                    {"completion_id": cid, "reason": "typed_over"},
                )
                final, outcome, col = "g(z)", "rejected_written", 8
            else:  # dismissed
                w.emit(
                    "completion.rejected",
                    uri,
                    v,
                    0.4,
                    {"completion_id": cid, "reason": "dismissed"},
                )
                final, outcome, col = "", "rejected_empty", 4
            v += 1  # the line break that ends the cycle, after a quiet period
            w.emit("document.changed", uri, v, 11.0, {"changes": [_ins(line, col, "\n")]})
            line += 1
            truth.write(
                json.dumps(
                    {
                        "completion_id": cid,
                        "request_id": "r" + cid,
                        "user_id": f"u-{sid}",
                        "doc_uri": uri,
                        "intended_outcome": outcome,
                        "final_text": final,
                        "proposal_text": prop,
                        "planted_secrets": [],
                    }
                )
                + "\n"
            )
        w.emit("document.saved", uri, v, 0.5, {})
        w.emit("document.closed", uri, v, 0.5, {})


def generate_synth(landing: Path, truth_dir: Path, target_events: int) -> int:
    """Write one landing day (client + server, gzip, 4 files each) and its truth; returns events."""
    per_session = 450  # client events one generated session holds (measured)
    sessions = max(1, target_events // per_session)
    total = 0
    truth_path = truth_dir / f"ds={DAY}" / "completions.jsonl"
    truth_path.parent.mkdir(parents=True, exist_ok=True)
    with truth_path.open("w") as truth:
        for part in range(4):
            cdir, sdir = landing / "client" / f"ds={DAY}", landing / "server" / f"ds={DAY}"
            cdir.mkdir(parents=True, exist_ok=True)
            sdir.mkdir(parents=True, exist_ok=True)
            with (
                gzip.open(cdir / f"part-{part}.jsonl.gz", "wt", compresslevel=1) as out,
                gzip.open(sdir / f"part-{part}.jsonl.gz", "wt", compresslevel=1) as server,
            ):
                for s in range(part, sessions, 4):
                    w = _Writer(
                        out,
                        f"s{s}",
                        datetime(2026, 11, 20, 1, 0, tzinfo=UTC) + timedelta(seconds=s),
                    )
                    _session(w, server, truth, f"s{s}", docs=4, cycles=10)
                    total += w.n
    return total


def _landed_lines(landing: Path, source: str) -> int:
    import duckdb

    pattern = f"{landing}/{source}/ds={DAY}/*.jsonl*"
    return (
        duckdb.connect()
        .execute(
            f"select count(*) from read_csv('{pattern}', columns={{'l': 'VARCHAR'}}, delim='\\x01', "
            "quote='', escape='', header=false, auto_detect=false, max_line_size=268435456)"
        )
        .fetchone()[0]
    )


def generate_day(root: Path, events: int, source: str = "sim") -> int:
    """Land day DAY under `root` (landing/, data/truth/) in a child process, so that the
    caller's peak RSS is its pipeline's alone; the child inherits ECHO_* settings from the
    environment. Returns the client lines landed."""
    import subprocess

    cmd = [sys.executable, __file__, "--events", str(events), "--source", source,
           "--workdir", str(root), "--generate-only"]  # fmt: skip
    subprocess.run(cmd, check=True)
    return _landed_lines(root / "landing", "client")


def _generate_here(root: Path, events: int, source: str, settings) -> int:
    if source == "synth":
        return generate_synth(root / "landing", Path(settings.storage.truth_dir), events)
    from echo_ops.simulate import simulate_days

    users = max(6, events // 60_000)  # one simulated person writes ~70k events a day
    simulate_days(DAY, 1, users=users, target_events=events, settings=settings)
    return _landed_lines(root / "landing", "client")


def _floor(landing: Path, db: Path) -> float:
    """DuckDB reading the landing files into tables of a database file (the pipeline must
    persist too, so an in-memory table would flatter the floor)."""
    import duckdb

    con = duckdb.connect(str(db))
    started = time.perf_counter()
    for source in ("client", "server"):
        con.execute(
            f"create table {source} as select * from read_json('{landing}/{source}/ds={DAY}/*.jsonl*', "
            "format='newline_delimited', union_by_name=true, ignore_errors=true)"
        )
    con.close()
    return time.perf_counter() - started


class _TreePeak:
    """Peak RSS of the extract's processes (every descendant of this one, summed: what one
    machine needs for what runs at once) and of the biggest single one, sampled every 20 ms.
    This process (ingest's leftovers) is not counted: in Airflow each task is its own."""

    def __init__(self):
        import threading

        import psutil

        self.me, self._stop = psutil.Process(), threading.Event()
        self.peak_mb = self.one_mb = 0.0
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        import psutil

        while not self._stop.is_set():
            sizes = []
            for p in self.me.children(recursive=True):
                try:
                    sizes.append(p.memory_info().rss / 2**20)
                except psutil.Error:
                    pass
            self.peak_mb = max(self.peak_mb, sum(sizes))
            self.one_mb = max(self.one_mb, *sizes, 0)
            self._stop.wait(0.02)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


# One Airflow task = one process: the bench runs each step of the extract as its own.
_TASK = """import json, sys
from echo_ops import pipeline
from datetime import date
step, arg = sys.argv[1], json.loads(sys.argv[2])
if step == "plan":
    print(json.dumps(pipeline.plan_extract(date.fromisoformat(arg)), default=str))
elif step == "shard":
    print(json.dumps(pipeline.extract_shard(arg), default=str))
else:
    print(json.dumps(pipeline.merge_extract(date.fromisoformat(arg["ds"]), arg["walked"]), default=str))
"""


def _task(step: str, arg, shards: int):
    import subprocess

    env = {**os.environ, "ECHO_EXTRACT__SHARDS": str(shards)}
    cmd = [sys.executable, "-c", _TASK, step, json.dumps(arg, default=str)]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)


def _result(proc) -> object:
    out, _ = proc.communicate()
    if proc.returncode:
        raise SystemExit(f"extract task failed (exit {proc.returncode})")
    return json.loads(out.strip().splitlines()[-1])


def run_mapped(shards: int) -> dict:
    """echo_daily's extract as its tasks run it: plan, then every shard at once (as many
    workers as shards), then the merge, each in its own process."""
    timings, peaks = {}, {}

    def step(name: str, fn):
        cpu, t = _children_cpu_s(), time.perf_counter()
        # One sampler per step: the steps run one after another, so the extract's peak is
        # the biggest step's, and each step's says which task sizes a worker.
        with _TreePeak() as peaks[name]:
            out = fn()
        timings[f"{name}_s"] = time.perf_counter() - t
        timings[f"{name}_cpu_s"] = _children_cpu_s() - cpu  # core-seconds, whatever the load
        return out

    specs = step("plan", lambda: _result(_task("plan", DAY.isoformat(), shards)))
    walked = step(
        "shards", lambda: [_result(p) for p in [_task("shard", s, shards) for s in specs]]
    )
    merged = step(
        "merge",
        lambda: _result(_task("merge", {"ds": DAY.isoformat(), "walked": walked}, shards)),
    )
    assert merged["shards"] == shards, merged
    return {k: round(v, 2) for k, v in timings.items()} | {
        # the extract's processes together, and the biggest one of them
        "peak_tree_rss_mb": round(max(p.peak_mb for p in peaks.values())),
        "peak_process_rss_mb": round(max(p.one_mb for p in peaks.values())),
        "peak_process_rss_mb_by_step": {k: round(p.one_mb) for k, p in peaks.items()},
    }


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _tables_digest(settings) -> list:
    from echo_ops.warehouse import connect

    con = connect(settings, read_only=True)
    try:
        return _tables_digest_con(con)
    finally:
        con.close()


def _tables_digest_con(con) -> list:
    tables = ("staging.refinements", "ops.extract_deferrals", "ops.extract_accounting",
              "ops.quarantine where stage = 'extract'")  # fmt: skip
    return [
        con.execute(f"select count(*), sum(hash(columns(*))) from {t}").fetchall() for t in tables
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2_000_000, help="client events to generate")
    parser.add_argument(
        "--shards", type=int, nargs="+", default=[1], metavar="K",
        help="extract the day as K mapped shards (plan, K shard processes at once, merge); "
        "each K in turn on the same ingested day",
    )  # fmt: skip
    parser.add_argument(
        "--workdir", type=Path, default=None, help="default: a temp dir, removed after"
    )
    parser.add_argument("--source", choices=("sim", "synth"), default="sim")
    parser.add_argument("--generate-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    tmp = tempfile.TemporaryDirectory(prefix="echo-bench-")
    root = args.workdir or Path(tmp.name)
    os.environ.update(
        {"ECHO_DATA_ROOT": str(root / "data"), "ECHO_STORAGE__LANDING_URI": str(root / "landing")}
    )
    from echo_ops.align import align_day
    from echo_ops.config import get_settings
    from echo_ops.extract import extract_day
    from echo_ops.ingest import ingest_day
    from echo_ops.simulate.score import score_day
    from echo_ops.warehouse import connect

    settings = get_settings()
    t = time.perf_counter()
    if args.generate_only:
        events = _generate_here(root, args.events, args.source, settings)
    else:
        events = generate_day(root, args.events, args.source)
    print(f"generated {events} client lines in {time.perf_counter() - t:.1f}s", file=sys.stderr)
    if args.generate_only:
        return
    floor_s = _floor(root / "landing", root / "floor.duckdb")
    con = connect(settings)
    timings = {}
    for name, fn in (("ingest", ingest_day), ("align", align_day)):
        t, cpu = time.perf_counter(), time.process_time()
        fn(con, DAY, settings)
        timings[name] = round(time.perf_counter() - t, 2)
        timings[f"{name}_cpu"] = round(time.process_time() - cpu, 2)  # core-seconds
        print(f"{name}: {timings[name]}s", file=sys.stderr)
    con.close()
    before = timings["ingest"] + timings["align"]  # wall seconds
    per_k, digests = {}, []
    for k in args.shards:
        load = os.getloadavg()[0]
        t = time.perf_counter()
        steps = run_mapped(k)
        extract_s = time.perf_counter() - t
        total = before + extract_s
        per_k[str(k)] = {
            "events_per_s": round(events / total),
            "floor_ratio": round(total / floor_s, 2),
            "extract_s": round(extract_s, 2),
            **steps,
            "load_avg_1m_before": round(load, 2),
        }
        digests.append(_tables_digest(settings))
        print(f"shards={k}: {per_k[str(k)]}", file=sys.stderr)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    con = connect(settings)
    t = time.perf_counter()  # the CLI's way: the same steps in this one process
    extract_day(con, DAY, settings)
    inline_s = time.perf_counter() - t
    identical = all(d == digests[0] for d in [*digests, _tables_digest_con(con)])
    next_day = DAY + timedelta(days=1)
    ingest_day(con, next_day, settings)
    align_day(con, next_day, settings)
    extract_day(con, next_day, settings)
    fidelity = score_day(con, DAY, settings)
    first = per_k[str(args.shards[0])]
    print(
        json.dumps(
            {
                "events": events,
                "events_per_s": first["events_per_s"],  # the first K's, as before --shards
                "floor_ratio": first["floor_ratio"],
                "floor_seconds": round(floor_s, 2),
                "stage_seconds": timings,
                "shards": per_k,  # per K: events/s and floor ratio of ingest + align + extract
                "identical_for_every_k": identical,  # and for the inline run
                "inline_extract_s": round(inline_s, 2),  # extract_day in one process, K=1
                "peak_rss_mb": round(peak_mb),  # this process (ingest, align)
                "fidelity_exact": round(fidelity.fidelity_exact, 5),
                "outcome_accuracy": round(fidelity.outcome_accuracy, 5),
                "unaccounted": fidelity.unaccounted,
                "extracted": fidelity.extracted,
                "deferred": fidelity.deferred,
                "quarantined": fidelity.quarantined,
                "truth": fidelity.truth,
                "source": args.source,
                "cpus": os.cpu_count(),
                "load_avg_1m": round(os.getloadavg()[0], 2),
            }
        )
    )


if __name__ == "__main__":
    main()
