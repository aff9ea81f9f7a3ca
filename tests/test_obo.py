"""ingest.obo gives exactly obonet's stanzas: on the real go-basic and on random OBO text."""

from __future__ import annotations

import gzip
import random

import pytest
from obonet.read import get_sections, parse_tag_line

from ingest.errors import IngestError
from ingest.go import HEADER_TAGS, TERM_TAGS
from ingest.obo import read_sections, tag_value


def obonet_sections(lines: list[str]) -> tuple[dict, list[dict]]:
    """obonet's header and [Term] stanzas, cut down to the tags ingest.go reads."""
    _typedefs, terms, _instances, header = get_sections(iter(lines))
    keep = [{k: v for k, v in t.items() if k in TERM_TAGS} for t in terms]
    return {k: v for k, v in header.items() if k in HEADER_TAGS}, keep


def test_real_go_basic_matches_obonet(shared_data):
    with gzip.open(shared_data / "go" / "go-basic.2022-07-01.obo.gz", "rt") as f:
        lines = list(f)
    header, terms = read_sections(lines, TERM_TAGS, HEADER_TAGS, "go-basic")
    expected_header, expected_terms = obonet_sections(lines)
    assert header == expected_header and header["data-version"] == "releases/2022-07-01"
    assert len(terms) == 43_558 + 3_910
    assert terms == expected_terms


# Pieces that exercise every branch of obonet's tag-line regex: comments with and without
# whitespace before the "!", escaped "!" and "{", trailing {modifiers} (closed, unclosed,
# nested), quotes, colons inside values, and whitespace that str.strip() and \s both know.
PIECES = [
    "GO:0000001",
    "part_of GO:0000002",
    '"a def" [GOC:x]',
    " ",
    "  ",
    "\t",
    "\x0c",
    "\u00a0",
    "\x1c",
    "\u2028",
    "!",
    " ! comment",
    "\t!c",
    "\\!",
    "{x=1}",
    ' {a="b"}',
    " {",
    "}",
    "\\{a}",
    "\\",
    '"',
    "a:b",
    "true",
]
TAGS = [*TERM_TAGS, *HEADER_TAGS, "synonym", "id ", " id", "is_a\t", "xref"]


def random_line(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.06:
        return rng.choice(["", " ", "\t \x0c"])  # blank: ends a stanza
    if kind < 0.12:
        return rng.choice(["[Term]", "[Typedef]", "[Instance]", "[Other]", "[Term] x"])
    if kind < 0.15:
        return rng.choice(["! a comment", "!x: y", " ! not a comment"])
    if kind < 0.17:
        return rng.choice(["no colon here", ":leading colon", "x"])  # obonet rejects some
    value = "".join(rng.choice(PIECES) for _ in range(rng.randrange(7)))
    return f"{rng.choice(TAGS)}:{rng.choice(['', ' ', '  ', chr(9)])}{value}"


def test_random_obo_text_matches_obonet():
    rng = random.Random(0)
    compared = rejected = 0
    for _ in range(400):
        lines = [random_line(rng) + "\n" for _ in range(rng.randrange(1, 40))]
        try:
            expected = obonet_sections(lines)
        except ValueError:
            with pytest.raises(IngestError, match=r"line \d+ is not 'tag: value'"):
                read_sections(lines, TERM_TAGS, HEADER_TAGS, "random.obo")
            rejected += 1
            continue
        assert read_sections(lines, TERM_TAGS, HEADER_TAGS, "random.obo") == expected, lines
        compared += 1
    assert compared > 100 and rejected > 20  # both outcomes really occur


def test_random_tag_values_match_obonet():
    rng = random.Random(1)
    for _ in range(5000):
        value = "".join(rng.choice(PIECES) for _ in range(rng.randrange(9)))
        line = f"{rng.choice(TAGS)}:{rng.choice(['', ' ', chr(9)])}{value}"
        for text in (line, line + "\n"):
            colon = text.find(":", 1)
            assert text[:colon] == parse_tag_line(text).tag
            assert tag_value(text, colon) == parse_tag_line(text).value, repr(text)
