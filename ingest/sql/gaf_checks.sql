-- Data checks on gaf_lines: one row per kind of problem, with its count and up to five
-- offending values. An empty result means the file passed.
--
-- Column 15 (assigned_by) is the last required GAF column, so NULL there means the line
-- had fewer than 15 columns (or an empty required field).
WITH problems AS (
    SELECT
        CASE
            WHEN assigned_by IS NULL THEN 'fewer than 15 columns'
            WHEN symbol IS NULL THEN 'empty DB object symbol (column 3)'
            WHEN go_id IS NULL OR NOT regexp_full_match(go_id, 'GO:[0-9]{7}')
                THEN 'not a GO id in column 5'
        END AS problem,
        coalesce(go_id, '') AS go_id,
        coalesce(symbol, '') AS symbol
    FROM gaf_lines
)
SELECT problem, count(*) AS n, list(go_id)[1:5] AS go_ids, list(symbol)[1:5] AS symbols
FROM problems
WHERE problem IS NOT NULL
GROUP BY problem
ORDER BY problem;
