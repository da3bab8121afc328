from __future__ import annotations

import pytest

from echo_ops.config import (
    Settings,
    check_environment,
    describe,
    get_settings,
    reset_settings_cache,
)


def test_defaults_work_out_of_the_box(settings, tmp_path):
    s = settings
    assert str(s.data_root) in s.storage.landing_uri
    assert s.storage.warehouse_path.name == "echo.duckdb"
    assert s.storage.published_path != s.storage.warehouse_path
    assert 0 < s.extract.quiet_s < s.extract.horizon_s


def test_env_overrides_nested_groups(monkeypatch):
    monkeypatch.setenv("ECHO_EXTRACT__QUIET_S", "42")
    monkeypatch.setenv("ECHO_STORAGE__LANDING_URI", "s3://bucket/landing")
    reset_settings_cache()
    s = get_settings()
    assert s.extract.quiet_s == 42.0
    assert s.storage.landing_uri == "s3://bucket/landing"
    sources = {name: source for name, _, source in describe(s)}
    assert sources["extract.quiet_s"] == "env ECHO_EXTRACT__QUIET_S"
    assert sources["storage.warehouse_path"] == "derived from data_root"
    assert sources["train.batch_size"] == "default"


def test_misspelled_env_var_fails_loudly():
    with pytest.raises(ValueError, match="ECHO_EXTRACT__QUIET_SECONDS"):
        check_environment({"ECHO_EXTRACT__QUIET_SECONDS": "3"})
    check_environment({"ECHO_EXTRACT__QUIET_S": "3", "ECHO_CONFIG_FILE": "x"})


def test_toml_file_is_read_and_typos_rejected(monkeypatch, tmp_path):
    toml = tmp_path / "echo.toml"
    toml.write_text("[train]\nmax_steps = 7\n")
    monkeypatch.setenv("ECHO_CONFIG_FILE", str(toml))
    reset_settings_cache()
    s = get_settings()
    assert s.train.max_steps == 7
    assert ("train.max_steps", "7", f"toml {toml}") in describe(s)
    toml.write_text("[train]\nmax_stepz = 7\n")
    with pytest.raises(ValueError, match="max_stepz"):
        Settings()


def test_bad_type_is_rejected(monkeypatch):
    monkeypatch.setenv("ECHO_TRAIN__BATCH_SIZE", "many")
    reset_settings_cache()
    with pytest.raises(ValueError, match="batch_size"):
        get_settings()


def test_run_overrides_apply_on_top_of_the_environment(monkeypatch):
    from echo_ops.config import with_overrides

    monkeypatch.setenv("ECHO_QUALITY__TRAILING_DAYS", "3")
    reset_settings_cache()
    s = with_overrides({"quality.volume_min_ratio": 0.1, "extract.max_quarantine_rate": "0.2"})
    assert s.quality.volume_min_ratio == 0.1 and s.extract.max_quarantine_rate == 0.2
    assert s.quality.trailing_days == 3  # the env's value stays
    assert get_settings().quality.volume_min_ratio == 0.3  # other runs: unchanged
    assert with_overrides({}) is get_settings()


@pytest.mark.parametrize(
    "overrides, message",
    [({"quality.trailing_dayz": 3}, "quality.trailing_dayz; valid keys: extract.quiet_s"),
     ({"storage.warehouse_path": "/tmp/x"}, "unknown setting(s) in the run's overrides: storage"),
     ({"imports.user_id_key": "k"}, "imports.user_id_key"),  # secrets are not Params
     ({"quality.trailing_days": "many"}, "quality.trailing_days")],
)  # fmt: skip
def test_run_overrides_fail_loudly(overrides, message):
    from echo_ops.config import SettingsOverrideError, with_overrides
    from echo_ops.errors import DataError

    with pytest.raises(
        SettingsOverrideError, match=message.replace("(", r"\(").replace(")", r"\)")
    ) as err:
        with_overrides(overrides)
    assert isinstance(err.value, DataError)  # the DAG fails the task at once, no retries
