"""The latent truth behind a synthetic data set: genes, proteins and their hidden labels.

Each protein-coding gene has a latent *module* (a functional group), a *class* (its
compartment: cytoplasm, nucleus or membrane; modules nest inside classes), a continuous
*value* (its conservation, drawn around its module's mean) and a *study level* (how much is
written about it). The STRING graph, the GO annotations, the texts and the label files are
all drawn from these, each with its own noise, so that every source carries some signal and
none carries all of it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CLASSES = ("cytoplasm", "nucleus", "membrane")
# Ensembl protein id prefix per NCBI taxon (STRING ids are ``{taxon}.{prefix}{number}``).
ENSEMBL_PROTEIN = {9606: "ENSP", 10090: "ENSMUSP"}
# Taxa whose nomenclature writes symbols in title case (MGI: Trp53, Abcd1), with the
# database that keys their GO annotation file.
TITLE_CASE_SYMBOLS = frozenset({10090})
GAF_DB = {10090: "MGI"}
_LETTERS = np.frombuffer(b"ABCDEFGHIKLMNPRSTVWZ", dtype=np.uint8)
_ALNUM = np.frombuffer(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", dtype=np.uint8)


@dataclass(frozen=True)
class Genes:
    """All genes of a synthetic data set; coding genes (those in STRING) come first.

    Attributes:
        symbol: ``[G]`` unique gene symbols.
        entrez: ``[G]`` NCBI-like integer ids.
        coding: number of protein-coding genes (the first ``coding`` rows).
        module, cls: ``[coding]`` latent module and class of each coding gene.
        value: ``[coding]`` latent conservation in (0, 1).
        study: ``[coding]`` study level (expected-degree weight; larger = better studied).
    """

    symbol: np.ndarray
    entrez: np.ndarray
    coding: int
    module: np.ndarray
    cls: np.ndarray
    value: np.ndarray
    study: np.ndarray


@dataclass(frozen=True)
class Proteins:
    """STRING proteins, sorted by id; some genes have two.

    Attributes:
        ids: ``[P]`` ids such as ``9606.ENSP00000000233``.
        gene: ``[P]`` index of each protein's gene (into :class:`Genes`).
    """

    ids: np.ndarray
    gene: np.ndarray

    def id_bytes(self) -> np.ndarray:
        """``[P, W]`` uint8 matrix of the ASCII ids (all ids have the same width)."""
        return np.frombuffer("".join(self.ids).encode(), np.uint8).reshape(len(self.ids), -1)


def random_words(rng: np.random.Generator, n: int, lo: int, hi: int, alphabet=_LETTERS) -> list:
    """``n`` random upper-case words of length ``lo..hi``."""
    lengths = rng.integers(lo, hi + 1, n)
    letters = alphabet[rng.integers(0, len(alphabet), (n, hi))]
    return [row[:k].tobytes().decode() for row, k in zip(letters, lengths, strict=True)]


def unique_symbols(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` distinct gene symbols in families: a 3–5 letter stem and a member number."""
    out: list[str] = []
    seen: set[str] = set()
    while len(out) < n:
        for stem in random_words(rng, max(16, (n - len(out)) // 3), 3, 5):
            if stem in seen:
                continue
            seen.add(stem)
            # Family sizes are skewed: most stems have one or two members, a few many.
            size = int(rng.geometric(0.35))
            out.extend(f"{stem}{k}" for k in range(1, size + 1))
    return np.array(out[:n], dtype=object)


def make_genes(
    rng: np.random.Generator, coding: int, noncoding: int, modules: int, degree: tuple
) -> Genes:
    """Draw genes and their latent module, class, value and study level.

    ``degree`` is ``(spread, exponent, cap)`` of :func:`ingest.synthetic.links.degree_weights`:
    a gene's study level is its expected degree, since well-studied genes have more known
    interactions (and, in :mod:`ingest.synthetic.texts`, longer summaries).
    """
    from ingest.synthetic.links import degree_weights

    total = coding + noncoding
    symbol = unique_symbols(rng, total)
    entrez = np.sort(rng.choice(np.arange(1, 20 * total), size=total, replace=False))
    entrez = rng.permutation(entrez)
    module = rng.integers(0, modules, coding)
    # Modules nest in classes, so a module's genes share a compartment.
    cls = module % len(CLASSES)
    module_mean = rng.normal(0.0, 1.2, modules)
    value = 1.0 / (1.0 + np.exp(-(module_mean[module] + rng.normal(0.0, 0.8, coding))))
    study = degree_weights(coding, *degree, rng)
    return Genes(symbol, entrez, coding, module, cls, value, study)


def make_proteins(rng: np.random.Generator, species: int, genes: Genes, extra: int) -> Proteins:
    """One protein per coding gene plus ``extra`` second proteins, sorted by id."""
    n = genes.coding + extra
    gene = np.concatenate([np.arange(genes.coding), rng.choice(genes.coding, extra, replace=False)])
    # ENSP numbers are sparse in a wide range, like Ensembl's.
    numbers = np.sort(rng.choice(np.arange(200, 60 * n + 1000), size=n, replace=False))
    gene = rng.permutation(gene)
    prefix = ENSEMBL_PROTEIN.get(species, "ENSP")
    ids = np.array([f"{species}.{prefix}{k:011d}" for k in numbers], dtype=object)
    return Proteins(ids, gene)


def species_symbols(symbols: np.ndarray, species: int) -> np.ndarray:
    """Symbols in the species' nomenclature case (``ABCD1`` -> ``Abcd1`` for mouse)."""
    if species not in TITLE_CASE_SYMBOLS:
        return symbols
    return np.array([s[0] + s[1:].lower() for s in symbols], dtype=object)


def gaf_ids(rng: np.random.Generator, species: int, n: int) -> tuple[str, np.ndarray]:
    """The GAF's database (column 1) and ``n`` distinct object ids (column 2): MGI
    accessions for mouse, UniProt accessions (as in goa_human) otherwise."""
    db = GAF_DB.get(species, "UniProtKB")
    if db == "MGI":
        numbers = rng.choice(np.arange(1_000_000, 7_000_000), size=n, replace=False)
        return db, np.array([f"MGI:{k}" for k in numbers], dtype=object)
    return db, uniprot_accessions(rng, n)


def uniprot_accessions(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` distinct UniProt-style accessions (``[OPQ][0-9][A-Z0-9]{3}[0-9]``)."""
    first = np.frombuffer(b"OPQ", np.uint8)
    out: list[str] = []
    seen: set[str] = set()
    while len(out) < n:
        m = 2 * (n - len(out))
        chars = np.stack(
            [
                first[rng.integers(0, 3, m)],
                _ALNUM[rng.integers(0, 10, m)],
                *[_ALNUM[rng.integers(0, 36, m)] for _ in range(3)],
                _ALNUM[rng.integers(0, 10, m)],
            ],
            axis=1,
        )
        for acc in (row.tobytes().decode() for row in chars):
            if acc not in seen:
                seen.add(acc)
                out.append(acc)
    return np.array(out[:n], dtype=object)
