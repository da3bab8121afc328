"""docker-compose.yaml can't be run here (no Docker engine): check its structure instead."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from echo_ops.config import check_environment

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((REPO / "docker-compose.yaml").read_text())


def test_all_airflow_3_components_and_backing_services(compose):
    services = set(compose["services"])
    assert {
        "postgres",
        "redis",
        "s3",
        "airflow-init",
        "airflow-apiserver",
        "airflow-scheduler",
        "airflow-dag-processor",
        "airflow-triggerer",
        "airflow-worker",
        "airflow-worker-gpu",
        "bucket-init",
    } <= services


def test_long_running_services_restart_and_report_health(compose):
    for name, service in compose["services"].items():
        if name.endswith("-init"):
            assert service["restart"] == "no"
        else:
            assert service["restart"] == "always" and "healthcheck" in service, name
    for name in ("airflow-apiserver", "airflow-worker", "bucket-init"):
        assert compose["services"][name]["depends_on"][
            "airflow-init" if name != "bucket-init" else "s3"
        ]


def test_one_secret_key_and_jwt_secret_for_every_component(compose):
    env = compose["x-airflow-common"]["environment"]
    assert env["AIRFLOW__API__SECRET_KEY"] and env["AIRFLOW__API_AUTH__JWT_SECRET"]
    assert compose["x-airflow-common"]["user"].startswith("${AIRFLOW_UID:-")
    assert "airflow-logs:/opt/airflow/logs" in compose["x-airflow-common"]["volumes"]


def test_gpu_worker_serves_only_the_gpu_queue_the_dags_use(compose):
    gpu = compose["services"]["airflow-worker-gpu"]
    assert "--queues gpu" in gpu["command"]
    assert gpu["environment"]["ECHO_SCHEDULE__GPU_QUEUE"] == "gpu"
    assert gpu["deploy"]["resources"]["reservations"]["devices"][0]["capabilities"] == ["gpu"]
    assert "--queues default" in compose["services"]["airflow-worker"]["command"]


def test_echo_settings_in_compose_are_real_settings(compose):
    env = {k: str(v) for k, v in compose["x-airflow-common"]["environment"].items()}
    check_environment(env)  # raises on a misspelled ECHO_* name
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"


def test_init_creates_the_pools_the_dags_need(compose):
    command = compose["services"]["airflow-init"]["command"]
    assert "db migrate" in command
    for pool in ("echo_duckdb", "echo_gpu"):
        assert f"pools set {pool} 1" in command
    assert "pools set echo_extract " in command  # the extract shards' own pool


def test_the_completion_server_serves_from_and_lands_in_the_shared_stores(compose):
    serve = compose["services"]["echo-serve"]
    assert serve["command"].startswith("echo-ops serve") and "0.0.0.0" in serve["command"]
    env = {k: str(v) for k, v in serve["environment"].items()}
    check_environment(env)
    assert env["ECHO_STORAGE__LANDING_URI"].startswith("s3://") and env["ECHO_SERVE__TOKEN"]


# --- everything the file names exists (it cannot be run here) -----------------------------

# Tools that the third-party images bring (not in this repository nor in Echo's image).
IMAGE_TOOLS = {"postgres": {"pg_isready"}, "redis": {"redis-cli"}, "minio/minio": {"server", "mc"}}
# Variables that an image or a library reads (not Echo's or Airflow's settings).
IMAGE_ENV = {
    "postgres": {"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"},
    "minio/minio": {"MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD"},
    "echo-airflow": {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "DUMB_INIT_SETSID"},
}


def _resolve(text: str) -> str:
    """Compose's interpolation with defaults: ${VAR:-default} -> default, $$ -> $."""
    import re

    return re.sub(r"\$\{[A-Za-z_]+:-([^}]*)\}", r"\1", str(text)).replace("$$", "$")


def _image(service: dict) -> str:
    return _resolve(service["image"]).rpartition(":")[0]


def _argvs(command) -> list[list[str]]:
    """Each program call in a command or healthcheck (bash -c "a && b" is two)."""
    import shlex

    if isinstance(command, list):
        if command[0] == "CMD-SHELL":
            return _argvs(command[1])
        return [[_resolve(w) for w in (command[1:] if command[0] == "CMD" else command)]]
    words = shlex.split(_resolve(command))
    if words[:2] == ["bash", "-c"]:
        return [shlex.split(part) for part in words[2].split("&&")]
    return [words]


def test_every_image_is_pinned(compose):
    images = {name: _resolve(s["image"]) for name, s in compose["services"].items()}
    for name, image in images.items():
        tag = image.rpartition(":")[2]
        assert ":" in image and tag != "latest" and any(c.isdigit() for c in tag), (name, image)
    (base,) = [ln.split()[1] for ln in (REPO / "Dockerfile").read_text().splitlines()
               if ln.startswith("FROM ")]  # fmt: skip
    pinned = {ln.split("==")[0]: ln.split("==")[1] for ln in (REPO / "requirements.txt").read_text().split() if "==" in ln}  # fmt: skip
    assert (
        base == f"apache/airflow:{pinned['apache-airflow']}-python3.11"
    )  # the image's Airflow = ours
    built = {_resolve(s["image"]) for s in compose["services"].values() if "build" in s}
    assert built == {f"echo-airflow:{pinned['apache-airflow']}"}


def test_every_command_exists_in_the_repo_or_the_image(compose):
    from airflow.cli.cli_parser import get_parser

    from echo_ops.cli import build_parser

    airflow_cli, echo_cli = get_parser(), build_parser()
    for name, service in compose["services"].items():
        calls = _argvs(service["command"]) if "command" in service else []
        if "healthcheck" in service:
            calls += _argvs(service["healthcheck"]["test"])
        for argv in calls:
            program, args = argv[0], argv[1:]
            if program == "airflow":
                airflow_cli.parse_args(args)  # exits on an unknown command or flag
            elif program == "echo-ops":
                echo_cli.parse_args(args)
            elif program == "python":
                assert (REPO / args[0].removeprefix("/opt/echo/")).is_file(), (name, argv)
            elif program == "celery":  # celery --app MODULE.app ...: the Celery app Airflow ships
                module, _, attr = args[1].rpartition(".")
                assert hasattr(__import__(module, fromlist=[attr]), attr), (name, argv)
            elif program == "curl":  # in the official Airflow image; the URL names a real route
                assert (
                    name == "echo-serve"
                    or "/api/v2/version" in args[-1]
                    or args[-1].endswith(":8974/health")
                )
            else:
                assert program in IMAGE_TOOLS.get(_image(service), ()), (name, argv)


def test_every_volume_source_exists(compose):
    named = set(compose.get("volumes") or {})
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (REPO / source).exists(), (name, volume)
            else:
                assert source in named, (name, volume)


def test_every_env_var_is_a_real_setting(compose):
    """ECHO_* names are Echo settings; AIRFLOW__SECTION__KEY names an option of the installed
    Airflow's (and its providers') config description; the rest an image reads."""
    from airflow.configuration import conf

    conf.load_providers_configuration()
    options = {(s, o) for s, d in conf.configuration_description.items() for o in d["options"]}
    for name, service in compose["services"].items():
        env = {k: str(v) for k, v in (service.get("environment") or {}).items()}
        check_environment(env)
        for key in env:
            if key.startswith("AIRFLOW__"):
                section, option = key.removeprefix("AIRFLOW__").lower().split("__")
                assert (section, option) in options, (name, key)
            elif not key.startswith("ECHO_"):
                assert key in IMAGE_ENV.get(_image(service), ()), (name, key)
