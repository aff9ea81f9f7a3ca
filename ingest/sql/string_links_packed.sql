-- Every line of one STRING protein.links file ($path, $compression) as one BIGINT, the
-- edge packed as
--
--     (row << $row_shift) | (col << 10) | combined_score
--
-- where row/col are global node indices from string_nodes (protein id -> node; node -1
-- for a protein whose gene is outside the requested gene set). Packing lets NumPy sort,
-- deduplicate and symmetrise the edges as plain int64 arrays (see string_db.py).
-- A line that is dropped gets a negative code instead:
--   -1  bad line: unknown protein id, missing field, score outside 0..1000 or fractional
--       (string_links_bad_lines.sql names them; the build then fails)
--   -3  combined_score < $min_score
--   -2  a protein's gene is outside the requested gene set (score >= $min_score)
--   -4  self-loop: both proteins belong to one gene
WITH mapped AS (
    SELECT a.node AS a, b.node AS b, source.combined_score AS score
    FROM string_links($path, $compression) AS source
    LEFT JOIN string_nodes AS a ON source.protein1 = a.protein_id
    LEFT JOIN string_nodes AS b ON source.protein2 = b.protein_id
),
coded AS (
    SELECT
        a,
        b,
        score,
        CASE
            WHEN a IS NULL OR b IS NULL OR score IS NULL OR score NOT BETWEEN 0 AND 1000
                OR score <> floor(score) THEN -1
            WHEN score < $min_score THEN -3
            WHEN a < 0 OR b < 0 THEN -2
            WHEN a = b THEN -4
            ELSE 0
        END AS code
    FROM mapped
)
SELECT CASE WHEN code < 0 THEN code
    ELSE (a::BIGINT << $row_shift) | (b::BIGINT << 10) | score::BIGINT END AS packed
FROM coded;
