"""The sweep ``genen-sweep`` runs without a config file, and the demo store it runs on.

:data:`DEMO_SWEEP` (``demo.toml`` beside this module) is a small masking sweep on the
embedded demo store: GCN and logistic regression, with and without half the genes' text
hidden (four trials). ``template.toml`` beside it documents every key of a sweep file.
A sweep whose ``[train]`` names no ``data.store`` runs on the demo store, built on first
use exactly as ``python -m genen_scale.train`` builds it (:mod:`genen_scale.demo`).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

from genen_scale.demo import demo_store
from genen_scale.sweep.config import SweepConfig
from genen_scale.training.config import DataConfig

log = logging.getLogger(__name__)

DEMO_SWEEP = Path(__file__).with_name("demo.toml")
TEMPLATE = Path(__file__).with_name("template.toml")


def with_demo_store(cfg: SweepConfig) -> SweepConfig:
    """``cfg`` with ``train.data.store`` set to the demo store when it names none."""
    data = dict(cfg.train.get("data") or {})
    if data.get("store") is not None:
        return cfg
    data["store"] = str(demo_store(data.get("demo_cache", DataConfig.demo_cache)))
    log.info(
        "sweep: [train] names no data.store; the trials run on the demo store %s", data["store"]
    )
    return replace(cfg, train={**cfg.train, "data": data})
