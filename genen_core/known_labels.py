"""The label files we know before one is read: task kinds, column layouts, published tasks.

What differs between label files is declared here, in tables, instead of code paths in
the one loader (:mod:`genen_core.labels`):

* :data:`LAYOUTS` says, for each known header, which column holds the gene symbol, the
  label (class name or number) and, where the file has one, its own numeric class code.
  A file's layout is found from its header; an unknown header is an error naming it.
* :data:`KNOWN_TASKS` gives the published files the task names the paper uses and the
  kind the layout cannot tell (TF target type is multilabel). Other files in a known
  layout are named after their file stem in snake_case.
* :data:`DERIVED_TASKS` makes more tasks of a file from a subset of its classes: the TF
  target type file holds, besides our multilabel task, the two tasks the authors ran
  (GATA4 direct vs indirect; TBX5 indirect / direct / GATA4+TBX5 combination).
  :data:`TASK_ALIASES` keeps the old name of a renamed task loading.
"""

from __future__ import annotations

from dataclasses import dataclass

KINDS = ("binary", "multiclass", "multilabel", "regression")
LABEL_SUFFIXES = (".csv", ".tsv")


@dataclass(frozen=True)
class Layout:
    """Where one known file layout keeps its values (column names in the header).

    Attributes:
        name: Short name, reported in the task info.
        gene: Gene symbol column.
        label: Class name column, or the value column for regression.
        code: The file's own numeric class index column, if it has one.
        regression: The label column holds numbers (True), class names (False), or
            either, decided from the values unless a ``kind`` column says (None).
        optional: Columns used when present (the common schema's ``task`` and ``kind``).
    """

    name: str
    gene: str
    label: str
    code: str | None = None
    regression: bool | None = False
    optional: tuple[str, ...] = ()

    @property
    def required(self) -> frozenset[str]:
        return frozenset(c for c in (self.gene, self.label, self.code) if c)


LAYOUTS = (
    Layout("litgene", gene="Gene name", label="StrLabel", code="Label"),
    Layout("litgene_solubility", gene="Gene name", label="Solubility", code="Label"),
    Layout("old_litgene_location", gene="GeneSymbol", label="Subcellular_location"),
    Layout("old_litgene_solubility", gene="GeneSymbol", label="Solubility"),
    Layout("old_litgene_conservation", gene="GeneSymbol", label="Conservation", regression=True),
    Layout("common", gene="gene", label="label", regression=None, optional=("task", "kind")),
)


@dataclass(frozen=True)
class KnownTask:
    """The task a published file holds: its name and, when not inferable, its kind."""

    task: str
    kind: str | None = None
    classes: tuple[str, ...] = ()
    """A derived task's classes, in index order: only the file's rows of these classes
    are kept, and a gene listed under several of them keeps the last one listed."""


# Keyed by "<folder>/<file>": both litgene/ and old_litgene/ have a solubility.csv.
KNOWN_TASKS = {
    "litgene/DosageSensitivity.csv": KnownTask("dosage_sensitivity"),
    "litgene/BivalentVsLys4.csv": KnownTask("bivalent_vs_lys4"),
    "litgene/BivalentVsNonMethylated.csv": KnownTask("bivalent_vs_nonmethylated"),
    "litgene/Tf_range.csv": KnownTask("tf_range"),
    # Every class of the file as labels of one gene; the authors' two tasks are derived.
    "litgene/TF_target_type.csv": KnownTask("tf_target_type_multilabel", kind="multilabel"),
    "litgene/solubility.csv": KnownTask("solubility_litgene"),
    "litgene/combined_solubility.csv": KnownTask("combined_solubility"),
    # The paper's 1,499-gene solubility set (Dallago et al.).
    "old_litgene/solubility.csv": KnownTask("solubility"),
    "old_litgene/subcellular_location.csv": KnownTask("subcellular_location"),
    "old_litgene/phastcons.csv": KnownTask("conservation"),
}
# File -> tasks made from some of its classes, beside the file's own task.
DERIVED_TASKS = {
    "litgene/TF_target_type.csv": (
        # The authors' GATA4 task (Genen other.ipynb, cell 6): indirect 0, direct 1.
        KnownTask("tf_target_type_gata4", "binary", ("gata4_indirect", "gata4_direct")),
        # Their TBX5 task (cell 7). Every combination target is also a tbx5_direct row;
        # their label loop let a gene's later row overwrite its earlier one and the
        # combination rows come last, so a combination target is that class here too.
        KnownTask(
            "tf_target_type_tbx5",
            "multiclass",
            ("tbx5_indirect", "tbx5_direct", "gata4_tbx5_combo_targets"),
        ),
    ),
}
# Old task name -> its name now; results and reports written under the old name still load.
TASK_ALIASES = {"tf_target_type": "tf_target_type_multilabel"}
