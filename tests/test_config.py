from dataclasses import dataclass, field

import pytest

from genen_scale.config import ConfigError, load_config


@dataclass
class Inner:
    hidden: int = 64
    fanouts: list[int] = field(default_factory=lambda: [15, 10])
    lr: float = 1e-3


@dataclass
class Outer:
    task: str = "solubility"
    force: bool = False
    model: Inner = field(default_factory=Inner)


def test_file_then_overrides(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text('task = "tf_range"\n[model]\nhidden = 32\n')
    cfg = load_config(Outer, f, ["--model.fanouts=[5, 3]", "--model.lr", "0.01", "--force"])
    assert cfg == Outer(
        task="tf_range", force=True, model=Inner(hidden=32, fanouts=[5, 3], lr=0.01)
    )


def test_yaml_file_and_dashes(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("model:\n  hidden: 8\n")
    cfg = load_config(Outer, f, ["--task", "x-y"])
    assert cfg.model.hidden == 8 and cfg.task == "x-y"


@pytest.mark.parametrize(
    "args, message",
    [
        (["--model.hiden", "3"], "did you mean 'hidden'"),
        (["--taks", "x"], "did you mean 'task'"),
        (["--model.hidden", "abc"], "model.hidden: expected an integer"),
        (["--force", "maybe"], "force: expected true/false"),
    ],
)
def test_bad_overrides(args, message):
    with pytest.raises(ConfigError, match=message):
        load_config(Outer, None, args)


def test_unknown_key_in_file(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text("[modle]\nhidden = 3\n")
    with pytest.raises(ConfigError, match="did you mean 'model'"):
        load_config(Outer, f)


def test_exponent_without_dot_is_a_number():
    # PyYAML (YAML 1.1) reads "1e-3" as a string; a float field must still take it.
    cfg = load_config(Outer, None, ["--model.lr", "1e-3"])
    assert cfg.model.lr == 1e-3
    with pytest.raises(ConfigError, match="expected a number"):
        load_config(Outer, None, ["--model.lr", "fast"])
