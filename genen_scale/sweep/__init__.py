"""Sweeps: grids of training runs and baselines, run as concurrent Ray Tune trials.

:mod:`.config` (``SweepConfig``), :mod:`.grid` (trials and their config hash),
:mod:`.layout` (where a trial's files live), :mod:`.trial` (one trial into per-fold rows), :mod:`.actor` (what a Tune trial actor
runs), :mod:`.runner` (Tune or in process, resume, ``results.parquet``); the entry point
is :mod:`.cli` (``genen-sweep``).
"""
