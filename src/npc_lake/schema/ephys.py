"""Extracellular electrophysiology tables: probes, electrodes, units, spikes and raw recordings."""

from __future__ import annotations

from npc_lake.schema.model import Column, Table
from npc_lake.schema.trials import SESSION_ID, time_column

DEVICES = Table(
    name="devices",
    description="One row per recording device (a Neuropixels probe, a laser, …) used in a session.",
    primary_key=("session_id", "device_name"),
    sort_by=("session_id", "device_name"),
    columns=(
        SESSION_ID,
        Column("device_name", "str", "Device name as in the NWB file, e.g. 'probeA'.", required=True),
        Column("description", "str", "Free-text description of the device."),
        Column("manufacturer", "str", "Maker of the device, e.g. 'imec'."),
        Column("serial_number", "str", "Serial number of the device."),
        Column("model_name", "str", "Model of the device, e.g. 'Neuropixels 1.0'."),
        Column("model_number", "str", "Manufacturer's model number."),
    ),
)

ELECTRODE_GROUPS = Table(
    name="electrode_groups",
    description="One row per electrode group (for Neuropixels: one probe insertion).",
    primary_key=("session_id", "electrode_group_name"),
    sort_by=("session_id", "electrode_group_name"),
    columns=(
        SESSION_ID,
        Column("electrode_group_name", "str", "Group name as in the NWB file, e.g. 'probeA'.", required=True),
        Column("description", "str", "Free-text description of the group."),
        Column("location", "str", "Brain area(s) targeted by or recorded with the group."),
        Column("device_name", "str", "Name of the device the group belongs to (devices.device_name)."),
        Column("position_x", "float64", "Stereotaxic or CCF x of the group's reference point.", unit="µm"),
        Column("position_y", "float64", "Stereotaxic or CCF y of the group's reference point.", unit="µm"),
        Column("position_z", "float64", "Stereotaxic or CCF z of the group's reference point.", unit="µm"),
    ),
)

ELECTRODES = Table(
    name="electrodes",
    description="One row per recording channel of a session.",
    primary_key=("session_id", "electrode_id"),
    sort_by=("session_id", "electrode_id"),
    columns=(
        SESSION_ID,
        Column("electrode_id", "int64", "Row id of the electrode in the session's NWB electrodes table.",
               required=True),
        Column("electrode_group_name", "str", "Electrode group (probe) of the channel."),
        Column("channel", "int32", "Channel number on the probe, 0 at the tip."),
        Column("x", "float64", "CCF anterior-posterior coordinate (+x posterior).", unit="µm"),
        Column("y", "float64", "CCF dorsal-ventral coordinate (+y inferior).", unit="µm"),
        Column("z", "float64", "CCF left-right coordinate (+z right).", unit="µm"),
        Column("location", "str", "CCF area acronym of the channel's position, e.g. 'VISp5'."),
        Column("structure", "str", "CCF structure acronym without layer, e.g. 'VISp'."),
        Column("rel_x", "float64", "Horizontal position of the channel on the probe shank.", unit="µm"),
        Column("rel_y", "float64", "Vertical position of the channel on the probe shank, 0 at the tip.",
               unit="µm"),
        Column("imp", "float64", "Impedance of the channel.", unit="Ω"),
        Column("filtering", "str", "Description of hardware filtering of the channel."),
        Column("reference", "str", "Reference electrode of the channel, e.g. 'tip'."),
    ),
)

QUALITY_METRICS: tuple[tuple[str, str | None, str], ...] = (
    ("amplitude_cutoff", None, "Estimated fraction of spikes missed because they fall under the detection threshold."),
    ("isi_violations_ratio", None, "Rate of refractory-period violations relative to the rate expected by chance."),
    ("isi_violations_count", None, "Number of inter-spike intervals shorter than the refractory period."),
    ("presence_ratio", None, "Fraction of the recording in which the unit fired."),
    ("firing_rate", "Hz", "Mean firing rate over the recording."),
    ("snr", None, "Signal-to-noise ratio of the peak-channel waveform."),
    ("amplitude_median", "µV", "Median spike amplitude."),
    ("drift_ptp", "µm", "Peak-to-peak drift of the unit's position."),
    ("drift_std", "µm", "Standard deviation of the unit's position."),
    ("drift_mad", "µm", "Median absolute deviation of the unit's position."),
    ("nn_hit_rate", None, "Nearest-neighbour hit rate in PC space."),
    ("nn_miss_rate", None, "Nearest-neighbour miss rate in PC space."),
    ("rp_contamination", None, "Estimated contamination from refractory-period violations."),
    ("rp_violations", None, "Number of refractory-period violations."),
    ("sliding_rp_violation", None, "Contamination estimated with a sliding refractory period."),
    ("silhouette", None, "Silhouette score of the cluster in PC space."),
    ("d_prime", None, "Linear-discriminant separation of the cluster from its neighbours."),
    ("l_ratio", None, "L-ratio cluster isolation metric."),
    ("isolation_distance", None, "Mahalanobis isolation distance of the cluster."),
    ("amplitude_cv_median", None, "Median coefficient of variation of spike amplitudes."),
    ("amplitude_cv_range", None, "Range of the coefficient of variation of spike amplitudes."),
    ("firing_range", "Hz", "Range of the firing rate across the recording."),
    ("sync_spike_2", None, "Fraction of spikes synchronous with at least one other unit."),
    ("half_width", "s", "Width of the waveform's trough at half its amplitude."),
    ("peak_to_valley", "s", "Time from the waveform's trough to its following peak."),
    ("peak_trough_ratio", None, "Ratio of waveform peak to trough amplitude."),
    ("repolarization_slope", "µV/s", "Slope of the waveform's return from trough to baseline."),
    ("recovery_slope", "µV/s", "Slope of the waveform's recovery after its peak."),
    ("spread", "µm", "Distance along the probe over which the waveform is large."),
    ("velocity_above", "µm/s", "Propagation speed of the waveform above the peak channel."),
    ("velocity_below", "µm/s", "Propagation speed of the waveform below the peak channel."),
    ("activity_drift", None, "Drift of the unit's firing rate over the session (0 = stable)."),
)

UNITS = Table(
    name="units",
    description="One row per sorted unit, with its location and quality metrics.",
    primary_key=("unit_id",),
    sort_by=("session_id", "nwb_unit_id", "unit_id"),
    columns=(
        SESSION_ID,
        Column("unit_id", "str",
               "Lake-wide unit id: '<session_id>_<probe letter>-<sorter id>' for DR sessions, "
               "'<session_id>_<NWB unit id>' otherwise.", required=True),
        Column("nwb_unit_id", "int64", "Row id of the unit in the NWB units table."),
        Column("ks_unit_id", "int64", "Cluster id assigned by the spike sorter."),
        Column("electrode_group_name", "str", "Electrode group (probe) the unit was recorded on."),
        Column("device_name", "str", "Device (probe) the unit was recorded on."),
        Column("peak_channel", "int32", "Channel with the largest waveform amplitude."),
        Column("peak_electrode", "int64", "electrode_id of the peak channel."),
        Column("electrodes", "list[int64]", "electrode_id of every channel the unit's waveform spans."),
        Column("location", "str", "CCF area acronym at the peak channel."),
        Column("structure", "str", "CCF structure acronym (no layer) at the peak channel."),
        Column("x", "float64", "CCF anterior-posterior coordinate of the peak channel.", unit="µm"),
        Column("y", "float64", "CCF dorsal-ventral coordinate of the peak channel.", unit="µm"),
        Column("z", "float64", "CCF left-right coordinate of the peak channel.", unit="µm"),
        *(Column(name, "float64", text, unit=unit) for name, unit, text in QUALITY_METRICS),
        Column("is_not_drift", "bool", "The unit's activity drift is below the QC threshold."),
        Column("decoder_label", "str", "Classifier label of the unit: 'sua', 'mua' or 'noise'."),
        Column("default_qc", "bool",
               "Passes the default QC: isi_violations_ratio <= 0.5, amplitude_cutoff <= 0.1, "
               "presence_ratio >= 0.7, decoder_label != 'noise', low activity drift."),
        Column("quality", "str", "Curator's or sorter's label of the unit (e.g. 'good', 'mua')."),
        Column("num_spikes", "int64", "Number of spikes of the unit in spike_times."),
        Column("waveform_mean", "list[list[float64]]",
               "Mean spike waveform, samples x channels (one list of channel values per sample); "
               "a single-channel waveform is samples x 1.", unit="µV"),
        Column("waveform_sd", "list[list[float64]]",
               "Standard deviation of the spike waveform, shaped as waveform_mean.", unit="µV"),
        Column("obs_intervals", "list[list[float64]]", "Intervals [start, stop] in which the unit was observable.",
               unit="s"),
    ),
)

SPIKE_TIMES = Table(
    name="spike_times",
    description=("One row per spike: the long form of the units' spike trains. Each session's spikes are "
                 "stored in one file series per (structure, default_qc) of their units, so that a filter on "
                 "those columns reads only the files it needs."),
    primary_key=("session_id", "unit_id", "spike_time"),
    sort_by=("session_id", "unit_id", "spike_time"),
    closed=True,
    columns=(
        SESSION_ID,
        Column("unit_id", "str", "Unit that fired (units.unit_id).", required=True),
        time_column("spike_time", "Time of the spike.", required=True),
        Column("amplitude", "float32", "Amplitude of the spike, where the sorter recorded it.", unit="µV"),
        Column("structure", "str", "CCF structure of the spike's unit (units.structure), repeated here so that "
               "area filters on spike_times skip whole files."),
        Column("default_qc", "bool", "Whether the spike's unit passes the default QC (units.default_qc), "
               "repeated here for the same reason."),
    ),
)

#: Columns of spike_times copied from the spike's unit.
UNIT_COLUMNS_IN_SPIKES = ("structure", "default_qc")

RECORDINGS = Table(
    name="recordings",
    description="One row per raw or LFP voltage stream: where the samples are, not the samples.",
    primary_key=("session_id", "recording_name"),
    sort_by=("session_id", "recording_name"),
    columns=(
        SESSION_ID,
        Column("recording_name", "str", "Name of the series, e.g. 'ElectricalSeries' or 'probeA-LFP'.",
               required=True),
        Column("nwb_path", "str", "Path of the series inside its NWB file."),
        Column("neurodata_type", "str", "NWB type of the series (ElectricalSeries, …)."),
        Column("kind", "str", "'raw' for acquisition-band data, 'lfp' for low-pass data."),
        Column("data_uri", "str", "File that holds the samples (the source NWB file or a raw data folder)."),
        Column("rate", "float64", "Sampling rate; NaN when explicit timestamps are stored.", unit="Hz"),
        time_column("starting_time", "Time of the first sample."),
        Column("n_samples", "int64", "Number of samples (time points)."),
        Column("n_channels", "int64", "Number of channels."),
        Column("electrode_ids", "list[int64]", "electrode_id of each channel, in data column order."),
        Column("unit", "str", "Unit of the stored samples after applying conversion (usually 'volts')."),
        Column("conversion", "float64", "Factor that turns stored samples into the unit."),
        Column("description", "str", "Free-text description of the series."),
    ),
)
