-- Staging: the annotation lines of one GAF 2.1/2.2 file ($path; $compression is 'gzip'
-- or 'none', detected from the content), with the columns named as in the GAF
-- specification. Only renaming and typing happen here.
--
-- GAF 2.x has 17 tab-separated columns; writers may leave off the optional trailing
-- ones, so short rows are padded with NULL and gaf_checks.sql rejects those missing a
-- required column. No quoting exists in GAF (product names contain '"'), hence
-- quote = '' and escape = ''. Empty fields read as NULL.
CREATE OR REPLACE TEMP TABLE gaf_lines AS
SELECT symbol, qualifier, go_id, evidence, aspect, assigned_by
FROM read_csv(
    $path,
    compression = $compression,
    delim = '\t',
    header = false,
    auto_detect = false,
    comment = '!',
    quote = '',
    escape = '',
    null_padding = true,
    columns = {
        'db': 'VARCHAR',
        'db_object_id': 'VARCHAR',
        'symbol': 'VARCHAR',
        'qualifier': 'VARCHAR',
        'go_id': 'VARCHAR',
        'reference': 'VARCHAR',
        'evidence': 'VARCHAR',
        'with_from': 'VARCHAR',
        'aspect': 'VARCHAR',
        'db_object_name': 'VARCHAR',
        'db_object_synonym': 'VARCHAR',
        'db_object_type': 'VARCHAR',
        'taxon': 'VARCHAR',
        'date': 'VARCHAR',
        'assigned_by': 'VARCHAR',
        'annotation_extension': 'VARCHAR',
        'gene_product_form_id': 'VARCHAR'
    }
);
