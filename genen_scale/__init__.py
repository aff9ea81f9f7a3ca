"""genen_scale: Genen (text + graph gene representations) trained at scale on Ray."""

__version__ = "0.1.0"
