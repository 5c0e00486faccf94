"""The ``stimuli`` table: how each task stimulus was defined, from which the NWB stimulus templates are drawn."""

from __future__ import annotations

from npc_lake.schema.model import Column, Table
from npc_lake.schema.trials import SESSION_ID

STIMULI = Table(
    name="stimuli",
    description="One row per task stimulus (vis1, vis2, sound1, sound2): its definition as the task file gives it.",
    primary_key=("session_id", "stim_name"),
    sort_by=("session_id", "stim_name"),
    columns=(
        SESSION_ID,
        Column("stim_name", "str", "Stimulus name, as in trials.stim_name.", required=True),
        Column("modality", "str", "'vis' (a grating) or 'aud' (a sound)."),
        Column("duration", "float64", "Nominal duration of the stimulus.", unit="s"),
        Column("grating_orientation", "float64", "Grating orientation, clockwise from vertical.", unit="degrees"),
        Column("grating_spatial_frequency", "float64", "Grating spatial frequency.", unit="cycles/degree"),
        Column("grating_temporal_frequency", "float64", "Grating drift rate (0: static).", unit="cycles/s"),
        Column("grating_size", "float64", "Diameter of the grating patch.", unit="degrees"),
        Column("grating_contrast", "float64", "Michelson contrast of the grating (0 to 1)."),
        Column("grating_type", "str", "Grating profile: 'sqr' (square wave) or 'sin' (sinusoidal)."),
        Column("sound_type", "str", "'tone', 'AM noise' (amplitude-modulated noise) or 'noise'."),
        Column("tone_freq", "float64", "Frequency of the tone.", unit="Hz"),
        Column("am_freq", "float64", "Modulation frequency of AM noise.", unit="Hz"),
        Column("noise_low_freq", "float64", "Lower edge of the noise band.", unit="Hz"),
        Column("noise_high_freq", "float64", "Upper edge of the noise band.", unit="Hz"),
        Column("sound_sample_rate", "float64", "Rate at which the sound was played.", unit="Hz"),
        Column("sound_level", "float64", "Sound level.", unit="dB SPL"),
    ),
)
