-- Error path only: the first lines of a links file ($path, $compression) that fail a
-- check, with their 1-based line number in the file (the header is line 1). Run on a
-- single-threaded connection so that row_number() follows the file order.
WITH source AS (
    SELECT row_number() OVER () + 1 AS line, protein1, protein2, combined_score
    FROM string_links($path, $compression)
),
problems AS (
    SELECT
        line,
        CASE
            WHEN protein1 IS NULL OR protein2 IS NULL OR combined_score IS NULL
                THEN 'empty field'
            WHEN combined_score NOT BETWEEN 0 AND 1000
                THEN 'combined_score ' || combined_score || ' is outside 0..1000'
            WHEN combined_score <> floor(combined_score)
                THEN 'combined_score ' || combined_score || ' is not an integer'
            WHEN protein1 NOT IN (SELECT protein_id FROM string_nodes)
                THEN 'protein id ' || protein1 || ' is not in protein.info'
            WHEN protein2 NOT IN (SELECT protein_id FROM string_nodes)
                THEN 'protein id ' || protein2 || ' is not in protein.info'
        END AS problem
    FROM source
)
SELECT line, problem
FROM problems
WHERE problem IS NOT NULL
ORDER BY line
LIMIT $limit;
