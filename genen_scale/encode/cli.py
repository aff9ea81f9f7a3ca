"""``genen-encode STORE [--config FILE] [--key value ...]``: encode a store's node texts.

Keys are the fields of :class:`~genen_scale.encode.stage.EncodeConfig` (``--model``,
``--pooling``, ``--max-length``, ``--use-ray false``, ``--force``, ...), read from the
optional TOML/YAML file first and then from the command line.
"""

from __future__ import annotations

import argparse
import logging
import sys

from genen_core.config import ConfigError, asks_for_help, help_text, load_config
from genen_core.store import StoreError
from genen_scale.encode.model import ModelNotFoundError
from genen_scale.encode.stage import EncodeConfig, encode_store

log = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if asks_for_help(argv):
        print(help_text(EncodeConfig, __doc__))
        return 0
    # --help is answered above from EncodeConfig; argparse only splits off STORE/--config.
    parser = argparse.ArgumentParser(prog="genen-encode", add_help=False)
    parser.add_argument("store", help="graph store directory (built by genen-ingest)")
    parser.add_argument("--config", help="TOML or YAML file with EncodeConfig keys")
    args, overrides = parser.parse_known_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        cfg = load_config(EncodeConfig, args.config, overrides)
        path = encode_store(args.store, cfg)
    except (ConfigError, ModelNotFoundError, StoreError, ValueError) as e:
        log.error("%s", e)
        return 2
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
