"""Performance per block recomputed from trials: equal to the generator's own tally, equal to what the lake
holds for every session at once, and sensible on the real 2022 pilot trials."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from npc_lake.analysis import block_performance
from npc_lake.lake import Lake, write_session
from npc_lake.normalize import conform, normalize_session
from npc_lake.schema import TABLES
from npc_lake.testing import synth_session

from conftest import realdata_path

COLUMNS = [c for c in TABLES["intervals"].column_names if c not in ("interval_name", "tags")]


def _performance_columns(frame: pl.DataFrame) -> pl.DataFrame:
    present = [c for c in COLUMNS if c in frame.columns]
    return frame.select(present).drop([c for c in present if frame[c].null_count() == frame.height])


def assert_same_rows(got: pl.DataFrame, want: pl.DataFrame) -> None:
    """Every column of ``want`` equal in ``got``: floats to 1e-12 (NaN equal to NaN), the rest exactly."""
    got = got.select(want.columns).cast(dict(want.schema.items()))
    assert got.height == want.height
    for name in want.columns:
        a, b = got[name].to_list(), want[name].to_list()
        assert (a == pytest.approx(b, rel=1e-12, nan_ok=True)) if want[name].dtype.is_float() else a == b, name


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_recomputed_performance_equals_the_generators_tally(seed: int) -> None:
    bundle = synth_session(seed % 2, n_units=5, duration_s=1800.0, seed=seed)
    truth = bundle.tables["intervals"].filter(pl.col("interval_name") == "performance")
    got = block_performance(bundle.tables["trials"])
    assert got.height == truth.height == bundle.tables["trials"]["block_index"].n_unique()
    assert_same_rows(got, _performance_columns(truth))


def test_performance_of_every_session_in_the_lake_at_once(tmp_path: Path) -> None:
    lake = Lake.open(tmp_path / "lake")
    for index in range(3):
        write_session(normalize_session(synth_session(index, n_units=5, duration_s=900.0, seed=7)), lake=lake)
    trials = lake.scan("trials").collect()
    got = block_performance(trials).sort("session_id", "block_index")
    stored = lake.scan("intervals").filter(pl.col("interval_name") == "performance").collect()
    want = _performance_columns(stored.sort("session_id", "block_index"))
    assert got["session_id"].n_unique() == 3 and "session_id" in want.columns
    assert_same_rows(got, want)


def _hand_count(block: pl.DataFrame, stim: str) -> tuple[int, int]:
    """Responses and presentations of ``stim`` among the block's scored trials, counted row by row."""
    responses = trials = 0
    for row in block.iter_rows(named=True):
        if row["stim_name"] == stim and not row["is_reward_scheduled"]:
            trials += 1
            responses += bool(row["is_response"])
    return responses, trials


@pytest.mark.realdata
def test_performance_of_the_real_pilot_session_is_sensible() -> None:
    path = realdata_path("dr", "np_nwb_trials", "DRpilot_626791_20220817", "intervals", "task_trials.csv")
    raw = pl.read_csv(path).with_row_index("trial_index").with_columns(pl.col("trial_index").cast(pl.Int64))
    trials = conform(raw, TABLES["trials"], session_id="626791_2022-08-17")
    blocks = block_performance(trials)
    assert blocks["block_index"].to_list() == list(range(6))
    assert blocks["rewarded_modality"].to_list() == ["vis", "sound"] * 3  # alternating contexts, vis first
    assert not blocks["is_first_block_aud"].any()
    assert blocks["n_trials"].sum() == trials.height == 512
    assert (blocks["start_time"].shift(-1).drop_nulls() >= blocks["stop_time"].head(5)).all()
    rates = [c for c in blocks.columns if c.endswith("_rate")]
    for name in rates:
        values = blocks[name].drop_nans()
        assert values.len() >= 5 and ((values >= 0) & (values <= 1)).all(), name
    # a trained mouse: licks to the rewarded target, discriminates within the rewarded modality
    assert (blocks["hit_rate"] >= 0.85).all()
    assert (blocks["hit_rate"] > blocks["false_alarm_rate"]).sum() >= 5
    vis = blocks["rewarded_modality"] == "vis"
    assert (blocks.filter(vis)["vis_dprime"] > 1).all() and (blocks.filter(~vis)["aud_dprime"] > 1).all()
    assert float(np.mean(blocks["cross_modality_dprime"].to_numpy())) > 0.5
    assert (blocks["catch_response_rate"] <= 0.25).all()
    for row in blocks.iter_rows(named=True):  # every rate equals a count made row by row
        block = trials.filter(pl.col("block_index") == row["block_index"])
        counts = {flag: sum(bool(v) for v in block[flag]) for flag in ("is_hit", "is_go", "is_false_alarm", "is_nogo")}
        assert row["hit_rate"] == pytest.approx(counts["is_hit"] / counts["is_go"])
        assert row["false_alarm_rate"] == pytest.approx(counts["is_false_alarm"] / counts["is_nogo"])
        responses, n = _hand_count(block, "vis2")
        assert row["vis_nontarget_response_rate"] == pytest.approx(responses / n) if n else math.isnan(
            row["vis_nontarget_response_rate"])
        sign = 1 if row["rewarded_modality"] == "vis" else -1
        assert row["signed_cross_modality_dprime"] == pytest.approx(sign * row["cross_modality_dprime"])
