"""Gene summaries from MyGene.info, the paper's source of gene text.

Symbols are sent in batches to ``POST {base_url}/query`` with the form fields MyGene's own
``querymany`` uses (``q`` comma-joined, ``scopes=symbol``, ``fields=summary,symbol``,
``species``). The answer is a JSON list with one object per hit, each echoing its input
term in ``query``; a term without a hit comes back as ``{"query": q, "notfound": true}``
and a term with several hits comes back several times, best first.

Each batch's raw answer is cached on disk under a hash of the request, so a re-run with
the same symbols sends nothing. Batches are formed from the sorted, de-duplicated symbols,
so the order of the input list does not change them.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import requests
from tqdm.auto import tqdm

from genen_core.files import write_text_atomic
from ingest.download import http_request, with_retries
from ingest.errors import IngestError

log = logging.getLogger(__name__)

MAX_BATCH = 1000  # MyGene.info rejects POST queries with more terms.


def fetch_summaries(
    symbols: list[str],
    cache_dir: Path,
    base_url: str = "https://mygene.info/v3",
    species: str = "human",
    batch_size: int = 1000,
    *,
    retries: int = 3,
    retry_wait: float = 1.0,
    timeout: float = 60.0,
    progress: bool = True,
) -> dict[str, str]:
    """Look up the gene summary of each symbol.

    Args:
        symbols: gene symbols; duplicates and blanks are ignored.
        cache_dir: where each batch's answer is kept (one JSON file per request).
        base_url: MyGene.info API root (a local server in tests).
        species: MyGene species filter: a common name (``human``) or taxon id.
        batch_size: symbols per request, at most 1000.
        retries: retries per batch after the first attempt (connection errors, 5xx, 429).
        retry_wait: seconds before the first retry, doubled for each further one.
        timeout: seconds to wait for an answer.
        progress: show a tqdm bar over batches.

    Returns:
        symbol -> summary for every symbol whose first hit has a non-empty summary;
        symbols not found, or whose first hit has no summary, are absent.

    Raises:
        IngestError: an HTTP error status, exhausted retries, or an answer that is not
            MyGene's batch format; the message names the URL.
    """
    if not 1 <= batch_size <= MAX_BATCH:
        raise ValueError(f"batch_size={batch_size} must be between 1 and {MAX_BATCH}")
    unique = sorted({s.strip() for s in symbols if s and s.strip()})
    with_comma = [s for s in unique if "," in s]
    if with_comma:
        # MyGene splits q on commas: such a symbol would silently become two queries.
        raise IngestError(
            f"gene symbols cannot contain a comma for MyGene queries: {with_comma[:5]}"
        )
    url = base_url.rstrip("/") + "/query"
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    batches = [unique[i : i + batch_size] for i in range(0, len(unique), batch_size)]
    out: dict[str, str] = {}
    counts = {"notfound": 0, "duplicate_hits": 0, "no_summary": 0, "requests": 0}
    with requests.Session() as session:
        for batch in tqdm(batches, desc="MyGene summaries", unit="batch", disable=not progress):
            form = {
                "q": ",".join(batch),
                "scopes": "symbol",
                "fields": "summary,symbol",
                "species": species,
            }
            hits, sent = _cached_post(url, form, cache_dir, session, retries, retry_wait, timeout)
            counts["requests"] += sent
            _collect(hits, out, counts)
    log.info(
        "MyGene: %d of %d symbols with a summary (%d not found, %d first hits without summary, "
        "%d extra hits ignored, %d requests sent)",
        len(out),
        len(unique),
        counts["notfound"],
        counts["no_summary"],
        counts["duplicate_hits"],
        counts["requests"],
    )
    return out


def _cached_post(
    url: str,
    form: dict[str, str],
    cache_dir: Path,
    session: requests.Session,
    retries: int,
    retry_wait: float,
    timeout: float,
) -> tuple[list[dict], int]:
    """The batch answer from the cache, else from the server (then cached); and requests sent."""
    key = hashlib.sha256(json.dumps({"url": url, **form}, sort_keys=True).encode()).hexdigest()
    path = cache_dir / f"{key}.json"
    if path.is_file():
        return json.loads(path.read_text()), 0

    def post() -> list[dict]:
        r = http_request(
            "POST",
            url,
            session=session,
            data=form,
            timeout=timeout,
            hint="Check mygene_url and the species name.",
        )
        try:
            hits = r.json()
        except ValueError:
            raise IngestError(f"POST {url}: the answer is not JSON: {r.text[:200]!r}") from None
        if not isinstance(hits, list) or not all(
            isinstance(h, dict) and "query" in h for h in hits
        ):
            raise IngestError(
                f"POST {url}: expected a JSON list of hits with a 'query' field, got "
                f"{json.dumps(hits)[:200]}; is this a MyGene.info v3 endpoint?"
            )
        return hits

    hits = with_retries(post, what=f"POST {url}", retries=retries, wait=retry_wait)
    # Write then rename: a killed run must not leave a half-written answer that a re-run
    # would trust.
    write_text_atomic(path, json.dumps(hits))
    return hits, 1


def _collect(hits: list[dict], out: dict[str, str], counts: dict[str, int]) -> None:
    """Take the first hit per query; MyGene lists a query's hits best first."""
    seen: set[str] = set()
    for hit in hits:
        query = hit["query"]
        if hit.get("notfound"):
            counts["notfound"] += 1
            continue
        if query in seen:
            counts["duplicate_hits"] += 1
            continue
        seen.add(query)
        summary = hit.get("summary")
        if isinstance(summary, str) and summary.strip():
            out[query] = summary.strip()
        else:
            counts["no_summary"] += 1
