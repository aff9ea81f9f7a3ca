"""Parts of the synthetic data generator (entry point: :mod:`ingest.generate`).

``genes`` draws the latent truth (modules, classes, conservation, study level); ``links``
streams the STRING graph from it; ``texts``, ``ontology`` and ``labels`` write the gene
texts, GO + GOA, and label files, each a noisy view of the same truth.
"""
