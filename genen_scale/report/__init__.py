"""Reports of sweeps: tables and figures from ``results.parquet`` (``genen-report``).

:mod:`.published` (the paper's and GenePT's numbers, with sources), :mod:`.tables`
(markdown tables), :mod:`.paired` (per-fold paired differences and their tests),
:mod:`.figures` (PNGs), :mod:`.cli` (the entry point).
"""
