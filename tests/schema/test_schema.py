from __future__ import annotations

from datetime import UTC, datetime

import pytest

from npc_lake.errors import InvalidIdError, UnknownTableError
from npc_lake.schema import TABLES, format_dtype, get_table, parse_dtype
from npc_lake.schema.ids import derive_session_id, is_dr_session_id, validate_id

MISSION_TABLES = {"sessions", "subjects", "trials", "epochs", "units", "spike_times", "electrodes"}


def test_every_table_is_declared_with_described_columns() -> None:
    assert MISSION_TABLES <= set(TABLES)
    for table in TABLES.values():
        assert table.description
        for col in table.columns:
            assert col.description.strip(), f"{table.name}.{col.name} has no description"
            parse_dtype(col.dtype)
            if col.name.endswith("_time"):
                assert col.unit == "s" or col.dtype == "datetime", f"{table.name}.{col.name}"
        if table.per_session:
            assert "session_id" in table.partition_by
        assert len(table.arrow_schema) == len(table.columns)


def test_dr_trials_columns_follow_the_anchor() -> None:
    anchor = """start_time stop_time quiescent_start_time quiescent_stop_time stim_start_time stim_stop_time
    opto_start_time opto_stop_time response_window_start_time response_window_stop_time task_control_response_time
    response_time reward_time timeout_start_time timeout_stop_time post_response_window_start_time
    post_response_window_stop_time stim_name grating_phase block_index rewarded_modality trial_index
    trial_index_in_block opto_wavelength opto_duration opto_label opto_power opto_stim_name repeat_index is_response
    is_correct is_incorrect is_hit is_false_alarm is_correct_reject is_miss is_go is_nogo is_rewarded
    is_noncontingent_reward is_contingent_reward is_reward_scheduled is_instruction is_aud_stim is_vis_stim is_catch
    is_target is_aud_target is_vis_target is_nontarget is_aud_nontarget is_vis_nontarget is_vis_rewarded
    is_aud_rewarded is_block_switch is_repeat is_opto is_single_opto_location is_task_control_correct""".split()
    assert set(anchor) <= set(get_table("trials").column_names)
    aliases = get_table("trials").aliases
    for old in ("context_name", "index_within_block", "is_vis_context", "is_context_switch"):
        assert old in aliases


@pytest.mark.parametrize("spec", ["str", "bool", "int32", "float64", "datetime", "list[str]", "list[list[float64]]"])
def test_dtype_strings_round_trip(spec: str) -> None:
    assert format_dtype(parse_dtype(spec)) == spec


def test_unknown_names_are_errors() -> None:
    with pytest.raises(UnknownTableError):
        get_table("neurons")
    with pytest.raises(ValueError, match="unknown dtype"):
        parse_dtype("complex128")


def test_session_ids() -> None:
    assert is_dr_session_id("620263_2022-07-26") and is_dr_session_id("620263_2022-07-26_2")
    assert validate_id("620263_2022-07-26") == "620263_2022-07-26"
    for bad in ("..", "a/../b", "a b", "", "-x", "a\x00b"):
        with pytest.raises(InvalidIdError):
            validate_id(bad)
    start = datetime(2017, 2, 28, 12, tzinfo=UTC)
    assert derive_session_id(session_id=None, subject_id="anm369963", session_start_time=start,
                             identifier="x") == "anm369963_2017-02-28"
    assert derive_session_id(session_id="../evil", subject_id=None, session_start_time=start,
                             identifier="sub-1 ses/2") == "sub-1-ses-2"
