"""``genen-encode STORE [--config FILE] [--key value ...]``: encode a store's node texts.

Keys are the fields of :class:`~genen_scale.encode.stage.EncodeConfig` (``--model``,
``--pooling``, ``--max-length``, ``--use-ray false``, ``--force``, ...), read from the
optional TOML/YAML file first and then from the command line.
"""

from __future__ import annotations

import logging
import sys

from genen_core.command_line import begin_entry_point, parse_command_line, pop_positional
from genen_core.config import ConfigError
from genen_core.store import StoreError
from genen_scale.encode.model import ModelNotFoundError
from genen_scale.encode.stage import EncodeConfig, encode_store

log = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    args = begin_entry_point(argv, EncodeConfig, __doc__)
    if args is None:
        return 0
    try:
        store = pop_positional(args, "STORE (a graph store directory built by genen-ingest)")
        cfg = parse_command_line(EncodeConfig, args)
        path = encode_store(store, cfg)
    except (ConfigError, ModelNotFoundError, StoreError, ValueError) as e:
        log.error("%s", e)
        return 2
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
