"""Overhead of ingest.download.download over a bare streamed GET, on a local HTTP server.

Both sides fetch the same generated file from a stdlib HTTP server on 127.0.0.1, in the
same run, alternating, after one warm-up each; the result is the ratio of median wall
times. ``download`` additionally writes a ``.part``, hashes the file, renames it and
writes the sidecar, so the ratio is the price of the cache and of the verification.

    python benchmarks/bench_download.py --mb 200 --repeats 3
"""

from __future__ import annotations

import argparse
import datetime
import functools
import json
import os
import platform
import shutil
import statistics
import tempfile
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

from ingest.download import download


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args) -> None:
        pass


def _bare_get(url: str, out: Path) -> None:
    with requests.get(url, stream=True, timeout=60) as r, open(out, "wb") as f:
        r.raise_for_status()
        for chunk in r.iter_content(1 << 20):
            f.write(chunk)


def _time(fn, setup=None) -> float:
    if setup is not None:
        setup()
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=200, help="file size in MiB")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per side")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "www"
        root.mkdir()
        # Random bytes: a gzip-like payload that no layer can compress on the way.
        (root / "file.bin").write_bytes(os.urandom(args.mb << 20))
        handler = functools.partial(_QuietHandler, directory=str(root))
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
        url = f"http://127.0.0.1:{httpd.server_address[1]}/file.bin"
        try:
            runs = {"bare_get": [], "download": []}
            cache = Path(tmp) / "cache"
            # A cold cache before each run of ours, so that every run really downloads.
            cold = functools.partial(shutil.rmtree, cache, ignore_errors=True)
            sides = {
                "bare_get": (lambda: _bare_get(url, Path(tmp) / "bare.bin"), None),
                "download": (lambda: download(url, cache, progress=False), cold),
            }
            for fn, setup in sides.values():
                _time(fn, setup)  # warm-up: page cache, connection setup, imports
            for _ in range(args.repeats):
                for name, (fn, setup) in sides.items():
                    runs[name].append(_time(fn, setup))
        finally:
            httpd.shutdown()
            httpd.server_close()

    med = {k: statistics.median(v) for k, v in runs.items()}
    result = {
        "benchmark": "download",
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "hardware": {
            "cpus": os.cpu_count(),
            "machine": platform.machine(),
            "load": os.getloadavg(),
        },
        "versions": {"python": platform.python_version(), "requests": requests.__version__},
        "config": vars(args),
        "seconds": runs,
        "median_s": med,
        "mib_per_s": {k: round(args.mb / v, 1) for k, v in med.items()},
        "ratio_download_over_bare": round(med["download"] / med["bare_get"], 3),
    }
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
