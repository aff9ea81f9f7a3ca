"""Synthetic STRING / GO / GOA / NCBI / label files, in the official formats and file names.

``python -m ingest.generate --out DIR --preset full|demo|tiny [--key value ...]`` writes::

    {species}.protein.links.v12.0.txt.gz   space-separated, both directions, scores 150..999
    {species}.protein.info.v12.0.txt.gz    tab-separated; some genes have two proteins
    go-basic.obo                           OBO 1.2 DAG with obsolete terms and alt_ids
    goa_human.gaf.gz | mgi.gaf.gz          GAF 2.1 (by species), NOT qualifiers, stale ids
    gene_summaries.tsv.gz                  NCBI-like; empty and heavy-tailed summaries
    labels/litgene/*.csv, labels/old_litgene/*.csv
    generated.json                         resolved config, counts and file list

so that ``genen-ingest --source-dir DIR`` builds a store from it exactly as from downloads.
``full`` matches STRING v12 human at score >= 150 (19.6k proteins, 13.7M link lines, mean
degree ~700, heavy-tailed); ``demo`` (2k genes) is the small data set the training entry
uses by default; ``tiny`` is for tests. All files follow from the seed: the same seed gives
byte-identical files. The latent model is described in :mod:`ingest.synthetic.genes`.
"""

from __future__ import annotations

import gzip
import json
import logging
import queue
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from genen_core.command_line import asks_for_help, help_text, parse_command_line, pop_option
from genen_core.config import ConfigError
from genen_core.logs import setup_logging
from ingest.sources import GAF_NAMES
from ingest.synthetic import genes as gs
from ingest.synthetic import labels, links, ontology, texts

log = logging.getLogger(__name__)


@dataclass
class GenerateConfig:
    """What to generate. Defaults are the ``demo`` preset."""

    seed: int = 0
    """Seed of every random draw; the same seed gives byte-identical files."""
    species: int = 9606
    """NCBI taxon id, used in file names and protein ids."""
    proteins: int = 2040
    """STRING proteins (nodes of the links file)."""
    links: int = 100_000
    """Link lines in the links file (each undirected pair is two lines)."""
    second_protein_share: float = 0.02
    """Share of proteins that are a gene's second protein (ingest must collapse them)."""
    modules: int = 24
    """Latent functional modules (nested in the three latent classes)."""
    degree_spread: float = 0.9
    """Sigma of the log-normal body of the expected degree."""
    degree_exponent: float = 3.0
    """Pareto tail exponent of the expected degree (smaller = heavier tail)."""
    degree_cap: float = 25.0
    """Largest expected degree, as a multiple of the median."""
    module_share: float = 0.3
    """Target share of link mass inside a module (realised share is lower: p is capped at 1)."""
    class_share: float = 0.6
    """Target share of link mass inside a class (chance is about 1/3)."""
    go_terms: int = 1000
    """GO terms in go-basic.obo, obsolete ones included."""
    obsolete_share: float = 0.08
    """Share of GO terms that are obsolete."""
    annotations_per_gene: float = 24.0
    """Mean GOA annotations per coding gene."""
    noncoding_genes: int = 600
    """Genes in the summaries file that are not in STRING (ncRNA, pseudogenes)."""
    summary_words: float = 54.0
    """Median summary length in words (real NCBI: 54)."""
    empty_summary_share: float = 0.08
    """Share of coding genes with an empty summary (mostly the less-studied)."""
    text_signal: float = 0.25
    """Share of summary sentences that carry signal (compartment, family, conservation)."""
    text_class_accuracy: float = 0.8
    """Probability that a compartment sentence names the gene's true compartment."""
    binary_share: float = 0.3
    """Share of coding genes in the solubility label set."""
    multiclass_share: float = 0.6
    """Share of coding genes in the subcellular-location label set."""
    dosage_share: float = 0.1
    """Share of coding genes in the dosage-sensitivity label set."""
    label_noise: float = 0.05
    """Share of class labels flipped to another class."""
    compresslevel: int = 1
    """gzip level of the .gz outputs (1: fastest; the files are read once)."""

    def __post_init__(self) -> None:
        for name in ("proteins", "links", "modules", "go_terms"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)} must be positive")
        if self.links % 2:
            raise ValueError(f"links={self.links} must be even: each pair is listed twice")
        if self.modules > self.proteins // 4:
            raise ValueError(f"modules={self.modules} is too many for {self.proteins} proteins")
        for name in (
            "second_protein_share",
            "obsolete_share",
            "empty_summary_share",
            "label_noise",
        ):
            if not 0.0 <= getattr(self, name) < 0.5:
                raise ValueError(f"{name}={getattr(self, name)} must be in [0, 0.5)")
        if not 1 <= self.compresslevel <= 9:
            raise ValueError(f"compresslevel={self.compresslevel} must be 1..9")

    @property
    def coding_genes(self) -> int:
        return round(self.proteins / (1.0 + self.second_protein_share))


ORGANISMS = {9606: "Homo sapiens", 10090: "Mus musculus"}

PRESETS: dict[str, dict] = {
    # STRING v12 human at score >= 150: 19.6k proteins, 13.7M lines; GO ~47k terms; GOA ~475k.
    "full": {
        "proteins": 19_600,
        "links": 13_700_000,
        "modules": 60,
        "go_terms": 47_000,
        "noncoding_genes": 6_400,
        "binary_share": 0.075,
        "multiclass_share": 0.44,
        "dosage_share": 0.015,
    },
    "demo": {},
    "tiny": {
        "proteins": 200,
        "links": 4_000,
        "modules": 6,
        "go_terms": 80,
        "annotations_per_gene": 6.0,
        "noncoding_genes": 30,
        "summary_words": 30.0,
        "binary_share": 0.5,
        "multiclass_share": 0.8,
        "dosage_share": 0.3,
    },
}


def file_names(species: int) -> dict[str, str]:
    """Official file names, keyed by role, as the sources catalog looks for them."""
    return {
        "links": f"{species}.protein.links.v12.0.txt.gz",
        "info": f"{species}.protein.info.v12.0.txt.gz",
        "obo": "go-basic.obo",
        "gaf": f"{GAF_NAMES.get(species, 'goa_human')}.gaf.gz",
        "summaries": "gene_summaries.tsv.gz",
        "labels": "labels",
    }


@contextmanager
def _gzip_writer(path: Path, level: int):
    # mtime=0 and no file name in the header keep the bytes a function of the content only.
    with open(path, "wb") as raw, gzip.GzipFile("", "wb", level, raw, mtime=0) as f:
        yield f


def write_links(path: Path, model: links.BlockModel, ids: np.ndarray, salt: int, level: int) -> int:
    """Stream the links file in row blocks; returns the number of link lines written.

    Compression runs in a second thread (zlib releases the GIL), overlapping the hashing
    of the next block; a bounded queue keeps at most a few blocks in memory.
    """
    block = max(1, 4_000_000 // model.n)
    q: queue.Queue = queue.Queue(maxsize=3)
    failed: list[BaseException] = []

    def drain(f) -> None:
        try:
            while (data := q.get()) is not None:
                f.write(data)
        except BaseException as e:  # re-raised in the producer thread
            failed.append(e)
            while q.get() is not None:
                pass

    lines = 0
    with _gzip_writer(path, level) as f:
        f.write(b"protein1 protein2 combined_score\n")
        worker = threading.Thread(target=drain, args=(f,), daemon=True)
        worker.start()
        try:
            with tqdm(total=model.n, desc="links", unit="protein", leave=False) as bar:
                for r0 in range(0, model.n, block):
                    r1 = min(model.n, r0 + block)
                    i, j, score = links.link_rows(model, r0, r1, salt)
                    q.put(links.format_links(ids, i, j, score))
                    lines += len(i)
                    bar.update(r1 - r0)
                    bar.set_postfix(lines=lines)
                    if failed:
                        break
        finally:
            q.put(None)
            worker.join()
    if failed:
        raise OSError(f"writing {path} failed: {failed[0]}") from failed[0]
    return lines


def _write_gz_text(path: Path, lines: list[str], level: int) -> None:
    with _gzip_writer(path, level) as f:
        f.write(("\n".join(lines) + "\n").encode())


def _tsv_field(text: str) -> str:
    # Tabs and newlines would break the TSV row; the generator never makes them, but be safe.
    return text.replace("\t", " ").replace("\n", " ")


def generate(out_dir: Path, cfg: GenerateConfig) -> dict:
    """Write a synthetic data set into ``out_dir``; returns ``{"paths", "counts", "config"}``."""
    t0 = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    names = file_names(cfg.species)
    paths = {k: out_dir / v for k, v in names.items()}
    # Independent streams per part: changing the GO size does not change the graph.
    r_genes, r_graph, r_text, r_go, r_labels = (
        np.random.default_rng(s) for s in np.random.SeedSequence(cfg.seed).spawn(5)
    )
    degree = (cfg.degree_spread, cfg.degree_exponent, cfg.degree_cap)
    genes = gs.make_genes(r_genes, cfg.coding_genes, cfg.noncoding_genes, cfg.modules, degree)
    genes = replace(genes, symbol=gs.species_symbols(genes.symbol, cfg.species))
    prot = gs.make_proteins(r_genes, cfg.species, genes, cfg.proteins - cfg.coding_genes)
    families = texts.pseudo_words(r_text, cfg.modules)

    n_links = _write_graph(r_graph, paths["links"], genes, prot, cfg)
    full, label_texts, counts = _write_texts(r_text, paths, genes, prot, families, cfg)
    counts.update(_write_go(r_go, paths, genes, full, families, cfg))
    shares = {"binary": cfg.binary_share, "multiclass": cfg.multiclass_share}
    shares["dosage"] = cfg.dosage_share
    label_files = labels.write_labels(
        r_labels, paths["labels"], genes, label_texts, shares, cfg.label_noise
    )
    result = {
        "paths": {k: str(v) for k, v in paths.items()},
        "counts": {
            "proteins": len(prot.ids),
            "link_lines": n_links,
            "coding_genes": cfg.coding_genes,
            **counts,
            "labels": label_files,
        },
        "config": asdict(cfg),
    }
    # File names only, so that the record (and its bytes) does not depend on where it lies.
    record = {**result, "paths": names}
    (out_dir / "generated.json").write_text(json.dumps(record, indent=2, sort_keys=True))
    log.info("generated %s in %.1f s", out_dir, time.perf_counter() - t0)
    return result


def _write_graph(rng, path: Path, genes: gs.Genes, prot: gs.Proteins, cfg: GenerateConfig) -> int:
    """The links file; proteins inherit their gene's module, class and study level."""
    g = prot.gene
    a, b = links.homophily_boosts(
        genes.study[g], genes.module[g], genes.cls[g], cfg.module_share, cfg.class_share
    )
    model = links.BlockModel(genes.study[g], genes.module[g], genes.cls[g], a, b, 1.0)
    model = replace(model, scale=links.solve_scale(model, cfg.links))
    log.info(
        "links: %d proteins, target %d lines (boosts: module %.1f, class %.2f)",
        model.n,
        cfg.links,
        a,
        b,
    )
    salt = int(rng.integers(0, 2**62))
    return write_links(path, model, prot.id_bytes(), salt, cfg.compresslevel)


def _write_texts(rng, paths, genes: gs.Genes, prot, families, cfg: GenerateConfig):
    """protein.info and the summaries; returns full names, label-file texts and counts."""
    pools = texts.SentencePools(rng, families)
    counts = texts.summary_sentences(rng, genes, cfg.summary_words, cfg.empty_summary_share)
    accuracy = cfg.text_class_accuracy
    summaries = texts.compose(rng, pools, genes, counts, cfg.text_signal, accuracy)
    filler = list(pools.sentences[: pools.size["filler"]])
    summaries += texts.noncoding_summaries(rng, cfg.noncoding_genes, filler)
    full = texts.full_names(rng, genes, families)
    # STRING annotations are short UniProt texts, richer in localisation than summaries.
    annotation = texts.compose(
        rng, pools, genes, np.clip(rng.poisson(2.5, genes.coding), 1, None), 0.4, accuracy
    )
    n_info = _write_info(rng, paths["info"], prot, genes, full, annotation, cfg.compresslevel)
    n_genes = _write_summaries(rng, paths["summaries"], genes, full, summaries, cfg)
    # Label files carry a text column; LitGene used the summary, else the UniProt text.
    label_texts = [s or a for s, a in zip(summaries[: genes.coding], annotation, strict=True)]
    return full, label_texts, {"info_rows": n_info, "summary_genes": n_genes}


def _write_go(rng, paths, genes: gs.Genes, full, families, cfg: GenerateConfig) -> dict:
    """go-basic.obo and the GAF; returns their counts."""
    onto = ontology.make_ontology(rng, cfg.go_terms, cfg.obsolete_share, cfg.modules, families)
    paths["obo"].write_text(ontology.obo_text(onto, f"releases/synthetic-seed{cfg.seed}"))
    gene, term = ontology.annotations(rng, onto, genes, cfg.annotations_per_gene)
    db, accession = gs.gaf_ids(rng, cfg.species, genes.coding)
    gaf = ontology.gaf_lines(rng, onto, genes, gene, term, accession, full, cfg.species, db)
    header = [
        "!gaf-version: 2.1",
        "!",
        "!Synthetic GOA-shaped annotations generated by ingest.generate; not biological data.",
        "!",
        # A fixed date: the header is part of the bytes that the seed alone must determine.
        "!Generated: 2024-01-01 00:00",
        f"!GO-version: releases/synthetic-seed{cfg.seed}",
        "!",
    ]
    _write_gz_text(paths["gaf"], header + gaf, cfg.compresslevel)
    return {
        "go_terms": len(onto.ids),
        "obsolete_terms": int(onto.obsolete.sum()),
        "annotations": len(gaf),
    }


def _write_info(
    rng, path: Path, prot: gs.Proteins, genes: gs.Genes, full, annotation, level
) -> int:
    size = np.clip(np.rint(np.exp(rng.normal(6.0, 0.6, len(prot.ids)))), 50, 35_000).astype(int)
    # STRING has a handful of proteins without annotation (9 of 19.7k in v12 human).
    na = rng.random(len(prot.ids)) < 0.0005
    na[rng.integers(len(prot.ids))] = True
    rows = ["#string_protein_id\tpreferred_name\tprotein_size\tannotation"]
    for k, (pid, g) in enumerate(zip(prot.ids, prot.gene, strict=True)):
        text = (
            "annotation not available"
            if na[k]
            else f"{full[g].capitalize()}; {annotation[g]}"[:600]
        )
        rows.append(f"{pid}\t{genes.symbol[g]}\t{size[k]}\t{_tsv_field(text)}")
    _write_gz_text(path, rows, level)
    return len(rows) - 1


def _write_summaries(rng, path: Path, genes: gs.Genes, full, summaries, cfg: GenerateConfig) -> int:
    n = len(genes.symbol)
    kind = np.array(["ncRNA", "pseudo", "other", "unknown", "snoRNA"], dtype=object)
    kind = kind[rng.choice(5, n, p=[0.6, 0.2, 0.1, 0.05, 0.05])]
    kind[: genes.coding] = "protein coding"
    synonyms = texts.synonyms(rng, n)
    organism = ORGANISMS.get(cfg.species, f"taxon {cfg.species}")
    # About 1% of STRING genes are missing from NCBI's list (renamed symbols): ingest falls
    # back to the STRING annotation for them.
    keep = np.ones(n, dtype=bool)
    keep[: genes.coding] = rng.random(genes.coding) >= 0.01
    rows = ["id\tsymbol\tfull_name\tsynonyms\tsummary\ttype\torganism"]
    for g in np.flatnonzero(keep)[np.argsort(genes.entrez[keep], kind="stable")]:
        rows.append(
            f"{genes.entrez[g]}\t{genes.symbol[g]}\t{full[g]}\t{synonyms[g]}\t"
            f"{_tsv_field(summaries[g])}\t{kind[g]}\t{organism}"
        )
    _write_gz_text(path, rows, cfg.compresslevel)
    return len(rows) - 1


def main(argv: list[str] | None = None) -> dict:
    """``python -m ingest.generate --out DIR [--preset full|demo|tiny] [--key value ...]``.

    Any :class:`GenerateConfig` field can follow as ``--key value`` (e.g. ``--links
    100000000 --seed 3``); preset values come first, so the user's overrides win.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    if asks_for_help(args):
        print(help_text(GenerateConfig, __doc__))
        print("  --out DIR  (required)\n      Output directory.")
        print(f"  --preset NAME  (default: 'demo')\n      One of {sorted(PRESETS)}.")
        return {}
    out = pop_option(args, "--out")
    if out is None:
        raise ConfigError("give --out DIR, the directory to write the files to")
    setup_logging()
    cfg = parse_command_line(GenerateConfig, args, presets=PRESETS, preset="demo")
    result = generate(Path(out), cfg)
    print(json.dumps(result["counts"], indent=2))
    return result


if __name__ == "__main__":
    main()
