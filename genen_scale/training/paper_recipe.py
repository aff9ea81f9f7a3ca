"""The authors' training recipe per task, read from their notebooks, as config values.

The published Genen code (github.com/yuehu99/Genen, ``Genen/*.ipynb``) trains each task
with its own epochs, learning rate, depth and schedule. :data:`RECIPES` holds, per task
and architecture, the training options that express it here, each with the notebook
cell it comes from; ``genen-train --preset paper_recipe`` applies the recipe of the run's
``data.task`` and ``model.arch``, and a sweep grid's ``recipes = ["ours", "paper"]`` axis
applies it per trial. ``docs/paper-recipe.md`` is the table with what our model cannot
express.

A recipe sets the model and the optimiser only. The split protocol is ``eval.protocol``
(``paper``: the authors' repeated random 80/20 splits, no validation, last epoch), so the
same recipe runs under both protocols; under ``cv`` our early stopping
(``optim.patience``) and model selection still apply.
"""

from __future__ import annotations

from typing import Any

PRESET = "paper_recipe"
# Values of a sweep grid's ``recipes`` axis.
RECIPE_CHOICES = ("ours", "paper")

# Where each number comes from: the notebook (in Genen/) and cell index (0-based).
_OTHER = "other.ipynb"
_GO_PPI = "GO+PPI.ipynb"
_REGRESSION = "regression.ipynb"


def _cited(cite: str, **options: Any) -> dict[str, tuple[Any, str]]:
    """Dotted option -> (value, citation) for options read in one cell."""
    return {key.replace("__", "."): (value, cite) for key, value in options.items()}


def _other_gcn(cell: int, conv_layers: int, lr: float, epochs: int) -> dict:
    """other.ipynb's Table 1 GCN runs (cells 28-33): its class (cell 24) stacks
    ``num_layers - 1`` GCNConv (ReLU, dropout) under a linear output layer; its training
    step (cell 25) steps ReduceLROnPlateau on the training loss every epoch."""
    where = f"{_OTHER} cell {cell}"
    return {
        **_cited(f"{_OTHER} cell 24", model__output="linear"),
        **_cited(where, model__layers=conv_layers, model__hidden=64, model__dropout=0.5),
        **_cited(where, optim__lr=lr, optim__weight_decay=0.001, optim__epochs=epochs),
        **_cited(
            where,
            optim__scheduler="plateau",
            optim__scheduler_factor=0.2,
            optim__scheduler_patience=50,
        ),
    }


_GCN = {
    "dosage_sensitivity": _other_gcn(28, 2, 0.001, 1000),
    "bivalent_vs_lys4": _other_gcn(29, 2, 0.001, 1000),
    "bivalent_vs_nonmethylated": _other_gcn(30, 2, 0.001, 650),
    "tf_range": _other_gcn(31, 3, 0.01, 650),
    "tf_target_type_gata4": _other_gcn(32, 4, 0.1, 500),
    "tf_target_type_tbx5": _other_gcn(33, 4, 0.1, 500),
    # Set up in cell 26, whose training loop (1000 epochs) is commented out.
    "subcellular_location": _other_gcn(26, 2, 0.001, 1000),
    # The GO+PPI solubility model (cell 47 rebuilds the saved GGwith.pth: num_layers=2 of
    # cell 42's class, one GCNConv under a GCNConv output); its optimiser as in cell 23,
    # its 1000 epochs as in cells 25 and 27.
    "solubility": {
        **_cited(f"{_GO_PPI} cell 47", model__layers=1, model__hidden=64, model__dropout=0.5),
        **_cited(f"{_GO_PPI} cell 42", model__output="conv"),
        **_cited(
            f"{_GO_PPI} cell 23",
            optim__lr=0.001,
            optim__weight_decay=0.001,
            optim__scheduler="plateau",
            optim__scheduler_factor=0.2,
            optim__scheduler_patience=50,
        ),
        **_cited(f"{_GO_PPI} cell 25", optim__epochs=1000),
    },
    # regression.ipynb cell 17 (the run that printed Pearson 0.53): cell 15's GCN, one
    # GCNConv + ReLU under a GCNConv output, no dropout; Adam lr 0.01 without weight
    # decay or schedule, 1000 epochs.
    "conservation": {
        **_cited(f"{_REGRESSION} cell 15", model__layers=1, model__output="conv"),
        **_cited(f"{_REGRESSION} cell 15", model__dropout=0.0),
        **_cited(
            f"{_REGRESSION} cell 17",
            model__hidden=64,
            optim__lr=0.01,
            optim__weight_decay=0.0,
            optim__epochs=1000,
            optim__scheduler="none",
        ),
    },
}

# The notebooks' one GAT configuration (GO+PPI.ipynb cells 31-32, a 2-class task): one
# hidden GATConv of 6 heads x 64 (concatenated: 384), ELU, a one-head GATConv output;
# GATConv dropout 0.6 is attention dropout, and with num_layers=1 cell 34's forward
# applies no feature dropout. Used for every task: no notebook runs GAT on the others.
_GAT = {
    **_cited(f"{_GO_PPI} cell 31", model__heads=6),
    **_cited(
        f"{_GO_PPI} cell 32",
        model__layers=1,
        model__hidden=6 * 64,
        model__attn_dropout=0.6,
        model__dropout=0.0,
        model__output="conv",
        optim__lr=1e-4,
        optim__weight_decay=0.001,
        optim__epochs=1000,
        optim__scheduler="plateau",
        optim__scheduler_factor=0.2,
        optim__scheduler_patience=50,
    ),
}

RECIPES: dict[tuple[str, str], dict[str, tuple[Any, str]]] = {
    **{
        (task, "gcn"): {**options, **_cited("", model__arch="gcn")}
        for task, options in _GCN.items()
    },
    **{(task, "gat"): {**_GAT, **_cited("", model__arch="gat")} for task in _GCN},
}
"""(task, arch) -> dotted training option -> (value, "notebook cell N")."""

# Old task names (genen_core.known_labels.TASK_ALIASES) whose rows predate the authors' tasks.
_NOT_THEIRS = {
    "tf_target_type": "tf_target_type_gata4 or tf_target_type_tbx5",
    "tf_target_type_multilabel": "tf_target_type_gata4 or tf_target_type_tbx5",
}


def recipe(task: str, arch: str) -> dict[str, tuple[Any, str]]:
    """The cited options of the authors' recipe for ``task`` with ``arch``.

    Raises:
        ValueError: No notebook trains ``task`` (the message lists the tasks that have
            a recipe, and for TF target type names the authors' two tasks).
    """
    key = (task, arch)
    if key not in RECIPES:
        hint = f"; the authors ran {_NOT_THEIRS[task]}" if task in _NOT_THEIRS else ""
        tasks = sorted({t for t, _ in RECIPES})
        raise ValueError(
            f"no paper recipe for task {task!r} with model {arch!r}{hint} "
            f"(recipes: {', '.join(tasks)}; models gcn, gat)"
        )
    return RECIPES[key]


def train_options(task: str, arch: str) -> dict[str, Any]:
    """The recipe as nested training options (``{"model": {...}, "optim": {...}}``)."""
    out: dict[str, Any] = {}
    for dotted, (value, _) in recipe(task, arch).items():
        section, key = dotted.split(".")
        out.setdefault(section, {})[key] = value
    return out


# Columns of the table in docs/paper-recipe.md: (header, dotted options shown together).
_COLUMNS = (
    ("GCNConv / GATConv layers", ("model.layers", "model.output")),
    ("width", ("model.hidden", "model.heads")),
    ("dropout", ("model.dropout", "model.attn_dropout")),
    ("lr", ("optim.lr",)),
    ("weight decay", ("optim.weight_decay",)),
    ("epochs", ("optim.epochs",)),
    ("schedule", ("optim.scheduler", "optim.scheduler_factor", "optim.scheduler_patience")),
)


def markdown_table(arch: str = "gcn") -> str:
    """Task x setting, each value with its notebook cell (``docs/paper-recipe.md``)."""
    header = ["task", *(name for name, _ in _COLUMNS)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    tasks = sorted({t for t, a in RECIPES if a == arch})
    if all(recipe(t, arch) == recipe(tasks[0], arch) for t in tasks):
        tasks = tasks[:1]  # one recipe for every task: one row
    for task in tasks:
        options = recipe(task, arch)
        cells = [f"`{task}`" if len(tasks) > 1 else "every task"]
        for _, keys in _COLUMNS:
            shown = [(k, *options[k]) for k in keys if k in options]
            cites = sorted({cite for _, _, cite in shown})
            text = ", ".join(f"{k.split('.')[1]} {v}" for k, v, _ in shown)
            cells.append(f"{text} ({'; '.join(cites)})")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown_table("gcn"), markdown_table("gat"), sep="\n\n")
