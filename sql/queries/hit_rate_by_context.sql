-- Hit rate and false-alarm rate per session and rewarded modality (context).
SELECT
    session_id,
    rewarded_modality,
    count(*) AS n_trials,
    round(hit_rate(is_hit, is_go), 3) AS hit_rate,
    round(sum(is_false_alarm::INT)::DOUBLE / nullif(sum(is_nogo::INT), 0), 3) AS false_alarm_rate
FROM trials
GROUP BY session_id, rewarded_modality
ORDER BY session_id, rewarded_modality
