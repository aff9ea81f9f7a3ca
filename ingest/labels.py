"""Label files as the ingest reads them: a folder of files, gene ids through the id map.

The file format itself (layouts, kinds, cleaning) is :mod:`genen_core.labels`, which a
training run's ``--data.labels FILE`` reads too. What is the ingest's own: reading every
file of ``--labels DIR`` (one task per name across the folder) and renaming each file's
gene ids to gene keys through the identifier map (:mod:`ingest.idmap`) before duplicates
and conflicts are counted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import pyarrow as pa
from tqdm import tqdm

from genen_core.known_labels import LABEL_SUFFIXES
from genen_core.labels import Renamer, load_label_file
from ingest.errors import IngestError
from ingest.idmap import Match, Resolution

log = logging.getLogger(__name__)

# Gene ids of one task -> the genes they name (see ingest.idmap.IdMap.resolve).
Resolver = Callable[[Sequence[str]], Resolution]


def load_label_dir(directory: Path, resolve: Resolver | None = None) -> tuple[pa.Table, dict]:
    """Load every ``.csv`` / ``.tsv`` file under ``directory`` (recursively).

    Args:
        directory: Folder of label files, e.g. ``shared/data/labels``.
        resolve: Maps gene ids to the genes they name; None keeps the ids as they are.

    Returns:
        ``(table, tasks)``: all labels (``task, gene, label``, sorted by task, gene,
        label) and task -> info as in :class:`genen_core.labels.LabelSet`, with ``source`` relative to
        ``directory``.

    Raises:
        LabelFileError: A file that cannot be read (:func:`genen_core.labels.load_label_file`).
        IngestError: Two files hold the same task, or the folder has no label file.
    """
    directory = Path(directory)
    files = sorted(p for p in directory.rglob("*") if p.suffix in LABEL_SUFFIXES and p.is_file())
    if not files:
        raise IngestError(f"{directory}: no {'/'.join(LABEL_SUFFIXES)} label files found")
    tables, tasks = [], {}
    for path in tqdm(files, desc="label files", unit="file", disable=len(files) < 20):
        labels = load_label_file(path, None if resolve is None else id_renamer(resolve))
        source = path.relative_to(directory).as_posix()
        for task, info in labels.tasks.items():
            if task in tasks:
                raise IngestError(
                    f"{directory}: task {task!r} is in both {tasks[task]['source']} and "
                    f"{source}; rename one file or set its 'task' column"
                )
            tasks[task] = {**info, "source": source}
        tables.append(labels.table)
    table = pa.concat_tables(tables).sort_by(
        [("task", "ascending"), ("gene", "ascending"), ("label", "ascending")]
    )
    return table, dict(sorted(tasks.items()))


def id_renamer(resolve: Resolver) -> Renamer:
    """A :data:`genen_core.labels.Renamer` from the identifier map's ``resolve``: each id
    becomes the gene key it names (kept as is when it names none: the build then counts it
    as not in the graph)."""

    def rename(path: Path, task: str, genes: Sequence[str]) -> tuple[list[str], dict]:
        genes = list(genes)
        found = resolve(genes)
        # A gene listed under its own key keeps that row: an alias naming it too (an old
        # symbol with another value) would only turn it into a conflict and drop it.
        exact = {g for g, m in zip(found.genes, found.match, strict=True) if m is Match.EXACT}
        matches = [
            Match.UNKNOWN if m is Match.ALIAS and g in exact else m
            for g, m in zip(found.genes, found.match, strict=True)
        ]
        shadowed = len(
            {i for i, a, b in zip(genes, found.match, matches, strict=True) if a is not b}
        )
        found = Resolution(found.id_type, found.genes, matches)
        renamed = [
            gene if match in (Match.EXACT, Match.ALIAS) else given
            for given, gene, match in zip(genes, found.genes, found.match, strict=True)
        ]
        counts = found.counts(genes)
        counts["shadowed"] = shadowed  # counted under unknown too
        dropped = counts["outside"] + counts["ambiguous"] + counts["unknown"]
        log.info(
            "%s: task %s: %d gene ids matched exactly, %d by alias (%s), %d dropped",
            path.name,
            task,
            counts["exact"],
            counts["alias"],
            counts["id_type"],
            dropped,
        )
        return renamed, {**counts, "dropped": dropped}

    return rename
