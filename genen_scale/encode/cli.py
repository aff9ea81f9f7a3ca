"""``genen-encode STORE [--config FILE] [--key value ...]``: encode a store's node texts.

Keys are the fields of :class:`~genen_scale.encode.stage.EncodeConfig` (``--model``,
``--pooling``, ``--max-length``, ``--use-ray false``, ``--force``, ...), read from the
optional TOML/YAML file first and then from the command line.
"""

from __future__ import annotations

import argparse
import logging
import sys

from genen_scale.config import ConfigError, load_config
from genen_scale.encode.model import ModelNotFoundError
from genen_scale.encode.stage import EncodeConfig, encode_store
from genen_scale.store import StoreError

log = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="genen-encode",
        description="Encode every node text of a graph store into features/<name>.npy.",
        epilog="Other options are EncodeConfig fields, e.g. --model PATH --pooling cls "
        "--max-length 256 --use-ray false --force.",
    )
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
