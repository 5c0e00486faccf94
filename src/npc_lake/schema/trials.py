"""The ``trials`` table: one row per task trial.

Column names follow the Dynamic Routing trials table written by npc_sessions; the 2022 pilot names are
accepted as aliases. Trials tables of other labs keep their own extra columns next to these.
"""

from __future__ import annotations

from npc_lake.schema.model import Column, Table

SESSION_ID = Column("session_id", "str", "Session the row belongs to, e.g. 620263_2022-07-26.",
                    required=True)


def time_column(name: str, description: str, *, required: bool = False,
                aliases: tuple[str, ...] = ()) -> Column:
    """A float64 column of seconds on the session clock."""
    return Column(name, "float64", description, unit="s", required=required, aliases=aliases)


def flag(name: str, description: str, *, aliases: tuple[str, ...] = ()) -> Column:
    """A boolean trial property."""
    return Column(name, "bool", description, aliases=aliases)


TRIALS = Table(
    name="trials",
    description="One row per behavioural task trial (Dynamic Routing, or the trials table of any NWB file).",
    primary_key=("session_id", "trial_index"),
    sort_by=("session_id", "trial_index"),
    columns=(
        SESSION_ID,
        Column("trial_index", "int64",
               "0-based trial number in the session; for generic NWB trials, the row id of the NWB table.",
               required=True),
        time_column("start_time", "Beginning of the trial, before any trial event.", required=True),
        time_column("stop_time", "End of the trial, after every trial event.", required=True),
        time_column("quiescent_start_time",
                    "Start of the final no-lick period before the stimulus; a lick in it restarts the period."),
        time_column("quiescent_stop_time", "End of the final no-lick period before the stimulus."),
        time_column("stim_start_time", "Onset of the visual or auditory stimulus (NaN on catch trials)."),
        time_column("stim_stop_time", "Offset of the visual or auditory stimulus."),
        time_column("opto_start_time", "Onset of optogenetic stimulation on this trial; NaN without opto."),
        time_column("opto_stop_time", "Offset of optogenetic stimulation on this trial; NaN without opto."),
        time_column("response_window_start_time",
                    "Start of the period in which a lick counts as a response."),
        time_column("response_window_stop_time", "End of the period in which a lick counts as a response."),
        time_column("task_control_response_time",
                    "Time of the response as registered by the task software (frame-based)."),
        time_column("response_time", "First lick inside the response window; NaN if the mouse did not lick."),
        time_column("reward_time", "Delivery of the water reward; NaN on unrewarded trials."),
        time_column("timeout_start_time", "Start of a timeout imposed after a false alarm; NaN if none."),
        time_column("timeout_stop_time", "End of the timeout; NaN if none."),
        time_column("post_response_window_start_time",
                    "Start of the wait after the response window, before the next trial or a timeout."),
        time_column("post_response_window_stop_time", "End of the wait after the response window."),
        Column("stim_name", "str",
               "Stimulus shown on the trial: vis1, vis2 (gratings), sound1, sound2 (tones/noise) or catch."),
        Column("grating_phase", "float64", "Spatial phase of the visual grating; NaN for other stimuli."),
        Column("block_index", "int32", "0-based index of the block (context) the trial belongs to."),
        Column("rewarded_modality", "str",
               "Modality whose target is rewarded in this block: 'vis' or 'aud'.",
               aliases=("context_name",)),
        Column("trial_index_in_block", "int32", "0-based trial number within its block.",
               aliases=("index_within_block",)),
        Column("opto_wavelength", "float64", "Wavelength of the optogenetic light.", unit="nm"),
        Column("opto_duration", "float64", "Duration of optogenetic stimulation.", unit="s"),
        Column("opto_label", "str", "Name of the opto stimulation target or condition."),
        Column("opto_power", "float64", "Power of the optogenetic light at the fibre or brain surface.",
               unit="mW"),
        Column("opto_stim_name", "str", "Name of the opto stimulus waveform."),
        Column("repeat_index", "int32",
               "How many times this trial's stimulus was already shown in the preceding trials (repeats after misses).",
               aliases=("repeat_number",)),
        flag("is_response", "The mouse licked at least once in the response window."),
        flag("is_correct", "The mouse did the right thing in the response window (hit or correct reject)."),
        flag("is_incorrect", "The mouse did the wrong thing in the response window (miss or false alarm)."),
        flag("is_hit", "A go trial with a response."),
        flag("is_false_alarm", "A no-go trial with a response (catch trials excluded)."),
        flag("is_correct_reject", "A no-go trial without a response (catch trials excluded)."),
        flag("is_miss", "A go trial without a response."),
        flag("is_go", "The target of the rewarded modality was shown: the mouse should lick."),
        flag("is_nogo", "A non-rewarded stimulus was shown: the mouse should not lick (catch excluded)."),
        flag("is_rewarded", "Water was delivered on this trial, contingent or not."),
        flag("is_noncontingent_reward", "Water was delivered regardless of the response."),
        flag("is_contingent_reward", "Water was delivered for a hit."),
        flag("is_reward_scheduled", "A free reward was scheduled on this trial, whether or not it was given."),
        flag("is_instruction", "A free-reward instruction trial at the start of a block."),
        flag("is_aud_stim", "An auditory stimulus (target or not) was presented."),
        flag("is_vis_stim", "A visual stimulus (target or not) was presented."),
        flag("is_catch", "No stimulus was presented."),
        flag("is_target", "A target stimulus (vis1 or sound1) was presented."),
        flag("is_aud_target", "The auditory target (sound1) was presented."),
        flag("is_vis_target", "The visual target (vis1) was presented."),
        flag("is_nontarget", "A non-target stimulus (vis2 or sound2) was presented."),
        flag("is_aud_nontarget", "The auditory non-target (sound2) was presented."),
        flag("is_vis_nontarget", "The visual non-target (vis2) was presented."),
        flag("is_vis_rewarded", "The trial is in a block where the visual target is rewarded.",
             aliases=("is_vis_context",)),
        flag("is_aud_rewarded", "The trial is in a block where the auditory target is rewarded.",
             aliases=("is_aud_context",)),
        flag("is_block_switch", "First trial with a stimulus after the rewarded modality changed.",
             aliases=("is_context_switch",)),
        flag("is_repeat", "The trial repeats the previous trial's stimulus after a miss."),
        flag("is_opto", "Optogenetic stimulation was applied on this trial."),
        flag("is_single_opto_location", "Opto was applied at a single location on this trial."),
        flag("is_task_control_correct", "The task software scored the trial as correct."),
    ),
)
