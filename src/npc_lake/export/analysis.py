"""The analysis tables into ``/analysis``: DR's all-spike histograms, drift maps, RF maps, unit responses.

=====================  ===============================================================================
spike_histograms       ``/analysis/all_spike_histograms``: one TimeSeries of spike counts per probe
                       (``probeA``: every unit; ``probeA_default_qc``: units passing QC), as DR files had
drift_maps             ``/analysis/drift_maps``: DynamicTable (probe, time bin, depth bin, count, amplitude)
rf_maps                ``/analysis/rf_maps``: DynamicTable, one row per unit and RF-mapping condition
unit_responses         ``/analysis/unit_responses``: DynamicTable, one row per unit and task stimulus
=====================  ===============================================================================

The tables keep the lake's column names and descriptions. Reading the file back does not read them:
ingest derives them again from the units, spikes, trials and intervals (the same rows give the same
tables).
"""

from __future__ import annotations

import polars as pl
from pynwb import NWBFile, TimeSeries
from pynwb.behavior import BehavioralTimeSeries

from npc_lake.export._convert import compressed, lake_dynamic_table
from npc_lake.schema import SessionBundle
from npc_lake.schema.analysis import DRIFT_MAPS, RF_MAPS, SPIKE_HISTOGRAMS, UNIT_RESPONSES

SPIKE_HISTOGRAMS_NAME = "all_spike_histograms"


def _spike_histograms(frame: pl.DataFrame) -> BehavioralTimeSeries:
    """One TimeSeries of counts per probe and QC selection, on a regular time base."""
    series = []
    for (probe,), rows in frame.sort("electrode_group_name", "bin_start_time").group_by(
            "electrode_group_name", maintain_order=True):
        bin_size = float(rows["bin_size"][0])
        for suffix, column, who in (("", "spike_count", "every unit"),
                                    ("_default_qc", "qc_spike_count", "the units passing the default QC")):
            series.append(TimeSeries(
                name=f"{probe}{suffix}".replace("/", "_").replace(":", "_"),
                data=compressed(rows[column].to_numpy()), unit="spikes",
                starting_time=float(rows["bin_start_time"][0]), rate=1.0 / bin_size,
                description=f"Spikes of {who} on {probe}, counted in {bin_size:g} s bins starting at each "
                            "timestamp (the joint spike count across units, as in DR all-spike histograms).",
                comments=SPIKE_HISTOGRAMS.description))
    return BehavioralTimeSeries(name=SPIKE_HISTOGRAMS_NAME, time_series=series)


def add_analysis(nwbfile: NWBFile, bundle: SessionBundle) -> None:
    """Write the session's analysis tables (those with rows) under ``/analysis``.

    Parameters
    ----------
    nwbfile
        The file being built.
    bundle
        The session; ``spike_histograms``, ``drift_maps``, ``rf_maps`` and ``unit_responses`` are read.
    """
    histograms = bundle.table(SPIKE_HISTOGRAMS.name)
    if histograms is not None and histograms.height:
        nwbfile.add_analysis(_spike_histograms(histograms))
    for table in (DRIFT_MAPS, RF_MAPS, UNIT_RESPONSES):
        frame = bundle.table(table.name)
        if frame is not None and frame.height:
            nwbfile.add_analysis(lake_dynamic_table(frame.sort(list(table.sort_by)), bundle=bundle,
                                                    table_name=table.name))
