"""Analysis products: tables computed from a session's own rows when it is ingested.

They are per-session tables like the others (replaced with the session, pinned by the same snapshots,
exported into the session's NWB file), computed by :mod:`npc_lake.analysis.products` with the windows
stated in the column descriptions. ``npc_lake.analysis`` recomputes any of them with other windows.
"""

from __future__ import annotations

from npc_lake.schema.model import Column, Table
from npc_lake.schema.trials import SESSION_ID, time_column

#: Windows of the stored response metrics, seconds relative to stimulus onset (start inclusive).
BASELINE_WINDOW = (-0.1, 0.0)
RESPONSE_WINDOW = (0.0, 0.1)
#: A unit responds to a stimulus when its signed-rank p-value is below this and its rate goes up.
RESPONSE_ALPHA = 0.001
#: Bin width of the per-probe spike histograms, and the time and depth bins of the drift maps.
HISTOGRAM_BIN_S = 1.0
DRIFT_TIME_BIN_S = 10.0
DRIFT_DEPTH_BIN_UM = 40.0

UNIT_ID = Column("unit_id", "str", "Unit (units.unit_id).", required=True)
BASELINE_RATE = Column("baseline_rate", "float64",
                       "Mean firing rate from 100 ms before stimulus onset up to the onset.", unit="Hz")
RESPONSE_RATE = Column("response_rate", "float64", "Mean firing rate in the first 100 ms after stimulus onset.",
                       unit="Hz")
N_TRIALS = Column("n_trials", "int64", "Presentations the rates are averaged over.")

UNIT_RESPONSES = Table(
    name="unit_responses",
    description="One row per unit and task stimulus (vis1, vis2, sound1, sound2): how the unit's firing changes "
                "after the stimulus, over every presentation of it in the task trials.",
    primary_key=("session_id", "unit_id", "stim_name"),
    sort_by=("session_id", "unit_id", "stim_name"),
    columns=(
        SESSION_ID,
        UNIT_ID,
        Column("stim_name", "str", "Task stimulus: vis1, vis2, sound1 or sound2 (trials.stim_name).", required=True),
        N_TRIALS,
        BASELINE_RATE,
        RESPONSE_RATE,
        Column("response_index", "float64",
               "(response_rate - baseline_rate) / (response_rate + baseline_rate); NaN when both are 0."),
        Column("p_value", "float64",
               "Two-sided Wilcoxon signed-rank test of the per-trial spike counts in the response window against "
               "the baseline window (zero differences dropped, normal approximation with tie correction); 1 when "
               "every difference is 0."),
        Column("is_responsive", "bool",
               f"The rate goes up after the stimulus and p_value < {RESPONSE_ALPHA}."),
        Column("latency", "float64",
               "Onset of the response: the first 1 ms bin after stimulus onset where the trial-averaged rate "
               "(5 ms boxcar) reaches halfway from the baseline rate to its peak in the response window, at the "
               "bin centre; NaN unless is_responsive.", unit="s"),
    ),
)

RF_MAPS = Table(
    name="rf_maps",
    description="One row per unit and receptive-field mapping condition: the unit's mean firing before and after "
                "the RF-mapping stimuli of that condition (visual: small gratings by position; auditory: pure tones "
                "and AM noise by frequency).",
    primary_key=("session_id", "unit_id", "map_name", "condition_index"),
    sort_by=("session_id", "unit_id", "map_name", "condition_index"),
    columns=(
        SESSION_ID,
        UNIT_ID,
        Column("map_name", "str",
               "Which map: grating_position (gratings of every orientation, by grating_x/grating_y), tone "
               "(pure tones by freq) or am_noise (amplitude-modulated noise by modulation freq).", required=True),
        Column("condition_index", "int32", "0-based index of the condition within the map, in sorted order.",
               required=True),
        Column("grating_x", "float64", "Grating centre, horizontal, from screen centre (grating_position map).",
               unit="pixels"),
        Column("grating_y", "float64", "Grating centre, vertical, from screen centre (grating_position map).",
               unit="pixels"),
        Column("freq", "float64", "Tone frequency (tone map) or modulation frequency (am_noise map).", unit="Hz"),
        N_TRIALS,
        BASELINE_RATE,
        RESPONSE_RATE,
    ),
)

SPIKE_HISTOGRAMS = Table(
    name="spike_histograms",
    description=f"One row per probe and {HISTOGRAM_BIN_S:g} s bin: the spikes of all the probe's units, and of "
                "those passing the default QC, over the whole session (the DR all-spike histograms).",
    primary_key=("session_id", "electrode_group_name", "bin_start_time"),
    sort_by=("session_id", "electrode_group_name", "bin_start_time"),
    columns=(
        SESSION_ID,
        Column("electrode_group_name", "str", "Probe (electrode_groups.electrode_group_name).", required=True),
        time_column("bin_start_time", "Start of the bin.", required=True),
        Column("bin_size", "float64", "Width of the bin.", unit="s"),
        Column("spike_count", "int64", "Spikes of every unit on the probe in the bin."),
        Column("qc_spike_count", "int64", "Spikes of the probe's units with default_qc in the bin."),
    ),
)

DRIFT_MAPS = Table(
    name="drift_maps",
    description=f"One row per probe, {DRIFT_TIME_BIN_S:g} s time bin and {DRIFT_DEPTH_BIN_UM:g} µm depth bin "
                "holding spikes: spike count and mean amplitude, the data of a drift map. Depth is that of each "
                "spike's unit (its peak channel), since the lake keeps no per-spike position: probe motion shows as "
                "changes of rate and amplitude along a depth row.",
    primary_key=("session_id", "electrode_group_name", "bin_start_time", "depth"),
    sort_by=("session_id", "electrode_group_name", "bin_start_time", "depth"),
    columns=(
        SESSION_ID,
        Column("electrode_group_name", "str", "Probe (electrode_groups.electrode_group_name).", required=True),
        time_column("bin_start_time", "Start of the time bin.", required=True),
        Column("depth", "float64", "Lower edge of the depth bin: distance of the unit's peak channel from the "
               "probe tip (electrodes.rel_y).", unit="µm", required=True),
        Column("spike_count", "int64", "Spikes in the bin."),
        Column("mean_amplitude", "float64", "Mean amplitude of the bin's spikes that have one; NaN if none do.",
               unit="µV"),
    ),
)

#: The analysis tables, in the order a session writes them.
ANALYSIS_TABLES = (UNIT_RESPONSES, RF_MAPS, SPIKE_HISTOGRAMS, DRIFT_MAPS)
