import dataclasses
from dataclasses import dataclass, field

import pytest

from genen_core.command_line import parse_command_line, pop_option, pop_positional
from genen_core.config import ConfigError, config_digest, load_config


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


def test_command_line_layers_below_file_preset_then_arguments(tmp_path):
    """One parser for every entry point: defaults < below < file < preset < command line."""
    f = tmp_path / "c.toml"
    f.write_text("[model]\nhidden = 32\n")
    presets = {"wide": {"model": {"hidden": 512, "lr": 0.5}}, "plain": {}}
    seen = []

    def below(file_config, args):
        seen.append((file_config, list(args)))
        return ["--model.lr", "0.2", "--model.fanouts", "[1]"]

    cfg = parse_command_line(
        Outer, [f"--config={f}", "--preset", "wide", "--model.lr", "0.1"], presets, below=below
    )
    assert cfg.model == Inner(hidden=512, fanouts=[1], lr=0.1)
    assert seen == [
        (
            {"model": {"hidden": 32}},
            ["--model.hidden", "512", "--model.lr", "0.5", "--model.lr", "0.1"],
        )
    ]
    assert parse_command_line(Outer, [], presets, preset="wide").model.hidden == 512
    assert parse_command_line(Outer, ["--config", str(f)]).model.hidden == 32
    with pytest.raises(ConfigError, match="unknown preset 'narrow'"):
        parse_command_line(Outer, ["--preset", "narrow"], presets)
    with pytest.raises(ConfigError, match="--config needs a file path"):
        parse_command_line(Outer, ["--config"])


def test_positional_word_comes_first():
    args = ["STORE", "--out=x", "--force"]
    assert pop_positional(args, "STORE") == "STORE" and pop_option(args, "--out") == "x"
    assert args == ["--force"] and pop_option(args, "--out") is None
    with pytest.raises(ConfigError, match="give STORE first"):
        pop_positional(["--force"], "STORE")


def test_exponent_without_dot_is_a_number():
    # PyYAML (YAML 1.1) reads "1e-3" as a string; a float field must still take it.
    cfg = load_config(Outer, None, ["--model.lr", "1e-3"])
    assert cfg.model.lr == 1e-3
    with pytest.raises(ConfigError, match="expected a number"):
        load_config(Outer, None, ["--model.lr", "fast"])


def test_config_digest_covers_only_values_set_away_from_the_defaults():
    @dataclasses.dataclass
    class Old:
        lr: float = 0.1
        name: str | None = None

    @dataclasses.dataclass
    class New:  # Old plus a field whose default keeps Old's behaviour
        lr: float = 0.1
        name: str | None = None
        extra: int = 0

    assert config_digest(Old(lr=0.2)) == config_digest(New(lr=0.2))
    assert config_digest(Old()) == config_digest(Old(lr=0.1))  # a default given explicitly
    assert config_digest(Old(lr=0.2)) != config_digest(Old())
    assert config_digest(New(extra=1)) != config_digest(New())
    assert config_digest(Old(name="x"), exclude=[("name",)]) == config_digest(Old())
    assert config_digest(Old(), version="2") != config_digest(Old(), version="1")
