"""Trials, epochs, invalid_times and every other TimeIntervals table."""

from __future__ import annotations

import polars as pl
from pynwb import NWBFile
from pynwb.epoch import TimeIntervals

from npc_lake.errors import SessionError
from npc_lake.export._convert import Descriptions, check_name, ordered_columns, row_ids, table_columns
from npc_lake.schema import SessionBundle

#: Columns that NWB reserves in TimeIntervals and that lake rows cannot fill.
_RESERVED = ("id", "timeseries", "timeseries_index")


def _time_intervals(frame: pl.DataFrame, *, name: str, description: str, table_name: str, id_column: str,
                    source_name: str, bundle: SessionBundle, exclude: tuple[str, ...] = ()) -> TimeIntervals:
    """One TimeIntervals table from lake rows: ids from ``id_column``, ``start_time``/``stop_time`` first."""
    if id_column in frame.columns:
        frame = frame.sort(id_column)
    descriptions = Descriptions(bundle, table_name)
    rest = [c for c in ordered_columns(frame, table_name, exclude=(id_column, *exclude, *_RESERVED))
            if c not in ("start_time", "stop_time")]
    for required in ("start_time", "stop_time"):
        if required not in frame.columns or frame[required].null_count():
            raise SessionError(bundle.session_id, f"{name}: every row needs a {required} to export")
    columns = table_columns(frame, names=["start_time", "stop_time", *rest], descriptions=descriptions,
                            source_name=source_name)
    return TimeIntervals(name=name, description=description, columns=columns,
                         id=row_ids(frame, id_column, table=table_name, session_id=bundle.session_id))


def _lake_table_as_intervals(bundle: SessionBundle, name: str, *, id_column: str) -> TimeIntervals | None:
    """The lake table ``name`` (trials or epochs) as the NWB TimeIntervals of the same name; None if empty."""
    frame = bundle.table(name)
    if frame is None or frame.height == 0:
        return None
    description = Descriptions(bundle, name).table_description(name)
    return _time_intervals(frame, name=name, description=description, table_name=name, id_column=id_column,
                           source_name=name, bundle=bundle)


def add_trials(nwbfile: NWBFile, bundle: SessionBundle) -> None:
    """Write the ``trials`` table: ids = ``trial_index``, every non-null column.

    Parameters
    ----------
    nwbfile
        The file being built.
    bundle
        The session; ``trials`` and ``column_descriptions`` are read.
    """
    table = _lake_table_as_intervals(bundle, "trials", id_column="trial_index")
    if table is not None:
        nwbfile.trials = table


def add_epochs(nwbfile: NWBFile, bundle: SessionBundle) -> None:
    """Write the ``epochs`` table: ids = ``epoch_index``; ``tags`` and ``interval_names`` as ragged columns.

    Parameters
    ----------
    nwbfile
        The file being built.
    bundle
        The session; ``epochs`` and ``column_descriptions`` are read.
    """
    table = _lake_table_as_intervals(bundle, "epochs", id_column="epoch_index")
    if table is not None:
        nwbfile.epochs = table


def add_intervals(nwbfile: NWBFile, bundle: SessionBundle) -> None:
    """Write one TimeIntervals table per distinct ``intervals.interval_name``.

    Each table gets ids = ``interval_index`` and the columns with at least one non-null value in its
    rows. ``invalid_times`` becomes ``nwbfile.invalid_times``; the others go under ``/intervals``.

    Parameters
    ----------
    nwbfile
        The file being built (trials and epochs already added).
    bundle
        The session; ``intervals`` and ``column_descriptions`` are read.

    Raises
    ------
    SessionError
        If an interval name cannot name an NWB table or clashes with the trials/epochs tables.
    """
    frame = bundle.table("intervals")
    if frame is None or frame.height == 0:
        return
    descriptions = Descriptions(bundle, "intervals")
    for name in frame["interval_name"].unique(maintain_order=True).to_list():
        check_name(name, what="intervals table", session_id=bundle.session_id)
        if name in ("trials", "epochs"):
            raise SessionError(bundle.session_id, f"intervals table {name!r} clashes with the {name} table")
        group = frame.filter(pl.col("interval_name") == name)
        table = _time_intervals(group, name=name, description=descriptions.table_description(name),
                                table_name="intervals", id_column="interval_index", source_name=name,
                                bundle=bundle, exclude=("interval_name",))
        if name == "invalid_times":
            nwbfile.invalid_times = table
        else:
            nwbfile.add_time_intervals(table)
