"""NWB-Zarr stores (``.nwb.zarr``) ingest to the same rows as the same session in NWB HDF5, locally and
from S3; damaged or hostile stores are refused without touching the lake."""

from __future__ import annotations

import pickle
import uuid
from pathlib import Path

import numcodecs
import polars as pl
import pytest
from click.testing import CliRunner

from npc_lake.cli import main
from npc_lake.errors import SourceError
from npc_lake.lake import Lake
from npc_lake.pipeline import ingest
from npc_lake.schema import SESSION_TABLES
from npc_lake.sources.nwb import NwbSource, read_nwb
from npc_lake.sources.zarr_tree import UnsafePickleError, open_zarr, safe_unpickle
from npc_lake.testing import write_synthetic_nwb
from npc_lake.testing.nwb_zarr import write_nwb_zarr

from conftest import REALDATA

PROVENANCE = ("source_uri", "source_hash")


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One synthetic session as an NWB HDF5 file and as an NWB-Zarr store."""
    folder = tmp_path_factory.mktemp("zarr")
    (h5,) = write_synthetic_nwb(folder, n_sessions=1, n_units=30, duration_s=150.0, seed=21)
    return h5, write_nwb_zarr(h5, folder / f"{h5.stem}.nwb.zarr")


def rows(lake: Lake, name: str, *, ignore: tuple[str, ...] = PROVENANCE) -> pl.DataFrame:
    frame = lake.scan(name).collect()
    frame = frame.drop([c for c in ignore if c in frame.columns])
    return frame.sort(frame.columns) if frame.height else frame


def assert_same_lakes(a: Lake, b: Lake, *, ignore: tuple[str, ...] = PROVENANCE) -> None:
    for name in SESSION_TABLES:
        left, right = rows(a, name, ignore=ignore), rows(b, name, ignore=ignore)
        assert left.schema == right.schema, name
        assert left.equals(right, null_equal=True), name


def test_the_same_session_as_hdf5_and_as_zarr_ingests_to_identical_rows(pair: tuple[Path, Path],
                                                                        tmp_path: Path) -> None:
    h5, store = pair
    from_h5, from_zarr = Lake.open(tmp_path / "h5"), Lake.open(tmp_path / "zarr")
    ingest(h5, lake=from_h5)
    result = CliRunner().invoke(main, ["ingest", str(store), "--lake", str(from_zarr.uri)])  # auto: a Zarr store
    assert result.exit_code == 0, result.output
    assert_same_lakes(from_h5, from_zarr)
    assert rows(from_zarr, "spike_times").height > 1000 and rows(from_zarr, "units").height == 30
    assert from_zarr.scan("sessions").collect()["source_uri"].to_list() == [str(store)]
    assert ingest(store, lake=from_zarr).status == "unchanged"  # the store's listing is its digest


def test_zarr_references_and_links_read_like_hdf5(pair: tuple[Path, Path]) -> None:
    _, store = pair
    file = open_zarr(str(store))
    groups = file["units"]["electrode_group"][()]
    assert {ref.path.rsplit("/", 1)[0] for ref in groups} == {"/general/extracellular_ephys"}
    probe = file["general/extracellular_ephys"][groups[0].path.rsplit("/", 1)[1]]
    assert probe.get("device").name.startswith("/general/devices/")  # a zarr_link, followed
    assert file["session_start_time"].shape == () and isinstance(file["session_start_time"].asstr()[()], str)
    bundle = read_nwb(store)
    probes = set(bundle.tables["electrode_groups"]["electrode_group_name"])
    assert set(bundle.tables["units"]["electrode_group_name"]) <= probes


def test_restricted_unpickling_refuses_anything_but_arrays_and_references(tmp_path: Path) -> None:
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (Path.touch, (str(marker),))  # type: ignore[return-value]

    with pytest.raises(UnsafePickleError, match="pathlib"):
        safe_unpickle(pickle.dumps(Payload()))
    assert not marker.exists()
    assert safe_unpickle(pickle.dumps({"path": "/a", "source": "."})) == {"path": "/a", "source": "."}


def test_a_hostile_or_damaged_store_is_refused_and_the_lake_is_unchanged(pair: tuple[Path, Path],
                                                                       tmp_path: Path) -> None:
    import shutil

    _, store = pair
    lake = Lake.open(tmp_path / "lake")
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (Path.touch, (str(marker),))  # type: ignore[return-value]

    hostile = shutil.copytree(store, tmp_path / "hostile.nwb.zarr")
    chunk = hostile / "units" / "electrode_group" / "0"
    chunk.write_bytes(numcodecs.Blosc(cname="lz4").encode(pickle.dumps(Payload())))
    with pytest.raises(SourceError, match=r"hostile\.nwb\.zarr.*refused to unpickle"):
        ingest(hostile, lake=lake)
    assert not marker.exists() and lake.table_names() == []
    damaged = shutil.copytree(store, tmp_path / "damaged.nwb.zarr")
    spikes = damaged / "units" / "spike_times" / "0"
    spikes.write_bytes(spikes.read_bytes()[:40])
    with pytest.raises(SourceError, match=r"damaged\.nwb\.zarr.*Zarr error.*Blosc chunk.*truncated"):
        ingest(damaged, lake=lake)
    assert lake.table_names() == []
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(SourceError, match="not a Zarr store"):
        NwbSource(plain).read()


def upload_folder(folder: Path, uri: str) -> None:
    from npc_lake.sources.remote import s3_location

    filesystem, root = s3_location(uri)
    for item in folder.rglob("*"):
        if item.is_file():
            with filesystem.open_output_stream(f"{root}/{item.relative_to(folder).as_posix()}") as out:
                out.write(item.read_bytes())


def test_zarr_stores_on_s3_ingest_like_local_ones(s3_env, pair: tuple[Path, Path],  # type: ignore[no-untyped-def]
                                                  tmp_path: Path) -> None:
    from npc_lake.sources.remote import expand_remote

    h5, store = pair
    prefix = f"s3://raw/{uuid.uuid4().hex}"
    upload_folder(store, f"{prefix}/{store.name}")
    assert expand_remote(f"{prefix}/*.nwb.zarr") == [f"{prefix}/{store.name}"]
    local, remote = Lake.open(tmp_path / "local"), Lake.open(tmp_path / "remote")
    ingest(h5, lake=local)
    result = CliRunner().invoke(main, ["ingest", f"{prefix}/*.nwb.zarr", "--lake", str(remote.uri)])
    assert result.exit_code == 0, result.output
    assert_same_lakes(local, remote)
    assert ingest(f"{prefix}/{store.name}", lake=remote).status == "unchanged"


@pytest.mark.realdata
def test_a_real_session_converted_to_zarr_ingests_to_the_same_rows(tmp_path: Path) -> None:
    """The Janelia session of hdmf-zarr's own tests (units with waveforms, optogenetics trials)."""
    source = REALDATA / "nwb" / "hdmf-zarr" / "sub_anm00239123_ses_20170627T093549_ecephys_and_ogen.nwb"
    if not source.is_file():
        pytest.skip(f"real data absent: {source}")
    store = write_nwb_zarr(source, tmp_path / "real.nwb.zarr")
    from_h5, from_zarr = Lake.open(tmp_path / "h5"), Lake.open(tmp_path / "zarr")
    ingest(source, lake=from_h5)
    ingest(store, lake=from_zarr)
    assert_same_lakes(from_h5, from_zarr, ignore=(*PROVENANCE, "nwb_version"))  # export writes the newest 2.x
    assert rows(from_zarr, "spike_times").height == 34_057 and rows(from_zarr, "trials").height == 412
