"""Fine-tune in a Kubernetes pod: the KubernetesPodOperator arguments for echo_train.fine_tune.

Used when `schedule.fine_tune_runner = "kubernetes"`. The pod runs the same stage as a worker
(`echo-ops train`, i.e. `echo_ops.finetune.fine_tune`) with the DAG processor's ECHO_*
settings, an `nvidia.com/gpu` limit and, when configured, the warehouse volume and a Secret
with S3 credentials. Nothing here talks to a cluster: the operator does, when the task runs.
Reads and writes no table itself; the pod reads training.examples (read-only) and stages
the candidate's files, echo_train's register_candidate then adds its registry.models row;
a retry resumes from its last checkpoint, so a re-run is safe.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from echo_ops.config import ENV_PREFIX, Settings

# KubernetesPodOperator's sidecar reads a pod's return value (the XCom) from this file.
XCOM_RESULT_FILE = "/airflow/xcom/return.json"
# A first try starts the run afresh and a retry resumes, exactly as the worker task does.
RESUME_FLAG = "{{ '--resume' if ti.try_number > 1 else '--no-resume' }}"
TRAIN_COMMAND = ["echo-ops"]
# The pod writes files only; echo_train's register_candidate (writers' pool) registers them.
TRAIN_ARGUMENTS = ["train", RESUME_FLAG, "--no-register", "--result-file", XCOM_RESULT_FILE]
GPU_RESOURCE = "nvidia.com/gpu"


def pod_env(settings: Settings, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The pod's environment: every ECHO_* variable seen here, plus CUDA when it has a GPU.

    Captured when the DAG is parsed, so the pod trains with the settings the scheduler has.
    Credentials are not ECHO_* settings: they come from `schedule.pod_env_secret`.
    """
    environ = os.environ if environ is None else environ
    env = {k: v for k, v in sorted(environ.items()) if k.startswith(ENV_PREFIX)}
    # Same paths as here, whatever the image's default: the volume is mounted at data_root.
    env.setdefault("ECHO_DATA_ROOT", str(settings.data_root))
    if settings.schedule.pod_gpus > 0:
        # "auto" would quietly fall back to CPU on a node without a visible GPU; fail instead.
        env.setdefault("ECHO_TRAIN__DEVICE", "cuda")
    return env


def fine_tune_pod_kwargs(
    settings: Settings, environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """KubernetesPodOperator keyword arguments for the fine-tune pod (no task_id, pool, queue)."""
    from kubernetes.client import models as k8s

    s = settings.schedule
    kwargs: dict[str, Any] = dict(
        name="echo-fine-tune",
        image=s.pod_image,
        namespace=s.pod_namespace,
        kubernetes_conn_id=s.pod_kubernetes_conn_id,
        service_account_name=s.pod_service_account,
        cmds=list(TRAIN_COMMAND),
        arguments=list(TRAIN_ARGUMENTS),
        env_vars=pod_env(settings, environ),
        startup_timeout_seconds=s.pod_startup_timeout_s,
        labels={"app": "echo", "stage": "fine_tune"},
        get_logs=True,
        do_xcom_push=True,  # register_candidate needs the candidate_id, as from the worker task
        # A failed pod stays for `kubectl logs/describe`; a finished one is cleaned up.
        on_finish_action="delete_succeeded_pod",
        **_gpu_kwargs(k8s, s.pod_gpus),
        **_volume_kwargs(k8s, s.pod_volume_claim, str(settings.data_root)),
    )
    if s.pod_env_secret:
        kwargs["env_from"] = [
            k8s.V1EnvFromSource(secret_ref=k8s.V1SecretEnvSource(name=s.pod_env_secret))
        ]
    return kwargs


def _gpu_kwargs(k8s, gpus: int) -> dict[str, Any]:
    if gpus == 0:
        return {}
    # Kubernetes sets the request of an extended resource equal to its limit.
    limits = {GPU_RESOURCE: str(gpus)}
    # GPU node pools are usually tainted so that only pods asking for GPUs land there.
    toleration = k8s.V1Toleration(key=GPU_RESOURCE, operator="Exists", effect="NoSchedule")
    return {
        "container_resources": k8s.V1ResourceRequirements(limits=limits),
        "tolerations": [toleration],
    }


def _volume_kwargs(k8s, claim: str | None, mount_path: str) -> dict[str, Any]:
    if not claim:
        return {}
    source = k8s.V1PersistentVolumeClaimVolumeSource(claim_name=claim)
    return {
        "volumes": [k8s.V1Volume(name="echo-data", persistent_volume_claim=source)],
        "volume_mounts": [k8s.V1VolumeMount(name="echo-data", mount_path=mount_path)],
    }
