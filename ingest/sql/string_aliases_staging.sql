-- Staging: the STRING protein.aliases file as a table macro, string_aliases(file, codec)
-- with codec 'gzip' or 'none' (detected from the content). Renaming and typing only;
-- idmap.py lists its sources through it and string_aliases.sql reads the rows it keeps.
--
-- Tab-separated '#string_protein_id alias source' (header checked in Python first), one
-- row per (protein, alias, source). Aliases are free text (UniProt descriptions hold
-- quotes), so there is no quoting.
CREATE OR REPLACE TEMP MACRO string_aliases(file, codec) AS TABLE
SELECT string_protein_id AS protein_id, alias, source
FROM read_csv(
    file,
    compression := codec,
    delim := '\t',
    header := true,
    quote := '',
    escape := '',
    columns := {'string_protein_id': 'VARCHAR', 'alias': 'VARCHAR', 'source': 'VARCHAR'}
);
