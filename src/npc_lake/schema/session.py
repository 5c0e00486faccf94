"""Session-level tables: metadata, subject, epochs, other intervals, events and sampled signals."""

from __future__ import annotations

from npc_lake.schema.model import Column, Table
from npc_lake.schema.trials import SESSION_ID, time_column

SESSIONS = Table(
    name="sessions",
    description="One row per session: the NWB file's metadata plus where it came from.",
    primary_key=("session_id",),
    sort_by=("session_id",),
    columns=(
        SESSION_ID,
        Column("subject_id", "str", "Subject (mouse) recorded in the session."),
        Column("session_start_time", "datetime", "Start of the session (clock zero), in UTC.", required=True),
        Column("utc_offset_minutes", "int32",
               "Offset of the local time zone from UTC at session start, as written by the source."),
        Column("timestamps_reference_time", "datetime", "Zero of all timestamps, in UTC (usually the start)."),
        Column("identifier", "str", "The NWB file's unique identifier."),
        Column("session_description", "str", "Free-text description of the session."),
        Column("experiment_description", "str", "Free-text description of the experiment."),
        Column("institution", "str", "Institution where the session was recorded."),
        Column("lab", "str", "Lab where the session was recorded."),
        Column("experimenter", "list[str]", "People who ran the session."),
        Column("keywords", "list[str]", "Terms describing the session."),
        Column("related_publications", "list[str]", "DOIs or citations of publications about the data."),
        Column("notes", "str", "Free-text notes about the session."),
        Column("protocol", "str", "Experimental protocol (e.g. IACUC protocol) number."),
        Column("pharmacology", "str", "Drugs given during the session."),
        Column("surgery", "str", "Surgical procedures on the subject."),
        Column("virus", "str", "Viruses injected into the subject."),
        Column("stimulus_notes", "str", "Notes about the stimuli."),
        Column("data_collection", "str", "Notes about data collection and analysis."),
        Column("rig", "str", "Recording rig, e.g. 'NP2'."),
        Column("task_version", "str", "Version of the behavioural task, e.g. 'stage 5 ori AMN moving'."),
        Column("epochs", "list[str]", "script_name of each epoch of the session, in order."),
        Column("nwb_version", "str", "NWB schema version of the source file, where the source is NWB."),
        Column("source_uri", "str", "Where the session was ingested from (file, folder or URI)."),
        Column("source_hash", "str", "blake2b digest of the source's bytes at ingest."),
    ),
)

SUBJECTS = Table(
    name="subjects",
    description="One row per subject and session (age and weight change between sessions).",
    primary_key=("subject_id", "session_id"),
    sort_by=("subject_id", "session_id"),
    columns=(
        SESSION_ID,
        Column("subject_id", "str", "Subject identifier, e.g. the mouse's LabTracks id.", required=True),
        Column("species", "str", "Latin binomial, e.g. 'Mus musculus'."),
        Column("sex", "str", "'M', 'F', 'U' (unknown) or 'O' (other)."),
        Column("genotype", "str", "Genotype of the subject."),
        Column("strain", "str", "Strain of the subject, e.g. 'C57BL/6J'."),
        Column("date_of_birth", "datetime", "Date of birth, in UTC."),
        Column("age", "str", "Age at session time as an ISO 8601 duration, e.g. 'P148D'."),
        Column("weight", "str", "Weight at session time with its unit, e.g. '25 g'."),
        Column("description", "str", "Free-text description of the subject."),
    ),
)

EPOCHS = Table(
    name="epochs",
    description="One row per epoch: a stretch of the session run by one stimulus/task program.",
    primary_key=("session_id", "epoch_index"),
    sort_by=("session_id", "epoch_index"),
    columns=(
        SESSION_ID,
        Column("epoch_index", "int64", "0-based epoch number; the row id in the NWB epochs table.", required=True),
        time_column("start_time", "Start of the epoch.", required=True),
        time_column("stop_time", "End of the epoch.", required=True),
        Column("script_name", "str",
               "TaskControl program that ran the epoch: DynamicRouting1, RFMapping, OptoTagging, Spontaneous, …",
               aliases=("stim_name",)),
        Column("notes", "str", "Notes about the epoch."),
        Column("interval_names", "list[str]", "Names of the intervals tables with rows in this epoch."),
        Column("tags", "list[str]", "Labels of the epoch (task, opto_perturbation, rewards, optotagging, …)."),
    ),
)

INTERVALS = Table(
    name="intervals",
    description=(
        "Rows of every other NWB TimeIntervals table (VisRFMapping, AudRFMapping, OptoTagging, performance, "
        "invalid_times, custom tables), told apart by interval_name."
    ),
    primary_key=("session_id", "interval_name", "interval_index"),
    sort_by=("session_id", "interval_name", "interval_index"),
    columns=(
        SESSION_ID,
        Column("interval_name", "str", "Name of the TimeIntervals table, e.g. 'VisRFMapping'.", required=True),
        Column("interval_index", "int64", "Row id within its table.", required=True),
        time_column("start_time", "Start of the interval.", required=True),
        time_column("stop_time", "End of the interval.", required=True),
        Column("tags", "list[str]", "Labels of the interval."),
        time_column("stim_start_time", "Onset of the stimulus of the interval."),
        time_column("stim_stop_time", "Offset of the stimulus of the interval."),
        Column("trial_index", "int64", "0-based trial number within the stimulus program."),
        Column("stim_name", "str", "Name of the stimulus."),
        Column("is_small_field_grating", "bool", "RF mapping: a small drifting grating patch was shown."),
        Column("grating_orientation", "float64", "RF mapping: orientation of the grating.", unit="degrees"),
        Column("grating_x", "float64", "RF mapping: grating patch centre, from the screen centre.", unit="pixels"),
        Column("grating_y", "float64", "RF mapping: grating patch centre, from the screen centre.", unit="pixels"),
        Column("is_full_field_flash", "bool", "RF mapping: a full-field flash was shown."),
        Column("flash_contrast", "float64", "RF mapping: contrast of the full-field flash (-1 to 1)."),
        Column("is_white_noise", "bool", "RF mapping: a white-noise sound was played."),
        Column("is_pure_tone", "bool", "RF mapping: a pure tone was played."),
        Column("is_AM_noise", "bool", "RF mapping: amplitude-modulated noise was played (at any modulation "
               "frequency, 0 Hz included).", aliases=("is_am_noise",)),
        Column("freq", "float64", "RF mapping: tone frequency, or modulation frequency of AM noise.", unit="Hz"),
        time_column("baseline_start_time", "Optotagging: start of the pre-stimulus baseline window."),
        time_column("baseline_stop_time", "Optotagging: end of the pre-stimulus baseline window."),
        time_column("response_start_time", "Optotagging: start of the response window."),
        time_column("response_stop_time", "Optotagging: end of the response window."),
        Column("nominal_duration", "float64", "Optotagging: intended duration of the light pulse.", unit="s"),
        Column("location", "str", "Optotagging: name of the stimulated site."),
        Column("bregma_x", "float64", "Optotagging: site position lateral of bregma.", unit="mm"),
        Column("bregma_y", "float64", "Optotagging: site position anterior of bregma.", unit="mm"),
        Column("power", "float64", "Optotagging: light power.", unit="mW"),
        Column("wavelength", "float64", "Optotagging: light wavelength.", unit="nm"),
        Column("device_name", "str", "Optotagging: device that delivered the light (devices.device_name)."),
        Column("block_index", "int32", "Performance: 0-based block number."),
        Column("n_trials", "int64", "Performance: trials in the block."),
        Column("n_responses", "int64", "Performance: trials with a response."),
        Column("n_hits", "int64", "Performance: go trials with a response."),
        Column("n_contingent_rewards", "int64", "Performance: rewards earned by hits."),
        Column("hit_rate", "float64", "Performance: fraction of go trials with a response."),
        Column("false_alarm_rate", "float64", "Performance: fraction of no-go target trials with a response."),
        Column("catch_response_rate", "float64", "Performance: fraction of catch trials with a response."),
        Column("rewarded_modality", "str", "Performance: modality rewarded in the block ('vis' or 'aud')."),
        Column("is_first_block_aud", "bool", "Performance: the session's first block rewarded sound1."),
        Column("cross_modality_dprime", "float64",
               "Performance: d' of the rewarded target against the other modality's target."),
        Column("signed_cross_modality_dprime", "float64",
               "Performance: cross_modality_dprime, negated in auditory-rewarded blocks (positive: the visual "
               "target is favoured)."),
        Column("vis_dprime", "float64", "Performance: d' of vis1 against vis2."),
        Column("aud_dprime", "float64", "Performance: d' of sound1 against sound2."),
        *(Column(f"{modality}_{kind}_response_rate", "float64",
                 f"Performance: fraction of {name} trials (not reward-scheduled) with a response.")
          for modality, kind, name in (("vis", "target", "vis1"), ("vis", "nontarget", "vis2"),
                                       ("aud", "target", "sound1"), ("aud", "nontarget", "sound2"))),
        Column("reason", "str", "invalid_times: why the interval is invalid."),
    ),
)

EVENTS = Table(
    name="events",
    description="Point events in long format: licks, lick-sensor edges, rewards, camera frames, TTLs.",
    primary_key=("session_id", "name", "event_index"),
    sort_by=("session_id", "name", "event_index"),
    columns=(
        SESSION_ID,
        Column("name", "str", "Name of the event series, e.g. 'licks', 'rewards', 'lick_sensor_rising'.",
               required=True),
        Column("event_index", "int64", "0-based position of the event within its series.", required=True),
        time_column("event_time", "Time of the event.", required=True),
        Column("value", "float64", "Value recorded with the event, if any (e.g. reward volume)."),
        Column("nwb_path", "str", "Where the series sits in an NWB file, e.g. 'processing/behavior/licks'."),
        Column("description", "str", "Free-text description of the series."),
    ),
)

TIMESERIES = Table(
    name="timeseries",
    description="Sampled behavioural and physiological signals (running speed, …) in long format.",
    primary_key=("session_id", "name", "sample_index", "channel"),
    sort_by=("session_id", "name", "sample_index", "channel"),
    columns=(
        SESSION_ID,
        Column("name", "str", "Name of the series, e.g. 'running_speed'.", required=True),
        Column("sample_index", "int64", "0-based sample number.", required=True),
        Column("channel", "int32", "Column of multi-dimensional data; 0 for a one-dimensional series.",
               required=True),
        time_column("sample_time", "Time of the sample.", required=True),
        Column("value", "float64", "The sample, in `unit` (conversion applied)."),
        Column("unit", "str", "Unit of value, e.g. 'cm/s'."),
        Column("nwb_path", "str", "Where the series sits in an NWB file, e.g. 'processing/behavior/running_speed'."),
        Column("description", "str", "Free-text description of the series."),
    ),
)
