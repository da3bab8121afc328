"""Echo's one typed settings tree.

Every knob lives here, read from `ECHO_*` environment variables (nested groups
with `__`, e.g. `ECHO_EXTRACT__QUIET_S=20`), then an optional TOML file
(`ECHO_CONFIG_FILE`, default `echo.toml` in the project root), then defaults
that work out of the box. A misspelled `ECHO_*` variable or TOML key fails loudly.
"""

from __future__ import annotations

import os
import tomllib
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from echo_ops.errors import DataError

# plugins/echo_ops/config.py -> the repository root.
PROJECT_ROOT = Path(__file__).resolve().parents[2]
ENV_PREFIX = "ECHO_"
CONFIG_FILE_VAR = "ECHO_CONFIG_FILE"
# The SQL models are part of the code, not a setting: they ship with it.
SQL_DIR = PROJECT_ROOT / "include" / "sql"
# Pinned web assets (include/web/package.json, installed by `make venv`): the Data Docs'
# CDN files, served from here so the pages work without internet.
WEB_ASSETS_DIR = PROJECT_ROOT / "include" / "web" / "node_modules"


class _Group(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StorageSettings(_Group):
    landing_uri: str = ""  # where collectors drop events: a local dir or s3://bucket/prefix
    warehouse_path: Path | None = None  # the pipeline's DuckDB file (single writer)
    published_path: Path | None = None  # the read-only analyst copy, swapped atomically
    artifacts_uri: str = ""  # model registry artifacts: a local dir or s3://bucket/prefix
    truth_dir: Path | None = None  # simulator ground truth, never inside the landing zone
    s3_endpoint_url: str | None = None  # S3-compatible endpoint (MinIO, moto); None = AWS
    s3_region: str = "us-east-1"
    # a writer (or reader) that finds the DuckDB file held waits this long before it fails
    # with WarehouseLocked (retryable): readers outside the writers' pool hold it for seconds
    lock_wait_s: float = Field(30.0, ge=0)


class SimulateSettings(_Group):
    seed: int = 7  # same seed, same bytes
    users: int = 6  # simulated developers per day
    sessions_per_user: int = 2
    corpus_dir: Path | None = None  # base corpus; None = this Python's standard library
    deploy_corpus_dir: Path | None = None  # unseen codebase; None = an installed package's source
    duplicate_rate: float = 0.02  # share of events delivered twice (same event_id)
    late_rate: float = 0.01  # share of events landing in the next day's partition
    corrupt_rate: float = 0.001  # share of lines broken in transit
    secret_rate: float = 0.02  # share of sessions that type a fake credential or e-mail
    corpus: Literal["deploy", "base"] = "deploy"  # which codebase the simulated people write
    files_per_session: int = 3  # documents opened, written, saved and closed per session
    max_file_lines: int = 160  # a longer file is cut to a window of this many lines
    hole_share: float = 0.3  # share of a file's lines the person writes (the rest is there)
    repo_max_file_lines: int = 800  # flywheel "repo" deployment: a file's first lines kept
    repo_write_share: float = 0.6  # ... and the share of them written over the run's days
    target_events: int | None = None  # per run: keep adding sessions until reached; None = fixed
    workers: int = 0  # processes over (day, user); 0 = min(2, CPUs)
    # model proposer: people of one process served together, their requests one batch
    # (simulate/batching.py); 1 = one person at a time. Part of the seed: same value, same run
    batch_people: int = 12
    proposer: Literal["fast", "model"] = "fast"  # fast = intended text, corrupted; model = champion
    # gate: show only if exp(mean token logprob) reaches this; with train.token_min_prob,
    # tuned so that the demo base model lands at 10-30% accepted (docs/simulator.md)
    show_min_prob: float = 0.3
    prompt_prefix_chars: int = 2000  # prompt window sent to the server before the cursor
    prompt_suffix_chars: int = 500  # ... and after it
    exact_share: float = 0.02  # fast proposer: share of exact proposals (rest near or wrong)
    near_share: float = 0.045  # fast proposer: share of slightly corrupted proposals
    refine_min_similarity: float = 0.75  # person: accept-and-refine at or above this similarity
    word_accept_share: float = 0.35  # person: share of right-first-line/word proposals taken partly
    ignore_share: float = 0.3  # person: share of rejections that emit no event at all
    typed_over_share: float = 0.5  # person: share of emitted rejections that are typed over
    delete_after_accept_share: float = 0.08  # person: accepted proposals deleted right after
    typo_rate: float = 0.02  # person: chance per character of a typo fixed with backspace
    undo_rate: float = 0.002  # person: chance per character of a junk run undone (and redone)
    paste_revert_rate: float = 0.001  # person: chance per character of a paste then undo
    crlf_share: float = 0.15  # documents with CRLF line endings
    non_ascii_rate: float = 0.2  # share of written blocks with a non-ASCII comment line
    utf8_client_share: float = 0.2  # clients negotiating utf-8 positions (else utf-16)
    reorder_rate: float = 0.01  # share of events swapped with a neighbour in their batch
    max_skew_s: float = 90.0  # per-client clock skew, uniform in +-this
    oversize_rate: float = 0.00002  # share of extra lines over the collector's 1 MiB limit


class ExtractSettings(_Group):
    quiet_s: float = 10.0  # a region untouched this long is settled
    horizon_s: float = 300.0  # settle at the latest this long after the proposal was shown
    align_lookback_days: int = 2  # how far back to look for the other side of a completion
    max_quarantine_rate: float = 0.01  # above this share of bad lines, ingest fails loudly
    max_line_bytes: int = 1_048_576  # the collector's line limit: longer lines are quarantined
    duckdb_memory_limit: str = "2GB"  # ingest/extract cap DuckDB here and spill to disk beyond
    walk_workers: int = 2  # processes per shard that walk documents (Python: one core each)
    # echo_daily walks a day in this many mapped tasks, by a hash of the document; each runs
    # on any worker from Parquet files under the data root (docs/scale.md). 1 = one shard
    shards: int = Field(default=1, ge=1, le=1024)
    staging_keep_days: int = 7  # a day's shard files (data_root/extract-shards) kept this long


class QualitySettings(_Group):
    volume_min_ratio: float = 0.3  # today's rows vs trailing mean: below this warns
    acceptance_drift_max: float = 0.15  # absolute change in acceptance rate that warns
    volume_max_ratio: float = 5.0  # today's rows vs trailing mean: above this warns
    trailing_days: int = 7  # days of history behind volume and drift checks
    sample_rows: int = 200_000  # GX validates at most this many rows a day (reservoir sample)
    sample_seed: int = 42  # same day, same sample
    ts_late_days: int = 3  # client clocks may trail the landing day this much (late delivery)
    ts_skew_s: int = 900  # ...and run ahead of it this much (clock skew)
    ts_outside_max_share: float = 0.001  # share of rows outside that window that fails the hop
    max_target_chars: int = 4000  # longest training target accepted; longer ones warn
    distribution_drift_max_ratio: float = 2.0  # p50/p90 today vs trailing days beyond this warns
    max_median_edit_distance: float = 400.0  # median edit distance above this warns (drift)
    min_server_match_share: float = 0.95  # aligned completions with a server line; fewer warns
    fp_corpus_files: int = 60  # stdlib files scanned for the secret detector's false-positive rate
    # "suite.check" -> blocking | warning, e.g. {"raw_client.volume_vs_trailing_days": "blocking"}
    severity_overrides: dict[str, Literal["blocking", "warning"]] = Field(default_factory=dict)


class TrainSettings(_Group):
    preset: Literal["tiny", "demo", "small"] = "demo"  # base-model size (docs/models.md)
    corpus_dir: Path | None = None  # base corpus; None = this Python's standard library
    device: str = "auto"  # auto | cpu | cuda
    seed: int = 1234  # same seed, same batches: what makes a resumed run match
    min_new_examples: int = 50  # echo_train skips fine-tuning below this
    # training set builder
    replay_share: float = 0.3  # share of a training set drawn from earlier days + base corpus
    replay_base_share: float = 0.5  # of that replay, the share taken from the base corpus
    outcome_weights: dict[str, float] = Field(  # loss weight per outcome; 0 drops the outcome
        default_factory=lambda: {
            "accepted_kept": 1.0,
            "accepted_refined": 1.5,  # the person's fix is the strongest signal
            "partial_accepted": 1.2,
            "rejected_written": 1.0,
            "rejected_empty": 0.0,  # nothing written: no target to learn
            "accepted_deleted": 0.0,
            # imported Continue / Tabby logs (docs/imports.md): accepted, fate unknown; and
            # refined per a linked nextEditWithHistory cluster (times the link's confidence)
            "imported_accepted": 0.5,
            "imported_refined": 1.0,
        }
    )
    min_target_chars: int = 2  # shorter settled texts are noise
    max_target_chars: int = 1500  # longer ones are pastes, not completions
    eval_share: float = 0.1  # share of documents held out for evaluation
    preference_pairs: bool = True  # also store (final preferred over proposal) pairs for DPO
    # fine-tune loop
    max_steps: int = 60  # fine-tune steps per run on the embedded default
    batch_size: int = 8
    grad_accum: int = 1  # micro-batches per optimizer step
    learning_rate: float = 3e-4
    warmup_steps: int = 5
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    seq_len: int = 256  # tokens per packed row (and the FIM prompt budget)
    packing: bool = True  # concatenate examples into full rows instead of padding
    # loss weight of the prompt (the team's code around the cursor) relative to the target:
    # 0 trains on the settled text only; > 0 also learns the repository's own code (0.3:
    # measured online, docs/metrics.md "Tried, kept, dropped")
    context_loss_weight: float = 0.3
    bf16: bool = True  # bf16 autocast on CUDA (false: no bf16 anywhere, pretraining included)
    # ...and on a CPU that computes bf16 natively (AMX / AVX512-BF16: echo_ops.precision):
    # a step 1.5-2x faster at a slightly higher loss per step (docs/models.md). On for the
    # time-capped pretraining (bootstrap), where it buys steps; fine-tunes stay fp32.
    cpu_bf16: bool = False
    eval_every: int = 20  # steps between held-out loss checks
    eval_batches: int = 4  # batches per periodic check
    checkpoint_every: int = 20  # steps between resumable checkpoints
    max_train_seconds: float | None = None  # stop early after this much wall time; None = all
    lora: bool = False  # train LoRA adapters (peft) instead of all weights: for large models
    lora_r: int = 16
    lora_alpha: int = 32
    lora_target_modules: str = "all-linear"  # peft target_modules
    dpo_steps: int = 0  # DPO steps on training.preference_pairs after fine-tuning; 0 = off
    dpo_beta: float = 0.1  # DPO temperature: how far the policy may move from the reference
    dpo_learning_rate: float = 5e-5
    # evaluation and promotion
    eval_max_examples: int = 64  # held-out examples scored for loss
    eval_generate_examples: int = 16  # of those, how many get a greedy completion
    max_new_tokens: int = 48  # cap on a generated completion
    # serving (echo_ops.generate, the simulator's model proposer): the editor-like stops
    token_min_prob: float = 0.05  # generation stops before the first token less likely than this
    max_proposal_lines: int = 4  # a line-start proposal ends after this many code lines
    # echo_ops.memory: the team's code as a cache LM beside the network; 0 = off
    memory_weight: float = 0.0  # the most a match's continuations weigh in the mix
    memory_min_match: int = 3  # tokens a match needs before it counts
    memory_max_order: int = 16  # longest match looked for
    min_improvement: float = 0.01  # relative eval-loss gain a candidate needs to be promoted
    max_edit_sim_drop: float = 0.02  # and its edit similarity may not fall more than this
    # guarded promotion (echo_ops.offline, docs/metrics.md): "loss" = the two rules above only
    promotion_rule: Literal["guarded", "loss"] = "guarded"
    # the offline estimate a candidate must raise: with calibrated gates every model shows as
    # often as the base, so acceptance is fair (accepted per request on replayed requests
    # favours the champion, which chose to show them)
    promote_metric: Literal["acceptance", "accepted_per_request", "retained_chars_per_request"] = (
        "acceptance"
    )
    promote_margin: float = 0.0  # ... its paired interval's low end must lie above this
    replay_eval_examples: int = 300  # held-out recent requests replayed through both models
    replay_batch: int = 16  # requests decoded together (a batch costs far less than its rows)
    bootstrap_samples: int = 2000  # paired-bootstrap resamples (by file)
    regression_examples: int = 64  # fixed base-corpus FIM examples guarding against forgetting
    regression_max_loss_rise: float = 0.05  # relative loss rise there that rejects a candidate
    # serve each fine-tune with its own show gate, set so that it shows as often as the
    # lineage's base does at simulate.show_min_prob on the held-out requests (same procedure
    # for every arm: the base's own calibrated gate is simulate.show_min_prob)
    calibrate_gate: bool = True
    # online guard (echo_ops.flywheel): roll back when treatment's acceptance falls below
    # control's with a 95% interval under 0, once both arms showed this many completions
    rollback_min_shown: int = 300


class ScheduleSettings(_Group):
    start_date: date = date(2026, 11, 1)  # first day echo_daily backfills from
    duckdb_pool: str = "echo_duckdb"  # one-slot pool serialising warehouse writers
    gpu_pool: str = "echo_gpu"  # one-slot pool for fine-tuning
    extract_pool: str = "echo_extract"  # echo_daily's extract shards (no warehouse access)
    gpu_queue: str = "default"  # Celery queue for fine-tuning; "gpu" in docker-compose
    retries: int = 2  # task retries for transient faults (data errors fail at once)
    retry_delay_s: int = 300
    # where people open the Airflow UI: failure lines link the report and Data Docs there
    ui_base_url: str = "http://localhost:8080"
    # where echo_train.fine_tune runs: a Celery/local worker, or a KubernetesPodOperator pod
    fine_tune_runner: Literal["worker", "kubernetes"] = "worker"
    pod_image: str = "echo-airflow:latest"  # image with echo-ops installed (CUDA torch for GPUs)
    pod_namespace: str = "default"  # namespace the fine-tune pod is started in
    pod_gpus: int = Field(1, ge=0)  # nvidia.com/gpu limit; 0 = a CPU pod
    pod_service_account: str | None = None  # None = the namespace's default service account
    pod_env_secret: str | None = None  # k8s Secret whose keys become env (e.g. AWS_* for S3)
    pod_volume_claim: str | None = None  # PVC mounted at data_root (the DuckDB warehouse)
    pod_startup_timeout_s: int = 600  # pending this long fails the try (GPU nodes scale slowly)
    pod_kubernetes_conn_id: str = "kubernetes_default"  # if absent: in-cluster, then kubeconfig


class AlertSettings(_Group):
    """Where failure and late alerts go besides the task log (docs/runbook.md#alerts).
    Nothing set = the `ECHO FAILURE` log line only."""

    smtp_host: str | None = None  # mail alerts through this SMTP server; None = no mail
    smtp_port: int = 25  # 587 with smtp_starttls, 465 with smtp_ssl
    smtp_from: str = "echo-alerts@localhost"
    smtp_to: list[str] = Field(default_factory=list)  # on-call addresses; [] = no mail
    smtp_starttls: bool = False  # upgrade the connection with STARTTLS before logging in
    smtp_ssl: bool = False  # implicit TLS (SMTPS) from the first byte
    smtp_user: str | None = None  # log in when set
    smtp_password: SecretStr = SecretStr("")
    webhook_url: SecretStr = SecretStr("")  # Slack-compatible incoming webhook; "" = none
    timeout_s: float = Field(10.0, gt=0)  # per channel: a dead server costs at most this
    # where the runbook's anchors resolve (e.g. https://git.example.com/echo/blob/main/docs/
    # runbook.md); "" = the copy the `echo` plugin serves at {schedule.ui_base_url}/echo/runbook
    runbook_base_url: str = ""
    # echo_daily not finished by this hour (UTC) of the day after its data interval: a late
    # alert (an Airflow Deadline Alert, fired by the scheduler and triggerer); None = none.
    # Off by default: on Airflow 3.3.2 `airflow dags test` (make demo, the e2e tests) exits
    # non-zero after a successful run of a DAG with a deadline (apache/airflow#73428)
    daily_deadline_hour: int | None = Field(None, ge=0, le=47)


class ImportSettings(_Group):
    # open assistants' own logs that echo_daily converts from the landing zone before ingest
    # ({landing}/continue/..., {landing}/tabby/...); [] = none (docs/imports.md)
    sources: list[Literal["continue", "tabby"]] = Field(default_factory=list)
    # HMAC key for the assistants' user ids (Continue's may be a credential); "" = drop them
    user_id_key: SecretStr = SecretStr("")


class ServeSettings(_Group):
    """`echo-ops serve`: the completion server in front of editors (docs/serving.md)."""

    host: str = "127.0.0.1"  # bind address; put a TLS proxy in front for anything but loopback
    port: int = 8765
    token: str | None = None  # when set, every /v1 call needs `Authorization: Bearer <token>`
    pin_model: str | None = None  # serve this registry model id, never the champion (control arm)
    arm: str | None = None  # arm name in the server log; None = control if pinned else treatment
    reload_s: float = 10.0  # how often the champion pointer is read (promotion/rollback reach)
    # the show gate; None = simulate.show_min_prob, so served and simulated people see alike
    show_min_prob: float | None = None
    max_request_bytes: int = 262_144  # a completion request body above this is refused (413)
    max_events_bytes: int = 8_388_608  # an /v1/events body above this is refused (413)
    flush_s: float = 5.0  # events wait at most this long in memory (the crash-loss bound)
    flush_events: int = 1000  # ...or until this many are buffered
    max_buffer_events: int = 200_000  # kept while the landing zone is down; beyond, dropped+counted
    workers: int = 1  # threads running the model; >1 only helps with cores to spare


class LspSettings(_Group):
    """`echo-ops lsp`: the editor-side language server (docs/editors.md)."""

    server_url: str = "http://127.0.0.1:8765"  # where `echo-ops serve` listens
    token: str | None = None  # bearer token for the server, if it wants one
    user_id: str | None = None  # pseudonymous id; None = a hash of the OS user and host
    opt_out: bool = False  # record nothing (completions are still served)
    prompt_prefix_chars: int = 2000  # prompt window sent to the server before the cursor
    prompt_suffix_chars: int = 500  # ... and after it
    timeout_s: float = 5.0  # a completion request slower than this is dropped (no proposal)
    flush_s: float = 2.0  # client events are posted to the server at least this often
    max_buffer_events: int = 20_000  # kept while the server is unreachable; beyond, dropped
    # files never recorded nor sent for completion (matched on the name and the whole path)
    secret_globs: list[str] = Field(
        default_factory=lambda: [
            ".env", ".env.*", "*.env", "*.pem", "*.key", "*.p12", "*.pfx", "*.jks",
            "*.keystore", "id_rsa*", "id_dsa*", "id_ecdsa*", "id_ed25519*", ".netrc",
            ".pgpass", ".npmrc", ".pypirc", "credentials", "credentials.*", "secrets.*",
            "*/.ssh/*", "*/.aws/*", "*/.gnupg/*", "*/.docker/config.json",
        ]
    )  # fmt: skip


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    data_root: Path = PROJECT_ROOT / "data"  # every default path below lives under this
    log_level: str = "INFO"
    storage: StorageSettings = Field(default_factory=StorageSettings)
    simulate: SimulateSettings = Field(default_factory=SimulateSettings)
    extract: ExtractSettings = Field(default_factory=ExtractSettings)
    quality: QualitySettings = Field(default_factory=QualitySettings)
    train: TrainSettings = Field(default_factory=TrainSettings)
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    imports: ImportSettings = Field(default_factory=ImportSettings)
    serve: ServeSettings = Field(default_factory=ServeSettings)
    lsp: LspSettings = Field(default_factory=LspSettings)

    @model_validator(mode="after")
    def _derive_paths(self) -> Settings:
        s, root = self.storage, self.data_root
        s.landing_uri = s.landing_uri or str(root / "landing")
        s.warehouse_path = s.warehouse_path or root / "warehouse" / "echo.duckdb"
        s.published_path = s.published_path or root / "published" / "echo_analyst.duckdb"
        s.artifacts_uri = s.artifacts_uri or str(root / "models")
        s.truth_dir = s.truth_dir or root / "truth"
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=config_file())
        return (init_settings, env_settings, toml)


def config_file() -> Path:
    return Path(os.environ.get(CONFIG_FILE_VAR, PROJECT_ROOT / "echo.toml"))


def _known_env_names(model: type[BaseModel], prefix: str) -> set[str]:
    names: set[str] = set()
    for name, field in model.model_fields.items():
        full = f"{prefix}{name.upper()}"
        names.add(full)
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            names |= _known_env_names(field.annotation, full + "__")
    return names


def check_environment(environ: dict[str, str] | None = None) -> None:
    """Fail on an `ECHO_*` variable that names no setting (pydantic ignores those)."""
    environ = dict(os.environ if environ is None else environ)
    known = _known_env_names(Settings, ENV_PREFIX) | {CONFIG_FILE_VAR}
    unknown = sorted(k for k in environ if k.startswith(ENV_PREFIX) and k not in known)
    if unknown:
        raise ValueError(
            f"unknown Echo setting(s) in the environment: {', '.join(unknown)}; "
            "run `echo-ops config` to see every valid name"
        )


@lru_cache(maxsize=1)
def _cached() -> Settings:
    check_environment()
    return Settings()


def get_settings(**overrides: Any) -> Settings:
    """The effective settings; keyword overrides (e.g. from Airflow Params) win over all."""
    if not overrides:
        return _cached()
    check_environment()
    return Settings(**overrides)


# What a manual run may override through the `overrides` Param: the knobs of what a run
# does with its data. Machine facts (storage, the data root), parse-time wiring (schedule:
# pools, queues) and the servers' settings cannot change for one run.
OVERRIDABLE_GROUPS = ("extract", "quality", "train", "imports")


class SettingsOverrideError(DataError):
    """A run's `overrides` names no overridable setting, or gives one a bad value."""


def overridable_keys() -> list[str]:
    """Every dotted setting a run may override (secrets excluded: Params show in the UI)."""
    return [
        f"{group}.{name}"
        for group in OVERRIDABLE_GROUPS
        for name, field in Settings.model_fields[group].annotation.model_fields.items()
        if field.annotation is not SecretStr
    ]


def with_overrides(overrides: dict[str, Any] | None) -> Settings:
    """The effective settings with one run's overrides on top ({"quality.trailing_days": 3});
    a key that names no overridable setting, or a value of the wrong type, fails loudly."""
    if not overrides:
        return get_settings()
    valid = overridable_keys()
    unknown = sorted(k for k in overrides if k not in valid)
    if unknown:
        raise SettingsOverrideError(
            f"unknown setting(s) in the run's overrides: {', '.join(unknown)}; "
            f"valid keys: {', '.join(valid)}"
        )
    nested: dict[str, dict[str, Any]] = {}
    for key, value in overrides.items():
        group, name = key.split(".", 1)
        nested.setdefault(group, {})[name] = value
    try:
        return get_settings(**nested)
    except ValidationError as exc:
        raise SettingsOverrideError(f"bad value in the run's overrides: {exc}") from None


def reset_settings_cache() -> None:
    """Forget the cached settings (tests and the CLI call this after changing the env)."""
    _cached.cache_clear()


def describe(settings: Settings) -> list[tuple[str, str, str]]:
    """(dotted name, value, source) for every leaf setting: env, toml, derived or default."""
    toml_data: dict[str, Any] = {}
    if config_file().is_file():
        toml_data = tomllib.loads(config_file().read_text())
    rows: list[tuple[str, str, str]] = []
    _describe(settings, Settings, ENV_PREFIX, (), toml_data, rows)
    return rows


def _describe(obj, model, env_prefix, path, toml_data, rows) -> None:
    for name, field in model.model_fields.items():
        value, env_name = getattr(obj, name), f"{env_prefix}{name.upper()}"
        if isinstance(value, BaseModel):
            sub_toml = toml_data.get(name, {}) if isinstance(toml_data, dict) else {}
            _describe(value, type(value), env_name + "__", (*path, name), sub_toml, rows)
            continue
        if env_name in os.environ:
            source = f"env {env_name}"
        elif isinstance(toml_data, dict) and name in toml_data:
            source = f"toml {config_file()}"
        elif field.default in ("", None) and value not in ("", None):
            source = "derived from data_root"
        else:
            source = "default"
        rows.append((".".join((*path, name)), str(value), source))


# The Airflow Asset echo_daily updates and echo_train is scheduled on.
TRAINING_SET_ASSET = "echo_training_set"
