"""Tests of the analysis limits that `Settings` reads from the environment."""

from __future__ import annotations

import pytest

from chalicelib.analysis import AnalysisOptions
from chalicelib.config import ANALYSIS_LIMITS, Settings, SettingsError


def test_settings_analysis_limits_default_to_options() -> None:
    settings = Settings.from_env({})

    assert settings.analysis_limits == {}
    assert AnalysisOptions(**settings.analysis_limits) == AnalysisOptions()


def test_settings_read_each_analysis_limit() -> None:
    env = {limit.variable: str(1000 + index) for index, limit in enumerate(ANALYSIS_LIMITS)}

    options = AnalysisOptions(**Settings.from_env(env).analysis_limits)

    for index, limit in enumerate(ANALYSIS_LIMITS):
        assert getattr(options, limit.field) == 1000 + index


def test_settings_allow_zero_retrieved_file_size() -> None:
    settings = Settings.from_env({"RETRIEVED_FILE_MAX_SIZE": "0"})

    assert settings.analysis_limits == {"retrieved_file_max_size": 0}


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("MAX_LAYER_BYTES", "16GiB", "MAX_LAYER_BYTES='16GiB' is not a positive whole number"),
        ("MAX_LAYER_ENTRIES", "0", "MAX_LAYER_ENTRIES='0' is not a positive whole number"),
        ("MAX_KEPT_FILE_SIZE", "-5", "MAX_KEPT_FILE_SIZE='-5' is not a positive whole number"),
        ("RETRIEVED_FILE_MAX_SIZE", "-1", "'-1' is not a non-negative whole number of bytes"),
    ],
)
def test_settings_reject_invalid_analysis_limit(variable: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env({variable: value})
