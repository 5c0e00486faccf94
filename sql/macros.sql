-- Macros loaded into every npc_lake DuckDB connection.

-- Units that pass the default QC, with their session's subject.
CREATE OR REPLACE MACRO good_units() AS TABLE
    SELECT u.*, s.subject_id
    FROM units u JOIN sessions s USING (session_id)
    WHERE u.default_qc;

-- Hit rate of a trials subset: hits over go trials (NULL when there is no go trial).
CREATE OR REPLACE MACRO hit_rate(is_hit, is_go) AS
    sum(CASE WHEN is_hit THEN 1 ELSE 0 END)::DOUBLE / nullif(sum(CASE WHEN is_go THEN 1 ELSE 0 END), 0);
