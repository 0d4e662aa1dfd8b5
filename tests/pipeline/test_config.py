"""Pipeline presets and users' TOML files: every shipped preset loads; a wrong value says which and why."""

from __future__ import annotations

import pytest

from vidcolor.errors import ConfigError
from vidcolor.pipeline.config import PipelineConfig, load_pipeline_config, preset_names


def test_every_shipped_preset_loads_and_validates():
    assert {"default", "fast", "archive"} <= set(preset_names())
    for name in preset_names():
        assert load_pipeline_config(name).name == name


@pytest.mark.parametrize("line,says", [
    ('crf = "high"', "crf must be a whole number, not 'high'"),
    ("batch_size = 4.5", "batch_size must be a whole number, not 4.5"),
    ("keep_10_bit = 1", "keep_10_bit must be true or false, not 1"),
    ("flow_preset = 2", "flow_preset must be text in quotes, not 2"),
    ("decode_threads = true", "decode_threads must be a whole number, not True"),
    ("cut_threshold = -1", r"cut_threshold must be above 0 and at most 1 \(1: no cut is ever detected\)"),
    ("cut_threshold = 1.5", r"cut_threshold must be above 0 and at most 1 \(1: no cut is ever detected\)"),
    ("queue_frames = 0", "queue_frames must be at least 1"),
    ("crf = 60", "crf must be between 0 and 51"),
])
def test_a_wrong_value_names_the_file_and_the_setting(tmp_path, line, says):
    path = tmp_path / "mine.toml"
    path.write_text(line + "\n")
    with pytest.raises(ConfigError, match=f"mine.toml: {says}$"):
        load_pipeline_config(str(path))


def test_a_whole_number_is_a_fine_float(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text("temperature = 1\nmax_group_seconds = 4\n")
    config = load_pipeline_config(str(path))
    assert config.temperature == 1 and config.max_group_seconds == 4
    assert config.crf == PipelineConfig().crf
