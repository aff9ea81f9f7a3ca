-- Staging: one STRING protein.aliases file ($path, $compression), renamed, restricted to
-- the alias sources the identifier map reads ($sources) and joined to the gene symbol of
-- each protein (string_info, registered from protein.info).
--
-- Tab-separated with a '#string_protein_id alias source' header (checked in Python
-- before this runs); one row per (protein, alias, source). Aliases are free text (UniProt
-- descriptions hold quotes), so there is no quoting.
WITH source AS (
    SELECT string_protein_id AS protein_id, alias, source
    FROM read_csv(
        $path,
        compression = $compression,
        delim = '\t',
        header = true,
        quote = '',
        escape = '',
        columns = {'string_protein_id': 'VARCHAR', 'alias': 'VARCHAR', 'source': 'VARCHAR'}
    )
)
SELECT source.alias, source.source, info.symbol
FROM source
JOIN string_info AS info ON source.protein_id = info.protein_id
WHERE list_contains($sources, source.source) AND source.alias IS NOT NULL;
