"""Whether results come from generated data, so that no report sets them beside the paper.

The demo store (and any store built from ``python -m ingest.generate`` output) has the
real tasks' names — ``solubility``, ``subcellular_location`` — but synthetic genes and
labels: its numbers compare with nothing published. A store is known to be generated
when the directory of any input file its manifest records holds the generator's
``generated.json`` (``ingest.generate`` writes it beside its files). A store that cannot
be read here (a sweep's rows kept in git, the store on another machine) is taken to be
what its rows claim, real data.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pandas as pd

GENERATOR_RECORD = "generated.json"


@cache
def generated_store(store: str) -> bool:
    """True when ``store`` was built from files ``ingest.generate`` wrote (see above)."""
    try:
        manifest = json.loads((Path(store) / "manifest.json").read_text())
    except (OSError, ValueError):
        return False
    dirs = set()
    for source in (manifest.get("sources") or {}).values():
        if isinstance(source, dict) and source.get("path"):
            dirs.add(Path(source["path"]).parent)
    source_dir = ((manifest.get("params") or {}).get("sources") or {}).get("source_dir")
    if source_dir:
        dirs.add(Path(source_dir))
    return any((d / GENERATOR_RECORD).is_file() for d in dirs)


def real_data_tasks(results: pd.DataFrame) -> set[str]:
    """Tasks of ``results`` (rows with ``task`` and ``store``) none of whose rows come
    from a generated store: the only ones published numbers may stand beside."""
    if "store" not in results:
        return set(results["task"])
    generated = results["store"].astype(str).map(generated_store)
    return set(results["task"]) - set(results.loc[generated, "task"])


NOTE = (
    "Published numbers stand only beside tasks trained on real data; {tasks} ran on a "
    "generated store (`ingest.generate`: the demo), whose genes and labels are synthetic."
)
