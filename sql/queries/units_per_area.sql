-- Units passing the default QC, per CCF structure, across all sessions.
SELECT structure, count(*) AS n_units, count(DISTINCT session_id) AS n_sessions
FROM units
WHERE default_qc
GROUP BY structure
ORDER BY n_units DESC, structure
