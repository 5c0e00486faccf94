-- One row per session: who, when, and how much of each kind of data the lake holds.
SELECT
    s.session_id,
    s.subject_id,
    s.session_start_time,
    coalesce(t.n_trials, 0) AS n_trials,
    coalesce(u.n_units, 0) AS n_units,
    coalesce(u.n_good_units, 0) AS n_good_units,
    coalesce(u.n_spikes, 0) AS n_spikes,
    s.source_uri
FROM sessions s
LEFT JOIN (SELECT session_id, count(*) AS n_trials FROM trials GROUP BY ALL) t USING (session_id)
LEFT JOIN (
    SELECT session_id, count(*) AS n_units, count(*) FILTER (WHERE default_qc) AS n_good_units,
           sum(num_spikes)::BIGINT AS n_spikes
    FROM units GROUP BY ALL
) u USING (session_id)
ORDER BY s.session_id
