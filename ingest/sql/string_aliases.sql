-- The protein.aliases rows of the sources the identifier map reads ($sources), each joined
-- to the gene symbol of its protein (string_info, registered from protein.info).
SELECT a.alias, a.source, info.symbol
FROM string_aliases($path, $compression) AS a
JOIN string_info AS info ON a.protein_id = info.protein_id
WHERE list_contains($sources, a.source) AND a.alias IS NOT NULL;
