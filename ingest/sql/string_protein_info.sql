-- Staging: one STRING protein.info file ($path; $compression is 'gzip' or 'none',
-- detected from the content), renamed and typed, nothing else.
--
-- Tab-separated with a '#string_protein_id preferred_name protein_size annotation'
-- header (checked in Python before this runs). Annotations are free text with quotes,
-- so there is no quoting: quote = '' and escape = ''.
SELECT
    string_protein_id AS protein_id,
    preferred_name AS symbol,
    protein_size,
    annotation
FROM read_csv(
    $path,
    compression = $compression,
    delim = '\t',
    header = true,
    quote = '',
    escape = '',
    columns = {
        'string_protein_id': 'VARCHAR',
        'preferred_name': 'VARCHAR',
        'protein_size': 'INTEGER',
        'annotation': 'VARCHAR'
    }
);
