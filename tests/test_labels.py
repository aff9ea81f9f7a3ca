"""Label loading: the ten published files against the README and a pandas recount, the
common schema, and the errors for unknown layouts and inconsistent files."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from genen_core.known_labels import DERIVED_TASKS, KNOWN_TASKS, LAYOUTS
from genen_core.labels import LabelFileError, load_label_file
from ingest.errors import IngestError
from ingest.labels import load_label_dir

# /work/shared/data/README.md, labels/: file -> (rows, rows per class, distinct genes).
README = {
    "litgene/DosageSensitivity.csv": (
        285,
        {"DosageSensitive": 110, "DosageInsensitive": 175},
        None,
    ),
    "litgene/BivalentVsLys4.csv": (167, {"Bivalent": 94, "Lys4Only": 73}, 155),
    "litgene/BivalentVsNonMethylated.csv": (129, {"Bivalent": 94, "NonMethylated": 35}, 117),
    "litgene/Tf_range.csv": (157, {"Short_range": 115, "Long_range": 42}, None),
    "litgene/TF_target_type.csv": (3143, None, 1392),
    "litgene/solubility.csv": (1437, {"Soluble": 741, "Membrane": 696}, None),
    "litgene/combined_solubility.csv": (1964, {"Soluble": 998, "Insoluble": 966}, None),
    "old_litgene/subcellular_location.csv": (
        8597,
        {"Cytoplasm": 3338, "Nucleus": 3290, "Cell membrane": 1969},
        None,
    ),
    "old_litgene/phastcons.csv": (30997, None, None),
    "old_litgene/solubility.csv": (1499, None, None),
}
TF_CLASSES = {
    "gata4_indirect",
    "tbx5_indirect",
    "tbx5_direct",
    "gata4_direct",
    "gata4_tbx5_combo_targets",
    "housekeeping_genes",
}


@pytest.fixture(scope="module")
def real_labels(shared_data):
    return load_label_dir(shared_data / "labels")


def own_task(tasks, source):
    """The task a file holds itself (not one derived from its classes)."""
    return next(
        (t, i) for t, i in tasks.items() if i["source"] == source and "derived_from" not in i
    )


def pandas_recount(path, kind):
    """The cleaning rules recomputed with pandas from the raw file, for one task."""
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    gene_col = next(c for c in ("Gene name", "GeneSymbol") if c in df)
    label_col = next(
        c for c in ("StrLabel", "Solubility", "Subcellular_location", "Conservation") if c in df
    )
    gene, value = df[gene_col].str.strip(), df[label_col].str.strip()
    ok_gene = ~gene.isin(["", "NA"])
    ok = ok_gene & ~value.isin(["", "NA"])
    pairs = pd.DataFrame({"gene": gene[ok], "value": value[ok]})
    if kind == "regression":
        pairs["value"] = pairs["value"].astype(float)
    distinct = pairs.drop_duplicates()
    per_gene = distinct.groupby("gene")["value"].nunique()
    conflicting = per_gene[per_gene > 1].index if kind != "multilabel" else []
    kept = distinct[~distinct["gene"].isin(conflicting)]
    return {
        "df": df,
        "rows": len(df),
        "missing_gene": int((~ok_gene).sum()),
        "empty": int((ok_gene & ~ok).sum()),
        "duplicates": len(pairs) - len(distinct),
        "conflicts": len(conflicting),
        "genes": kept["gene"].nunique(),
        "kept": kept,
        "class_rows": value[ok].value_counts().to_dict() if kind != "regression" else {},
    }


def test_all_ten_files_load_under_the_paper_task_names(real_labels):
    table, tasks = real_labels
    derived = [d.task for ds in DERIVED_TASKS.values() for d in ds]
    assert sorted(tasks) == sorted([k.task for k in KNOWN_TASKS.values()] + derived)
    assert {info["source"] for info in tasks.values()} == set(README)
    assert table.column_names == ["task", "gene", "label"]
    assert sorted(set(table["task"].to_pylist())) == sorted(tasks)
    rows = table.to_pylist()
    assert rows == sorted(rows, key=lambda r: (r["task"], r["gene"], r["label"]))


@pytest.mark.parametrize("source", sorted(README))
def test_counts_match_readme_and_pandas(shared_data, real_labels, source):
    table, tasks = real_labels
    task, info = own_task(tasks, source)
    rows, class_rows, genes = README[source]
    recount = pandas_recount(shared_data / "labels" / source, info["kind"])

    assert info["rows"] == rows == recount["rows"]
    if class_rows is not None:
        assert info["class_rows"] == class_rows
    if genes is not None:  # README counts genes before conflicting ones are dropped
        assert info["genes"] + info["conflicts"] == genes
    for key in ("missing_gene", "empty", "duplicates", "conflicts", "genes", "class_rows"):
        assert info[key] == recount[key], key
    got = table.filter(pc.equal(table["task"], task))
    assert got.num_rows == len(recount["kept"])
    assert got["gene"].to_pylist() == sorted(got["gene"].to_pylist())
    if info["kind"] == "regression":
        expected = dict(zip(recount["kept"]["gene"], recount["kept"]["value"], strict=True))
        assert dict(zip(got["gene"].to_pylist(), got["label"].to_pylist(), strict=True)) == expected
    else:
        names = [info["classes"][int(v)] for v in got["label"].to_pylist()]
        expected = set(zip(recount["kept"]["gene"], recount["kept"]["value"], strict=True))
        assert set(zip(got["gene"].to_pylist(), names, strict=True)) == expected


@pytest.mark.parametrize("source", [s for s in sorted(README) if s.startswith("litgene/")])
def test_litgene_files_keep_their_own_label_codes(shared_data, real_labels, source):
    table, tasks = real_labels
    task, _ = own_task(tasks, source)
    df = pd.read_csv(shared_data / "labels" / source, dtype=str, keep_default_na=False)
    name_col = "StrLabel" if "StrLabel" in df else "Solubility"
    file_code = dict(zip(df[name_col], df["Label"].astype(int), strict=True))
    assert tasks[task]["classes"] == sorted(file_code, key=file_code.get)
    got = table.filter(pc.equal(table["task"], task))
    file_pairs = set(zip(df["Gene name"], df["Label"].astype(float), strict=True))
    assert set(zip(got["gene"].to_pylist(), got["label"].to_pylist(), strict=True)) <= file_pairs


def test_kinds_and_special_cases(real_labels):
    _, tasks = real_labels
    kinds = {task: info["kind"] for task, info in tasks.items()}
    assert kinds == {
        "bivalent_vs_lys4": "binary",
        "bivalent_vs_nonmethylated": "binary",
        "combined_solubility": "binary",
        "conservation": "regression",
        "dosage_sensitivity": "binary",
        "solubility": "binary",
        "solubility_litgene": "binary",
        "subcellular_location": "multiclass",
        "tf_range": "binary",
        "tf_target_type_multilabel": "multilabel",
        "tf_target_type_gata4": "binary",
        "tf_target_type_tbx5": "multiclass",
    }
    assert set(tasks["tf_target_type_multilabel"]["classes"]) == TF_CLASSES
    assert tasks["tf_target_type_multilabel"]["conflicts"] == 0
    assert tasks["conservation"]["empty"] == 525  # README: 525 empty
    assert tasks["solubility"]["rows"] == 1499  # the paper's 1,499-gene set


def test_common_schema_file(tmp_path):
    path = tmp_path / "mine.csv"
    path.write_text(
        "gene,label,task,kind\n"
        "G1,Nucleus,location,\nG2,Cytoplasm,location,\nG3,Nucleus,location,\n"
        "G3,Nucleus,location,\nG4,Nucleus,location,\nG4,Cytoplasm,location,\n"
        "G1,0.25,score,\nG2,NA,score,\n,0.5,score,\nG3,1e-3,score,\n"
        "G1,x,targets,multilabel\nG1,y,targets,multilabel\nG2,y,targets,multilabel\n"
        "G1,0,flag,binary\nG2,1,flag,binary\n"
    )
    labels = load_label_file(path)
    info = labels.tasks
    assert {t: (i["kind"], i["classes"]) for t, i in info.items()} == {
        "flag": ("binary", ["0", "1"]),
        "location": ("binary", ["Cytoplasm", "Nucleus"]),
        "score": ("regression", []),
        "targets": ("multilabel", ["x", "y"]),
    }
    loc = info["location"]
    assert (loc["rows"], loc["duplicates"], loc["conflicts"], loc["genes"]) == (6, 1, 1, 3)
    score = info["score"]
    assert (score["empty"], score["missing_gene"], score["genes"]) == (1, 1, 2)
    assert all(i["layout"] == "common" and i["source"] == str(path) for i in info.values())
    assert labels.table.to_pylist() == [
        {"task": "flag", "gene": "G1", "label": 0.0},
        {"task": "flag", "gene": "G2", "label": 1.0},
        {"task": "location", "gene": "G1", "label": 1.0},
        {"task": "location", "gene": "G2", "label": 0.0},
        {"task": "location", "gene": "G3", "label": 1.0},
        {"task": "score", "gene": "G1", "label": 0.25},
        {"task": "score", "gene": "G3", "label": 1e-3},
        {"task": "targets", "gene": "G1", "label": 0.0},
        {"task": "targets", "gene": "G1", "label": 1.0},
        {"task": "targets", "gene": "G2", "label": 1.0},
    ]


def test_common_schema_without_task_column_uses_the_file_stem(tmp_path):
    path = tmp_path / "MyScores.tsv"
    path.write_text("gene\tlabel\nA\t1.5\nB\t-2\n")
    labels = load_label_file(path)
    assert labels.tasks["my_scores"]["kind"] == "regression"
    assert labels.table["label"].to_pylist() == [1.5, -2.0]


def test_unknown_layout_names_file_and_header(tmp_path):
    path = tmp_path / "weird.csv"
    path.write_text("Symbol,Class\nTP53,a\n")
    with pytest.raises(LabelFileError) as err:
        load_label_file(path)
    message = str(err.value)
    assert str(path) in message and "['Symbol', 'Class']" in message
    assert all(layout.name in message for layout in LAYOUTS)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Gene name,StrLabel,Label\nA,x,0\nB,x,1\nC,y,1\n", "not a one-to-one"),
        ("Gene name,StrLabel,Label\nA,x,0\nB,y,2\n", "not a one-to-one"),
        ("GeneSymbol,Conservation\nA,0.5\nB,high\n", r"new\.csv:3: regression label 'high'"),
        ("GeneSymbol,Solubility\nA,Soluble\nB,Soluble\n", "at least two"),
        ("gene,label\nA,x\nB\n", r"new\.csv:3: row has 1 field"),
        ("gene,label,kind\nA,x,ordinal\nB,y,ordinal\n", "ordinal"),
    ],
)
def test_inconsistent_files(tmp_path, text, expected):
    path = tmp_path / "new.csv"
    path.write_text(text)
    with pytest.raises(LabelFileError, match=expected):
        load_label_file(path)


def test_known_layout_in_a_new_file_is_named_after_its_stem(tmp_path):
    path = tmp_path / "NewTaskVsOther.csv"
    path.write_text('Gene name,StrLabel,Summary,Label\nA,Yes,"two\nlines",1\nB,No,text,0\n')
    labels = load_label_file(path)
    assert labels.tasks["new_task_vs_other"]["classes"] == ["No", "Yes"]
    assert labels.table["label"].to_pylist() == [1.0, 0.0]


def test_same_task_in_two_files(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.csv").write_text("gene,label,task\nA,1,t\n")
    (tmp_path / "b.csv").write_text("gene,label,task\nB,2,t\n")
    with pytest.raises(
        IngestError, match=r"'t' is in both a/x\.csv and b\.csv|'t' is in both b\.csv and a/x\.csv"
    ):
        load_label_dir(tmp_path)
    with pytest.raises(IngestError, match="no .csv"):
        load_label_dir(tmp_path / "a" / "missing")


def test_tf_target_type_as_the_authors_defined_it(shared_data, real_labels):
    """GATA4 direct vs indirect (binary, direct = 1) and TBX5 in three classes, each gene
    once; a combination target (also a tbx5_direct row in the file) is its own class."""
    table, tasks = real_labels
    df = pd.read_csv(shared_data / "labels" / "litgene" / "TF_target_type.csv", dtype=str)
    by_class = df.groupby("StrLabel")["Gene name"].apply(set)

    def labelled(task):
        rows = table.filter(pc.equal(table["task"], task))
        names = tasks[task]["classes"]
        return {
            g: names[int(v)]
            for g, v in zip(rows["gene"].to_pylist(), rows["label"].to_pylist(), strict=True)
        }

    gata4 = labelled("tf_target_type_gata4")
    assert tasks["tf_target_type_gata4"]["classes"] == ["gata4_indirect", "gata4_direct"]
    assert {g for g, c in gata4.items() if c == "gata4_direct"} == by_class["gata4_direct"]
    assert {g for g, c in gata4.items() if c == "gata4_indirect"} == by_class["gata4_indirect"]
    assert len(gata4) == 942 + 441  # README: the two classes share no gene

    tbx5 = labelled("tf_target_type_tbx5")
    combo = by_class["gata4_tbx5_combo_targets"]
    assert combo <= by_class["tbx5_direct"]  # why precedence is needed at all
    assert {g for g, c in tbx5.items() if c == "gata4_tbx5_combo_targets"} == combo
    assert {g for g, c in tbx5.items() if c == "tbx5_direct"} == by_class["tbx5_direct"] - combo
    assert {g for g, c in tbx5.items() if c == "tbx5_indirect"} == by_class["tbx5_indirect"]
    info = tasks["tf_target_type_tbx5"]
    assert info["overridden"] == len(combo) == 368 and info["conflicts"] == 0
    assert "housekeeping_genes" not in info["classes"]


def test_old_task_name_loads_the_renamed_task(real_labels):
    """``tf_target_type`` (committed rows, reports, old stores) and its new name find the
    same task in a store built before the rename and in one built after."""
    from pathlib import Path
    from types import SimpleNamespace

    from genen_scale.tasks.task import load_task

    table, tasks = real_labels
    rows = table.filter(pc.equal(table["task"], "tf_target_type_multilabel"))
    nodes = pc.cast(pc.index_in(rows["gene"], pc.unique(rows["gene"])), "int64")
    new = SimpleNamespace(
        path=Path("new"),
        tasks={"tf_target_type_multilabel": tasks["tf_target_type_multilabel"]},
        labels=rows.append_column("node", nodes),
    )
    old_rows = rows.set_column(0, "task", pa.array(["tf_target_type"] * rows.num_rows))
    old = SimpleNamespace(
        path=Path("old"),
        tasks={"tf_target_type": tasks["tf_target_type_multilabel"]},
        labels=old_rows.append_column("node", nodes),
    )
    for store in (new, old):
        for name in ("tf_target_type", "tf_target_type_multilabel"):
            task = load_task(store, name)
            assert task.name == name and task.kind == "multilabel" and len(task) == 1392
    with pytest.raises(ValueError, match="no task 'tf_target_type_gata4'"):
        load_task(new, "tf_target_type_gata4")
