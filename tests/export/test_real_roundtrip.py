"""Each real NWB file survives ingest → export → ingest, and its export reads like the original in pynwb.

For every file under ../shared/realdata/nwb: ingest it into one lake, export the session with
``export_nwb``, ingest the export into a second lake, then check that

* every per-session table has identical rows in both lakes (values, dtypes, nulls, floats bit for bit),
  except the provenance columns ``sessions.source_uri``, ``source_hash`` and ``nwb_version``: they say
  where the rows came from (the export is another file, written by pynwb 4.2 in its own NWB version);
* pynwb reads the same units, electrodes, trials and epochs tables, spike trains and electrode group
  names from the export as from the original (compared with pynwb, not with npc_lake's reader);
* nwbinspector (DANDI config) finds no PYNWB_VALIDATION problem and no CRITICAL problem that the
  original does not have too. The originals lack metadata DANDI requires (no subject, no subject age);
  the export keeps what the source recorded and invents nothing, so those results remain. A subject whose
  every field is empty (A8604) is no subject at all in the lake, hence the subject checks count as one;
* given the subject fields the source lacks (``export_nwb(subject=…)``, the depositor's knowledge; the
  values here are the test's), every export has zero CRITICAL, PYNWB_VALIDATION and ERROR results.

LONELYMTN's ElectricalSeries have 4 data columns for 12 electrodes: the lake keeps both recordings rows as
the file has them, and the export leaves those two recordings out (with a warning) rather than write a
series NWB calls invalid, so they are the only rows that do not come back.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from npc_lake.export.session import export_nwb
from npc_lake.lake import Lake
from npc_lake.pipeline import ingest
from npc_lake.schema import SESSION_TABLES, TABLES

from conftest import REALDATA

pynwb = pytest.importorskip("pynwb")
nwbinspector = pytest.importorskip("nwbinspector")

pytestmark = [
    pytest.mark.realdata,
    # LONELYMTN's series have 4 data columns for 12 electrodes: pynwb says so on writing and reading
    pytest.mark.filterwarnings("ignore:.*second dimension of data does not match the length of electrodes"),
]

FILES = ("dandi-cli/sub-anm369963_ses-20170228.nwb", "dandi-cli/sub-anm372793_ses-20170508.nwb",
         "hdmf-zarr/sub_anm00239123_ses_20170627T093549_ecephys_and_ogen.nwb",
         "neuroconv/ecephys_tutorial_v2.5.0.nwb", "pynapple/phy__A8604-211122.nwb")
#: Subject fields each source lacks for DANDI, as a depositor would give them (the values are made up).
SUBJECT_FIELDS = {
    "dandi-cli": {"age": "P56D/"},
    "hdmf-zarr": {"age": "P56D/"},
    "neuroconv": {"subject_id": "tutorial-mouse", "species": "Mus musculus", "sex": "U", "age": "P90D"},
    "pynapple": {"subject_id": "A8604", "species": "Mus musculus", "sex": "U", "age": "P56D/"},
}
UNSORTED = "dandi-cli"  # the Janelia files on DANDI store each unit's spikes out of time order
PROVENANCE = {"sessions": ("source_uri", "source_hash", "nwb_version")}
TABLES_COMPARED = ("units", "electrodes", "trials", "epochs")


@dataclass
class RoundTrip:
    """One file's round trip: the original, its export, and the two lakes."""

    original: Path
    exported: Path
    session_id: str
    first: Lake
    second: Lake


@pytest.fixture(scope="module", params=FILES, ids=[f.split("/")[0] for f in FILES])
def trip(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> RoundTrip:
    original = REALDATA / "nwb" / request.param
    if not original.exists():
        pytest.skip(f"real data not available: {original} (set NPC_LAKE_REALDATA)")
    root = tmp_path_factory.mktemp("roundtrip")
    first, second = Lake.open(root / "first"), Lake.open(root / "second")
    sort_spikes = UNSORTED in request.param
    session_id = ingest(original, lake=first, sort_spikes=sort_spikes).session_id
    with pytest.warns(UserWarning, match="4 channels for 12 electrodes") if "neuroconv" in request.param else (
            warnings.catch_warnings()):
        exported = export_nwb(session_id, root / "export" / f"{session_id}.nwb", lake=first)
    assert ingest(exported, lake=second, sort_spikes=sort_spikes).session_id == session_id
    return RoundTrip(original, exported, session_id, first, second)


def session_rows(lake: Lake, table: str, session_id: str) -> pl.DataFrame:
    frame = lake.scan(table).filter(pl.col("session_id") == session_id).collect()
    frame = frame.drop([c for c in PROVENANCE.get(table, ()) if c in frame.columns])
    return frame.sort([k for k in TABLES[table].sort_by if k in frame.columns])


@pytest.mark.parametrize("table", SESSION_TABLES)
def test_rows_survive_the_round_trip(trip: RoundTrip, table: str) -> None:
    before = session_rows(trip.first, table, trip.session_id)
    after = session_rows(trip.second, table, trip.session_id)
    if table == "recordings":  # series whose data width contradicts their electrodes are not exported
        before = before.filter(pl.col("n_channels") == pl.col("electrode_ids").list.len())
        if before.is_empty():  # nothing to write: the second lake has no such table, hence no extra columns
            assert after.is_empty()
            return
    assert_frame_equal(after, before, check_exact=True)


@contextmanager
def opened(path: Path) -> Iterator[Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pynwb.NWBHDF5IO(str(path), "r", load_namespaces=True) as io:
            yield io.read()


def plain(value: Any) -> Any:
    """A pynwb cell as comparable plain Python: objects by name, arrays and regions as lists."""
    if isinstance(value, pd.DataFrame):  # a region of another table: the row ids it points at
        return value.index.tolist()
    if hasattr(value, "name") and hasattr(value, "object_id"):
        return value.name
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.ndarray | list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def same(a: Any, b: Any) -> bool:
    """Equal, with NaN equal to NaN (floats compared exactly)."""
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float) and np.isnan(a) and np.isnan(b):
        return True
    return bool(a == b)


def test_pynwb_reads_the_same_tables(trip: RoundTrip) -> None:
    sort = UNSORTED in str(trip.original)
    with opened(trip.original) as original, opened(trip.exported) as exported:
        assert sorted(exported.electrode_groups) == sorted(original.electrode_groups)
        assert sorted(exported.devices) == sorted(original.devices)
        for name in TABLES_COMPARED:
            want, got = getattr(original, name), getattr(exported, name)
            assert (got is None) == (want is None), name
            if want is None:
                continue
            want_frame, got_frame = want.to_dataframe(), got.to_dataframe()
            assert list(got_frame.index) == list(want_frame.index), name
            assert sorted(got_frame.columns) == sorted(want_frame.columns), name
            for column in want_frame.columns:
                for row, (w, g) in enumerate(zip(want_frame[column], got_frame[column], strict=True)):
                    w, g = plain(w), plain(g)
                    if column == "spike_times" and sort:
                        w = sorted(w)
                    assert same(g, w), f"{name}.{column} row {row}: {g!r} != {w!r}"
        if original.units is not None:
            for i in range(len(original.units)):
                want_train = np.asarray(original.units.get_unit_spike_times(i))
                got_train = np.asarray(exported.units.get_unit_spike_times(i))
                np.testing.assert_array_equal(got_train, np.sort(want_train) if sort else want_train)


def at(nwbfile: Any, nwb_path: str) -> Any:
    """The object at ``acquisition/<name>`` or ``processing/<module>/.../<name>`` of a pynwb file."""
    root, *rest = nwb_path.split("/")
    node = nwbfile.acquisition if root == "acquisition" else nwbfile.processing
    for part in rest:
        node = node[part]
    return node


def test_recordings_link_to_the_original_samples(trip: RoundTrip) -> None:
    recordings = session_rows(trip.second, "recordings", trip.session_id)
    with opened(trip.original) as original, opened(trip.exported) as exported:
        for row in recordings.iter_rows(named=True):
            assert row["data_uri"] == str(trip.original)
            want, got = at(original, row["nwb_path"]), at(exported, row["nwb_path"])
            np.testing.assert_array_equal(got.data[:], want.data[:])
            assert got.rate == want.rate and got.starting_time == want.starting_time
    assert trip.exported.stat().st_size < 2 * 1024 * 1024  # linked, not copied


def inspector_results(path: Path) -> list[Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return list(nwbinspector.inspect_nwbfile(nwbfile_path=str(path), config=nwbinspector.load_config("dandi")))


def critical_checks(results: list[Any]) -> set[str]:
    """Names of the CRITICAL checks that failed; every subject check counts as ``check_subject``."""
    names = {r.check_function_name for r in results if r.importance.name == "CRITICAL"}
    return {"check_subject" if n.startswith("check_subject") else n for n in names}


def test_nwbinspector_finds_nothing_new(trip: RoundTrip) -> None:
    exported = inspector_results(trip.exported)
    assert [r for r in exported if r.importance.name in ("PYNWB_VALIDATION", "ERROR")] == []
    assert critical_checks(exported) <= critical_checks(inspector_results(trip.original))


def test_export_with_the_missing_subject_fields_is_dandi_ready(trip: RoundTrip, tmp_path: Path) -> None:
    fields = next(v for k, v in SUBJECT_FIELDS.items() if k in str(trip.original))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        path = export_nwb(trip.session_id, tmp_path / "dandi.nwb", lake=trip.first, subject=fields)
    blocking = [(r.check_function_name, r.message) for r in inspector_results(path)
                if r.importance.name in ("CRITICAL", "PYNWB_VALIDATION", "ERROR")]
    assert blocking == []
    with opened(path) as nwbfile:
        assert {k: getattr(nwbfile.subject, k) for k in fields} == fields
    assert session_rows(trip.first, "subjects", trip.session_id).equals(
        session_rows(trip.second, "subjects", trip.session_id))  # the lake itself is unchanged
