"""genen_core: what every stage of the data flow shares, and nothing of the stages.

The graph store's format, reader and writer (:mod:`genen_core.store`), the label-file
format (:mod:`genen_core.labels`, with the known files in :mod:`genen_core.known_labels`),
typed configuration (:mod:`genen_core.config`), every entry point's command line and
``--help`` (:mod:`genen_core.command_line`) and logging setup (:mod:`genen_core.logs`),
reading gzip-or-plain inputs and writing outputs atomically (:mod:`genen_core.files`), and
provenance (:mod:`genen_core.provenance`). ``ingest`` writes stores with it,
``genen_scale`` reads them; it imports neither (``tests/test_imports.py`` keeps that true).
"""

__version__ = "0.1.0"
