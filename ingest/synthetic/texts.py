"""Gene texts: NCBI-like summaries, full names and STRING protein annotations.

Texts are assembled from sentence pools. Most sentences are neutral filler; a share are
*signal* sentences that name the gene's compartment (right most of the time, wrong
sometimes), its module's family or its conservation. Summary length is heavy-tailed and
grows with the study level, so well-studied genes have long, informative texts and
less-studied ones short or empty texts: the knowledge bias the Genen paper studies.
"""

from __future__ import annotations

import numpy as np

from ingest.synthetic.genes import Genes

_SYLLABLES = np.array(
    "ar bel cor dan el fen gor hal is jun kel lor man nor ob pel quin ros sal tor ur vel win "
    "xan yor zel bra cri dro fla gli pre spo tri".split()
)
CLASS_SENTENCES = (
    (
        "The encoded protein is a soluble cytosolic enzyme.",
        "It localizes to the cytoplasm.",
        "This protein is found in the cytosol, where it acts on small metabolites.",
        "The protein accumulates in cytoplasmic granules under stress.",
    ),
    (
        "The encoded protein localizes to the nucleus.",
        "It binds DNA and acts as a transcriptional regulator.",
        "This nuclear protein is part of the chromatin remodeling machinery.",
        "It contains a nuclear localization signal.",
    ),
    (
        "The encoded protein is a multi-pass transmembrane protein.",
        "It is anchored in the plasma membrane.",
        "This protein spans the lipid bilayer and moves ions across the cell membrane.",
        "It has a signal peptide and several transmembrane helices.",
    ),
)
VALUE_SENTENCES = (
    (
        "This gene is rapidly evolving in primates.",
        "No orthologs of this gene are known outside mammals.",
    ),
    (
        "This gene is highly conserved from yeast to human.",
        "Orthologs of this gene are found in all vertebrates.",
    ),
)
_MODULE_TEMPLATES = (
    "The protein belongs to the {} family.",
    "It contains a {} domain.",
    "It works with other members of the {} complex.",
)
_FILLER_TEMPLATES = (
    "Alternative splicing results in multiple transcript variants.",
    "Multiple pseudogenes of this gene have been identified.",
    "The protein encoded by this gene {} {}.",
    "Mutations in this gene are associated with {}.",
    "Expression of this gene is {} by {}.",
    "This gene is located on chromosome {}.",
    "The encoded protein may play a role in {}.",
)
_VERBS = "regulates|binds|modifies|stabilizes|cleaves|activates|inhibits".split("|")
_OBJECTS = (
    "cell growth|protein folding|lipid metabolism|immune signaling|cell adhesion|"
    "RNA processing|vesicle trafficking|apoptosis|cell cycle progression|wound healing"
).split("|")
_DISEASES = (
    "developmental delay|cardiomyopathy|retinal dystrophy|a form of deafness|several cancers|"
    "intellectual disability|a metabolic disorder|an immunodeficiency"
).split("|")
_STIMULI = "hypoxia|interferon|glucocorticoids|heat shock|insulin|retinoic acid".split("|")
_NONCODING = (
    "This gene encodes a long non-coding RNA.",
    "This gene is a pseudogene.",
    "This locus produces a small nucleolar RNA.",
)


def pseudo_words(rng: np.random.Generator, n: int, capitalize: bool = True) -> list[str]:
    """``n`` pronounceable made-up words of 2–3 syllables (family and term names)."""
    k = rng.integers(2, 4, n)
    syl = _SYLLABLES[rng.integers(0, len(_SYLLABLES), (n, 3))]
    words = ["".join(row[:m]) for row, m in zip(syl, k, strict=True)]
    return [w.capitalize() for w in words] if capitalize else words


def filler_pool(rng: np.random.Generator, size: int) -> list[str]:
    """``size`` neutral sentences filled in from the filler templates."""
    out = []
    for t in rng.integers(0, len(_FILLER_TEMPLATES), size):
        tpl = _FILLER_TEMPLATES[t]
        fills = {
            2: (_VERBS[rng.integers(len(_VERBS))], _OBJECTS[rng.integers(len(_OBJECTS))]),
            3: (_DISEASES[rng.integers(len(_DISEASES))],),
            4: (rng.choice(["induced", "repressed"]), _STIMULI[rng.integers(len(_STIMULI))]),
            5: (str(rng.integers(1, 23)) + rng.choice(["p", "q"]) + str(rng.integers(11, 37)),),
            6: (_OBJECTS[rng.integers(len(_OBJECTS))],),
        }.get(int(t), ())
        out.append(tpl.format(*fills))
    return out


class SentencePools:
    """All sentences texts are drawn from, in one array, with the offset of each pool."""

    def __init__(self, rng: np.random.Generator, families: list[str], filler_size: int = 500):
        pools = {
            "filler": filler_pool(rng, filler_size),
            "class": [s for group in CLASS_SENTENCES for s in group],
            "value": [s for group in VALUE_SENTENCES for s in group],
            "module": [t.format(f) for f in families for t in _MODULE_TEMPLATES],
        }
        self.offset, self.size, flat = {}, {}, []
        for name, sentences in pools.items():
            self.offset[name], self.size[name] = len(flat), len(sentences)
            flat.extend(sentences)
        self.sentences = np.array(flat, dtype=object)


def compose(
    rng: np.random.Generator,
    pools: SentencePools,
    genes: Genes,
    counts: np.ndarray,
    signal: float,
    class_accuracy: float,
) -> list[str]:
    """One text per coding gene made of ``counts[g]`` sentences; empty where ``counts[g] == 0``.

    Each sentence is a signal sentence with probability ``signal``: half name the compartment
    (the true one with probability ``class_accuracy``), a third the module's family, the
    rest the conservation (only for genes clearly high or low).

    Shapes:
        counts: ``[coding]`` int; returns ``coding`` strings.
    """
    gene = np.repeat(np.arange(genes.coding), counts)
    n = len(gene)
    kind = rng.random(n)
    r = rng.integers(0, 1 << 30, n)
    idx = pools.offset["filler"] + r % pools.size["filler"]
    is_signal = rng.random(n) < signal
    # Compartment sentences: sometimes a wrong class, so text alone is not a perfect oracle.
    cls = genes.cls[gene]
    wrong = rng.random(n) > class_accuracy
    cls = np.where(wrong, (cls + 1 + r % 2) % 3, cls)
    per_class = len(CLASS_SENTENCES[0])
    use = is_signal & (kind < 0.5)
    idx[use] = pools.offset["class"] + cls[use] * per_class + (r[use] >> 3) % per_class
    use = is_signal & (kind >= 0.5) & (kind < 0.83)
    per_module = len(_MODULE_TEMPLATES)
    idx[use] = (
        pools.offset["module"] + genes.module[gene[use]] * per_module + (r[use] >> 3) % per_module
    )
    value = genes.value[gene]
    extreme = (value > 0.7) | (value < 0.3)
    use = is_signal & (kind >= 0.83) & extreme
    per_value = len(VALUE_SENTENCES[0])
    high = (value[use] > 0.5).astype(np.int64)
    idx[use] = pools.offset["value"] + high * per_value + (r[use] >> 3) % per_value
    text = pools.sentences[idx]
    ends = np.cumsum(counts)
    starts = ends - counts
    return [" ".join(text[s:e]) for s, e in zip(starts, ends, strict=True)]


def summary_sentences(
    rng: np.random.Generator, genes: Genes, median_words: float, empty_share: float
) -> np.ndarray:
    """Sentences per coding-gene summary: heavy-tailed, longer for better-studied genes.

    Sentences average about nine words, so ``median_words / 9`` sentences at the median.
    Genes with little study are the likeliest to have no summary at all.

    Shapes:
        returns ``[coding]`` int64 (0 = empty summary).
    """
    study_rank = np.argsort(np.argsort(genes.study)) / max(1, genes.coding - 1)
    words = median_words * np.exp(rng.normal(0.0, 0.55, genes.coding))
    words *= (genes.study / np.median(genes.study)) ** 0.3
    counts = np.maximum(1, np.rint(words / 9.0)).astype(np.int64)
    empty = rng.random(genes.coding) < np.clip(2.0 * empty_share * (1.0 - study_rank), 0, 1)
    counts[empty] = 0
    return counts


def full_names(rng: np.random.Generator, genes: Genes, families: list[str]) -> list[str]:
    """NCBI-style lower-case full names ("tarvel domain containing 3")."""
    kinds = ("domain containing", "family member", "associated protein", "like", "subunit")
    own = rng.random(genes.coding) < 0.5
    words = pseudo_words(rng, len(genes.symbol), capitalize=False)
    out = []
    for g, _sym in enumerate(genes.symbol):
        if g >= genes.coding:
            out.append(f"{words[g]} non-coding RNA {g % 9 + 1}")
            continue
        stem = families[genes.module[g]].lower() if own[g] else words[g]
        out.append(f"{stem} {kinds[g % len(kinds)]} {g % 17 + 1}")
    return out


def noncoding_summaries(rng: np.random.Generator, n: int, filler: list[str]) -> list[str]:
    """Mostly empty summaries for non-coding genes; the rest one or two sentences."""
    out = []
    for has, kind, f in zip(
        rng.random(n) < 0.3, rng.integers(0, 3, n), rng.integers(0, len(filler), n), strict=True
    ):
        out.append(f"{_NONCODING[kind]} {filler[f]}" if has else "")
    return out


def synonyms(rng: np.random.Generator, n: int) -> list[str]:
    """NCBI-style synonym lists (``"A1B; ABG; GAB"``), empty for about a third of genes."""
    from ingest.synthetic.genes import random_words

    counts = rng.choice([0, 1, 2, 3, 4], size=n, p=[0.3, 0.25, 0.2, 0.15, 0.1])
    pool = random_words(rng, int(counts.sum()), 3, 6)
    ends = np.cumsum(counts)
    return ["; ".join(pool[e - c : e]) for c, e in zip(counts, ends, strict=True)]
