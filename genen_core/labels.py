"""The label-file format: a task label file in any known layout -> one ``task, gene, label`` table.

The ingest (a folder of label files, genes resolved through its identifier map:
``ingest.labels``) and a training run (``--data.labels FILE``: the user's own file, genes
matched to a built store) read label files with this one parser. Every file is read by
the same loader; what differs between files (layouts, the published files' task names
and kinds, derived tasks, old task names) is declared in :mod:`genen_core.known_labels`.

The common schema, for your own labels, is a CSV (or ``.tsv``) file with the columns
``gene,label`` and optionally ``task`` (default: the file stem) and ``kind`` (``binary``,
``multiclass``, ``multilabel`` or ``regression``; one value per task). Without ``kind`` a
task whose labels are all numbers is a regression task, otherwise its class names,
sorted, are the classes (``binary`` for two, ``multiclass`` for more). A multilabel task
lists one row per (gene, class)::

    gene,label,task
    TP53,Nucleus,location
    EGFR,Cell membrane,location
    TP53,0.91,conservation
    EGFR,0.42,conservation

Cleaning, the same for every file and counted per task:

* rows with no gene symbol (empty or R's ``NA``) are dropped (``missing_gene``), and
  rows with no label value are dropped (``empty``);
* identical (gene, label) rows are collapsed (``duplicates``);
* in a single-label task (binary, multiclass, regression) a gene with two different
  labels is dropped entirely (``conflicts`` counts genes): either label could be the
  error, and training or evaluating on a coin flip between them would only add noise.

Label values are the class index (the file's own numeric code where it has one, checked
one-to-one with the class names; otherwise the position in the sorted class names) or,
for regression, the number itself.
"""

from __future__ import annotations

import csv
import logging
import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import pyarrow as pa

from genen_core.known_labels import DERIVED_TASKS, KINDS, KNOWN_TASKS, LAYOUTS, Layout

log = logging.getLogger(__name__)

# Empty cells, and R's NA: several published files were written from R data frames.
MISSING = frozenset({"", "NA", "NaN"})
# The rows a label file yields: by gene, before genes are matched to store nodes.
LABEL_FILE_SCHEMA = pa.schema(
    [
        pa.field("task", pa.string(), nullable=False),
        pa.field("gene", pa.string(), nullable=False),
        pa.field("label", pa.float64(), nullable=False),
    ]
)


# (file, task, the task's gene ids) -> the gene key each id names (the id itself where it
# names none) and the counts recorded as the task's ``ids`` info; ``ingest.labels`` builds
# one from its identifier map.
Renamer = Callable[[Path, str, Sequence[str]], tuple[list[str], dict]]


class LabelFileError(ValueError):
    """A label file that cannot be read: the message names the file (and line) and says
    what to fix."""


@dataclass
class LabelSet:
    """The labels of one file.

    Attributes:
        table: ``task, gene, label`` rows sorted by ``(task, gene, label)``.
        tasks: Task -> ``kind, classes, source, rows, genes, duplicates, conflicts,
            empty, missing_gene, class_rows, layout`` (``class_rows``: rows per class
            among the rows with a gene and a label, before duplicates and conflicts are
            removed; empty for regression).
    """

    table: pa.Table
    tasks: dict[str, dict] = field(default_factory=dict)


class Row(NamedTuple):
    """One data row of a label file, cells cleaned (None = missing)."""

    line: int  # 1-based line where the row starts
    gene: str | None
    value: str | None
    code: str | None
    task: str | None
    kind: str | None


def load_label_file(path: Path, rename: Renamer | None = None) -> LabelSet:
    """Load one label file in any known layout (see :data:`LAYOUTS`).

    Args:
        path: CSV file (``.tsv``: tab-separated).
        rename: Maps the file's gene ids (symbols, old symbols, Entrez, Ensembl or
            UniProt ids) to gene keys before duplicates and conflicts are counted; the
            task info then holds the counts it returns as ``ids``. None keeps the ids as
            they are.

    Returns:
        The cleaned labels and per-task info; ``source`` is ``path`` as given.

    Raises:
        LabelFileError: The header matches no known layout (the message shows the header
            and the layouts), a row is short, a regression value is not a number, the
            file's numeric codes disagree with its class names, a kind is unknown or a
            task has fewer than two classes. Messages name the file (and line).
    """
    path = Path(path)
    layout, rows = _read_rows(path)
    key = f"{path.parent.name}/{path.name}"
    known = KNOWN_TASKS.get(key)
    default_task = known.task if known else _snake_case(path.stem)
    by_task: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        by_task[row.task or default_task].append(row)
    parts = [
        (task, task_rows, known.kind if known else _declared_kind(path, task, task_rows), {})
        for task, task_rows in by_task.items()
    ]
    for derived in DERIVED_TASKS.get(key, ()):
        subset, overridden = _class_subset(by_task[default_task], derived.classes)
        extra = {"derived_from": default_task, "overridden": overridden}
        parts.append((derived.task, subset, derived.kind, extra))
    tables, tasks = [], {}
    for task, task_rows, declared, extra in sorted(parts, key=lambda p: p[0]):
        fixed = next((d.classes for d in DERIVED_TASKS.get(key, ()) if d.task == task), None)
        table, info = _task_labels(path, layout, task, task_rows, declared, rename, fixed)
        tables.append(table)
        tasks[task] = {**info, **extra, "source": str(path), "layout": layout.name}
        log.info(
            "%s: task %s (%s) %d rows -> %d genes",
            path.name,
            task,
            info["kind"],
            info["rows"],
            info["genes"],
        )
    table = pa.concat_tables(tables) if tables else LABEL_FILE_SCHEMA.empty_table()
    return LabelSet(table=table, tasks=tasks)


def _class_subset(rows: list[Row], classes: Sequence[str]) -> tuple[list[Row], int]:
    """The rows of ``classes``, one per gene: a gene's class listed last in ``classes``
    wins. Returns the rows and how many rows of those classes were left out (another
    class won, or a repeat)."""
    rank = {name: i for i, name in enumerate(classes)}
    best: dict[str, Row] = {}
    kept = [row for row in rows if row.value in rank and row.gene is not None]
    for row in kept:
        if row.gene not in best or rank[row.value] > rank[best[row.gene].value]:
            best[row.gene] = row
    chosen = sorted(best.values(), key=lambda row: row.line)
    # Rows with no gene or no label stay, so the task counts them as the file's own does.
    blank = [row for row in rows if row.gene is None or row.value is None]
    return chosen + blank, len(kept) - len(chosen)


def _read_rows(path: Path) -> tuple[Layout, list[Row]]:
    """The file's layout (from its header) and its data rows, cells cleaned."""
    if not path.is_file():
        raise LabelFileError(f"{path}: label file not found; check the path")
    delimiter = "\t" if path.suffix == ".tsv" else ","
    try:
        # utf-8-sig: spreadsheet exports start with a byte-order mark.
        with path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f, delimiter=delimiter)
            header = [c.strip() for c in next(reader, [])]
            layout = _match_layout(path, header)
            position = {name: i for i, name in enumerate(header)}
            columns = [position.get(c) for c in (layout.gene, layout.label, layout.code)]
            columns += [position.get(c) if c in layout.optional else None for c in ("task", "kind")]
            needed = max(i for i in columns if i is not None) + 1
            rows, start = [], reader.line_num + 1
            for fields in reader:
                if not fields:  # blank line
                    start = reader.line_num + 1
                    continue
                if len(fields) < needed:
                    raise LabelFileError(
                        f"{path}:{start}: row has {len(fields)} field(s), fewer than the "
                        f"{needed} the columns {header[:needed]} need"
                    )
                rows.append(
                    Row(start, *(None if i is None else _clean(fields[i]) for i in columns))
                )
                start = reader.line_num + 1
    except (UnicodeDecodeError, csv.Error) as e:
        raise LabelFileError(f"{path}: not a readable CSV text file ({e})") from e
    return layout, rows


def _match_layout(path: Path, header: list[str]) -> Layout:
    matches = [layout for layout in LAYOUTS if layout.required <= set(header)]
    if len(matches) == 1:
        return matches[0]
    known = "; ".join(f"{lay.name}: {sorted(lay.required)}" for lay in LAYOUTS)
    what = "matches no known label layout" if not matches else "matches several layouts"
    raise LabelFileError(
        f"{path}: header {header} {what}. Known layouts (required columns): {known}. "
        "Rewrite the file in the common schema (columns gene,label[,task][,kind])"
    )


def _declared_kind(path: Path, task: str, rows: list[Row]) -> str | None:
    """The common schema's ``kind`` column for one task (one value), or None."""
    kinds = {row.kind for row in rows} - {None}
    if not kinds:
        return None
    if len(kinds) > 1 or not kinds <= set(KINDS):
        raise LabelFileError(
            f"{path}: task {task!r} has kind(s) {sorted(kinds)}; give one of {list(KINDS)} per task"
        )
    return kinds.pop()


def _task_labels(
    path: Path,
    layout: Layout,
    task: str,
    rows: list[Row],
    declared: str | None,
    rename: Renamer | None = None,
    fixed_classes: Sequence[str] | None = None,
) -> tuple[pa.Table, dict]:
    """Clean one task's rows and encode its labels; returns the table and its counts.
    ``fixed_classes``: a derived task's classes, in index order (else from the file)."""
    missing_gene = sum(row.gene is None for row in rows)
    empty = sum(row.gene is not None and row.value is None for row in rows)
    values = [row for row in rows if row.gene is not None and row.value is not None]
    ids = None
    if rename is not None:
        genes, ids = rename(path, task, [row.gene for row in values])
        values = [row._replace(gene=g) for row, g in zip(values, genes, strict=True)]

    if declared is not None:
        regression = declared == "regression"
    elif layout.regression is None:
        regression = bool(values) and all(_is_number(row.value) for row in values)
    else:
        regression = layout.regression
    if regression:
        encoded = [(row.gene, _number(path, row.line, row.value)) for row in values]
        classes, class_rows = [], {}
        kind = "regression"
    else:
        classes = list(fixed_classes) if fixed_classes else _classes(path, layout, values)
        index = {name: float(i) for i, name in enumerate(classes)}
        encoded = [(row.gene, index[row.value]) for row in values]
        class_rows = Counter(row.value for row in values)
        class_rows = {name: class_rows[name] for name in classes}
        kind = declared or ("binary" if len(classes) == 2 else "multiclass")
        if len(classes) < 2:
            raise LabelFileError(
                f"{path}: task {task!r} has {len(classes)} class(es) {classes}; a "
                "classification task needs at least two"
            )

    distinct = sorted(set(encoded))
    duplicates = len(encoded) - len(distinct)
    conflicting: set[str] = set()
    if kind != "multilabel":
        per_gene = Counter(gene for gene, _ in distinct)
        conflicting = {gene for gene, n in per_gene.items() if n > 1}
        distinct = [(gene, value) for gene, value in distinct if gene not in conflicting]
    if conflicting:
        log.warning(
            "%s: task %s: dropped %d gene(s) with conflicting labels, e.g. %s",
            path,
            task,
            len(conflicting),
            sorted(conflicting)[:5],
        )
    table = pa.table(
        {
            "task": [task] * len(distinct),
            "gene": [gene for gene, _ in distinct],
            "label": [value for _, value in distinct],
        },
        schema=LABEL_FILE_SCHEMA,
    )
    info = {
        "kind": kind,
        "classes": classes,
        "rows": len(rows),
        "genes": len({gene for gene, _ in distinct}),
        "duplicates": duplicates,
        "conflicts": len(conflicting),
        "empty": empty,
        "missing_gene": missing_gene,
        "class_rows": class_rows,
    }
    if ids is not None:
        info["ids"] = ids
    return table, info


def _classes(path: Path, layout: Layout, values: list[Row]) -> list[str]:
    """Class names in index order: by the file's own code where it has one, else sorted."""
    names = sorted({row.value for row in values})
    if layout.code is None:
        return names
    pairs = Counter((row.value, _integer(row.code)) for row in values)
    codes = {code for _, code in pairs}
    # One-to-one iff there are as many distinct (name, code) pairs as names and as codes.
    if not (len(pairs) == len(names) == len(codes) and codes == set(range(len(names)))):
        shown = ", ".join(
            f"{name}={code}: {n} rows" for (name, code), n in sorted(pairs.items(), key=str)
        )
        raise LabelFileError(
            f"{path}: column {layout.code!r} is not a one-to-one 0..{len(names) - 1} code of "
            f"column {layout.label!r} ({shown}); fix the codes or drop the {layout.code!r} column"
        )
    name_of = {code: name for name, code in pairs}
    return [name_of[i] for i in range(len(names))]


def _integer(text: str | None) -> int | None:
    """A class code such as ``1`` or ``1.0``; None when missing or not a whole number."""
    try:
        number = float(text)
    except (TypeError, ValueError):
        return None
    return int(number) if number.is_integer() else None


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def _number(path: Path, line: int, text: str) -> float:
    if not _is_number(text):
        raise LabelFileError(f"{path}:{line}: regression label {text!r} is not a finite number")
    return float(text)


def _clean(value: str | None) -> str | None:
    """Stripped cell text, or None for a missing value."""
    if value is None:
        return None
    value = value.strip()
    return None if value in MISSING else value


def _snake_case(stem: str) -> str:
    """``BivalentVsLys4`` -> ``bivalent_vs_lys4``; ``TF_target_type`` -> ``tf_target_type``."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", stem)
    return re.sub(r"[^0-9a-zA-Z]+", "_", spaced).strip("_").lower()
