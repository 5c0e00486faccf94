from __future__ import annotations

import polars as pl
import pytest

from npc_lake.errors import InvalidIdError, SchemaError, SessionError
from npc_lake.normalize import conform, normalize_session
from npc_lake.schema import TABLES

from conftest import tiny_bundle


def test_normalize_fills_num_spikes_and_digests_every_table() -> None:
    session = normalize_session(tiny_bundle(n_units=3, spikes_per_unit=7))
    assert session.tables["units"]["num_spikes"].to_list() == [7, 7, 7]
    assert session.row_counts["spike_times"] == 21
    assert set(session.content_hashes) == {*session.tables, "spike_times"}
    again = normalize_session(tiny_bundle(n_units=3, spikes_per_unit=7))
    assert again.content_hashes == session.content_hashes
    other = normalize_session(tiny_bundle(n_units=3, spikes_per_unit=7, seed=9))
    assert other.content_hashes["spike_times"] != session.content_hashes["spike_times"]
    assert other.content_hashes["trials"] == session.content_hashes["trials"]


def test_unsorted_spikes_are_refused() -> None:
    with pytest.raises(SessionError, match=r"not sorted.*|.*A-1.*not sorted"):
        normalize_session(tiny_bundle(unsorted_unit=1))


def test_missing_electrode_group_is_refused() -> None:
    bundle = tiny_bundle()
    bundle.tables["units"] = bundle.tables["units"].with_columns(
        pl.when(pl.col("nwb_unit_id") == 2).then(pl.lit("probeZ")).otherwise(pl.col("electrode_group_name"))
        .alias("electrode_group_name"))
    with pytest.raises(SessionError, match="probeZ"):
        normalize_session(bundle)


def test_spikes_of_unknown_units_are_refused() -> None:
    bundle = tiny_bundle()
    bundle.tables["units"] = bundle.tables["units"].head(2)
    with pytest.raises(SessionError, match="not in units"):
        normalize_session(bundle)


def test_duplicate_primary_key_and_bad_intervals_are_refused() -> None:
    bundle = tiny_bundle()
    trials = bundle.tables["trials"]
    bundle.tables["trials"] = pl.concat([trials, trials.head(1)])
    with pytest.raises(SessionError, match="primary key"):
        normalize_session(bundle)
    bundle = tiny_bundle()
    bundle.tables["trials"] = trials.with_columns(pl.col("stop_time") - 20.0)
    with pytest.raises(SessionError, match="start_time > stop_time"):
        normalize_session(bundle)


@pytest.mark.parametrize("session_id", ["../../etc", "a/b", "", "x" * 200, "s'; DROP TABLE units; --", ".hidden"])
def test_hostile_session_ids_are_refused(session_id: str) -> None:
    with pytest.raises(InvalidIdError):
        normalize_session(tiny_bundle(session_id=session_id))


def test_conform_renames_aliases_and_refuses_lossy_casts() -> None:
    trials = TABLES["trials"]
    frame = pl.DataFrame({"trial_index": [0, 1], "start_time": [0.0, 1.0], "stop_time": [0.5, 1.5],
                          "context_name": ["vis", "aud"], "repeat_number": [0.0, float("nan")]})
    out = conform(frame, trials, session_id="600001_2024-01-02")
    assert out["rewarded_modality"].to_list() == ["vis", "aud"]
    assert out["repeat_index"].to_list() == [0, None] and out.schema["repeat_index"] == pl.Int32
    assert out.columns[: len(trials.columns)] == list(trials.column_names)
    with pytest.raises(SchemaError, match="block_index"):
        conform(frame.with_columns(pl.Series("block_index", [0.5, 1.0])), trials, session_id="600001_2024-01-02")
    with pytest.raises(SchemaError, match="start_time"):
        conform(frame.drop("start_time"), trials, session_id="600001_2024-01-02")


def test_unsorted_spikes_are_found_when_units_interleave() -> None:
    bundle = tiny_bundle(n_units=2, spikes_per_unit=20)
    rows = pl.concat(list(bundle.spike_batches())).sort("spike_time")  # time order across units

    def interleaved():  # type: ignore[no-untyped-def]
        yield rows

    bundle.spike_batches = interleaved
    assert normalize_session(bundle).row_counts["spike_times"] == 40
    broken = rows.with_columns(pl.when(pl.int_range(pl.len()) == 7).then(1e6).otherwise(pl.col("spike_time"))
                               .alias("spike_time"))

    def broken_batches():  # type: ignore[no-untyped-def]
        yield broken

    bundle.spike_batches = broken_batches
    with pytest.raises(SessionError, match="not sorted"):
        normalize_session(bundle)


def test_sort_spikes_sorts_instead_of_refusing() -> None:
    session = normalize_session(tiny_bundle(unsorted_unit=1), sort_spikes=True)
    for batch in session.spike_batches():
        assert batch["spike_time"].is_sorted()
