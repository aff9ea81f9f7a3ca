"""Published numbers the report sets beside ours (the only numbers in the report typed by hand).

Sources:

* ``GENEN_GCN_AUC``, ``GENEN_GCN_F1``, ``BEST_BASELINE``: the Genen paper (Table 1, 5-fold
  AUC, conservation as Pearson r; Table A.1, F1), as transcribed in
  ``../shared/data/README.md`` ("Published reference numbers") and
  ``../shared/paper/genen-paper.md``. Per the authors' code (yuehu99/Genen), these came
  from 5 unseeded random 80/20 splits with no validation set, the test score read after
  the last epoch.
* ``GENEPT_AUC``: GenePT (ada-002 embeddings of NCBI summaries, logistic regression,
  5-fold stratified), as quoted in issue 8 of this project; only the tasks it reported.

Keys are the task names of our stores (``genen-ingest`` task names); a value is
``(mean, sd)``; ``BEST_BASELINE`` also names the model.

TF target type: the authors' notebook printed five test AUCs of 0.524 ± 0.030 (mean,
population sd) for GATA4 direct vs indirect (``other.ipynb`` cell 32), Table 1's
0.52 ± 0.03, so the paper's numbers belong to ``tf_target_type_gata4``
(``docs/paper-recipe.md``). ``tf_target_type`` (our multilabel task, now
``tf_target_type_multilabel``) has no published number: beside it the paper's would
compare different tasks.
"""

from __future__ import annotations

# Table 1 column order of the paper.
TASK_ORDER = (
    "dosage_sensitivity",
    "bivalent_vs_lys4",
    "bivalent_vs_nonmethylated",
    "tf_range",
    "tf_target_type",
    "tf_target_type_gata4",
    "tf_target_type_tbx5",
    "tf_target_type_multilabel",
    "solubility",
    "subcellular_location",
    "conservation",
)

TASK_TITLES = {
    "dosage_sensitivity": "Dosage sensitivity",
    "bivalent_vs_lys4": "Bivalent vs Lys4",
    "bivalent_vs_nonmethylated": "Bivalent vs non-methylated",
    "tf_range": "TF range",
    "tf_target_type": "TF target type",
    "tf_target_type_gata4": "TF target type (GATA4)",
    "tf_target_type_tbx5": "TF target type (TBX5, 3 classes)",
    "tf_target_type_multilabel": "TF target type (multilabel)",
    "solubility": "Solubility",
    "subcellular_location": "Localization",
    "conservation": "Conservation (Pearson r)",
}

GENEN_GCN_AUC = {
    "dosage_sensitivity": (0.89, 0.03),
    "bivalent_vs_lys4": (0.92, 0.01),
    "bivalent_vs_nonmethylated": (0.90, 0.03),
    "tf_range": (0.59, 0.08),
    "tf_target_type_gata4": (0.52, 0.03),
    "solubility": (0.99, 0.02),
    "subcellular_location": (0.95, 0.00),
    "conservation": (0.55, 0.01),
}

GENEN_GCN_F1 = {
    "dosage_sensitivity": (0.82, 0.04),
    "bivalent_vs_lys4": (0.91, 0.03),
    "bivalent_vs_nonmethylated": (0.86, 0.03),
    "tf_range": (0.53, 0.04),
    "tf_target_type_gata4": (0.40, 0.01),
    "solubility": (0.95, 0.01),
    "subcellular_location": (0.86, 0.01),
    "conservation": (0.55, 0.01),
}

# The best text/embedding baseline of Table 1 per task: (model, mean); the README gives
# no spread for these.
BEST_BASELINE = {
    "dosage_sensitivity": ("GeneLLM, PMC-LLaMA", 0.89),
    "bivalent_vs_lys4": ("GPT-2", 0.91),
    "bivalent_vs_nonmethylated": ("PMC-LLaMA", 0.90),
    "tf_range": ("GPT-2", 0.67),
    "tf_target_type_gata4": ("Gene2Vec", 0.58),
    "solubility": ("GeneLLM", 0.89),
    "subcellular_location": ("GeneLLM", 0.94),
    "conservation": ("PMC-LLaMA", 0.55),
}

GENEPT_AUC = {
    "dosage_sensitivity": (0.89, 0.03),
    "bivalent_vs_nonmethylated": (0.91, 0.06),
    "bivalent_vs_lys4": (0.94, 0.03),
    "tf_range": (0.73, 0.26),
}
