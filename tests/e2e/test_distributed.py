"""The distributed form for real: `scripts/stack.py` (what `make up-local` runs) starts
Postgres, Redis, moto's S3 server and Airflow's api-server, scheduler, dag-processor,
triggerer and two Celery workers; `airflow backfill create` runs echo_daily over three
simulated days through the scheduler on the workers, with the `default` worker killed -9
mid-task once (the scheduler must notice the lost heartbeat and retry); the tables must
equal those of the embedded run (`airflow dags test` of the same days). A second backfill
over the last two days, after a late landing object, leaves the untouched day identical
and picks the late object up. A day with nothing landed then fails on a worker and the
alert reaches a loopback SMTP server and webhook. Then everything stops, with no process
left over."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from echo_ops.config import get_settings, reset_settings_cache
from tests.alertkit import alert_env
from tests.e2e.conftest import AIRFLOW, REPO, dags_test

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.stack, pytest.mark.timeout(5400)]
DAYS = ("2026-11-02", "2026-11-03", "2026-11-04")
SMALL = {"ECHO_SIMULATE__USERS": "2", "ECHO_SIMULATE__SESSIONS_PER_USER": "1"}
TABLES = {  # table -> its day column: compared day by day
    "raw.client_events": "ds",
    "raw.server_events": "ds",
    "staging.refinements": "ds",
    "training.examples": "ds",
    "marts.fct_completions": "ds",
}


def _load_stack():
    spec = importlib.util.spec_from_file_location("echo_stack", REPO / "scripts" / "stack.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


stack = _load_stack()


def day_hashes(path: Path) -> dict[tuple[str, str], tuple]:
    """(table, day) -> (rows, hash of every column): equal means the same rows."""
    con = duckdb.connect(str(path), read_only=True)
    found = {}
    for table, col in TABLES.items():
        for day, n, *sums in con.execute(
            f"select cast({col} as varchar), count(*), sum(hash(columns(*))) from {table} group by 1"
        ).fetchall():
            found[(table, day)] = (n, *sums)
    con.close()
    return found


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    """Three small simulated days in a local landing zone (late events of a day land in the
    next day's partition)."""
    root = tmp_path_factory.mktemp("dist-sim")
    old = {k: os.environ.get(k) for k in ("ECHO_DATA_ROOT", *SMALL)}
    os.environ.update(ECHO_DATA_ROOT=str(root), **SMALL)
    reset_settings_cache()
    try:
        from echo_ops.simulate import simulate_days

        simulate_days(date.fromisoformat(DAYS[0]), len(DAYS), workers=1, settings=get_settings())
    finally:
        for k, v in old.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
        reset_settings_cache()
    return root


@pytest.fixture(scope="module")
def embedded(airflow_env, simulated, tmp_path_factory):
    """The embedded default: `airflow dags test` of each day, in order, on a copy of the data."""
    root = tmp_path_factory.mktemp("dist-embedded")
    shutil.copytree(simulated / "landing", root / "landing")
    for day in DAYS:
        proc = dags_test(airflow_env, "echo_daily", day, root, timeout=1800, **SMALL)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    return day_hashes(root / "warehouse" / "echo.duckdb")


@pytest.fixture(scope="module")
def running_stack(receivers):
    # Not under pytest's tmp (mode 700): as root, Postgres runs as `postgres` and must reach it.
    home = Path(tempfile.mkdtemp(prefix="echo-stack-"))
    home.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ECHO_", "AIRFLOW"))}
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    env.update(
        SMALL,
        **alert_env(*receivers),  # failures page the loopback receivers (tests/alertkit.py)
        # Only the backfill runs: a start date after today keeps the scheduler's catchup idle.
        ECHO_SCHEDULE__START_DATE=tomorrow,
        ECHO_SCHEDULE__RETRIES="2",
        ECHO_SCHEDULE__RETRY_DELAY_S="1",
        # A lost worker's task is declared dead after 20 s without a heartbeat (default 300).
        AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT="20",
        AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL="2",
    )
    script = [sys.executable, str(REPO / "scripts" / "stack.py")]
    started = time.monotonic()
    # Comes up while the simulation and the embedded runs (the next fixtures) go on.
    up = subprocess.Popen([*script, "up", "--home", str(home), "--free-ports"], env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip

    def ready():
        out, _ = up.communicate(timeout=600)
        assert up.returncode == 0, out[-5000:]
        print(f"stack up after {time.monotonic() - started:.0f}s")
        state = json.loads((home / "stack.json").read_text())
        return home, state, stack.stack_env(home, state, base=env)

    yield ready
    if up.poll() is None:
        up.wait(timeout=600)
    pgids = [int(p.read_text()) for p in (home / "run").glob("*.pid")]
    down = subprocess.run([*script, "down", "--home", str(home)], env=env, capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    assert down.returncode == 0, down.stdout + down.stderr
    assert pgids and not [g for g in pgids if stack.group_members(g)], "processes outlived `down`"
    assert not list((home / "run").glob("*.pid"))
    shutil.rmtree(home)


def _airflow(env, *args, timeout=180) -> str:
    proc = subprocess.run(
        [AIRFLOW, *args], env=env, capture_output=True, text=True, timeout=timeout
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc.stdout


def _upload(landing: Path, state: dict, only: str = "") -> None:
    import boto3

    s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{state['ports']['s3']}",
                      region_name="us-east-1", aws_access_key_id="echo",
                      aws_secret_access_key="echo-secret")  # fmt: skip
    for path in sorted(p for p in landing.rglob("*") if p.is_file()):
        key = "landing/" + path.relative_to(landing).as_posix()
        if only in key:
            s3.put_object(Bucket="echo-landing", Key=key, Body=path.read_bytes())


def _wait_backfill(state: dict, after_id: int, timeout_s: float = 600, on_poll=None) -> int:
    """Wait for the first backfill of echo_daily with id > after_id to complete; its id."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        rows = stack._pg(state, "select id, completed_at from backfill where dag_id = 'echo_daily' "
                                f"and id > {after_id} order by id limit 1")  # fmt: skip
        if rows and rows[0][1] is not None:
            return rows[0][0]
        if on_poll:
            on_poll()
        time.sleep(0.5)
    raise AssertionError(f"backfill not complete after {timeout_s}s: {_states(state)}")


def _states(state: dict) -> list[tuple]:
    return stack._pg(state, "select run_id, task_id, state, try_number from task_instance "
                            "where dag_id = 'echo_daily' order by run_id, task_id")  # fmt: skip


def test_backfill_on_celery_with_a_lost_worker_matches_the_embedded_run(
    running_stack, simulated, embedded, receivers
):
    home, state, env = running_stack()
    _upload(simulated / "landing", state)
    for dag_id in ("echo_daily", "echo_train"):
        _airflow(env, "dags", "unpause", dag_id)
    started = time.monotonic()
    # One run at a time: a day's extraction settles what the day before deferred.
    _airflow(env, "backfill", "create", "--dag-id", "echo_daily", "--from-date", DAYS[0],
             "--to-date", DAYS[-1], "--max-active-runs", "1")  # fmt: skip

    killed: dict[str, object] = {}

    def lose_the_worker_mid_task():
        """Once: when the second day's extract runs, kill -9 the default worker's whole process
        group (a machine lost), then start a new worker, as a restart policy would."""
        if killed:
            return
        # By logical date, not run id: Airflow 3 names a run after its run_after (the end of
        # the day's interval), so `backfill__<DAYS[1]>` is the first day's run.
        rows = stack._pg(state, "select ti.run_id, ti.map_index from task_instance ti join "
                                "dag_run dr on dr.dag_id = ti.dag_id and dr.run_id = ti.run_id "
                                "where ti.dag_id = 'echo_daily' and ti.task_id = 'extract_shard' "
                                "and ti.state = 'running' and dr.logical_date = "
                                f"'{DAYS[1]}T00:00:00+00:00'")  # fmt: skip
        if rows:
            stack.kill_hard(home, "worker-default")
            killed.update(run_id=rows[0][0], map_index=rows[0][1], at=time.monotonic())
            time.sleep(1)
            cmd = stack.commands(home, state)["worker-default"]
            stack.start(home, "worker-default", cmd, stack.stack_env(home, state, base=env))

    _wait_backfill(state, 0, on_poll=lose_the_worker_mid_task)
    print(
        f"backfill of {len(DAYS)} days (a lost worker included): {time.monotonic() - started:.0f}s"
    )
    runs = stack._pg(state, "select run_id, run_type, state from dag_run where dag_id = "
                            "'echo_daily' order by run_id")  # fmt: skip
    assert [(t, s) for _, t, s in runs] == [("backfill", "success")] * len(DAYS), runs
    assert killed, "no extract shard of the second day was seen running"
    (tries,) = stack._pg(state, "select try_number from task_instance where task_id = "
                                f"'extract_shard' and run_id = '{killed['run_id']}' "
                                f"and map_index = {killed['map_index']}")  # fmt: skip
    assert tries[0] >= 2, "the lost task was not retried"
    assert "heartbeat" in (home / "logs" / "scheduler.log").read_text().lower()

    warehouse = home / "echo" / "warehouse" / "echo.duckdb"
    first = day_hashes(warehouse)
    assert first == embedded  # the same rows as `airflow dags test`, day by day

    # No fine-tune per backfilled day: every echo_train run the backfill set off skipped.
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and stack._pg(
        state,
        "select 1 from dag_run where dag_id = 'echo_train' and state in ('queued', 'running')",
    ):
        time.sleep(1)
    train = stack._pg(state, "select ti.state from task_instance ti where ti.dag_id = "
                             "'echo_train' and ti.task_id = 'check_new_data'")  # fmt: skip
    fine_tunes = stack._pg(state, "select count(*) from task_instance where dag_id = 'echo_train' "
                                  "and task_id = 'fine_tune' and state = 'success'")  # fmt: skip
    assert fine_tunes == [(0,)] and all(s in ("success", "skipped") for (s,) in train), train
    logs = "".join(p.read_text() for p in (home / "logs" / "tasks").rglob("*check_new_data*/*"))
    assert train and "only backfilled days" in logs  # the backfill did set echo_train off
    # The fine-tune would go to the gpu worker: its task instances carry the gpu queue, and
    # the gpu worker's banner lists that queue as the one it consumes.
    queues = stack._pg(state, "select distinct queue from task_instance where dag_id = "
                              "'echo_train' and task_id = 'fine_tune'")  # fmt: skip
    assert queues == [("gpu",)], queues
    banner = (home / "logs" / "worker-gpu.log").read_text()
    assert re.search(r"^\s*\.> gpu\s+exchange=gpu", banner, re.M), banner[-2000:]

    # A late landing object for the last day, then a second backfill of the last two days.
    late = simulated / "landing" / "server" / f"ds={DAYS[-1]}" / "zz-late.jsonl"
    src = sorted((simulated / "landing" / "server" / f"ds={DAYS[0]}").glob("*.jsonl*"))[0]
    late.write_bytes(_relabelled(src))
    _upload(simulated / "landing", state, only=f"ds={DAYS[-1]}/zz-late")
    _airflow(env, "backfill", "create", "--dag-id", "echo_daily", "--from-date", DAYS[1],
             "--to-date", DAYS[-1], "--max-active-runs", "1", "--reprocess-behavior", "completed")  # fmt: skip
    started = time.monotonic()
    _wait_backfill(state, 1)
    print(f"second backfill of 2 days: {time.monotonic() - started:.0f}s")
    second = day_hashes(warehouse)
    for key, value in first.items():
        if key[1] != DAYS[-1]:
            assert second[key] == value, f"{key} changed on a second backfill"
    late_rows = (
        second[("raw.server_events", DAYS[-1])][0] - first[("raw.server_events", DAYS[-1])][0]
    )
    assert late_rows > 0, "the late object inside the window was not picked up"

    # A failure on a worker pages on-call: a day nothing landed for fails its blocking raw
    # volume check (a data error, not retried) and the notifier in the worker reaches both
    # loopback receivers.
    smtp, hook = receivers
    # The day after the last partition landed: the day after DAYS[-1] is not empty, it holds
    # the last day's late events.
    landed = max(p.name.removeprefix("ds=") for p in (simulated / "landing").glob("*/ds=*"))
    empty_day = (date.fromisoformat(landed) + timedelta(days=1)).isoformat()
    _airflow(env, "backfill", "create", "--dag-id", "echo_daily", "--from-date", empty_day,
             "--to-date", empty_day)  # fmt: skip
    _wait_backfill(state, 2)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (hook.posts and smtp.mails):
        time.sleep(0.5)
    posts = [p["json"] for p in hook.posts]
    assert posts and all((p["dag_id"], p["day"]) == ("echo_daily", empty_day) for p in posts)
    post = next(p for p in posts if p["task_id"] == "validate_raw_client")
    assert "day_not_empty" in post["error"] and post["runbook_url"].endswith("#echo_daily")
    subjects = [mail["Subject"] for _, _, mail in smtp.mails]
    assert any(s.endswith(f"validate_raw_client failed for {empty_day}") for s in subjects)


def _relabelled(src: Path) -> bytes:
    """A copy of a server log file with fresh request ids: requests delivered late (for no
    completion anyone saw), not duplicates."""
    import gzip

    raw = src.read_bytes()
    text = gzip.decompress(raw).decode() if src.name.endswith(".gz") else raw.decode()
    out = []
    for line in text.splitlines():
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        event["request_id"] = "late-" + str(event.get("request_id"))
        out.append(json.dumps(event))
    return ("\n".join(out) + "\n").encode()
