-- Logic: the fate of every GAF line, after mapping its GO id to the primary id.
--
-- Inputs: gaf_lines (gaf_lines.sql) and the ontology as registered Arrow tables
-- gaf_go_live(id), gaf_go_alt(alt_id, primary_id), gaf_go_obsolete(id).
-- Parameters: $aspects, $evidence_keep (VARCHAR[] or NULL = all), $evidence_drop.
-- Fates are tested in this order, so each line is counted once:
-- aspect_dropped, evidence_dropped, not_qualified, obsolete_dropped, unknown_dropped,
-- alt_mapped (kept, via an alt id) and kept.
CREATE OR REPLACE TEMP TABLE gaf_fates AS
WITH mapped AS (
    SELECT
        l.symbol AS gene,
        coalesce(alt.primary_id, l.go_id) AS go_id,
        alt.primary_id IS NOT NULL AS via_alt,
        l.aspect,
        l.evidence,
        list_contains(string_split(upper(coalesce(l.qualifier, '')), '|'), 'NOT') AS negated
    FROM gaf_lines AS l
    LEFT JOIN gaf_go_alt AS alt ON l.go_id = alt.alt_id
)
SELECT
    m.gene,
    m.go_id,
    CASE
        WHEN $aspects::VARCHAR[] IS NOT NULL
            AND NOT list_contains($aspects::VARCHAR[], m.aspect) THEN 'aspect_dropped'
        WHEN ($evidence_keep::VARCHAR[] IS NOT NULL
                AND NOT list_contains($evidence_keep::VARCHAR[], m.evidence))
            OR list_contains($evidence_drop::VARCHAR[], m.evidence) THEN 'evidence_dropped'
        WHEN m.negated THEN 'not_qualified'
        WHEN o.id IS NOT NULL THEN 'obsolete_dropped'
        WHEN t.id IS NULL THEN 'unknown_dropped'
        WHEN m.via_alt THEN 'alt_mapped'
        ELSE 'kept'
    END AS fate
FROM mapped AS m
LEFT JOIN gaf_go_obsolete AS o ON m.go_id = o.id
LEFT JOIN gaf_go_live AS t ON m.go_id = t.id;
