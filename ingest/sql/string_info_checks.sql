-- Data checks on string_info (the staged protein.info): one row per kind of problem with
-- its count and up to five offending protein ids. An empty result means the file passed.
WITH problems AS (
    SELECT
        CASE
            WHEN protein_id IS NULL THEN 'empty protein id (column 1)'
            WHEN symbol IS NULL THEN 'empty preferred_name (column 2)'
        END AS problem,
        coalesce(protein_id, '') AS protein_id
    FROM string_info
    UNION ALL
    SELECT 'duplicate protein id' AS problem, protein_id
    FROM string_info
    WHERE protein_id IS NOT NULL
    GROUP BY protein_id
    HAVING count(*) > 1
)
SELECT problem, count(*) AS n, list(protein_id ORDER BY protein_id)[1:5] AS protein_ids
FROM problems
WHERE problem IS NOT NULL
GROUP BY problem
ORDER BY problem;
