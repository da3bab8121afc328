"""Does a memory of the team's code help? The offline estimate, with and without it.

    PYTHONPATH=plugins .venv/bin/python bench/memory.py --data-root data/bench-flywheel \
        [--model ID] [--weights 0.2,0.4] [--requests 400]

Reads a warehouse a flywheel run left (bench/flywheel.py): the held-out requests of its
last day with any (training.examples, eval split: files no model trained on), the
champion (or `--model`) and the base the run started from. Each is replayed on the same
requests as the editor would be served (offline.replay: the serving code, the estimator
promotion decides on), the model once plain and once per `--weights` with echo_ops.memory
mixed in: the text of each document as last opened before that day. Gates: every variant
is calibrated to show as often as the base does at `simulate.show_min_prob` on that day's
logged requests, shown or not (the procedure `train.calibrate_gate` uses, the same for
every variant). The baseline measured in the
same run is the model without memory; paired-bootstrap intervals resample files.
Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "plugins"))

METRICS = ("acceptance", "accepted_per_request", "retained_chars_per_request")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-root", type=Path, default=REPO / "data" / "bench-flywheel")
    p.add_argument("--model", help="registry model id (default: the champion)")
    p.add_argument("--weights", default="0.2,0.4", help="memory weights to try")
    p.add_argument("--requests", type=int, default=400)
    args = p.parse_args()
    os.environ["ECHO_DATA_ROOT"] = str(args.data_root.resolve())
    started = time.perf_counter()

    from echo_ops.config import get_settings
    from echo_ops.memory import load_memory_texts
    from echo_ops.offline import (
        calibrated_gate,
        estimate,
        gated,
        load_calibration_requests,
        load_replay_rows,
        paired_bootstrap,
        replay,
    )
    from echo_ops.registry import champion, fetch_model_dir, get_model
    from echo_ops.warehouse import open_warehouse

    settings = get_settings()
    with open_warehouse(settings, read_only=True) as con:
        model = get_model(con, args.model) if args.model else champion(con)
        base = get_model(con, "base")
        day = con.execute(
            "select max(ds) from training.examples where split = 'eval' and source = 'refinement'"
        ).fetchone()[0]
        rows = load_replay_rows(con, day, day, args.requests)
        asked = load_calibration_requests(con, day, day, args.requests)
        texts = load_memory_texts(con, day)
    print(f"{len(rows)} held-out requests of {day}; memory: {len(texts)} documents, "
          f"{sum(map(len, texts)):,} chars; model {model.model_id}", file=sys.stderr)  # fmt: skip

    def with_weight(w: float):
        return settings.model_copy(
            update={"train": settings.train.model_copy(update={"memory_weight": w})}
        )

    variants = {"base": (base, settings, None), "model": (model, settings, None)}
    for w in (float(w) for w in args.weights.split(",") if w):
        variants[f"model+memory@{w}"] = (model, with_weight(w), texts)
    served, asked_conf = {}, {}
    for name, (record, cfg, memory) in variants.items():
        t = time.perf_counter()
        model_dir = fetch_model_dir(record, settings)
        served[name] = replay(model_dir, record.model_id, rows, cfg, memory=memory)
        asked_conf[name] = [c for c, _, _ in replay(model_dir, record.model_id, asked, cfg,
                                                    memory=memory)]  # fmt: skip
        print(f"{name}: {time.perf_counter() - t:.0f}s", file=sys.stderr)

    gate = settings.simulate.show_min_prob
    rate = sum(c > 0 and c >= gate for c in asked_conf["base"]) / max(len(asked), 1)
    runs, gates = {}, {}
    for name, out in served.items():
        gates[name] = gate if name == "base" else calibrated_gate(asked_conf[name], rate)
        runs[name] = gated(out, gates[name])
    groups = [r["doc_uri"] or r["example_id"] for r in rows]
    n_boot, seed = settings.train.bootstrap_samples, settings.train.seed
    result = {
        "day": str(day),
        "requests": len(rows),
        "memory_documents": len(texts),
        "model": model.model_id,
        "calibration_requests": len(asked),
        "base_show_rate": rate,
        "gates": gates,
        "estimates": {name: estimate(run) for name, run in runs.items()},
        "vs_model": {
            name: {
                m: paired_bootstrap(runs[name], runs["model"], groups, m, n_boot, seed)
                for m in METRICS
            }
            for name in runs
            if name.startswith("model+")
        },
        "vs_base": {
            name: {
                m: paired_bootstrap(runs[name], runs["base"], groups, m, n_boot, seed)
                for m in METRICS
            }
            for name in runs
            if name != "base"
        },
        "wall_s": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
