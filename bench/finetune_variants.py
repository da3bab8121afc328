"""Which fine-tune helps the next day? Variants trained on one day, judged on the next.

    PYTHONPATH=plugins .venv/bin/python bench/finetune_variants.py --data-root data/fw1 \
        [--train-day 2026-11-02] [--test-day 2026-11-03] [--variants target,context@0.3] \
        [--steps 300] [--requests 600]

Reads a warehouse a flywheel run left (bench/flywheel.py) whose first two days were both
served by the base. Each variant is fine-tuned from the base on the train day's training
examples (what echo_train would use) with its settings, then every model (the base and each
variant) is replayed through the serving code (offline.replay) on requests of the test day:
its training examples of both splits, none of which any variant saw, so the whole next day
is held out, the question the online A/B asks. Gates: each model shows as often as the base
does at `simulate.show_min_prob` on the train day's logged requests (the calibration
`train.calibrate_gate` uses, the same for every model). The baseline measured in the same
run is the base; paired-bootstrap intervals resample files. Variants: `target` (today's
fine-tune), `context@W` (`train.context_loss_weight` = W), `steps@N`. Last line: one JSON
object.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "plugins"))

METRICS = ("acceptance", "accepted_per_request", "retained_chars_per_request")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-root", type=Path, default=REPO / "data" / "bench-flywheel")
    p.add_argument("--train-day", default="2026-11-02")
    p.add_argument("--test-day", default="2026-11-03")
    p.add_argument("--variants", default="target,context@0.3")
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--requests", type=int, default=600)
    args = p.parse_args()
    os.environ["ECHO_DATA_ROOT"] = str(args.data_root.resolve())
    started = time.perf_counter()

    from echo_ops.config import get_settings
    from echo_ops.finetune import _load_window
    from echo_ops.offline import (
        calibrated_gate,
        estimate,
        gated,
        load_calibration_requests,
        paired_bootstrap,
        replay,
    )
    from echo_ops.registry import fetch_model_dir, get_model
    from echo_ops.train import train
    from echo_ops.warehouse import open_warehouse

    settings = get_settings()
    with open_warehouse(settings, read_only=True) as con:
        base_dir = fetch_model_dir(get_model(con, "base"), settings)
        train_rows, eval_rows = _load_window(con, args.train_day, args.train_day, 64)
        test = _test_rows(con, args.test_day, args.requests)
        asked = load_calibration_requests(con, args.train_day, args.train_day, args.requests)
    print(f"{len(train_rows)} training examples of {args.train_day}; {len(test)} requests of "
          f"{args.test_day} from {len({r['doc_uri'] for r in test})} files", file=sys.stderr)  # fmt: skip

    models = {"base": base_dir}
    fits = {}
    work = Path(tempfile.mkdtemp(prefix="variants-", dir=settings.data_root))
    for name in (v for v in args.variants.split(",") if v):
        cfg = settings.train.model_copy(update={"max_steps": args.steps, **_overrides(name)})
        t0 = time.perf_counter()
        result = train(base_dir, work / name, train_rows, eval_rows, cfg)
        models[name] = result.model_dir
        fits[name] = {"final_loss": result.final_loss, "seconds": round(time.perf_counter() - t0)}
        print(f"trained {name}: {fits[name]}", file=sys.stderr)

    gate0 = settings.simulate.show_min_prob
    base_conf = [c for c, *_ in replay(base_dir, "base", asked, settings)]
    show_rate = sum(c > 0 and c >= gate0 for c in base_conf) / max(len(asked), 1)
    runs, gates = {}, {}
    for name, model_dir in models.items():
        conf = (
            base_conf
            if name == "base"
            else [c for c, *_ in replay(model_dir, name, asked, settings)]
        )
        gates[name] = gate0 if name == "base" else calibrated_gate(conf, show_rate)
        runs[name] = gated(replay(model_dir, name, test, settings), gates[name])
    groups = [r["doc_uri"] for r in test]
    b = settings.train.bootstrap_samples
    out = {
        "train_day": args.train_day,
        "test_day": args.test_day,
        "requests": len(test),
        "target_show_rate": round(show_rate, 4),
        "gates": gates,
        "fits": fits,
        "estimates": {n: estimate(r) for n, r in runs.items()},
        "vs_base": {
            n: {m: paired_bootstrap(runs[n], runs["base"], groups, m, b, 7) for m in METRICS}
            for n in runs
            if n != "base"
        },
        "wall_s": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(out, default=str))
    return 0


def _overrides(name: str) -> dict:
    kind, _, value = name.partition("@")
    if kind == "target":
        return {}
    if kind == "context":
        return {"context_loss_weight": float(value)}
    if kind == "steps":
        return {"max_steps": int(value)}
    raise SystemExit(f"unknown variant {name!r}: target, context@W or steps@N")


def _test_rows(con, day: str, limit: int) -> list[dict]:
    """Every settled refinement example of `day` (both splits), spread over files."""
    rows = con.execute(
        "select example_id, doc_uri, prefix, suffix, target from training.examples "
        "where source = 'refinement' and ds = ? order by hash(example_id), example_id limit ?",
        [day, limit],
    ).fetchall()
    keys = ("example_id", "doc_uri", "prefix", "suffix", "target")
    return [dict(zip(keys, r, strict=True)) for r in rows]


if __name__ == "__main__":
    sys.exit(main())
