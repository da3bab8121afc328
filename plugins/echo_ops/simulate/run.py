"""Run the simulated production environment for a range of days.

Writes the landing zone (`{landing}/client|server/ds=YYYY-MM-DD/part-NNNNN.jsonl.gz`,
event contract v1) and, beside it, the truth (`{truth_dir}/ds=YYYY-MM-DD/`:
completions.jsonl, documents.jsonl, summary.json). Same seed and settings, same bytes:
re-running overwrites the same objects with the same content.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import re
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from echo_ops import storage
from echo_ops.config import Settings
from echo_ops.corpus import LANGUAGES, default_corpus, list_files
from echo_ops.logs import stage_run
from echo_ops.simulate.batching import Lockstep
from echo_ops.simulate.corpus import make_secret, plan_document
from echo_ops.simulate.editor import Session, day_start_ms
from echo_ops.simulate.people import make_person
from echo_ops.simulate.proposers import load_model, load_proposer, resolve_model
from echo_ops.simulate.repo import day_document, plan_repo
from echo_ops.simulate.session import Writer
from echo_ops.simulate.transport import deliver, write_parts

MAX_EVENTS_PER_PERSON_DAY = 100_000  # keeps one person-day (one process's work) small
_PART = re.compile(r"/part-(\d{5})\.jsonl\.gz$")
_CLIENTS = (
    ("vscode", "1.96.2"),
    ("vscode", "1.97.0"),
    ("neovim", "0.10.2"),
    ("jetbrains", "2024.3"),
)


@dataclass(frozen=True)
class Unit:
    """One person's day: the unit of work a process simulates and writes."""

    day: date
    user_index: int
    target_events: int | None
    seed: int
    landing: str
    corpus: str
    proposer: str
    model: tuple[str, str] | None = None  # (model id, local dir) the model proposer serves
    arm: str | None = None  # control | treatment (a flywheel run): logged by the server
    gate: float | None = None  # this model's calibrated show gate; None = simulate.show_min_prob
    repo_day: int | None = None  # deployment "repo": the day's index in the run's plan
    repo_days: int = 1  # ... and the run's length (the plan depends on it)
    users: int = 1  # people that day (the repo's work is shared out among them)


def user_identity(seed: int, user_index: int, utf8_share: float) -> tuple[str, dict, random.Random]:
    """(pseudonymous user id, client object, rng for its clock skew): the same every day."""
    rng = random.Random(f"{seed}:client:{user_index}")
    user_id = "u-" + hashlib.sha256(f"{seed}:{user_index}".encode()).hexdigest()[:12]
    name, version = rng.choice(_CLIENTS)
    encoding = "utf-8" if rng.random() < utf8_share else "utf-16"
    client = {"name": name, "version": version, "position_encoding": encoding}
    if name == "vscode" and encoding == "utf-16":
        del client["position_encoding"]  # LSP's default: some clients never say it
    return user_id, client, rng


def simulate_unit(unit: Unit, settings: Settings, served=None) -> dict:
    """Simulate and deliver one person's day; returns counts, truth rows and documents.
    `served`: the model proposer, already loaded (a seat of `simulate_group`)."""
    cfg = settings.simulate
    user_id, client, id_rng = user_identity(unit.seed, unit.user_index, cfg.utf8_client_share)
    skew_ms = int(id_rng.uniform(-cfg.max_skew_s, cfg.max_skew_s) * 1000)
    person = make_person(cfg, user_id, random.Random(f"{unit.seed}:person:{unit.user_index}"))
    rng = random.Random(f"{unit.seed}:{unit.day}:{unit.user_index}")
    proposer = load_proposer(
        unit.proposer,
        random.Random(f"{unit.seed}:{unit.day}:{unit.user_index}:p"),
        cfg.exact_share,
        cfg.near_share,
        unit.model,
        settings,
        served,
    )
    proposer.arm, proposer.show_min_prob = unit.arm, unit.gate
    root = Path(unit.corpus)
    files = list_files(root)
    repo_work = _repo_work(unit, root, cfg)
    counts: Counter = Counter()
    events, server, regions, documents, type_counts = [], [], [], [], []
    now = day_start_ms(unit.day) + rng.randint(7 * 3600, 10 * 3600) * 1000
    n = 0
    while (
        (n * cfg.files_per_session < len(repo_work))
        if repo_work is not None
        else (n < cfg.sessions_per_user)
        if unit.target_events is None
        else (len(events) < unit.target_events)
    ):
        sess = Session(
            user_id,
            f"{user_id}-{unit.day:%Y%m%d}-{n}",
            client,
            skew_ms,
            now,
            settings.extract.quiet_s,
            settings.extract.horizon_s,
        )
        # Each session and document draws from its own seeded rng, so what one proposal
        # changes (an accept skips typing) never reaches the next document: two models
        # served on the same day meet the same sessions, files and holes (simulate-ab).
        srng = random.Random(f"{unit.seed}:{unit.day}:{unit.user_index}:s{n}")
        writer = Writer(sess, person, proposer, srng, cfg, counts)
        secret_file = (
            srng.randrange(cfg.files_per_session) if srng.random() < cfg.secret_rate else -1
        )
        if repo_work is not None:
            picked = repo_work[n * cfg.files_per_session : (n + 1) * cfg.files_per_session]
        else:
            picked = srng.sample(files, min(len(files), cfg.files_per_session))
        for f, item in enumerate(picked):
            writer.rng = drng = random.Random(f"{unit.seed}:{unit.day}:{unit.user_index}:s{n}:{f}")
            secret = make_secret(drng) if f == secret_file else None
            if repo_work is not None:
                language = LANGUAGES.get(item.path.suffix, "plaintext")
                plan = day_document(item, unit.repo_day, drng, cfg.crlf_share,
                                    cfg.non_ascii_rate, secret, language)  # fmt: skip
            else:
                plan = plan_document(item, root, drng, cfg.max_file_lines, cfg.hole_share,
                                     cfg.crlf_share, cfg.non_ascii_rate, secret)  # fmt: skip
            if plan is None:
                continue
            writer.write_document(plan, f"file:///home/{user_id}/{root.name}/{plan.relpath}")
            counts["secrets_planted"] += len(plan.secrets)
            sess.wait(srng.randint(2_000, 60_000))
        events += sess.events
        server += sess.server
        regions += sess.truth
        documents += sess.documents
        type_counts.append(sess.type_counts())
        now = sess.now + rng.randint(5 * 60_000, 40 * 60_000)
        n += 1
    counts["client_events"], counts["server_events"], counts["sessions"] = (
        len(events),
        len(server),
        n,
    )
    for sess_types in type_counts:
        counts.update({f"type:{k}": v for k, v in sess_types.items()})
    keys = []
    for source, records in (("client", events), ("server", server)):
        by_day = deliver(
            records,
            cfg,
            random.Random(f"{unit.seed}:{unit.day}:{unit.user_index}:{source}"),
            source,
            counts,
        )
        keys += write_parts(
            settings.storage, unit.landing, source, by_day, unit.day, unit.user_index
        )
    return {
        "counts": dict(counts),
        "truth": [_truth_row(r) for r in regions],
        "documents": documents,
        "keys": keys,
    }


def _repo_work(unit: Unit, root: Path, cfg) -> list | None:
    """This person's files of the day in a "repo" deployment (None: random files)."""
    if unit.repo_day is None:
        return None
    plan = plan_repo(root, unit.seed, unit.repo_days, cfg.repo_max_file_lines, cfg.repo_write_share)
    return plan.work(unit.repo_day, unit.users)[unit.user_index]


def assign_arms(user_ids: list[str], control_share: float) -> dict[str, str]:
    """The arm each person stays in for the whole run, by a hash of the user id (production
    A/B tests assign by a stable id, never re-randomising per day or per request). The
    hash ranks the people and the first `control_share` of them (rounded) are control, so
    a small team splits as configured: a hash threshold alone put 16 of 24 in control."""
    ranked = sorted(user_ids, key=lambda u: hashlib.sha256(f"arm:{u}".encode()).hexdigest())
    n_control = round(control_share * len(ranked))
    return {u: "control" if i < n_control else "treatment" for i, u in enumerate(ranked)}


def _truth_row(region) -> dict:
    row = dict(region.row)
    final = region.final or ""
    outcome = row["intended_outcome"]
    if outcome == "rejected":
        outcome = "rejected_written" if final else "rejected_empty"
    found = list(row["planted_secrets"])
    found += [s for s in row["doc_secrets"] if s["value"] in final and s not in found]
    row.update(
        intended_outcome=outcome,
        final_text=final,
        planted_secrets=found,
        settled_reason=region.settled_reason,
    )
    return row


def simulate_group(units: list[Unit], settings: Settings) -> list[dict]:
    """Simulate the people of `units` (one day, one served model) in one process: a model
    proposer serves them together in lockstep batches (simulate/batching.py), each person
    in a thread; any other proposer, one person after another."""
    if units[0].proposer != "model":
        return [simulate_unit(u, settings) for u in units]
    from echo_ops.generate import torch_threads

    with torch_threads(1):  # one process per core: more threads only fight for the cores
        lockstep = Lockstep(load_model(units[0].model, settings), len(units))
        with ThreadPoolExecutor(len(units), "person") as pool:
            futures = [
                pool.submit(_seated, unit, settings, lockstep, i) for i, unit in enumerate(units)
            ]
            return [f.result() for f in futures]


def _seated(unit: Unit, settings: Settings, lockstep: Lockstep, slot: int) -> dict:
    try:
        return simulate_unit(unit, settings, lockstep.seat(slot))
    finally:
        lockstep.leave()  # done or failed: the others stop waiting for this person


def group_units(units: list[Unit], size: int) -> list[list[int]]:
    """Indexes of `units` in groups served together: same day, model, gate and arm, at
    most `size` people, in order (the fast proposer has no model to share: one each).
    Depends on nothing else (not on the worker count), so the batches and the run's
    bytes do not either."""
    groups: list[list[int]] = []
    open_by_key: dict[tuple, list[int]] = {}
    for i, u in enumerate(units):
        key = (u.day, u.proposer, u.model, u.gate, u.arm)
        group = open_by_key.get(key)
        cap = max(1, size) if u.proposer == "model" else 1
        if group is None or len(group) >= cap:
            group = open_by_key[key] = []
            groups.append(group)
        group.append(i)
    return groups


def _run_group(args: tuple[list[Unit], dict]) -> list[dict]:
    units, overrides = args
    return simulate_group(units, Settings(**overrides))


def simulate_days(
    start: date,
    days: int,
    *,
    seed: int | None = None,
    users: int | None = None,
    target_events: int | None = None,
    proposer: str | None = None,
    model_id: str | None = None,
    landing_uri: str | None = None,
    workers: int | None = None,
    settings: Settings,
    progress: Callable[[int, int], None] | None = None,
    arms: dict[str, tuple[str, float | None]] | None = None,
    control_share: float = 0.5,
    repo_day: int | None = None,
    repo_days: int = 1,
) -> dict:
    """Simulate `days` days from `start`; writes landing + truth, returns a small count dict.

    `model_id` picks the registry model the model proposer serves (default: the champion).
    `arms` ({"control": (model id, gate), "treatment": (...)}) serves each person the model
    of their arm (`assign_arms`, `control_share`) and logs the arm; `repo_day` / `repo_days`
    make the people write the day's part of one growing codebase (simulate/repo.py).
    Reads no table but registry.models (model proposer). Re-run safe: same arguments and
    settings give the same bytes."""
    cfg = settings.simulate
    seed = cfg.seed if seed is None else seed
    users = cfg.users if users is None else users
    target = cfg.target_events if target_events is None else target_events
    if days < 1 or users < 1 or (target is not None and target < 1):
        raise ValueError(
            f"need days >= 1, users >= 1 and a positive target; got {days}, {users}, {target}"
        )
    landing = landing_uri or settings.storage.landing_uri
    corpus = cfg.corpus_dir if cfg.corpus == "base" else cfg.deploy_corpus_dir
    corpus = Path(corpus or default_corpus(cfg.corpus))
    list_files(corpus)  # fail early on an empty corpus
    if target:  # nobody types more than a long day's worth: more people for more volume
        users = max(users, math.ceil(target / (days * MAX_EVENTS_PER_PERSON_DAY)))
    if users > 1999:
        raise ValueError(f"{users} people a day is over the 1999 the part numbering allows")
    per_unit = math.ceil(target / (days * users)) if target else None
    kind = proposer or cfg.proposer
    model = resolve_model(kind, model_id, settings)
    served = {
        arm: (resolve_model(kind, m, settings), gate) for arm, (m, gate) in (arms or {}).items()
    }
    ids = [user_identity(seed, u, cfg.utf8_client_share)[0] for u in range(users)]
    arm_by_user = assign_arms(ids, control_share)
    units = []
    for d in range(days):
        for u in range(users):
            arm = None
            unit_model, gate = model, None
            if arms:
                arm = arm_by_user[ids[u]]
                unit_model, gate = served[arm]
            units.append(
                Unit(
                    start + timedelta(days=d),
                    u,
                    per_unit,
                    seed,
                    landing,
                    str(corpus),
                    kind,
                    unit_model,
                    arm,
                    gate,
                    None if repo_day is None else repo_day + d,
                    repo_days,
                    users,
                )  # fmt: skip
            )
    n_workers = workers if workers is not None else (cfg.workers or min(2, os.cpu_count() or 1))
    started = time.perf_counter()
    with stage_run(
        "simulate", start=start, days=days, seed=seed, users=users, landing=landing
    ) as log:
        log["stale_parts_deleted"] = _clear_parts(landing, start, days, settings.storage)
        results = _map_units(units, settings, n_workers, progress)
        out = _write_truth(units, results, settings.storage.truth_dir, landing, seed)
        seconds = time.perf_counter() - started
        events = out["client_events"] + out["server_events"]
        out.update(
            seconds=round(seconds, 3), events_per_s=round(events / seconds) if seconds else 0
        )
        log.update(client_events=out["client_events"], server_events=out["server_events"])
    return out


def _clear_parts(landing: str, start: date, days: int, store) -> int:
    """Delete the parts an earlier run made for these simulated days (part number
    20000 x k + ... in partition day + k), so a re-run with fewer people leaves none."""
    doomed = []
    for d in range(days):
        for k in range(3):
            ds = start + timedelta(days=d + k)
            for source in ("client", "server"):
                for obj in storage.list_objects(landing, f"{source}/ds={ds.isoformat()}", store):
                    m = _PART.search(obj.key)
                    if m and int(m.group(1)) // 20_000 == k:
                        doomed.append(obj.key)
    if storage.is_s3(landing):
        bucket, base = storage.split_s3(landing)
        client = storage.s3_client(store)
        for i in range(0, len(doomed), 1000):
            keys = [{"Key": "/".join(p for p in (base, key) if p)} for key in doomed[i : i + 1000]]
            client.delete_objects(Bucket=bucket, Delete={"Objects": keys})
    else:
        for key in doomed:
            (Path(landing) / key).unlink()
    return len(doomed)


def _map_units(units, settings, n_workers, progress) -> list[dict]:
    groups = group_units(units, settings.simulate.batch_people)
    total, done, out = len(units), 0, [None] * len(units)
    overrides = settings.model_dump()

    def place(group: list[int], results: list[dict]) -> None:
        nonlocal done
        for i, result in zip(group, results, strict=True):
            out[i] = result
        done += len(group)
        if progress:
            progress(done, total)

    if n_workers <= 1:
        for group in groups:
            place(group, simulate_group([units[i] for i in group], settings))
        return out
    # the biggest groups first, so that no long one starts last on an otherwise idle pool
    order = sorted(groups, key=len, reverse=True)
    with ProcessPoolExecutor(min(n_workers, len(groups))) as pool:
        jobs = [([units[i] for i in group], overrides) for group in order]
        for group, results in zip(order, pool.map(_run_group, jobs), strict=True):
            place(group, results)
    return out


def _write_truth(units, results, truth_dir: Path, landing: str, seed: int) -> dict:
    by_day: dict[str, dict] = {}
    for unit, res in zip(units, results, strict=True):
        day = by_day.setdefault(
            unit.day.isoformat(), {"counts": Counter(), "truth": [], "docs": []}
        )
        day["counts"].update(res["counts"])
        day["docs"] += res["documents"]
        day["truth"] += res["truth"]
    shown_days: dict[str, list] = {}
    for day in by_day.values():
        for row in day["truth"]:
            shown_days.setdefault(row["shown_ts"][:10], []).append(row)
    total: Counter = Counter()
    for ds in sorted(set(by_day) | set(shown_days)):
        out = truth_dir / f"ds={ds}"
        out.mkdir(parents=True, exist_ok=True)
        rows = shown_days.get(ds, [])
        _write_jsonl(out / "completions.jsonl", rows)
        if ds in by_day:
            counts = by_day[ds]["counts"]
            _write_jsonl(out / "documents.jsonl", by_day[ds]["docs"])
            summary = _summary(counts, by_day[ds]["truth"], seed)
            (out / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
            total.update(counts)
    shown = total["shown"]
    return {
        "days": len(by_day),
        "client_events": total["client_events"],
        "server_events": total["server_events"],
        "lines": total["client_lines"] + total["server_lines"],
        "completions_shown": shown,
        "acceptance_rate": round(total["accepted"] / shown, 4) if shown else 0.0,
        "landing": landing,
        "truth_dir": str(truth_dir),
    }


def _summary(counts: Counter, truth: list[dict], seed: int) -> dict:
    outcomes = Counter(r["intended_outcome"] for r in truth)
    shown = counts["shown"]
    return {
        "seed": seed,
        "counts": dict(sorted(counts.items())),
        "outcomes": dict(sorted(outcomes.items())),
        "acceptance_rate": round(counts["accepted"] / shown, 4) if shown else 0.0,
        "show_rate": round(shown / counts["requests"], 4) if counts["requests"] else 0.0,
    }


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    text = "".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in rows)
    path.write_text(text, encoding="utf-8")
