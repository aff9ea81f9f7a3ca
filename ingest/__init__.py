"""Raw STRING / GO / GOA / gene-text / label files -> a memory-mapped graph store.

Ingestion knows nothing of training: it only writes the store described in
:mod:`genen_core.store`.
"""
