"""The embedded default dataset: a generated demo store, built once and cached.

A composition root, like the entry points: it runs ingest (generate, build) and the
encoder to feed training, so it is the one module of ``genen_scale`` besides the CLIs
that imports ``ingest`` (``tests/test_imports.py`` lists it). Library modules never
call it; ``genen_scale/train.py`` does, when no store is given.

``python -m genen_scale.train`` with no ``--data.store`` trains on it, so the whole
pipeline runs end to end on a laptop with no download: the generator writes STRING/GO/
GAF/summary/label files in their official formats (``ingest.generate``, preset ``demo``:
~2,000 genes), ``genen-ingest`` builds the store and the bundled MiniLM model encodes the
node texts. The result lives in ``data.demo_cache`` (``~/.cache/genen_scale/demo``) and
is rebuilt only when missing.

The demo run also has defaults of its own (:data:`DEMO_DEFAULTS`, applied by
``python -m genen_scale.train`` when neither the command line nor the config file names a
store, and only to keys neither of them sets): the demo graph is small and dense (mean
degree ~60 on ``go_ppi``), so four hops of the paper's GCN average almost every gene
into one and the model falls to chance, while two hops (one hidden layer) keep it well
above the text-only baseline; at a learning rate of 0.03 every fold learns within the
patience (at 0.01 some folds stop on an early validation peak, measured). Fewer epochs
keep the run short, and it trains in process (Ray Train's local mode,
``scaling.num_workers 0``: the same training loop): starting a local Ray and a Train
worker takes ~25 s on two cores, longer than the demo's training (measured:
``benchmarks/README.md``). ``--scaling.num_workers 1`` runs it on a Ray Train worker.
"""

from __future__ import annotations

import logging
from pathlib import Path

from genen_core.store import GraphStore
from genen_scale.encode import EncodeConfig, encode_store
from ingest.build import build_store
from ingest.config import IngestConfig
from ingest.generate import PRESETS, GenerateConfig, file_names, generate
from ingest.sources import SourcesConfig

log = logging.getLogger(__name__)

DEMO_PRESET = "demo"
DEMO_DEFAULTS = {
    "model.layers": 1,
    "optim.lr": 0.03,
    "optim.epochs": 60,
    "optim.patience": 20,
    "scaling.num_workers": 0,
}


def demo_overrides(file_config: dict, args: list[str]) -> list[str]:
    """``--key value`` overrides of :data:`DEMO_DEFAULTS` for a run on the demo store:
    empty when ``args`` or the config file name a store, and without the keys they set."""
    given = {a[2:].split("=", 1)[0].replace("-", "_") for a in args if a.startswith("--")}
    in_file = {
        f"{section}.{key}"
        for section, values in file_config.items()
        if isinstance(values, dict)
        for key in values
    }
    if "data.store" in given or "data.store" in in_file:
        return []
    return [
        a
        for key, value in DEMO_DEFAULTS.items()
        if key not in given and key not in in_file
        for a in (f"--{key}", str(value))
    ]


def demo_store(root: str | Path, preset: str = DEMO_PRESET, encode: bool = True) -> Path:
    """Path of the demo store under ``root``, built if missing.

    Each stage is skipped when its output exists: the source files, the store (built
    atomically by the ingest) and its ``minilm`` features (which the encoder resumes).
    ``preset`` (a generator preset) and ``encode=False`` (no features: the caller writes
    its own) make the same store small and quick, for tests.
    """
    root = Path(root).expanduser()
    source, store = root / "source", root / "store"
    gen = GenerateConfig(**PRESETS[preset])
    files = {k: source / v for k, v in file_names(gen.species).items()}
    if not all(p.exists() for p in files.values()):
        log.info("demo: generating the %s dataset in %s", DEMO_PRESET, source)
        generate(source, gen)
    if not (store / "manifest.json").is_file():
        log.info("demo: building the store %s", store)
        build_store(
            IngestConfig(
                out=str(store),
                species=gen.species,
                summaries=str(files["summaries"]),
                labels=str(files["labels"]),
                sources=SourcesConfig(source_dir=str(source)),
            )
        )
    # In process: ~3,000 short texts encode in about a minute on two cores, less than a
    # Ray actor pool takes to start there. Unchanged rows are never re-encoded.
    if encode:
        encode_store(GraphStore.open(store), EncodeConfig(use_ray=False))
    return store
