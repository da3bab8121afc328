"""Guard tests of the flywheel (issue 13): what must never be promoted, and what rolls back.

- a sabotaged candidate (fine-tuned on shuffled targets) is rejected with its reason;
- a candidate that helps the deployment repo but wrecks the base-corpus regression set is
  rejected;
- an online drop of treatment against control triggers the rollback;
- rollback restores the exact previous champion;
- a promotion is atomic under a concurrent reader.
"""

from __future__ import annotations

import random
import threading
from datetime import date
from pathlib import Path

import pytest

from echo_ops.config import Settings, TrainSettings, reset_settings_cache
from echo_ops.evaluate import offline_comparison
from echo_ops.promote import decide_guarded, promote_or_reject
from echo_ops.registry import (
    champion,
    get_model,
    register_model,
    rollback,
    set_champion,
    update_metrics,
)
from echo_ops.train import Example, train
from echo_ops.warehouse import open_warehouse, run_sql_file
from tests.echo_ops.conftest import MEMORISED_SOURCE
from tests.kit import tiny_train_settings

D = date(2026, 11, 3)


def _repo_rows() -> list[tuple]:
    """Held-out requests of the team's repository: each line of MEMORISED_SOURCE to write,
    with the file above and below it, in four files (the bootstrap's unit)."""
    lines = MEMORISED_SOURCE.splitlines(keepends=True)
    rows = []
    for f in range(4):
        for i in range(1, len(lines)):
            if lines[i].strip():
                rows.append((f"e{f}-{i}", f"file:///home/u/repo/m{f}.py",
                             "".join(lines[:i]), "".join(lines[i + 1 :]), lines[i]))  # fmt: skip
    return rows


def _seed_eval_rows(con) -> None:
    run_sql_file(con, "ddl/training")
    for eid, uri, prefix, suffix, target in _repo_rows():
        con.execute(
            "insert into training.examples (ds, example_id, source, doc_uri, prefix, suffix, "
            "target, weight, split) values (?, ?, 'refinement', ?, ?, ?, ?, 1.0, 'eval')",
            [D, eid, uri, prefix, suffix, target],
        )


def _guard_settings(tmp: Path, **train) -> Settings:
    # the guards on fixed gates: these warehouses hold replay rows, not the logged requests
    # a calibrated gate reads (that path: test_a_calibrated_gate_aims_at_...)
    cfg = dict(device="cpu", seq_len=64, batch_size=4, max_new_tokens=16, token_min_prob=0.0,
               replay_eval_examples=100, regression_examples=8, bootstrap_samples=300,
               calibrate_gate=False, promote_metric="accepted_per_request")  # fmt: skip
    return Settings(
        data_root=tmp,
        train=TrainSettings(**{**cfg, **train}),
        simulate={"show_min_prob": 0.0},
    )


def _register(con, model_dir: Path, model_id: str, settings, parent=None) -> None:
    window = {"from": str(D), "to": str(D)}
    register_model(con, model_dir, kind="fine_tune" if parent else "bootstrap", model_id=model_id,
                   parent_id=parent, data_window=window, settings=settings)  # fmt: skip


def _fine_tune(init: Path, out: Path, examples: list[Example], steps: int) -> Path:
    # on the targets only: the sabotage and the overfit are in what each cursor gets
    cfg = tiny_train_settings(max_steps=steps, learning_rate=1e-2, eval_every=steps,
                              checkpoint_every=steps, packing=True, context_loss_weight=0.0)  # fmt: skip
    return train(init, out, examples, examples[:2], cfg).model_dir


def _repo_examples(shuffled: bool) -> list[Example]:
    rows = _repo_rows()
    targets = [r[4] for r in rows]
    if shuffled:  # the sabotage: every request trained toward another line's text
        random.Random(0).shuffle(targets)
    from echo_ops.prompt import line_example

    return [Example(*line_example(r[2], r[3], t)) for r, t in zip(rows, targets, strict=True)] * 4


def test_sabotaged_candidate_is_rejected_and_the_real_one_would_win(memorised_base, tmp_path):
    settings = _guard_settings(tmp_path)
    sabotaged = _fine_tune(memorised_base, tmp_path / "sabotage", _repo_examples(True), 40)
    with open_warehouse(settings) as con:
        _seed_eval_rows(con)
        _register(con, memorised_base, "good", settings)
        _register(con, sabotaged, "sabotaged", settings, parent="good")
        report = offline_comparison(
            con, get_model(con, "sabotaged"), get_model(con, "good"), settings
        )
        decision = decide_guarded(report, 0.0, 10.0)
        assert not decision.promote and "not better enough online" in decision.reason
        assert report["primary"]["ci"][1] < 0, report["primary"]  # measurably worse
        # the same comparison the other way round promotes: the guard can say yes
        reverse = offline_comparison(
            con, get_model(con, "good"), get_model(con, "sabotaged"), settings
        )
        assert decide_guarded(reverse, 0.0, 10.0).promote, reverse["primary"]


def test_candidate_that_wrecks_the_regression_set_is_rejected(tiny_base, tmp_path):
    settings = _guard_settings(tmp_path, regression_max_loss_rise=0.05)
    overfit = _fine_tune(tiny_base, tmp_path / "overfit", _repo_examples(False), 80)
    with open_warehouse(settings) as con:
        _seed_eval_rows(con)
        _register(con, tiny_base, "base", settings)
        set_champion(con, "base", "first")
        _register(con, overfit, "overfit", settings, parent="base")
        report = offline_comparison(
            con, get_model(con, "overfit"), get_model(con, "base"), settings
        )
        assert report["primary"]["diff"] > 0, report  # it does help on the repository
        reg = report["regression"]
        assert reg["candidate_loss"] > reg["champion_loss"] * 1.05, reg
        update_metrics(con, "overfit", {"offline": report, "eval": {}, "champion_eval": {}})
        decision = promote_or_reject(con, "overfit", settings)
        assert not decision["promote"] and "regression set got worse" in decision["reason"]
        assert get_model(con, "overfit").status == "rejected"
        assert "regression set got worse" in get_model(con, "overfit").decided_reason
        assert champion(con).model_id == "base"


def _fake(tmp_path: Path, name: str) -> Path:
    d = tmp_path / name
    d.mkdir()
    (d / "config.json").write_text("{}")
    (d / "weights.bin").write_bytes(name.encode() * 10)
    return d


def _ab_rows(con, day: date, control: tuple[int, int], treatment: tuple[int, int], model: str):
    """Literal mart rows: 10 people per arm, each with the given (shown, accepted)."""
    run_sql_file(con, "ddl/marts")
    for arm, (shown, acc), version in (
        ("control", control, "base"),
        ("treatment", treatment, model),
    ):
        for u in range(10):
            con.execute(
                "insert into marts.rpt_arm_user_daily values (?, ?, ?, ?, ?, ?, ?, ?)",
                [day, arm, version, f"{arm}-{u}", shown * 3, shown, acc + (u % 3) - 1, acc * 20],
            )


@pytest.mark.parametrize(
    ("treatment", "rolled_back"),
    [((40, 4), True), ((40, 12), False), ((10, 1), False)],  # drop; no drop; too few shown
)
def test_online_drop_triggers_rollback(tmp_path, treatment, rolled_back):
    from echo_ops.guard import online_guard

    settings = Settings(data_root=tmp_path, train=TrainSettings(rollback_min_shown=300))
    with open_warehouse(settings) as con:
        _register(con, _fake(tmp_path, "base"), "base", settings)
        set_champion(con, "base", "first")
        register_model(con, _fake(tmp_path, "ft"), kind="fine_tune", model_id="ft",
                       parent_id="base", data_window={"from": "2026-11-02", "to": "2026-11-02"},
                       settings=settings)  # fmt: skip
        set_champion(con, "ft", "promoted")
        _ab_rows(con, D, (40, 12), treatment, "ft")
        counts = online_guard(con, D, settings)
        assert counts["checked"]
        assert get_model(con, "ft").metrics["online"]["treatment"]["shown"] == treatment[0] * 10
        if rolled_back:
            assert counts["rolled_back"] == "ft" and champion(con).model_id == "base"
            assert get_model(con, "ft").decided_reason.startswith("rolled back: online drop")
        else:
            assert "rolled_back" not in counts and champion(con).model_id == "ft"


def test_rollback_restores_the_exact_previous_champion(tmp_path):
    settings = Settings(data_root=tmp_path)
    with open_warehouse(settings) as con:
        for name in ("base", "a", "b", "c"):
            register_model(con, _fake(tmp_path, name), kind="fine_tune", model_id=name,
                           settings=settings)  # fmt: skip
        set_champion(con, "base", "first")
        set_champion(con, "a", "promoted")
        set_champion(con, "b", "promoted")
        assert rollback(con, "test") == ("b", "a")
        set_champion(con, "c", "promoted")  # c replaced a (restored), not b or base
        assert rollback(con, "test") == ("c", "a")
        assert rollback(con, "test") == ("a", "base")
        assert champion(con).model_id == "base"
        assert get_model(con, "b").status == "rejected" and get_model(con, "c").status == "rejected"
    files = Path(settings.storage.artifacts_uri) / "base" / "weights.bin"
    assert files.read_bytes() == b"base" * 10  # the same artifacts, untouched


def test_promotion_is_atomic_under_a_concurrent_reader(tmp_path):
    settings = Settings(data_root=tmp_path)
    seen: list[int] = []
    with open_warehouse(settings) as con:
        for name in ("a", "b"):
            register_model(con, _fake(tmp_path, name), kind="fine_tune", model_id=name,
                           settings=settings)  # fmt: skip
        set_champion(con, "a", "first")
        stop = threading.Event()
        reader = con.cursor()

        def read() -> None:
            while not stop.is_set():
                (n,) = reader.execute(
                    "select count(*) from registry.models where status = 'champion'"
                ).fetchone()
                seen.append(n)

        thread = threading.Thread(target=read)
        thread.start()
        writer = con.cursor()
        for i in range(60):
            set_champion(writer, "b" if i % 2 == 0 else "a", f"switch {i}")
        stop.set()
        thread.join()
    assert len(seen) > 10 and set(seen) == {1}, sorted(set(seen))
    reset_settings_cache()


def test_a_calibrated_gate_aims_at_the_show_rate_of_all_logged_requests(memorised_base, tmp_path):
    """Calibration must see the traffic, not only the requests the server already chose to
    show (every replayed request was shown: calibrating on them would aim at showing 100%)."""
    from echo_ops.warehouse import ensure_pipeline_tables
    from tests.kit import given

    settings = _guard_settings(tmp_path, calibrate_gate=True)
    settings = settings.model_copy(
        update={"simulate": settings.simulate.model_copy(update={"show_min_prob": 0.5})}
    )
    lines = MEMORISED_SOURCE.splitlines(keepends=True)
    known = [("".join(lines[:i]), "".join(lines[i + 1 :])) for i in range(1, len(lines))]
    unknown = [(f'zq{i} = wv("{i * 7919}")\nkx_{i} = ', "\n") for i in range(12)]
    with open_warehouse(settings) as con:
        ensure_pipeline_tables(con)
        given(con, "raw.server_events", [
            (D, f"r{i}", p, s) for i, (p, s) in enumerate(known + unknown)
        ], columns=("ds", "request_id", "prompt_prefix", "prompt_suffix"))  # fmt: skip
        _seed_eval_rows(con)
        _register(con, memorised_base, "base", settings)
        set_champion(con, "base", "first")
        _register(con, memorised_base, "same", settings, parent="base")
        report = offline_comparison(con, get_model(con, "same"), get_model(con, "base"), settings)
    serving = report["serving"]
    assert serving["calibration_requests"] == len(known) + len(unknown)
    assert 0 < serving["target_show_rate"] < 1, serving  # the unknown prompts are not shown
    # the same weights calibrated to the base's rate get the base's gate back (or the
    # confidence at that rank): never the lowest confidence of the replayed requests
    assert serving["show_min_prob"] >= 0.5 - 1e-9 or serving["target_show_rate"] == 0, serving
