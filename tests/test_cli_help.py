"""Every entry point answers --help with each option, its default and its docstring."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import typing

import pytest

from genen_core.command_line import field_docs
from genen_scale.encode.cli import main as encode_main
from genen_scale.encode.stage import EncodeConfig
from genen_scale.predict.cli import NeighborsConfig, PredictConfig, neighbors_main, predict_main
from genen_scale.report.cli import ReportConfig
from genen_scale.report.cli import main as report_main
from genen_scale.sweep.cli import main as sweep_main
from genen_scale.sweep.config import SweepConfig
from genen_scale.train import main as train_main
from genen_scale.training.config import TrainConfig
from ingest.cli import main as ingest_main
from ingest.config import IngestConfig


def options(cls, prefix=""):
    """``(--dotted.key, default repr, docstring)`` of every leaf field of ``cls``."""
    hints, docs = typing.get_type_hints(cls), field_docs(cls)
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        if dataclasses.is_dataclass(tp):
            yield from options(tp, f"{prefix}{f.name}.")
            continue
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = None
        yield f"--{prefix}{f.name}", repr(default), docs.get(f.name, "")


ENTRY_POINTS = [
    (ingest_main, IngestConfig),
    (encode_main, EncodeConfig),
    (train_main, TrainConfig),
    (sweep_main, SweepConfig),
    (report_main, ReportConfig),
    (predict_main, PredictConfig),
    (neighbors_main, NeighborsConfig),
]


@pytest.mark.parametrize(
    ("main", "cls"),
    ENTRY_POINTS,
    ids=["ingest", "encode", "train", "sweep", "report", "predict", "neighbors"],
)
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_lists_every_option_with_default_and_doc(main, cls, flag, capsys):
    assert main([flag]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    for key, default, doc in options(cls):
        line = next((i for i, text in enumerate(lines) if text.split()[:1] == [key]), None)
        assert line is not None, f"{key} missing from --help"
        assert f"(default: {default})" in lines[line], key
        assert doc, f"{key} has no field docstring"
        shown = " ".join(" ".join(lines[line + 1 : line + 12]).split())
        assert " ".join(doc.split()[:6]) in shown, key


def test_help_after_other_options_still_helps(capsys):
    assert ingest_main(["--out", "x", "--help"]) == 0
    assert "--sources.source_dir" in capsys.readouterr().out


def test_python_m_train_help():
    """The exact command of the issue, in a fresh interpreter."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    done = subprocess.run(
        [sys.executable, "-m", "genen_scale.train", "--help"],
        cwd=root,
        env={**os.environ, "PYTHONPATH": root},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "--optim.lr" in done.stdout or "--model.hidden" in done.stdout
