"""Per-frame display times from vsyncs and photodiode edges (npc_sync's definitions)."""

from __future__ import annotations

import os

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from npc_lake.sources.display_times import FRAME_INTERVAL, MONITOR_CENTER_DELAY_S, frame_display_times

LAG = 0.021


def _edges(flips: np.ndarray, *, white_first: bool = True, close: bool = True,
           fall_delay: float = 0.0012) -> tuple[np.ndarray, np.ndarray]:
    """Photodiode edges of a square inverted on every flip; a white square darkens when the window closes."""
    shown = flips + LAG
    white, black = (shown[0::2], shown[1::2]) if white_first else (shown[1::2], shown[0::2])
    if close and (flips.size % 2 == 1) == white_first:
        black = np.append(black, flips[-1] + 2 / 60 + LAG)
    if not white_first:
        white = np.insert(white, 0, flips[0] - 0.25)
    return white, black + fall_delay


def test_white_frames_are_their_edges_and_black_frames_the_midpoints() -> None:
    flips = 10 + np.arange(300) / 60 + np.random.default_rng(0).normal(0, 2e-4, 300)
    times = frame_display_times(flips, *_edges(flips))
    assert times is not None and times.size == flips.size
    centre = flips + LAG + MONITOR_CENTER_DELAY_S
    assert np.abs(times[0::2] - centre[0::2]).max() < 1e-12
    midpoints = (centre[0:-2:2] + centre[2::2]) / 2
    assert np.abs(times[1:-1:2] - midpoints).max() < 1e-12


def test_black_first_squares_and_the_window_closing_edge() -> None:
    flips = 5 + np.arange(201) / 60
    for white_first in (True, False):
        times = frame_display_times(flips, *_edges(flips, white_first=white_first))
        assert times is not None and times.size == flips.size
        assert np.abs(times - (flips + LAG + MONITOR_CENTER_DELAY_S)).max() < 1e-9


def test_a_dropped_frame_is_placed_by_its_falling_edge() -> None:
    intervals = np.full(299, 1 / 60)
    intervals[100] *= 2  # frame 101 came a refresh late: frame 100 (white) stayed up for two refreshes
    intervals[151] *= 2  # frame 152 late: frame 151 (black) stayed up for two refreshes
    flips = 3 + np.concatenate([[0.0], np.cumsum(intervals)])
    times = frame_display_times(flips, *_edges(flips))
    assert times is not None
    assert np.abs(times - (flips + LAG + MONITOR_CENTER_DELAY_S)).max() < 1e-9


def test_missing_edges_at_the_end_are_extrapolated_and_too_many_refused() -> None:
    flips = 3 + np.arange(200) / 60
    white, black = _edges(flips, close=False)
    cut = flips[-3] + LAG - 1e-4  # the sync recording stopped before the last three frames' edges
    times = frame_display_times(flips, white[white < cut], black[black < cut])
    assert times is not None and times.size == flips.size
    assert np.abs(times - (flips + LAG + MONITOR_CENTER_DELAY_S)).max() < 1e-3
    cut = flips[-20] + LAG
    assert frame_display_times(flips, white[white < cut], black[black < cut]) is None


def test_a_blip_is_removed_and_unread_layouts_give_none() -> None:
    flips = 3 + np.arange(200) / 60
    white, black = _edges(flips)
    dip = flips[50] + LAG + 0.008  # a 0.5 ms dip of the line in the middle of a white frame
    times = frame_display_times(flips, np.sort(np.append(white, dip + 5e-4)), np.sort(np.append(black, dip)))
    assert times is not None and np.abs(times - (flips + LAG + MONITOR_CENTER_DELAY_S)).max() < 1e-9
    assert frame_display_times(flips, white, black, frames_per_flip=3) is None
    assert frame_display_times(flips, np.empty(0), np.empty(0)) is None


@settings(max_examples=int(os.environ.get("NPC_LAKE_HYPOTHESIS_EXAMPLES", "40")), deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**31), n=st.integers(60, 2000), white_first=st.booleans())
def test_every_vsync_gets_a_time_within_a_millisecond(seed: int, n: int, white_first: bool) -> None:
    rng = np.random.default_rng(seed)
    intervals = 1 / 60 + rng.normal(0, 2e-4, n - 1)
    intervals[rng.random(n - 1) < 3e-3] += 1 / 60
    flips = 2 + np.concatenate([[0.0], np.cumsum(intervals)])
    times = frame_display_times(flips, *_edges(flips, white_first=white_first))
    assert times is not None and times.size == n and np.all(np.diff(times) > 0)
    # a black first or last frame is extrapolated from the nearest white-to-white interval (npc_sync does not
    # look at its falling edge), so it is off by up to a refresh when that interval held a dropped frame
    error = np.abs(times - (flips + LAG + MONITOR_CENTER_DELAY_S))
    assert error[1:-1].max() < min(1e-3, FRAME_INTERVAL / 10) and max(error[0], error[-1]) < FRAME_INTERVAL + 2e-3
