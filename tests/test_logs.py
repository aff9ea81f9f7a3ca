"""genen_core.logs: one format and a level from the caller or the environment."""

from __future__ import annotations

import subprocess
import sys

import pytest

from genen_core.logs import LEVEL_ENV, setup_logging

# A fresh interpreter: pytest's own handlers would make setup_logging leave the root alone.
SCRIPT = "import logging; from genen_core.logs import setup_logging; setup_logging({arg}); \
logging.getLogger('genen.x').info('told'); logging.getLogger('genen.x').warning('warned')"


def run(arg: str = "", env: dict | None = None) -> str:
    cmd = [sys.executable, "-c", SCRIPT.format(arg=arg)]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, check=True).stderr


def test_one_format_at_info_by_default():
    lines = run(env={}).splitlines()
    assert [line.split(" ", 2)[2] for line in lines] == [
        "INFO genen.x: told",
        "WARNING genen.x: warned",
    ]


def test_level_from_environment_or_argument():
    quiet = run(env={LEVEL_ENV: "warning"})
    assert "told" not in quiet and "warned" in quiet
    assert "told" not in run("logging.ERROR", env={LEVEL_ENV: "DEBUG"})


def test_unknown_level_names_the_variable(monkeypatch):
    monkeypatch.setenv(LEVEL_ENV, "LOUD")
    with pytest.raises(ValueError, match=f"'LOUD' \\({LEVEL_ENV}\\)"):
        setup_logging()
