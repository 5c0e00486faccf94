"""Synthetic raw Dynamic Routing session folders, written in the rigs' own file formats, with their truth.

:func:`write_raw_session` takes session ``index`` of the synthetic corpus (:mod:`npc_lake.testing.synth`:
subject, probes, channels, units and their true spike trains) and writes what a rig and the sorting
pipeline would have left on disk::

    DRpilot_<subject>_<yyyymmdd>/
      behavior/<yyyymmddTHHMMSS>.h5                        Allen sync file (100 kHz)
      behavior/<Task>_<subject>_<yyyymmdd>_<HHMMSS>.hdf5   one TaskControl file per epoch
      ecephys/ecephys_clipped/Record Node 101/experiment1/recording1/
                                                           Open Ephys: probes' TTL barcodes, a short AP stream
      sorted/Probe<L>/                                     Kilosort/phy files, metrics.csv, CCF channel table

(``layout="aind"``, the default; ``layout="flat"`` puts the sync and task files and ``Record Node 101`` at
the top of the folder, as a rig computer holds a session.)

Every time is on the sync clock: truth time ``t`` of the corpus session happens at sync time
``t + sync_lead``. Each probe's clock runs at ``30 kHz * (1 + drift_ppm * 1e-6)`` from its own start, so
spike sample numbers must be fitted to the sync clock through the barcodes both recorded.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import h5py
import numpy as np
import polars as pl

from npc_lake.schema.bundle import SessionBundle
from npc_lake.sources.timing import BAR_DURATION, BARCODE_BITS
from npc_lake.testing._synth_util import FloatArray, stream
from npc_lake.testing.synth import _identity, synth_session
from npc_lake.testing.synth_raw_task import (
    RunContext,
    TaskRun,
    dynamic_routing_run,
    opto_tagging_run,
    rf_mapping_run,
    spontaneous_run,
)
from npc_lake.testing.synth_task_params import sound_on_sync

SYNC_RATE = 100_000.0
PROBE_RATE = 30_000.0
CONTINUOUS_SAMPLES = 300
#: Sync line of each signal (bit → label); sound (1) and laser (11) are unlabelled, as on the rigs.
SYNC_LINES = {0: "barcode_ephys", 1: "", 2: "vsync_stim", 4: "stim_photodiode", 5: "stim_running", 11: "",
              27: "beh_cam_exposing", 28: "face_cam_exposing", 29: "eye_cam_exposing", 31: "lick_sensor"}
BARCODE_INTERVAL = 30.0
RIG = "NP3"
VSYNC_PULSE_S = 0.002  # TaskControl raises the frame line before each flip and lowers it once the flip returns
ACQUISITION_OFF_S = 0.001  # the acquisition (stim_running) line falls just after the last flip
WINDOW_CLOSE_S = 2 / 60.0  # the window closes about two frames after the last flip
WINDOW_OPEN_S = 0.25  # the task's window opens (grey) this long before its first frame
SQUARE_BLACK_FIRST_DATE = date(2023, 8, 25)  # since then TaskControl draws the sync square black before frame 0
DIODE_FALL_DELAY_S = 0.0012  # photodiode threshold asymmetry: falling edges trail rising ones
METRIC_COLUMNS = ("amplitude_cutoff", "isi_violations_ratio", "isi_violations_count", "presence_ratio",
                  "firing_rate", "snr", "amplitude_median", "drift_ptp", "drift_std", "drift_mad", "nn_hit_rate",
                  "nn_miss_rate", "rp_contamination", "rp_violations", "sliding_rp_violation", "silhouette",
                  "d_prime", "l_ratio", "isolation_distance", "amplitude_cv_median", "amplitude_cv_range",
                  "firing_range", "sync_spike_2", "half_width", "peak_to_valley", "peak_trough_ratio",
                  "repolarization_slope", "recovery_slope", "spread", "velocity_above", "velocity_below",
                  "activity_drift", "decoder_label", "default_qc")


@dataclass(frozen=True)
class ProbeClock:
    """A probe's true clock: sample ``first_sample`` at sync time ``start``, ``rate`` samples per second."""

    rate: float
    start: float
    first_sample: int

    def samples(self, sync_times: FloatArray) -> np.ndarray[Any, np.dtype[np.int64]]:
        """Absolute sample numbers of sync times (rounded to the nearest sample)."""
        return self.first_sample + np.rint((sync_times - self.start) * self.rate).astype(np.int64)


@dataclass
class RawTruth:
    """What a generated raw folder holds, as the truth a reader must recover."""

    folder: Path
    session_id: str
    sync_lead: float
    display_lag: float
    runs: list[TaskRun]
    clocks: dict[str, ProbeClock]
    bundle: SessionBundle
    cameras: bool = True
    skipped_probes: list[str] = field(default_factory=list)

    @property
    def task(self) -> TaskRun:
        """The DynamicRouting1 run."""
        return next(run for run in self.runs if run.task_name == "DynamicRouting1")

    def trials(self) -> pl.DataFrame:
        """The true trials of the task, one row per completed trial."""
        return pl.DataFrame(self.task.truth)

    def spikes(self) -> pl.DataFrame:
        """Every true spike: ``unit_id`` and ``spike_time`` on the sync clock (units of sorted probes)."""
        frames = [batch.select("unit_id", pl.col("spike_time") + self.sync_lead)
                  for batch in self.bundle.spike_batches()]
        spikes = pl.concat(frames) if frames else pl.DataFrame(schema={"unit_id": pl.String, "spike_time": pl.Float64})
        return spikes.filter(~pl.col("unit_id").str.contains("|".join(f"_{p}-" for p in self.skipped_probes))
                             if self.skipped_probes else pl.lit(True))

    @property
    def licks(self) -> FloatArray:
        return np.sort(np.concatenate([run.licks for run in self.runs]))


def barcode_edges(starts: FloatArray, values: np.ndarray[Any, Any]) -> tuple[FloatArray, FloatArray]:
    """Rising and falling edge times of barcodes (start pulse, a low bar, 32 bits LSB first, 1 = high)
    starting at ``starts`` with ``values``, as :func:`npc_lake.sources.timing.decode_barcodes` reads them."""
    rising: list[float] = []
    falling: list[float] = []
    for start, value in zip(np.asarray(starts, dtype=np.float64).tolist(), np.asarray(values).tolist(), strict=True):
        rising.append(start)
        falling.append(start + BAR_DURATION)
        level = False
        for bit in range(BARCODE_BITS):
            high, t = bool((int(value) >> bit) & 1), start + (2 + bit) * BAR_DURATION
            if high != level:
                (rising if high else falling).append(t)
                level = high
        if level:
            falling.append(start + (2 + BARCODE_BITS) * BAR_DURATION)
    return np.array(rising), np.array(falling)


def _barcode_edges(rng: np.random.Generator, stop: float) -> tuple[FloatArray, FloatArray]:
    """Barcodes every ~30 s over the whole sync recording, with random distinct values."""
    starts = np.arange(1.0, stop - 2.0, BARCODE_INTERVAL)
    starts = starts + rng.uniform(0.0, 0.5, starts.size)  # the generator's own clock: unrelated phases
    rising, falling = barcode_edges(starts, rng.integers(0, 2**BARCODE_BITS, starts.size))
    # a microcontroller's edges wander by microseconds: both clocks see the same wandering edge
    return rising + rng.uniform(-2e-5, 2e-5, rising.size), falling + rng.uniform(-2e-5, 2e-5, falling.size)


def _photodiode_edges(runs: list[TaskRun], lag: float, *, black_first: bool) -> tuple[FloatArray, FloatArray]:
    """Rising and falling edges of the photodiode over the sync square of every run.

    TaskControl inverts the square on every ``diodeBoxFrameInterval``-th frame from frame 0 (every frame
    before that setting existed, July 2025). Since 2023-08-25 the square is drawn black before the first
    frame, so frame 0 turns it white (a rising edge); before, it started white and frame 0 turned it black
    (a falling edge from the grey start-up screen, which the photodiode reads as high). Closing the window
    after the last frame darkens a white square: a falling edge a couple of frames after the last flip.
    Falling edges trail by the sensor's threshold asymmetry.
    """
    rising, falling = [], []
    for run in runs:
        interval = int(run.values.get("diodeBoxFrameInterval", 1))
        toggles = run.flips[::interval] + lag
        white, black = (toggles[0::2], toggles[1::2]) if black_first else (toggles[1::2], toggles[0::2])
        if (toggles.size % 2 == 1) == black_first:  # the square is white when the window closes
            black = np.append(black, run.flips[-1] + WINDOW_CLOSE_S + lag)
        if not black_first:  # the grey start-up screen reads above threshold until frame 0 turns the square black
            white = np.insert(white, 0, run.flips[0] - WINDOW_OPEN_S)
        rising.append(white)
        falling.append(black + DIODE_FALL_DELAY_S)
    return np.concatenate(rising), np.concatenate(falling)


def _pulses(on: FloatArray, off: FloatArray) -> tuple[FloatArray, FloatArray]:
    return np.asarray(on, dtype=np.float64), np.asarray(off, dtype=np.float64)


def _sync_data(lines: dict[int, tuple[FloatArray, FloatArray]]) -> np.ndarray[Any, Any]:
    """The (N, 2) [sample, bitmask] event list of every line's rising and falling edges."""
    samples, bits, levels = [], [], []
    for line, (rising, falling) in lines.items():
        for times, high in ((rising, 1), (falling, 0)):
            samples.append(np.rint(np.asarray(times) * SYNC_RATE).astype(np.int64))
            bits.append(np.full(len(times), line))
            levels.append(np.full(len(times), high))
    sample, bit, level = np.concatenate(samples), np.concatenate(bits), np.concatenate(levels)
    order = np.lexsort((level, sample))  # a pulse's fall before the next rise at the same sample
    sample, bit, level = sample[order], bit[order], level[order]
    state = np.zeros(sample.size, dtype=np.uint64)
    rows = np.arange(sample.size)
    for b in np.unique(bit):
        last = np.maximum.accumulate(np.where(bit == b, rows, -1))
        state |= np.where(last >= 0, level[np.maximum(last, 0)], 0).astype(np.uint64) << np.uint64(b)
    return np.vstack([[0, 0], np.column_stack([sample, state])]).astype(np.uint32)


def _write_h5(path: Path, values: dict[str, Any]) -> None:
    with h5py.File(path, "w") as file:
        for name, value in values.items():
            if isinstance(value, bytes):
                file.create_dataset(name, data=value, dtype=h5py.string_dtype())
            elif isinstance(value, np.ndarray) and value.dtype == object:
                file.create_dataset(name, data=[v if isinstance(v, bytes) else str(v).encode() for v in value],
                                    dtype=h5py.string_dtype())
            else:
                file.create_dataset(name, data=value)


def _write_sync(path: Path, runs: list[TaskRun], *, lag: float, stop: float, licks: FloatArray,
                barcodes: tuple[FloatArray, FloatArray], cameras: bool, rng: np.random.Generator,
                start_time: datetime) -> None:
    flips = np.concatenate([run.flips for run in runs])
    diode_on, diode_off = _photodiode_edges(runs, lag, black_first=start_time.date() >= SQUARE_BLACK_FIRST_DATE)
    lick_off = np.minimum(licks + rng.uniform(0.03, 0.06, licks.size), np.append(licks[1:] - 1e-3, np.inf))
    sound = np.array([edge for run in runs for edge in run.sound]).reshape(-1, 2)
    laser = np.array([edge for run in runs for edge in run.laser]).reshape(-1, 2)
    lines: dict[int, tuple[FloatArray, FloatArray]] = {
        0: barcodes, 2: _pulses(flips - VSYNC_PULSE_S, flips),
        4: _pulses(diode_on, diode_off),
        5: _pulses(np.array([r.flips[0] - VSYNC_PULSE_S for r in runs]),
                   np.array([r.flips[-1] + ACQUISITION_OFF_S for r in runs])),
        11: _pulses(laser[:, 0], laser[:, 1]), 31: _pulses(licks, lick_off)}
    if sound_on_sync(start_time.date()):  # before 2023-08-31, no rig had a sound line on sync
        lines[1] = _pulses(sound[:, 0], sound[:, 1])
    if cameras:
        for bit in (27, 28, 29):
            exposures = np.arange(0.5 + rng.uniform(0, 0.1), stop - 0.5, 1 / 60.0)
            lines[bit] = _pulses(exposures, exposures + 0.005)
    labels = [SYNC_LINES.get(bit, "") for bit in range(32)]
    meta = {"ni_daq": {"device": "Dev1", "counter_output_freq": SYNC_RATE, "sample_rate": SYNC_RATE,
                       "counter_bits": 32, "event_bits": 32},
            "start_time": start_time.isoformat(sep=" "),
            "stop_time": (start_time + timedelta(seconds=stop)).isoformat(sep=" "),
            "line_labels": labels, "timeouts": [], "version": "npc_lake synthetic", "sampling_type": "frequency",
            "file_version": "1.0.0", "total_samples": int(stop * SYNC_RATE), "line_label_revision": 3}
    with h5py.File(path, "w") as file:
        file["data"] = _sync_data(lines)
        file["meta"] = np.bytes_(repr(meta).encode())


def _write_open_ephys(folder: Path, clocks: dict[str, ProbeClock], barcodes: tuple[FloatArray, FloatArray],
                      software_start: datetime, rng: np.random.Generator) -> None:
    """One Open Ephys recording: an AP stream per probe (a short one) and its TTL barcode events."""
    root = folder / "Record Node 101" / "experiment1" / "recording1"
    continuous, events = [], []
    started_ms = int(software_start.timestamp() * 1000)
    messages = [f"Software Time (milliseconds since midnight Jan 1st 1970 UTC): {started_ms}"]
    for letter, clock in clocks.items():
        name = f"Probe{letter}-AP"
        folder_name = f"Neuropix-PXI-100.{name}"
        stream_dir = root / "continuous" / folder_name
        stream_dir.mkdir(parents=True, exist_ok=True)
        rng.integers(-300, 300, (CONTINUOUS_SAMPLES, 384), dtype=np.int16).tofile(stream_dir / "continuous.dat")
        numbers = clock.first_sample + np.arange(CONTINUOUS_SAMPLES, dtype=np.int64)
        np.save(stream_dir / "sample_numbers.npy", numbers)
        np.save(stream_dir / "timestamps.npy", numbers / PROBE_RATE)
        ttl = root / "events" / folder_name / "TTL"
        ttl.mkdir(parents=True, exist_ok=True)
        rising, falling = clock.samples(barcodes[0]), clock.samples(barcodes[1])
        samples = np.concatenate([rising, falling])
        states = np.concatenate([np.ones(rising.size), -np.ones(falling.size)]).astype(np.int16)
        order = np.lexsort((states, samples))
        np.save(ttl / "sample_numbers.npy", samples[order])
        np.save(ttl / "states.npy", states[order])
        np.save(ttl / "timestamps.npy", samples[order] / PROBE_RATE)
        np.save(ttl / "full_words.npy", (states[order] > 0).astype(np.uint64))
        channels = [{"channel_name": f"CH{i + 1}", "description": "Neuropixels electrode", "identifier": "",
                     "history": "Neuropix-PXI -> Record Node", "bit_volts": 0.195, "units": ""} for i in range(384)]
        continuous.append({"folder_name": f"{folder_name}/", "sample_rate": PROBE_RATE,
                           "source_processor_name": "Neuropix-PXI", "source_processor_id": 100, "stream_name": name,
                           "recorded_processor": "Record Node", "recorded_processor_id": 101, "num_channels": 384,
                           "channels": channels})
        events.append({"folder_name": f"{folder_name}/TTL/", "channel_name": "Neuropixels PXI Sync",
                       "description": "Status of SMA sync line on PXI card", "identifier": "neuropixels.sync",
                       "sample_rate": PROBE_RATE, "type": "int16", "source_processor": "Neuropix-PXI",
                       "stream_name": name, "initial_state": 0})
        messages.append(f"Start Time for Neuropix-PXI (100) - {name} @ 30000 Hz: {clock.first_sample}")
    root.mkdir(parents=True, exist_ok=True)
    (root / "structure.oebin").write_text(json.dumps({"GUI version": "0.6.0", "continuous": continuous,
                                                      "events": events, "spikes": []}, indent=4))
    (root / "sync_messages.txt").write_text("\r\n".join(messages) + "\r\n")


def _spikes_by_probe(bundle: SessionBundle) -> dict[str, tuple[FloatArray, np.ndarray[Any, Any], FloatArray]]:
    """Every true spike, per probe letter: (sync-clock-free truth times, cluster ids, amplitudes), streamed
    from the corpus batches unit run by unit run (no per-spike strings are kept)."""
    units = bundle.tables["units"]
    where = {u: (g.removeprefix("probe"), k) for u, g, k in
             units.select("unit_id", "electrode_group_name", "ks_unit_id").iter_rows()}
    parts: dict[str, list[tuple[FloatArray, np.ndarray[Any, Any], FloatArray]]] = {}
    for batch in bundle.spike_batches():
        times, amplitudes = batch["spike_time"].to_numpy(), batch["amplitude"].to_numpy()
        offset = 0
        for length, unit_id in batch["unit_id"].rle().struct.unnest().iter_rows():
            letter, cluster = where[unit_id]
            parts.setdefault(letter, []).append((times[offset:offset + length],
                                                 np.full(length, cluster, dtype=np.uint32),
                                                 amplitudes[offset:offset + length]))
            offset += length
    return {letter: tuple(np.concatenate([p[i] for p in chunks]) for i in range(3))  # type: ignore[misc]
            for letter, chunks in parts.items()}


def _write_sorted(folder: Path, letter: str, probe_index: int, clock: ProbeClock, units: pl.DataFrame,
                  electrodes: pl.DataFrame, spikes: tuple[FloatArray, np.ndarray[Any, Any], FloatArray],
                  subject: str, sync_lead: float) -> None:
    """Kilosort/phy files, metrics.csv and the CCF channel table of one probe."""
    folder.mkdir(parents=True, exist_ok=True)
    ks = units["ks_unit_id"].to_numpy()
    truth_times, truth_clusters, truth_amplitudes = spikes
    order = np.argsort(truth_times, kind="stable")
    samples = np.rint((truth_times[order] + sync_lead - clock.start) * clock.rate).astype(np.uint64)
    np.save(folder / "spike_times.npy", samples)
    np.save(folder / "spike_clusters.npy", truth_clusters[order])
    np.save(folder / "amplitudes.npy", truth_amplitudes[order].astype(np.float64) / 50.0)
    del samples, order
    n_templates = int(ks.max(initial=-1)) + 1
    waveforms = np.array(units["waveform_mean"].to_list(), dtype=np.float64).reshape(units.height, 61, 8)
    templates = np.zeros((n_templates, waveforms.shape[1], waveforms.shape[2]), dtype=np.float32)
    index = np.tile(np.arange(waveforms.shape[2], dtype=np.float64), (n_templates, 1))
    templates[ks] = waveforms / 100.0
    index[ks] = np.array(units["electrodes"].to_list(), dtype=np.float64).reshape(units.height, 8) - probe_index * 384
    np.save(folder / "templates.npy", templates)
    np.save(folder / "templates_ind.npy", index)
    np.save(folder / "channel_map.npy", np.arange(384, dtype=np.int32))
    np.save(folder / "channel_positions.npy", electrodes.select("rel_x", "rel_y").to_numpy())
    group = np.where(units["decoder_label"] == "sua", "good", units["decoder_label"].to_numpy())
    pl.DataFrame({"cluster_id": ks, "group": group}).write_csv(folder / "cluster_group.tsv", separator="\t")
    pl.DataFrame({"cluster_id": ks, "KSLabel": np.where(group == "noise", "mua", group)}).write_csv(
        folder / "cluster_KSLabel.tsv", separator="\t")
    (folder / "params.py").write_text('dat_path = "continuous.dat"\nn_channels_dat = 384\ndtype = "int16"\n'
                                      "offset = 0\nsample_rate = 30000.0\nhp_filtered = False\n")
    units.select(pl.col("ks_unit_id").alias(""), *METRIC_COLUMNS).write_csv(folder / "metrics.csv")
    pl.DataFrame({"channel": electrodes["channel"], "AP": electrodes["x"] / 25.0, "DV": electrodes["y"] / 25.0,
                  "ML": electrodes["z"] / 25.0, "region": electrodes["location"],
                  "region_stripped": electrodes["structure"]}).write_csv(
        folder / f"Probe_{letter}1_channels_{subject}_warped_processed_new_sorting.csv")


def write_raw_session(out: str | os.PathLike[str], *, index: int = 0, seed: int = 0, n_units: int = 60,
                      duration_s: float = 300.0, n_probes: int | None = 2, drift_ppm: float | None = None,
                      opto: bool = True, aborted_last_trial: bool = False, cameras: bool = True,
                      layout: Literal["aind", "flat"] = "aind") -> RawTruth:
    """Write session ``index`` of the synthetic corpus as a raw DR session folder under ``out``.

    Parameters
    ----------
    out
        Parent folder; the session folder is created in it.
    index, seed, n_units, duration_s, n_probes
        As for :func:`npc_lake.testing.synth.synth_session` (the source of units and spike trains).
    drift_ppm
        Every probe clock runs this fast (parts per million) against the sync clock; by default each
        probe draws its own drift between -30 and 30 ppm.
    opto
        End with an OptoTagging epoch (else a Spontaneous one).
    aborted_last_trial
        Stop the task during its last trial.
    cameras
        Record the three cameras' exposure lines (60 Hz each).
    layout
        ``"aind"``: as the rig's upload lays a session out (``behavior/`` with the sync and task files,
        ``ecephys/ecephys_clipped/Record Node 101``, sorted output in ``sorted/``); ``"flat"``: as a rig
        computer's session folder holds it, the sync and task files and ``Record Node 101`` at the top
        (the layout npc_sessions reads from a local path).

    Returns
    -------
    RawTruth
    """
    bundle = synth_session(index, n_units=n_units, duration_s=duration_s, seed=seed, n_probes=n_probes)
    who = _identity(seed, index)
    rng = stream(seed, index, 9_001)
    lead, lag = 4.0, float(rng.uniform(0.018, 0.024))
    stop = lead + duration_s + 2.0
    folder = Path(out) / f"DRpilot_{who.subject_id}_{who.day:%Y%m%d}"
    behavior = folder / "behavior" if layout == "aind" else folder
    ecephys = folder / "ecephys" / "ecephys_clipped" if layout == "aind" else folder
    behavior.mkdir(parents=True, exist_ok=True)
    epochs = bundle.tables["epochs"].select("script_name", "start_time", "stop_time").rows()
    runs: list[TaskRun] = []
    context = RunContext(subject=who.subject_id, rig=RIG, day=who.day)
    for position, (name, start, stop_epoch) in enumerate(epochs):
        when = who.local_start + timedelta(seconds=lead + start)
        args = {"start": lead + start + 0.6, "stop": lead + stop_epoch - 0.6, "context": context,
                "start_text": f"{when:%Y%m%d_%H%M%S}"}
        last = position == len(epochs) - 1
        if name == "DynamicRouting1":
            run = dynamic_routing_run(rng, lag=lag, aborted=aborted_last_trial, **args)
        elif name == "RFMapping":
            run = rf_mapping_run(rng, lag=lag, **args)
        elif last and opto:
            run = opto_tagging_run(rng, **args)
        else:
            run = spontaneous_run(rng, **args)
        runs.append(run)
        _write_h5(behavior / f"{run.task_name}_{who.subject_id}_{when:%Y%m%d_%H%M%S}.hdf5", run.values)
    barcodes = _barcode_edges(rng, stop)
    licks = np.sort(np.concatenate([run.licks for run in runs]))
    _write_sync(behavior / f"{who.local_start:%Y%m%dT%H%M%S}.h5", runs, lag=lag, stop=stop, licks=licks,
                barcodes=barcodes, cameras=cameras, rng=rng, start_time=who.local_start)
    letters = [name.removeprefix("probe") for name in bundle.tables["devices"]["device_name"].to_list()]
    clocks = {}
    for letter in letters:
        drift = drift_ppm if drift_ppm is not None else float(rng.uniform(-30.0, 30.0))
        clocks[letter] = ProbeClock(rate=PROBE_RATE * (1 + drift * 1e-6), start=float(rng.uniform(1.0, 3.0)),
                                    first_sample=int(rng.integers(100_000, 3_000_000)))
    software_start = who.start_utc + timedelta(seconds=min((c.start for c in clocks.values()), default=0.0))
    _write_open_ephys(ecephys, clocks, barcodes, software_start, rng)
    units, electrodes = bundle.tables["units"], bundle.tables["electrodes"]
    spikes = _spikes_by_probe(bundle)
    none: tuple[FloatArray, np.ndarray[Any, Any], FloatArray] = (np.empty(0), np.empty(0, dtype=np.uint32),
                                                                  np.empty(0))
    for probe_index, letter in enumerate(letters):
        group = f"probe{letter}"
        probe_units = units.filter(pl.col("electrode_group_name") == group)
        _write_sorted(folder / "sorted" / f"Probe{letter}", letter, probe_index, clocks[letter], probe_units,
                      electrodes.filter(pl.col("electrode_group_name") == group),
                      spikes.pop(letter, none), who.subject_id, lead)
    return RawTruth(folder=folder, session_id=who.session_id, sync_lead=lead, display_lag=lag, runs=runs,
                    clocks=clocks, bundle=bundle, cameras=cameras)


def write_raw_sessions(out: str | os.PathLike[str], *, n_sessions: int = 1, n_units: int = 300,
                       duration_s: float = 600.0, seed: int = 0, n_probes: int | None = None,
                       overwrite: bool = False) -> list[Path]:
    """Write sessions 0 … ``n_sessions``-1 of the corpus as raw DR session folders into ``out``.

    Parameters
    ----------
    out
        Parent folder (created if missing).
    n_sessions, n_units, duration_s, seed, n_probes
        Size and seed of the corpus (see :func:`write_raw_session`; ``n_probes`` ``None``: 5 or 6).
    overwrite
        Replace session folders that exist (otherwise an existing one is an error).

    Returns
    -------
    list of pathlib.Path
        The session folders, in session order.

    Raises
    ------
    FileExistsError
        A session folder exists and ``overwrite`` is false.
    """
    folders = []
    for index in range(n_sessions):
        who = _identity(seed, index)
        folder = Path(out) / f"DRpilot_{who.subject_id}_{who.day:%Y%m%d}"
        if folder.exists():
            if not overwrite:
                raise FileExistsError(f"{folder} exists (pass overwrite=True / --overwrite to replace it)")
            shutil.rmtree(folder)
        folders.append(write_raw_session(out, index=index, seed=seed, n_units=n_units, duration_s=duration_s,
                                         n_probes=n_probes).folder)
    return folders


__all__ = ["ProbeClock", "RawTruth", "barcode_edges", "write_raw_session", "write_raw_sessions"]
