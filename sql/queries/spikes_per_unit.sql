-- Spikes per unit, summarised per session: how many units, how many spikes, median rate.
SELECT
    s.session_id,
    count(*) AS n_units,
    sum(c.n_spikes)::BIGINT AS n_spikes,
    round(median(c.n_spikes / (ep.stop - ep.start)), 2) AS median_rate_hz
FROM (SELECT session_id, unit_id, count(*) AS n_spikes FROM spike_times GROUP BY ALL) c
JOIN units s USING (session_id, unit_id)
JOIN (SELECT session_id, min(start_time) AS start, max(stop_time) AS stop FROM epochs GROUP BY ALL) ep
    USING (session_id)
GROUP BY s.session_id
ORDER BY s.session_id
