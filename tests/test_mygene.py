"""MyGene.info client against the local imitation of its batch query endpoint."""

import pytest

from ingest.errors import IngestError
from ingest.mygene import fetch_summaries
from tests.httpserver import http_server_fixture  # noqa: F401  (registers http_server)

GENES = {
    "TP53": [{"_id": "7157", "symbol": "TP53", "summary": "Tumor suppressor.", "name": "p53"}],
    "BRCA1": [{"_id": "672", "symbol": "BRCA1", "summary": "DNA repair."}],
    # Two hits: the first one (best score) wins, even though the second has a summary too.
    "CDK2": [
        {"_id": "1017", "symbol": "CDK2", "summary": "Cyclin-dependent kinase 2."},
        {"_id": "999", "symbol": "CDK2P1", "summary": "A pseudogene."},
    ],
    "NOSUM": [{"_id": "1", "symbol": "NOSUM"}, {"_id": "2", "symbol": "NOSUM2", "summary": "x"}],
    "EGFR": [{"_id": "1956", "symbol": "EGFR", "summary": "  Receptor.  "}],
}
SYMBOLS = ["TP53", "BRCA1", "CDK2", "NOSUM", "EGFR", "NOTAGENE", "TP53", " "]
EXPECTED = {
    "TP53": "Tumor suppressor.",
    "BRCA1": "DNA repair.",
    "CDK2": "Cyclin-dependent kinase 2.",
    "EGFR": "Receptor.",
}


@pytest.fixture
def mygene(http_server):
    http_server.mygene = GENES
    return http_server


def posts(server):
    return [r for r in server.requests if r.method == "POST"]


def test_batched_queries_and_hits(mygene, tmp_path):
    got = fetch_summaries(SYMBOLS, tmp_path / "cache", f"{mygene.url}/v3", batch_size=2)
    assert got == EXPECTED
    sent = posts(mygene)
    unique = sorted({s for s in SYMBOLS if s.strip()})
    assert [r.form["q"] for r in sent] == [",".join(unique[i : i + 2]) for i in range(0, 6, 2)]
    for r in sent:
        assert r.path == "/v3/query"
        assert (r.form["scopes"], r.form["fields"], r.form["species"]) == (
            "symbol",
            "summary,symbol",
            "human",
        )


def test_rerun_hits_cache_and_sends_nothing(mygene, tmp_path):
    first = fetch_summaries(SYMBOLS, tmp_path / "cache", f"{mygene.url}/v3", batch_size=3)
    sent = len(mygene.requests)
    assert sent == 2
    again = fetch_summaries(
        list(reversed(SYMBOLS)), tmp_path / "cache", f"{mygene.url}/v3", batch_size=3
    )
    assert again == first and len(mygene.requests) == sent
    # Another species is another request, not a cache hit.
    fetch_summaries(["TP53"], tmp_path / "cache", f"{mygene.url}/v3", species="mouse")
    assert posts(mygene)[-1].form["species"] == "mouse" and len(mygene.requests) == sent + 1


def test_server_error_is_retried_then_cached(mygene, tmp_path):
    mygene.fail_next = [503]
    got = fetch_summaries(["TP53"], tmp_path / "cache", f"{mygene.url}/v3", retry_wait=0)
    assert got == {"TP53": EXPECTED["TP53"]} and len(posts(mygene)) == 2
    # The failed attempt cached nothing; the successful answer is reused.
    assert len(list((tmp_path / "cache").glob("*.json"))) == 1


def test_http_error_names_url(mygene, tmp_path):
    url = f"{mygene.url}/v2"
    with pytest.raises(IngestError, match=rf"{url}/query failed with HTTP 404"):
        fetch_summaries(["TP53"], tmp_path / "cache", url, retries=2)
    assert len(posts(mygene)) == 1
    assert list((tmp_path / "cache").glob("*.json")) == []


@pytest.mark.parametrize("answer", [{"success": False, "error": "bad"}, [{"_id": "1"}]])
def test_non_mygene_answer_is_rejected(http_server, tmp_path, answer):
    http_server.mygene_raw = answer
    url = f"{http_server.url}/v3"
    with pytest.raises(IngestError, match=rf"{url}/query: expected a JSON list of hits"):
        fetch_summaries(["TP53"], tmp_path / "cache", url)
    assert list((tmp_path / "cache").glob("*.json")) == []


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="batch_size=1001"):
        fetch_summaries(["TP53"], tmp_path, "http://127.0.0.1:9", batch_size=1001)
    with pytest.raises(IngestError, match="comma"):
        fetch_summaries(["A,B"], tmp_path, "http://127.0.0.1:9")
