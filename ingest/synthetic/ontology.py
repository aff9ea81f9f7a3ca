"""A GO-shaped ontology (``go-basic.obo``) and GOA-shaped annotations (``goa_human.gaf``).

The ontology is a DAG by construction: terms are written in id order and every ``is_a`` or
``relationship`` target has a smaller index than its source. Three roots open the file
(one per namespace); some terms are obsolete (no parents, never a parent) and some carry
``alt_id`` s. Each latent module owns a handful of "program" terms and each class a few
cellular-component terms, and genes are annotated with them preferentially, so GO carries
label signal — including the label-bearing CC terms the Genen paper warns about.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ingest.synthetic.genes import CLASSES, Genes
from ingest.synthetic.texts import pseudo_words

NAMESPACES = ("biological_process", "molecular_function", "cellular_component")
ASPECT = {"biological_process": "P", "molecular_function": "F", "cellular_component": "C"}
RELATIONS = ("part_of", "regulates", "negatively_regulates", "positively_regulates")
_RELATION_P = (0.4, 0.18, 0.21, 0.21)
# GOA human evidence codes with their rough frequencies in goa_human.gaf.
EVIDENCE = ("TAS", "IPI", "IEA", "IDA", "IBA", "ISS", "IMP", "HDA", "NAS", "IGI", "IC", "IEP")
_EVIDENCE_P = np.array([104, 94, 78, 74, 52, 24, 22, 9, 8, 2, 1.5, 1], dtype=float)
_NOUNS = {
    "biological_process": ("process", "pathway", "signaling", "biosynthesis", "transport"),
    "molecular_function": ("activity", "binding", "receptor activity", "transporter activity"),
    "cellular_component": ("complex", "granule", "body", "compartment", "lumen"),
}
_CLASS_CC = {
    "cytoplasm": ("cytoplasm", "cytosol", "cytoplasmic granule"),
    "nucleus": ("nucleus", "nucleoplasm", "chromatin"),
    "membrane": ("plasma membrane", "integral component of membrane", "cell surface"),
}
_ROOT_DEFS = {
    "biological_process": "A biological process is the execution of a genetically-encoded program.",
    "molecular_function": "A molecular process that can be carried out by a single gene product.",
    "cellular_component": "A location, relative to cellular compartments and structures.",
}


@dataclass(frozen=True)
class Ontology:
    """Terms in file order.

    Attributes:
        ids: ``[T]`` GO ids, ascending. names, namespace, defs: ``[T]``.
        obsolete: ``[T]`` bool. parents: per term, a list of ``(relation, index)`` with
            ``index`` < the term's own index. alt_ids: per term, a list of ids.
        class_terms: ``[3, k]`` live CC term indices per latent class.
        module_terms: ``[M, k]`` live term indices per latent module.
    """

    ids: list[str]
    names: list[str]
    namespace: list[str]
    defs: list[str]
    obsolete: np.ndarray
    parents: list[list[tuple[str, int]]]
    alt_ids: list[list[str]]
    class_terms: np.ndarray
    module_terms: np.ndarray


def make_ontology(
    rng: np.random.Generator,
    num_terms: int,
    obsolete_share: float,
    modules: int,
    families: list[str],
) -> Ontology:
    """Draw a GO-shaped DAG of ``num_terms`` terms (obsolete ones included)."""
    if num_terms < 3 + 3 * len(CLASSES) + 8:
        raise ValueError(
            f"go_terms={num_terms} is too small; use at least {3 + 3 * len(CLASSES) + 8}"
        )
    numbers = np.sort(rng.choice(np.arange(1, 9_999_999), size=num_terms * 11 // 10, replace=False))
    alt_pool = list(numbers[num_terms:])
    ids = [f"GO:{k:07d}" for k in numbers[:num_terms]]
    ns_code = np.concatenate([[0, 1, 2], rng.choice(3, num_terms - 3, p=[0.62, 0.24, 0.14])])
    obsolete = np.zeros(num_terms, dtype=bool)
    obsolete[3:] = rng.random(num_terms - 3) < obsolete_share
    namespace = [NAMESPACES[c] for c in ns_code]
    live_by_ns: list[list[int]] = [[0], [1], [2]]
    parents: list[list[tuple[str, int]]] = [[], [], []]
    alt_ids: list[list[str]] = [[], [], []]
    for t in range(3, num_terms):
        own = live_by_ns[ns_code[t]]
        rel: list[tuple[str, int]] = []
        if not obsolete[t]:
            # Uniform choice among earlier terms gives a random recursive DAG (depth ~ log T).
            for p in sorted({own[i] for i in rng.integers(0, len(own), 1 + rng.poisson(0.6))}):
                rel.append(("is_a", int(p)))
            if rng.random() < 0.12 and len(own) > 1:
                target = own[rng.integers(0, len(own))]
                if all(target != p for _, p in rel):
                    rel.append((str(rng.choice(RELATIONS, p=_RELATION_P)), int(target)))
            own.append(t)
        parents.append(rel)
        n_alt = int(rng.random() < 0.04) * int(rng.integers(1, 3))
        alt_ids.append([f"GO:{alt_pool.pop():07d}" for _ in range(min(n_alt, len(alt_pool)))])
    names, defs = _names(rng, namespace, obsolete)
    # A tiny ontology may have no CC term besides the root; then any live term stands in.
    cc_pool = live_by_ns[2][1:] or [t for t in range(3, num_terms) if not obsolete[t]]
    class_terms = _pick(rng, cc_pool, len(CLASSES), len(_CLASS_CC[CLASSES[0]]))
    for c, row in enumerate(class_terms):
        for k, t in enumerate(row):
            names[t] = _CLASS_CC[CLASSES[c]][k]
    bp_mf = live_by_ns[0][1:] + live_by_ns[1][1:]
    taken = set(class_terms.ravel().tolist())
    module_terms = _pick(rng, [t for t in bp_mf if t not in taken] or bp_mf, modules, 6)
    for m, row in enumerate(module_terms):
        for t in row:
            names[t] = f"{families[m].lower()} {names[t]}"
    return Ontology(
        ids, names, namespace, defs, obsolete, parents, alt_ids, class_terms, module_terms
    )


def _pick(rng: np.random.Generator, pool: list[int], groups: int, per_group: int) -> np.ndarray:
    """``[groups, per_group]`` term indices: disjoint while the pool lasts, then reused."""
    need = groups * per_group
    if len(pool) >= need:
        return rng.choice(pool, need, replace=False).reshape(groups, per_group)
    return rng.choice(pool, need, replace=True).reshape(groups, per_group)


def _names(
    rng: np.random.Generator, namespace: list[str], obsolete: np.ndarray
) -> tuple[list, list]:
    words = pseudo_words(rng, len(namespace), capitalize=False)
    names, defs = [], []
    for t, (ns, w) in enumerate(zip(namespace, words, strict=True)):
        if t < 3:
            names.append(ns)
            defs.append(_ROOT_DEFS[ns])
            continue
        nouns = _NOUNS[ns]
        name = f"{w} {nouns[t % len(nouns)]}"
        if obsolete[t]:
            names.append(f"obsolete {name}")
            defs.append(f"OBSOLETE. The {name} of a cell.")
        else:
            names.append(name)
            defs.append(f"The {name} of a cell, involving {w}.")
    return names, defs


def obo_text(onto: Ontology, data_version: str) -> str:
    """The ontology in OBO 1.2, as ``go-basic.obo`` is laid out (header, terms, typedefs)."""
    out = [
        "format-version: 1.2",
        f"data-version: {data_version}",
        "ontology: go",
        "remark: Synthetic GO-shaped ontology generated by ingest.generate; not biological data.",
        "",
    ]
    for t, tid in enumerate(onto.ids):
        out += ["[Term]", f"id: {tid}", f"name: {onto.names[t]}", f"namespace: {onto.namespace[t]}"]
        out += [f"alt_id: {a}" for a in onto.alt_ids[t]]
        out.append(f'def: "{onto.defs[t]}" []')
        for rel, p in onto.parents[t]:
            target = f"{onto.ids[p]} ! {onto.names[p]}"
            out.append(f"is_a: {target}" if rel == "is_a" else f"relationship: {rel} {target}")
        if onto.obsolete[t]:
            out.append("is_obsolete: true")
        out.append("")
    for rel in RELATIONS:
        out += ["[Typedef]", f"id: {rel}", f"name: {rel.replace('_', ' ')}"]
        out.append("is_transitive: true" if rel in ("part_of", "regulates") else "is_a: regulates")
        out.append("")
    return "\n".join(out)


def annotations(
    rng: np.random.Generator, onto: Ontology, genes: Genes, per_gene: float
) -> tuple[np.ndarray, np.ndarray]:
    """Gene–term annotation pairs: own-module programme terms, own-class CC terms, noise.

    Better-studied genes get more annotations (as in GOA). Returns ``(gene, term)`` index
    arrays; ``term`` may point to an obsolete term (a stale annotation, as in real releases).

    Shapes:
        returns two ``[A]`` int64 arrays.
    """
    s = np.sqrt(genes.study)
    counts = rng.poisson(per_gene * s / s.mean())
    gene = np.repeat(np.arange(genes.coding), counts)
    n = len(gene)
    live = np.flatnonzero(~onto.obsolete)
    term = live[rng.integers(0, len(live), n)]
    kind = rng.random(n)
    use = kind < 0.35
    mt = onto.module_terms
    term[use] = mt[genes.module[gene[use]], rng.integers(0, mt.shape[1], use.sum())]
    use = (kind >= 0.35) & (kind < 0.5)
    # Class CC terms, with some annotations to another class's terms (imperfect signal).
    cls = np.where(rng.random(n) < 0.85, genes.cls[gene], rng.integers(0, len(CLASSES), n))
    ct = onto.class_terms
    term[use] = ct[cls[use], rng.integers(0, ct.shape[1], use.sum())]
    stale = rng.random(n) < 0.003
    dead = np.flatnonzero(onto.obsolete)
    if len(dead):
        term[stale] = dead[rng.integers(0, len(dead), stale.sum())]
    return gene, term


def gaf_lines(
    rng: np.random.Generator,
    onto: Ontology,
    genes: Genes,
    gene: np.ndarray,
    term: np.ndarray,
    accession: np.ndarray,
    names: list[str],
    taxon: int,
    db: str = "UniProtKB",
) -> list[str]:
    """GAF 2.1 lines (17 tab-separated columns), sorted by accession like GOA files;
    ``db`` is column 1 (``UniProtKB`` for GOA, ``MGI`` for the mouse file)."""
    n = len(gene)
    evidence = rng.choice(EVIDENCE, n, p=_EVIDENCE_P / _EVIDENCE_P.sum())
    q = rng.random(n)
    qualifier = np.where(q < 0.0025, "NOT", "")
    qualifier = np.where((q >= 0.0025) & (q < 0.006), "contributes_to", qualifier)
    qualifier = np.where((q >= 0.006) & (q < 0.009), "colocalizes_with", qualifier)
    pmid = rng.integers(1_000_000, 31_000_000, n)
    day = rng.integers(0, 3650, n)
    dates = np.datetime64("2009-01-14") + day.astype("timedelta64[D]")
    # A few annotations cite a term by one of its alternative ids.
    alt_pick = rng.random(n) < 0.005
    out = []
    for k in np.argsort(accession[gene], kind="stable"):
        g, t = int(gene[k]), int(term[k])
        go_id = onto.ids[t]
        if alt_pick[k] and onto.alt_ids[t]:
            go_id = onto.alt_ids[t][0]
        ev = evidence[k]
        ref = f"GO_REF:{int(pmid[k]) % 50:07d}" if ev == "IEA" else f"PMID:{pmid[k]}"
        with_from = {
            "IEA": f"InterPro:IPR{int(pmid[k]) % 40000:06d}",
            "IPI": "UniProtKB:P04637",
        }.get(ev, "")
        cols = (
            db,
            accession[g],
            genes.symbol[g],
            qualifier[k],
            go_id,
            ref,
            ev,
            with_from,
            ASPECT[onto.namespace[t]],
            names[g],
            f"{genes.symbol[g]}|{accession[g]}",
            "protein",
            f"taxon:{taxon}",
            str(dates[k]).replace("-", ""),
            "UniProt" if ev == "IEA" else "GO_Central",
            "",
            "",
        )
        out.append("\t".join(cols))
    return out
