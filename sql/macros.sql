-- Macros loaded into every npc_lake DuckDB connection.

-- Units that pass the default QC, with their session's subject.
CREATE OR REPLACE MACRO good_units() AS TABLE
    SELECT u.*, s.subject_id
    FROM units u JOIN sessions s USING (session_id)
    WHERE u.default_qc;

-- Hit rate of a trials subset: hits over go trials (NULL when there is no go trial).
CREATE OR REPLACE MACRO hit_rate(is_hit, is_go) AS
    sum(CASE WHEN is_hit THEN 1 ELSE 0 END)::DOUBLE / nullif(sum(CASE WHEN is_go THEN 1 ELSE 0 END), 0);

-- Peri-stimulus time histogram, the SQL twin of npc_lake.analysis.psth (same bins, same counts).
--   units_table   name of a table, view or CTE with session_id, unit_id: the units to count
--   events_table  name of a table, view or CTE with session_id, event_time (s); every other column of it
--                 splits the events into groups (like `by`), e.g. rewarded_modality
-- A spike at t counts for an event at e when window_start <= t - e < window_stop, in bin
-- floor((t - e - window_start) / bin_size). One row per unit, event group and bin (zeros included), with
-- spike_count summed over the group's events and n_events. Events with NULL in a group column are counted
-- in their own group by psth() but dropped here (SQL joins do not match NULLs).
-- Example:
--   WITH vis1 AS (SELECT session_id, stim_start_time AS event_time, rewarded_modality FROM trials
--                 WHERE stim_name = 'vis1'),
--        visp AS (SELECT session_id, unit_id FROM units WHERE structure = 'VISp' AND default_qc)
--   SELECT * FROM psth('visp', 'vis1', window_start := -0.2, window_stop := 0.5, bin_size := 0.01);
CREATE OR REPLACE MACRO psth(units_table, events_table, window_start := -0.5, window_stop := 1.0,
                             bin_size := 0.01) AS TABLE
WITH params AS (
    SELECT CAST(window_start AS DOUBLE) AS w0, CAST(window_stop AS DOUBLE) AS w1, CAST(bin_size AS DOUBLE) AS dt,
           CAST(ceil(round((CAST(window_stop AS DOUBLE) - CAST(window_start AS DOUBLE)) / CAST(bin_size AS DOUBLE), 9))
                AS BIGINT) AS n_bins
),
chosen AS (SELECT DISTINCT session_id, unit_id FROM query_table(units_table)),
events AS (
    SELECT *, row_number() OVER () AS _event
    FROM query_table(events_table) WHERE event_time IS NOT NULL AND NOT isnan(event_time)
),
hits AS (
    SELECT s.unit_id, e._event,
           CAST(floor((s.spike_time - e.event_time - p.w0) / p.dt) AS BIGINT) AS bin_index
    FROM spike_times s SEMI JOIN chosen USING (session_id, unit_id)
    JOIN events e ON s.session_id = e.session_id
        AND s.spike_time >= e.event_time + (window_start - 1e-6) AND s.spike_time < e.event_time + (window_stop + 1e-6)
    CROSS JOIN params p
    WHERE s.spike_time - e.event_time >= p.w0 AND s.spike_time - e.event_time < p.w1
),
counted AS (
    SELECT e.* EXCLUDE (event_time, _event), h.unit_id, h.bin_index, count(*) AS spike_count
    FROM hits h JOIN events e USING (_event) CROSS JOIN params p
    WHERE h.bin_index >= 0 AND h.bin_index < p.n_bins
    GROUP BY ALL
),
event_groups AS (SELECT * EXCLUDE (event_time, _event), count(*) AS n_events FROM events GROUP BY ALL),
grid AS (
    SELECT g.*, c.unit_id, b.range AS bin_index
    FROM event_groups g JOIN chosen c USING (session_id) CROSS JOIN params p CROSS JOIN range(p.n_bins) b
)
SELECT grid.session_id, grid.unit_id, grid.* EXCLUDE (session_id, unit_id, n_events, bin_index), grid.bin_index,
       p.w0 + grid.bin_index * p.dt AS bin_start, coalesce(counted.spike_count, 0) AS spike_count, grid.n_events
FROM grid NATURAL LEFT JOIN counted CROSS JOIN params p
ORDER BY ALL;
