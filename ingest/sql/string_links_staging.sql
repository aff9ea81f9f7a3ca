-- Staging: the STRING protein.links file as a table macro, string_links(file, codec)
-- with codec 'gzip' or 'none' (detected from the content). Renaming and typing only;
-- string_links_packed.sql and string_links_bad_lines.sql read through it.
--
-- Space-separated 'protein1 protein2 combined_score' (header checked in Python first).
-- The CSV sniffer stays on: auto_detect = false made DuckDB 2.0 twice as slow here and
-- buffer ~200 bytes per line (14M-line file). Delimiter, quoting and types are fixed.
-- combined_score is read as DOUBLE, not SMALLINT: an integer cast would silently round
-- '900.5', and STRING scores are integers, so the checks reject a fractional one.
CREATE OR REPLACE TEMP MACRO string_links(file, codec) AS TABLE
SELECT protein1, protein2, combined_score
FROM read_csv(
    file,
    compression := codec,
    delim := ' ',
    header := true,
    quote := '',
    escape := '',
    columns := {'protein1': 'VARCHAR', 'protein2': 'VARCHAR', 'combined_score': 'DOUBLE'}
);
