"""Settings table, --ia-* flags and their precedence over stored values."""

from __future__ import annotations

import argparse

import pytest

from inpaint_anything import config
from inpaint_anything.errors import InvalidInputError


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser()
    config.add_cli_arguments(p)
    return p


def test_flags_parse_and_override_stored_values(tmp_path):
    ns = parser().parse_args(
        ["--ia-models-dir", str(tmp_path), "--ia-sam-device", "cpu", "--ia-offline", "--ia-max-image-pixels", "1000"]
    )
    s = config.settings_from({"sam_device": "cuda", "offline": False, "default_sam_model": "mobile_sam"}, ns)
    assert s.models_dir == str(tmp_path)
    assert s.sam_device == "cpu"
    assert s.offline is True
    assert s.max_image_pixels == 1000
    assert s.default_sam_model == "mobile_sam"  # no flag given: the stored value is kept


def test_unset_flags_keep_defaults():
    s = config.settings_from(None, parser().parse_args([]))
    assert s == config.Settings()


def test_bool_flag_accepts_explicit_values():
    assert parser().parse_args(["--ia-offline", "false"]).ia_offline is False
    with pytest.raises(SystemExit):
        parser().parse_args(["--ia-offline", "maybe"])


def test_bool_flag_without_value_does_not_swallow_the_next_word():
    argv = config.explicit_bool_flags(["--ia-offline", "batch", "--ia-offline", "off", "--ia-models-dir", "x"])
    assert argv == ["--ia-offline=true", "batch", "--ia-offline", "off", "--ia-models-dir", "x"]
    p = parser()
    p.add_argument("command")
    ns = p.parse_args(config.explicit_bool_flags(["--ia-offline", "batch"]))
    assert ns.ia_offline is True and ns.command == "batch"
    assert config.explicit_bool_flags(["--ia-models-dir", "true"]) == ["--ia-models-dir", "true"]  # not a yes/no flag


def test_bad_device_is_refused_by_the_parser_and_by_settings():
    with pytest.raises(SystemExit):
        parser().parse_args(["--ia-sam-device", "tpu"])
    with pytest.raises(InvalidInputError, match="SAM device"):
        config.Settings(sam_device="tpu").validated()
    with pytest.raises(InvalidInputError, match="at least 1"):
        config.settings_from({"max_image_pixels": 0})


def test_string_bools_from_stored_values():
    assert config.settings_from({"offline": "true"}).offline is True
    assert config.settings_from({"offline": "off"}).offline is False


def test_models_dir_resolution(tmp_path):
    assert config.Settings().resolved_models_dir(str(tmp_path)) == str(tmp_path / "inpaint_anything")
    assert config.Settings(models_dir=str(tmp_path / "m")).resolved_models_dir("/elsewhere") == str(tmp_path / "m")
    assert config.Settings().resolved_models_dir(None).endswith("inpaint-anything/models")


def test_every_option_has_a_settings_field_and_unique_flag():
    fields = set(config.Settings.__dataclass_fields__)
    assert {o.key for o in config.OPTIONS} <= fields
    flags = [o.flag_name for o in config.OPTIONS]
    assert len(flags) == len(set(flags))
    assert all(f.startswith("--ia-") for f in flags)
