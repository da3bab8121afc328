"""Benchmark: `echo-ops serve` over loopback HTTP against calling the model in process.

Same run, same model, same prompts: editor-shaped windows (2000 characters before the
cursor, 500 after) at line starts and mid-line points of standard-library files. The
baseline calls `echo_ops.generate`'s proposer directly (what the simulator does); the
served path is a real `echo-ops serve` process (uvicorn, FastAPI, the show gate, the
server event buffered into a temporary landing zone). Each prompt goes both ways back to
back, so the load other work puts on the machine hits both alike; then `--clients`
threads ask at once. One torch thread on both sides.

    PYTHONPATH=plugins .venv/bin/python bench/serve.py [--requests 60] [--clients 4] [--model DIR]

Model: `--model DIR`, else the registry's champion (ECHO_DATA_ROOT), i.e. the demo model
after `make demo`; with none, a tiny model trained here (the output says which). The last stdout line is JSON:
completions_per_s (one request at a time, served), p50_ms / p95_ms (served),
overhead_ratio (served mean latency / in-process mean latency), overhead_p50_ms (median
per-prompt difference), and the in-process and concurrent figures.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "plugins"))

from echo_ops.config import Settings, get_settings  # noqa: E402


def _prompts(n: int, seed: int = 0) -> list[tuple[str, str]]:
    """(prefix, suffix) at n cursor points of stdlib files: half at line starts after the
    indentation, half mid-line after a space, `(` or `.`."""
    rng = random.Random(seed)
    files = sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py"))
    out = []
    while len(out) < n:
        text = rng.choice(files).read_text(errors="replace")
        lines = text.splitlines(keepends=True)
        if len(lines) < 20:
            continue
        k = rng.randrange(10, len(lines))
        start = sum(len(x) for x in lines[:k])
        line = lines[k]
        if len(out) % 2 == 0:
            cut = len(line) - len(line.lstrip())
        else:
            cuts = [i + 1 for i, ch in enumerate(line.rstrip()) if ch in " (."]
            if not cuts:
                continue
            cut = rng.choice(cuts)
        i = start + cut
        out.append((text[max(0, i - 2000) : i], text[i : i + 500]))
    return out


def _model(tmp: Path, given: Path | None) -> tuple[Settings, str, Path, str]:
    """(settings whose registry holds the model, id, dir, which) of the model to serve."""
    from echo_ops.generate import registry_model_dir

    if given is not None:  # any HF directory, registered as champion of a scratch registry
        from echo_ops.registry import register_model, set_champion
        from echo_ops.warehouse import open_warehouse

        settings = Settings(data_root=tmp / "data")
        with open_warehouse(settings) as con:
            model_id = register_model(con, given, kind="registered", settings=settings)
            set_champion(con, model_id, "bench", settings)
        model_id, model_dir = registry_model_dir(None, settings)
        return settings, model_id, model_dir, f"{given} ({_describe(given)})"
    settings = get_settings()
    try:
        model_id, model_dir = registry_model_dir(None, settings)
        return settings, model_id, model_dir, f"registry champion {model_id}"
    except Exception:
        from echo_ops.bootstrap import bootstrap_and_register

        settings = Settings(data_root=tmp / "data")
        out = bootstrap_and_register("tiny", settings=settings)
        model_id, model_dir = registry_model_dir(None, settings)
        return settings, out["model_id"], model_dir, "tiny (no demo model in the registry)"


def _describe(model_dir: Path) -> str:
    cfg = json.loads((Path(model_dir) / "config.json").read_text())
    preset = json.loads((Path(model_dir) / "train_config.json").read_text()).get("preset", "?") \
        if (Path(model_dir) / "train_config.json").is_file() else "?"  # fmt: skip
    return (f"preset {preset}, {cfg.get('num_hidden_layers')} layers x "
            f"{cfg.get('hidden_size')}, vocab {cfg.get('vocab_size')}")  # fmt: skip


def _stats(ms: list[float]) -> dict[str, float]:
    ms = sorted(ms)
    return {"p50_ms": round(statistics.median(ms), 2),
            "p95_ms": round(ms[min(len(ms) - 1, int(0.95 * len(ms)))], 2),
            "mean_ms": round(statistics.fmean(ms), 2)}  # fmt: skip


def _in_process(settings, model_id, model_dir):
    """The baseline: the proposer the simulator calls, in this process."""
    import torch

    from echo_ops.generate import model_proposer

    torch.set_num_threads(1)
    return model_proposer(model_dir, model_id, settings)


def _start(settings: Settings, landing: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(REPO / "plugins"), "OMP_NUM_THREADS": "1",
           "ECHO_DATA_ROOT": str(settings.data_root), "ECHO_STORAGE__LANDING_URI": str(landing)}  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-m", "echo_ops", "serve", "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    import httpx

    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"echo-ops serve exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).json()["ok"]:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit("echo-ops serve did not come up in 180 s")


def _paired(url: str, proposer, prompts) -> tuple[list[float], list[float], float, int]:
    """Each prompt in process and served, back to back (alternating which goes first), so
    load from other work on the machine hits both alike. Returns both latency lists (ms),
    served completions/s over the served calls, and how many were shown."""
    import httpx

    http = httpx.Client(base_url=url, timeout=60)

    def ask(prompt) -> tuple[float, bool]:
        t0 = time.perf_counter()
        r = http.post("/v1/completions", json={"prefix": prompt[0], "suffix": prompt[1]})
        r.raise_for_status()
        return (time.perf_counter() - t0) * 1000, r.json()["shown"]

    def call(prompt) -> float:
        t0 = time.perf_counter()
        proposer.propose(*prompt)
        return (time.perf_counter() - t0) * 1000

    for prompt in prompts[:3]:
        ask(prompt), call(prompt)  # warm-up
    local, served, shown = [], [], 0
    for k, prompt in enumerate(prompts):
        if k % 2:
            local.append(call(prompt))
        ms, was_shown = ask(prompt)
        if not k % 2:
            local.append(call(prompt))
        served.append(ms)
        shown += was_shown
    return local, served, len(served) / (sum(served) / 1000), shown


def _concurrent(url: str, prompts, clients: int) -> float:
    """Completions/s with `clients` editors asking at once."""
    import httpx

    http = httpx.Client(base_url=url, timeout=120)
    ask = lambda p: http.post("/v1/completions", json={"prefix": p[0], "suffix": p[1]})  # noqa: E731
    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(ask, prompts))
    return len(prompts) / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--model", type=Path, default=None,
                        help="a HF model dir to serve (default: the registry's champion)")  # fmt: skip
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings, model_id, model_dir, which = _model(Path(tmp), args.model)
        prompts = _prompts(args.requests)
        proc, url = _start(settings, Path(tmp) / "landing")
        try:
            proposer = _in_process(settings, model_id, model_dir)
            local, served, per_s, shown = _paired(url, proposer, prompts)
            concurrent = _concurrent(url, prompts, args.clients)
        finally:
            proc.terminate()  # SIGTERM: a clean shutdown that lands the buffered events
            proc.wait(timeout=60)
        landed = sum(1 for _ in (Path(tmp) / "landing" / "server").rglob("*.jsonl.gz"))
    base, srv = _stats(local), _stats(served)
    extra = _stats([b - a for a, b in zip(local, served, strict=True)])
    print(f"model: {which}; {len(prompts)} prompts, {shown} shown", file=sys.stderr)
    print(f"in process: {base}\nserved: {srv}; {concurrent:.1f}/s with {args.clients} clients; "
          f"{landed} landing objects", file=sys.stderr)  # fmt: skip
    result = {"bench": "serve", "model": which, "requests": len(prompts), "shown": shown,
              "completions_per_s": round(per_s, 2), "p50_ms": srv["p50_ms"],
              "p95_ms": srv["p95_ms"], "mean_ms": srv["mean_ms"],
              "overhead_ratio": round(srv["mean_ms"] / base["mean_ms"], 3),
              "overhead_p50_ms": extra["p50_ms"],
              "in_process_completions_per_s": round(1000 / base["mean_ms"], 2),
              "in_process_p50_ms": base["p50_ms"], "in_process_p95_ms": base["p95_ms"],
              "in_process_mean_ms": base["mean_ms"], "concurrent_clients": args.clients,
              "concurrent_completions_per_s": round(concurrent, 2),
              "cpu_count": os.cpu_count()}  # fmt: skip
    print(json.dumps(result))


if __name__ == "__main__":
    main()
