"""The distributed form on this machine, natively: what `make up-local` / `make down-local` run.

Postgres (metadata DB) and Redis (Celery broker) from Debian's packages, moto's S3 server on
loopback for the landing zone and model artifacts, and Airflow 3 as docker-compose runs it:
api-server, scheduler, dag-processor, triggerer, and two Celery workers (queue `default`;
queue `gpu`, where echo_train's fine-tune goes). Everything lives under one home
(default data/stack/): airflow/ (AIRFLOW_HOME), pg/, redis/, echo/ (ECHO_DATA_ROOT),
logs/ (one file per service, task logs under logs/tasks/), run/ (one pid file per service),
stack.json (ports and secrets, kept across restarts).

    python scripts/stack.py up [--home DIR] [--free-ports]   # start; prints the login
    python scripts/stack.py env                             # exports for `airflow ...` here
    python scripts/stack.py status | down                   # down: stop all, no orphans

Each service runs in its own process group; `down` stops each group (SIGTERM, Postgres a
fast shutdown) and SIGKILLs what is left after a grace period, so nothing outlives it.
ECHO_* variables set when calling `up` reach every Airflow component unchanged.
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DEFAULT_HOME = REPO / "data" / "stack"
DEFAULT_PORTS = {"api": 8080, "pg": 55432, "redis": 56379, "s3": 59000,
                 "worker_logs": 58793, "trigger_logs": 58794}  # fmt: skip
# Started in this order, stopped in reverse.
AIRFLOW_SERVICES = ("api-server", "scheduler", "dag-processor", "triggerer",
                    "worker-default", "worker-gpu")  # fmt: skip
PACKAGES = {"postgres": "postgresql", "redis-server": "redis-server"}


# --- configuration ---------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def load_state(home: Path, free_ports: bool = False) -> dict:
    """Ports and secrets of this home: made once, reused by every later `up`/`env`/`down`."""
    path = home / "stack.json"
    if path.exists():
        return json.loads(path.read_text())
    ports = {k: _free_port() for k in DEFAULT_PORTS} if free_ports else dict(DEFAULT_PORTS)
    state = {"ports": ports, "jwt_secret": secrets.token_urlsafe(32),
             "secret_key": secrets.token_urlsafe(32), "pg_password": secrets.token_urlsafe(16)}  # fmt: skip
    home.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(state, indent=2))
    path.chmod(0o600)
    return state


def stack_env(home: Path, state: dict, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment every Airflow component and `airflow` CLI call of this stack runs with."""
    p, pw = state["ports"], state["pg_password"]
    db = f"airflow:{pw}@127.0.0.1:{p['pg']}/airflow"
    env = dict(os.environ if base is None else base)
    env.update({
        "AIRFLOW_HOME": str(home / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CORE__AUTH_MANAGER":
            "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{p['api']}/execution/",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"postgresql+psycopg2://{db}",
        "AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql+psycopg2://{db}",
        "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:{p['redis']}/0",
        "AIRFLOW__API__WORKERS": "1",  # 2 cores here; the compose form scales it
        "AIRFLOW__API__SECRET_KEY": state["secret_key"],
        "AIRFLOW__API_AUTH__JWT_SECRET": state["jwt_secret"],
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs" / "tasks"),
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(p["worker_logs"]),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(p["trigger_logs"]),
        "PYTHONPATH": str(REPO / "plugins"),
        "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        # Echo: S3 (moto) for landing and models, as docker-compose does with MinIO.
        "AWS_ACCESS_KEY_ID": "echo",
        "AWS_SECRET_ACCESS_KEY": "echo-secret",
        "AWS_DEFAULT_REGION": "us-east-1",
    })  # fmt: skip
    defaults = {
        "ECHO_DATA_ROOT": str(home / "echo"),
        "ECHO_STORAGE__LANDING_URI": "s3://echo-landing/landing",
        "ECHO_STORAGE__ARTIFACTS_URI": "s3://echo-models/models",
        "ECHO_STORAGE__S3_ENDPOINT_URL": f"http://127.0.0.1:{p['s3']}",
        "ECHO_SCHEDULE__GPU_QUEUE": "gpu",
        "ECHO_SCHEDULE__UI_BASE_URL": f"http://127.0.0.1:{p['api']}",
    }
    for key, value in defaults.items():  # the caller's ECHO_* win
        env.setdefault(key, value)
    return env


def commands(home: Path, state: dict) -> dict[str, list[str]]:
    p, pg = state["ports"], home / "pg"
    airflow = str(BIN / "airflow")
    return {
        "postgres": ["postgres", "-D", str(pg), "-p", str(p["pg"]), "-c", "listen_addresses=127.0.0.1",
                     "-c", f"unix_socket_directories={pg}"],
        "redis": ["redis-server", "--bind", "127.0.0.1", "--port", str(p["redis"]), "--dir",
                  str(home / "redis"), "--save", "", "--appendonly", "no"],
        "s3": [str(BIN / "python"), "-m", "moto.server", "-H", "127.0.0.1", "-p", str(p["s3"])],
        "api-server": [airflow, "api-server", "--host", "127.0.0.1", "--port", str(p["api"])],
        "scheduler": [airflow, "scheduler"],
        "dag-processor": [airflow, "dag-processor"],
        "triggerer": [airflow, "triggerer"],
        "worker-default": [airflow, "celery", "worker", "--queues", "default", "--concurrency", "2",
                           "--celery-hostname", "default@%h"],
        # One fine-tune at a time (pool echo_gpu too); its log server port is the other one's.
        "worker-gpu": [airflow, "celery", "worker", "--queues", "gpu", "--concurrency", "1",
                       "--celery-hostname", "gpu@%h", "--skip-serve-logs"],
    }  # fmt: skip


# --- processes -------------------------------------------------------------------------


def _pid_file(home: Path, name: str) -> Path:
    return home / "run" / f"{name}.pid"


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"  # a zombie waits for its reaper; it runs nothing


def group_members(pgid: int) -> list[int]:
    """Live processes in process group `pgid` (every service is one group)."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            except (FileNotFoundError, ProcessLookupError):
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                found.append(int(proc.name))
    return found


def running(home: Path, name: str) -> int | None:
    path = _pid_file(home, name)
    if not path.exists():
        return None
    pid = int(path.read_text())
    return pid if group_members(pid) else None


def start(home: Path, name: str, cmd: list[str], env: dict[str, str], user: str | None = None):
    """Start one service in a process group of its own; log and pid under the home."""
    if (pid := running(home, name)) is not None:
        print(f"{name}: already running (pid {pid})")
        return pid
    log = (home / "logs" / f"{name}.log").open("ab")
    kwargs = {}
    if user:
        kwargs = {"user": user, "group": pwd.getpwnam(user).pw_gid}
    proc = subprocess.Popen(cmd, env=env, cwd=REPO, stdin=subprocess.DEVNULL, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True, **kwargs)  # fmt: skip
    _pid_file(home, name).write_text(str(proc.pid))
    print(f"{name}: started (pid {proc.pid}, log {home / 'logs' / f'{name}.log'})")
    return proc.pid


def stop(home: Path, name: str, grace_s: float = 30.0) -> None:
    """Stop a service's whole process group: its signal first, SIGKILL after `grace_s`."""
    path = _pid_file(home, name)
    if not path.exists():
        return
    pid = int(path.read_text())
    if group_members(pid):
        # Postgres: SIGINT to the postmaster is its fast shutdown (it stops its backends).
        first = signal.SIGINT if name == "postgres" else signal.SIGTERM
        try:
            os.kill(pid, first) if name == "postgres" else os.killpg(pid, first)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + grace_s
        while group_members(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if left := group_members(pid):
            print(f"{name}: {len(left)} process(es) still up after {grace_s:.0f}s: SIGKILL")
            for member in left:
                try:
                    os.kill(member, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            while group_members(pid):
                time.sleep(0.1)
        print(f"{name}: stopped")
    path.unlink()


def kill_hard(home: Path, name: str) -> None:
    """SIGKILL a service's whole group at once, as a lost machine would (fault tests)."""
    path = _pid_file(home, name)
    for member in group_members(int(path.read_text())):
        try:
            os.kill(member, signal.SIGKILL)
        except ProcessLookupError:
            pass


# --- readiness -------------------------------------------------------------------------


def wait_for(
    what: str, check, timeout_s: float = 120.0, logs: Path | None = None, pid: int | None = None
) -> None:
    """Poll `check` until true; fail with the log's tail on timeout or when `pid`'s group died."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception:  # noqa: BLE001 - not up yet
            pass
        if pid is not None and not _alive(pid):
            timeout_s = 0  # it exited: no point waiting
            break
        time.sleep(0.5)
    tail = logs.read_text(errors="replace")[-3000:] if logs and logs.exists() else ""
    why = "exited" if timeout_s == 0 else f"not ready after {timeout_s:.0f}s"
    raise SystemExit(f"{what} {why}\n{tail}")


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _pg(state: dict, sql: str, db: str = "airflow") -> list[tuple]:
    import psycopg2

    con = psycopg2.connect(host="127.0.0.1", port=state["ports"]["pg"], user="airflow",
                           password=state["pg_password"], dbname=db)  # fmt: skip
    con.autocommit = True
    try:
        with con.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall() if cur.description else []
    finally:
        con.close()


def ensure_packages() -> None:
    """Postgres and Redis come from Debian: installed here when root, else the command."""
    missing = [pkg for exe, pkg in PACKAGES.items() if not _which(exe)]
    if not missing:
        return
    command = ["apt-get", "install", "-y", "-qq", *missing]
    if os.geteuid() != 0:
        raise SystemExit(
            f"missing {', '.join(missing)}: sudo apt-get install -y {' '.join(missing)}"
        )
    print(f"installing {' '.join(missing)} (apt-get)")
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(command, check=True, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})


def _which(exe: str) -> str | None:
    if found := shutil.which(exe):
        return found
    # Debian keeps the Postgres server binaries off PATH.
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    return next((str(v / exe) for v in versions if (v / exe).exists()), None)


# --- up / down -------------------------------------------------------------------------


def up(home: Path, free_ports: bool = False, timeout_s: float = 180.0) -> dict:
    ensure_packages()
    state = load_state(home, free_ports)
    for sub in ("logs", "run", "redis", "airflow", "echo"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    env, cmds, logs = stack_env(home, state), commands(home, state), home / "logs"
    cmds["postgres"][0] = _which("postgres")
    # Postgres refuses to run as root: the Debian package's `postgres` user owns the cluster.
    pg_user = "postgres" if os.geteuid() == 0 else None
    _start_postgres(home, state, cmds["postgres"], pg_user)
    start(home, "redis", cmds["redis"], env)
    start(home, "s3", cmds["s3"], env)
    wait_for("redis", lambda: _port_open(state["ports"]["redis"]), 30, logs / "redis.log")
    wait_for("s3", lambda: _port_open(state["ports"]["s3"]), 60, logs / "s3.log")
    subprocess.run([str(BIN / "python"), str(REPO / "scripts" / "make_buckets.py")], env=env,
                   check=True)  # fmt: skip
    _migrate(home, env)
    # Logs are appended to: readiness counts only what this start writes.
    offsets = {n: _size(logs / f"{n}.log") for n in AIRFLOW_SERVICES}
    for name in AIRFLOW_SERVICES:
        start(home, name, cmds[name], env)
    _wait_ready(home, state, timeout_s, offsets)
    password = _password(home)
    print(f"UI: http://127.0.0.1:{state['ports']['api']}  login: admin / {password}")
    print(f'CLI: eval "$({sys.executable} {Path(__file__).relative_to(REPO)} env)" && airflow ...')
    return state


def _start_postgres(home: Path, state: dict, cmd: list[str], user: str | None) -> None:
    pg = home / "pg"
    if not (pg / "PG_VERSION").exists():
        pg.mkdir(parents=True, exist_ok=True)
        pwfile = home / "run" / "pgpass.tmp"
        pwfile.write_text(state["pg_password"] + "\n")
        if user:
            shut = [str(d) for d in pg.parents if not d.stat().st_mode & 0o001]
            if shut:  # the cluster's owner must be able to reach its directory
                raise SystemExit(f"user {user} cannot enter {shut[0]}: use a --home it can reach")
            uid, gid = pwd.getpwnam(user).pw_uid, pwd.getpwnam(user).pw_gid
            os.chown(pg, uid, gid)
            os.chown(pwfile, uid, gid)
        initdb = [_which("initdb"), "-D", str(pg), "-U", "airflow", "--pwfile", str(pwfile),
                  "--auth-local=scram-sha-256", "--auth-host=scram-sha-256", "-E", "UTF8"]  # fmt: skip
        kwargs = {"user": user, "group": pwd.getpwnam(user).pw_gid} if user else {}
        done = subprocess.run(initdb, capture_output=True, text=True, **kwargs)
        if done.returncode:
            raise SystemExit(f"initdb failed:\n{done.stdout}{done.stderr}")
        pwfile.unlink()
    start(home, "postgres", cmd, dict(os.environ), user)
    wait_for("postgres", lambda: _pg(state, "select 1", db="postgres"), 60, home / "logs" / "postgres.log")  # fmt: skip
    if not _pg(state, "select 1 from pg_database where datname = 'airflow'", db="postgres"):
        _pg(state, "create database airflow", db="postgres")


def _migrate(home: Path, env: dict[str, str]) -> None:
    airflow = str(BIN / "airflow")
    with (home / "logs" / "init.log").open("ab") as log:
        subprocess.run([airflow, "db", "migrate"], env=env, check=True, stdout=log, stderr=log)
        for pool, slots, what in (("echo_duckdb", 1, "serialises writers of the Echo DuckDB file"),
                                  ("echo_gpu", 1, "one fine-tune at a time"),
                                  ("echo_extract", 4, "extract shards walking at once")):  # fmt: skip
            subprocess.run([airflow, "pools", "set", pool, str(slots), what], env=env, check=True,
                           stdout=log, stderr=log)  # fmt: skip


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def _wait_ready(home: Path, state: dict, timeout_s: float, offsets: dict[str, int]) -> None:
    """Ready: the API answers, both workers said so, and every DAG file's DAG is parsed."""
    import urllib.request

    logs, api = home / "logs", state["ports"]["api"]
    health = f"http://127.0.0.1:{api}/api/v2/monitor/health"
    wait_for("api-server", lambda: urllib.request.urlopen(health, timeout=5).status == 200,
             timeout_s, logs / "api-server.log", running(home, "api-server") or 0)  # fmt: skip
    for worker in ("worker-default", "worker-gpu"):
        log = logs / f"{worker}.log"
        ready = lambda log=log, at=offsets[worker]: b" ready." in log.read_bytes()[at:]  # noqa: E731
        wait_for(worker, ready, timeout_s, log, running(home, worker) or 0)
    dag_ids = sorted(p.stem for p in (REPO / "dags").glob("*.py") if not p.name.startswith("_"))
    ids = ", ".join(f"'{d}'" for d in dag_ids)
    wait_for("dag-processor (DAGs parsed)",
             lambda: len(_pg(state, f"select dag_id from serialized_dag where dag_id in ({ids}) "
                                    "group by dag_id")) == len(dag_ids),
             timeout_s, logs / "dag-processor.log")  # fmt: skip
    wait_for("scheduler and triggerer",
             lambda: all(json.load(urllib.request.urlopen(health, timeout=5))[c]["status"] == "healthy"
                         for c in ("scheduler", "triggerer", "dag_processor")),
             timeout_s, logs / "scheduler.log")  # fmt: skip


def _password(home: Path) -> str:
    path = home / "airflow" / "simple_auth_manager_passwords.json.generated"
    try:
        return json.loads(path.read_text()).get("admin", "?")
    except (FileNotFoundError, json.JSONDecodeError):
        return f"(see {path})"


def down(home: Path) -> None:
    for name in (*reversed(AIRFLOW_SERVICES), "s3", "redis", "postgres"):
        stop(home, name)
    leftovers = (
        sorted(p.stem for p in (home / "run").glob("*.pid")) if (home / "run").exists() else []
    )
    if leftovers:
        raise SystemExit(f"pid files left: {leftovers}")


def status(home: Path) -> dict[str, int | None]:
    return {name: running(home, name)
            for name in ("postgres", "redis", "s3", *AIRFLOW_SERVICES)}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("verb", choices=["up", "down", "status", "env"])
    parser.add_argument("--home", type=Path, default=DEFAULT_HOME)
    parser.add_argument("--free-ports", action="store_true",
                        help="first `up` of a home: pick free ports instead of the defaults")  # fmt: skip
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for ready")
    args = parser.parse_args(argv)
    home = args.home.resolve()
    if args.verb == "up":
        try:
            up(home, args.free_ports, args.timeout)
        except BaseException:
            print("start failed: stopping what started (logs kept in", home / "logs", ")")
            down(home)
            raise
    elif args.verb == "down":
        down(home)
    elif args.verb == "status":
        for name, pid in status(home).items():
            print(f"{name:15} {'up, pid ' + str(pid) if pid else 'down'}")
    else:
        env = stack_env(home, load_state(home), base={})
        for key in sorted(
            k for k in env if k.startswith(("AIRFLOW", "ECHO_", "AWS_")) or k == "PYTHONPATH"
        ):
            print(f"export {key}={_quote(env[key])}")
    return 0


def _quote(value: str) -> str:
    import shlex

    return shlex.quote(value)


if __name__ == "__main__":
    raise SystemExit(main())
