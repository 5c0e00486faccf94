-- A cross-session PSTH with the shipped psth macro: QC-passing VISp units around vis1 onsets, by rewarded
-- modality, in 50 ms bins; rate = mean over units of spikes per event per second.
WITH visp AS (SELECT session_id, unit_id FROM units WHERE structure = 'VISp' AND default_qc),
     vis1 AS (SELECT session_id, stim_start_time AS event_time, rewarded_modality FROM trials
              WHERE stim_name = 'vis1')
SELECT
    rewarded_modality,
    round(bin_start, 3) AS bin_start,
    count(*) AS n_units,
    round(avg(spike_count / n_events) / 0.05, 2) AS rate
FROM psth('visp', 'vis1', window_start := -0.1, window_stop := 0.2, bin_size := 0.05)
GROUP BY ALL
ORDER BY ALL
