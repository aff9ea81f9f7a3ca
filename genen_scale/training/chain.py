"""The authors' masking design: the rates as one warm-started chain of runs.

Our masking grid trains each rate from scratch. The published code trained the rates in
order, each starting from the model the previous rate ended with, with the text of all
nodes (genes and GO terms) masked. :func:`run_chain` does that with the parts that exist:
one run per rate (``data.mask_rate``), each with ``init_from`` the previous run, fold
by fold (fold k from fold k). The masked sets of one seed are nested
(:func:`~genen_scale.training.inputs.mask_genes`), so each step hides the genes of the
step before and more. The rest of the authors' recipe is the caller's choice:
``--data.mask_nodes all`` (every node), ``--eval.protocol paper`` (their splits, the last
epoch kept), ``--eval.folds_to_run [0]`` (their one split).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from pathlib import Path

import pandas as pd

from genen_scale.training import results
from genen_scale.training.config import TrainConfig
from genen_scale.training.inputs import TrainError
from genen_scale.training.run import run

log = logging.getLogger(__name__)


def run_chain(cfg: TrainConfig, rates: list[float]) -> Path:
    """Train ``cfg`` at each masking rate in order, each rate warm-started from the last.

    Runs are named ``<run_name>-mask<rate>``; the rows of every step go to
    ``<output_dir>/<run_name>-chain.parquet`` (the metrics table of each run with
    ``mask_rate``, ``chain_step`` and ``init_from``). The first step starts from
    ``cfg.init_from`` (None: fresh).

    Raises:
        TrainError: The rates do not grow, or one is outside [0, 1).
    """
    if (
        not rates
        or any(b <= a for a, b in zip(rates, rates[1:], strict=False))
        or not 0 <= rates[0] <= rates[-1] < 1
    ):
        raise TrainError(f"--mask_chain {rates}: give increasing masking rates in [0, 1)")
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = cfg.run_name or f"{results.run_prefix(cfg)}-{stamp}"
    previous, tables = cfg.init_from, []
    for step, rate in enumerate(rates):
        step_cfg = dataclasses.replace(
            cfg,
            data=dataclasses.replace(cfg.data, mask_rate=rate),
            init_from=previous,
            run_name=f"{base}-mask{rate:g}",
        )
        log.info("masking chain step %d: rate %g, starting from %s", step, rate, previous)
        run_dir, _ = run(step_cfg)
        table = pd.read_parquet(run_dir / "metrics.parquet")
        table["chain_step"] = step  # the run's table carries its mask_rate
        table["init_from"] = previous or ""
        tables.append(table)
        previous = str(run_dir)
    out = Path(cfg.output_dir) / f"{base}-chain.parquet"
    pd.concat(tables, ignore_index=True).to_parquet(out, index=False)
    return out
