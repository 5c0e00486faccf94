"""Point events and sampled signals: the ``events`` and ``timeseries`` tables, as core NWB TimeSeries.

Each series goes where its ``nwb_path`` says (the last path part is the series itself; its NWB name is
the lake ``name``):

===========================================  ==========================================================
``acquisition/<series>``                     directly in ``/acquisition``
``acquisition/<container>/<series>``         in a BehavioralEvents / BehavioralTimeSeries in acquisition
``processing/<module>/<series>``             directly in processing module ``<module>``
``processing/<module>/<container>/<series>`` in a BehavioralEvents / BehavioralTimeSeries in the module
``stimulus/<series>``                        in ``/stimulus/presentation``
anything else, or null                       ``processing/behavior/BehavioralEvents`` (events) or
                                             ``processing/behavior/BehavioralTimeSeries`` (signals)
===========================================  ==========================================================
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import polars as pl
from pynwb import NWBFile, TimeSeries
from pynwb.base import ProcessingModule
from pynwb.behavior import BehavioralEvents, BehavioralTimeSeries

from npc_lake.errors import SessionError
from npc_lake.export._convert import check_name, compressed, first_value
from npc_lake.schema import SessionBundle
from npc_lake.schema.conventions import EVENTS_WITHOUT_VALUES

#: ``comments`` of an event series whose events carry no value: its data are placeholder ones (uint8).
#: A reader seeing this comment should store ``events.value`` as null.

#: Unit written when the lake has none (NWB requires one).
NO_UNIT = "n.a."

_MODULE_DESCRIPTIONS = {
    "behavior": "Behavioural data: licks, rewards, running speed and other signals of the animal's behaviour.",
    "ecephys": "Processed extracellular electrophysiology data.",
}

_Container = type[BehavioralEvents] | type[BehavioralTimeSeries]


def processing_module(nwbfile: NWBFile, name: str) -> ProcessingModule:
    """The processing module ``name`` of ``nwbfile``, created (with a stock description) when missing."""
    if name not in nwbfile.processing:
        description = _MODULE_DESCRIPTIONS.get(name, f"Processed data: {name}.")
        nwbfile.create_processing_module(name=name, description=description)
    return nwbfile.processing[name]


def _new_container(kind: _Container, name: str) -> Any:
    with warnings.catch_warnings():
        # pynwb 4.2 deprecates BehavioralEvents in favour of EventsTable; readers of every version
        # still understand it, so it stays the export format for now.
        warnings.filterwarnings("ignore", message="BehavioralEvents is deprecated")
        return kind(name=name)


def _container(holder: dict[str, Any], add: Any, kind: _Container, name: str, session_id: str) -> Any:
    """The container ``name`` of type ``kind`` in ``holder``, created through ``add`` when missing."""
    existing = holder.get(name)
    if existing is None:
        existing = _new_container(kind, name)
        add(existing)
    elif not isinstance(existing, kind):
        raise SessionError(session_id, f"NWB object {name!r} is a {type(existing).__name__}, not a {kind.__name__}")
    return existing


def place(nwbfile: NWBFile, series: TimeSeries, nwb_path: str | None, kind: _Container, session_id: str) -> None:
    """Put ``series`` where ``nwb_path`` says (see the module docstring for the rules)."""
    parts = [p for p in (nwb_path or "").split("/") if p][:-1]
    for part in parts:
        check_name(part, what="NWB group", session_id=session_id)
    if parts == ["acquisition"]:
        nwbfile.add_acquisition(series)
    elif len(parts) == 2 and parts[0] == "acquisition":
        _container(nwbfile.acquisition, nwbfile.add_acquisition, kind, parts[1], session_id).add_timeseries(series)
    elif len(parts) == 2 and parts[0] == "processing":
        processing_module(nwbfile, parts[1]).add(series)
    elif len(parts) == 3 and parts[0] == "processing":
        module = processing_module(nwbfile, parts[1])
        _container(module.data_interfaces, module.add, kind, parts[2], session_id).add_timeseries(series)
    elif parts == ["stimulus"]:
        nwbfile.add_stimulus(series)
    else:
        module = processing_module(nwbfile, "behavior")
        _container(module.data_interfaces, module.add, kind, kind.__name__, session_id).add_timeseries(series)


def regular_rate(timestamps: np.ndarray[Any, Any]) -> float | None:
    """The sampling rate that reproduces ``timestamps`` exactly, or ``None``.

    A rate is returned only when ``np.arange(n) / rate + timestamps[0]`` (how pynwb's
    ``TimeSeries.get_timestamps`` regenerates them) equals ``timestamps`` bit for bit, so that writing
    ``starting_time`` + ``rate`` instead of timestamps loses nothing.
    """
    n = timestamps.size
    if n < 3 or not timestamps[-1] > timestamps[0]:
        return None
    estimate = (n - 1) / float(timestamps[-1] - timestamps[0])
    for rate in (estimate, round(estimate, 6), round(estimate, 3)):
        if np.array_equal(np.arange(n) / rate + timestamps[0], timestamps):
            return float(rate)
    return None


def add_events(nwbfile: NWBFile, bundle: SessionBundle) -> None:
    """Write each event series (``events`` rows grouped by ``name``) as a TimeSeries.

    ``timestamps`` are the event times, ``data`` the values (NaN where null). A series whose values are
    all null gets placeholder data (uint8 ones) and the comment :data:`EVENTS_WITHOUT_VALUES`. Series
    are marked ``continuity="instantaneous"`` and placed per their ``nwb_path``.

    Parameters
    ----------
    nwbfile
        The file being built.
    bundle
        The session; only ``events`` is read.
    """
    frame = bundle.table("events")
    if frame is None or frame.height == 0:
        return
    for name in frame["name"].unique(maintain_order=True).to_list():
        check_name(name, what="event series", session_id=bundle.session_id)
        group = frame.filter(pl.col("name") == name)
        if "event_index" in group.columns:
            group = group.sort("event_index")
        timestamps = group["event_time"].cast(pl.Float64).to_numpy()
        kwargs: dict[str, Any] = {}
        if "value" in group.columns and group["value"].null_count() < group.height:
            data: np.ndarray[Any, Any] = group["value"].cast(pl.Float64).fill_null(float("nan")).to_numpy()
        else:
            data = np.ones(group.height, dtype=np.uint8)
            kwargs["comments"] = EVENTS_WITHOUT_VALUES
        series = TimeSeries(name=name, data=compressed(data), timestamps=compressed(timestamps), unit=NO_UNIT,
                            description=first_value(group, "description") or "no description",
                            continuity="instantaneous", **kwargs)
        place(nwbfile, series, first_value(group, "nwb_path"), BehavioralEvents, bundle.session_id)


def add_timeseries(nwbfile: NWBFile, bundle: SessionBundle) -> None:
    """Write each sampled signal (``timeseries`` rows grouped by ``name``) as a TimeSeries.

    ``timestamps`` hold one ``sample_time`` per ``sample_index``, replaced by ``starting_time`` + ``rate``
    when those regenerate them exactly (see :func:`regular_rate`); ``data`` is 1-D for a one-channel
    signal, else samples × channels (channels in ascending order; NaN for missing or null samples).
    ``unit`` is the series' unit, or ``"n.a."`` when unknown.

    Parameters
    ----------
    nwbfile
        The file being built.
    bundle
        The session; only ``timeseries`` is read.
    """
    frame = bundle.table("timeseries")
    if frame is None or frame.height == 0:
        return
    for name in frame["name"].unique(maintain_order=True).to_list():
        check_name(name, what="time series", session_id=bundle.session_id)
        group = frame.filter(pl.col("name") == name).sort("sample_index", "channel")
        samples = group.group_by("sample_index", maintain_order=True).agg(pl.col("sample_time").first())
        sample_ids = samples["sample_index"].to_numpy()
        channels = np.sort(group["channel"].unique().to_numpy())
        values = group["value"].cast(pl.Float64).fill_null(float("nan")).to_numpy()
        if channels.size == 1 and group.height == sample_ids.size:
            data = values
        else:
            data = np.full((sample_ids.size, channels.size), np.nan)
            rows = np.searchsorted(sample_ids, group["sample_index"].to_numpy())
            cols = np.searchsorted(channels, group["channel"].to_numpy())
            data[rows, cols] = values
        timestamps = samples["sample_time"].cast(pl.Float64).to_numpy()
        rate = regular_rate(timestamps)
        timing: dict[str, Any] = ({"timestamps": compressed(timestamps)} if rate is None
                                  else {"starting_time": float(timestamps[0]), "rate": rate})
        series = TimeSeries(name=name, data=compressed(data), unit=first_value(group, "unit") or NO_UNIT,
                            description=first_value(group, "description") or "no description", **timing)
        place(nwbfile, series, first_value(group, "nwb_path"), BehavioralTimeSeries, bundle.session_id)
