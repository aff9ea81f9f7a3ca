"""OBO stanza reader with obonet's semantics, at line speed.

:func:`read_sections` returns what ``obonet.read.get_sections`` returns for the header and
the ``[Term]`` stanzas, restricted to the tags the caller asks for, with the same values:

* stanzas are runs of non-blank lines (``line.strip() == ""`` separates them); a run whose
  first line starts with ``[Term]``, ``[Typedef]`` or ``[Instance]`` is that stanza, any
  other run is the header (the last such run wins, as in obonet);
* lines starting with ``!`` are skipped; every other line must be ``tag: value`` (a ``:``
  after at least one character), in every stanza, or the file is not an OBO file;
* the tag is everything before the first such ``:``; a singular tag keeps its last value,
  any other tag collects its values in file order;
* the value is what obonet's tag-line regex (:data:`TAG_LINE`) captures: leading
  whitespace, a trailing ``{modifier}`` and a `` ! comment`` are not part of it.

obonet runs that backtracking regex on every line (about 7 us a line, most of the time
ingest spent on go-basic). The same value follows from two string scans unless the text
after the tag holds a ``{``: with no ``{`` the regex can only end the value at the first
whitespace + ``!`` or at the trailing whitespace, whichever comes first, and the first
``\\s!`` always comes first. Lines with a ``{`` (rare: trailing modifiers) use the regex.
``tests/test_go.py`` checks this against obonet on the real go-basic and on random lines.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from ingest.errors import IngestError

# obonet 1.1's tag_line_pattern, verbatim: the reference for every value read here.
TAG_LINE = re.compile(
    r"""^
    (?P<tag>.+?):\s*             # tag and separator
    (?P<value>.*?)               # value: match anything (non-greedy)
    (?:\s                        # optional trailing modifier
        (?P<trailing_modifier>
            (?<!\\)\{[^{}]*\}    # match unescaped {...}
        )
    )?
    (?:\s
        (?P<comment>            # optional comment
            (?<!\\)![^\n]*      # match unescaped ! followed by any characters
        )
    )?
    \s*$                        # optional trailing whitespace
    """,
    re.VERBOSE,
)
_COMMENT_START = re.compile(r"\s!")
_SKIPPED_STANZAS = ("[Typedef]", "[Instance]")


def tag_value(line: str, colon: int) -> str:
    """The value of a tag line whose tag ends at ``colon``, as :data:`TAG_LINE` captures it."""
    rest = line[colon + 1 :].lstrip()
    if "{" in rest:
        return TAG_LINE.match(line).group("value")
    if "!" in rest:
        comment = _COMMENT_START.search(rest)
        if comment is not None:
            return rest[: comment.start()]
    return rest.rstrip()


def read_sections(
    lines: Iterable[str],
    term_tags: Mapping[str, bool],
    header_tags: Mapping[str, bool],
    source: str,
) -> tuple[dict, list[dict]]:
    """The header and the ``[Term]`` stanzas of an OBO file, keeping only the tags asked for.

    Args:
        lines: The file's lines (with or without their ``\\n``), in universal-newline mode.
        term_tags: ``[Term]`` tag -> singular (keep the last value) or not (collect a list).
        header_tags: The same for the header.
        source: The file, for error messages.

    Returns:
        ``(header, terms)``: one dict for the header (empty when there is none) and one per
        ``[Term]`` stanza, obsolete ones included, in file order.

    Raises:
        IngestError: A line that is not ``tag: value``, naming the file and line number.
    """
    header: dict = {}
    terms: list[dict] = []
    stanza: dict | None = None
    wanted: Mapping[str, bool] = term_tags
    in_stanza = False
    for number, line in enumerate(lines, 1):
        if not line or line.isspace():
            in_stanza = False
            continue
        if not in_stanza:
            in_stanza = True
            if line.startswith("[Term]"):
                stanza, wanted = {}, term_tags
                terms.append(stanza)
                continue
            if line.startswith(_SKIPPED_STANZAS):
                stanza = None  # its lines are still checked below
                continue
            # Any other run is a header, this first line included; the last one wins.
            header = stanza = {}
            wanted = header_tags
        if line[0] == "!":
            continue
        colon = line.find(":", 1)
        if colon < 0:
            raise IngestError(
                f"{source}: line {number} is not 'tag: value' ({line.rstrip()[:80]!r}); "
                "not an OBO file, pass a .obo or .obo.gz file"
            )
        if stanza is None:
            continue
        tag = line[:colon]
        singular = wanted.get(tag)
        if singular is None:
            continue
        if singular:
            stanza[tag] = tag_value(line, colon)
        else:
            stanza.setdefault(tag, []).append(tag_value(line, colon))
    return header, terms
