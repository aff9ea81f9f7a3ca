"""genen_scale: Genen (text + graph gene representations) trained at scale on Ray.

The stages after ingestion: encode, sampling, models, training, sweep, report. Stores and
configuration come from :mod:`genen_core`; the version is ``genen_core.__version__``.
"""
