"""Synthetic electrophysiology of a Dynamic Routing session: probes, channels, units and spike trains.

Spike counts are fixed when the units table is made, so ``num_spikes`` and ``firing_rate`` are known
before any spike exists; the trains are then drawn batch by batch, each batch from its own seeded
stream, as ordered uniform samples with a dead time (a Poisson process with a refractory period,
conditioned on its count) plus stimulus-locked spikes for visual and auditory units.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from npc_lake.schema.ephys import DEVICES, ELECTRODE_GROUPS, ELECTRODES, UNITS
from npc_lake.testing._synth_util import SPIKES, FloatArray, IntArray, frame, stream

N_CHANNELS = 384
REFRACTORY_S = 1.5e-3
_DEAD_TIME_S = REFRACTORY_S + 2e-6  # a hair more, so float rounding never breaks the 1.5 ms rule
WAVEFORM_SAMPLES, WAVEFORM_CHANNELS, SAMPLE_RATE, TROUGH_SAMPLE = 61, 8, 30_000.0, 20
MAX_BATCH_UNITS, MAX_BATCH_SPIKES = 200, 5_000_000
VISUAL = frozenset({"VISp", "VISl", "VISam", "LP", "LGd", "SCs"})
AUDITORY = frozenset({"AUDp", "MGv", "MGd"})

#: Per probe: target, tip position (CCF µm), direction from tip to top, and areas from the tip up
#: as (location, structure, channels); whatever is left above them is outside the brain ("root").
PROBES: dict[str, tuple[str, tuple[float, float, float], tuple[float, float, float],
                        tuple[tuple[str, str, int], ...]]] = {
    "A": ("MOs", (3050.0, 4480.0, 4710.0), (-0.12, -0.96, -0.25),
          (("CP", "CP", 90), ("MOs6b", "MOs", 10), ("MOs6a", "MOs", 60), ("MOs5", "MOs", 70),
           ("MOs2/3", "MOs", 50), ("MOs1", "MOs", 30))),
    "B": ("ACAd", (4230.0, 4390.0, 5330.0), (0.10, -0.97, -0.20),
          (("LSr", "LS", 80), ("ACAd6a", "ACAd", 60), ("ACAd5", "ACAd", 70), ("ACAd2/3", "ACAd", 50),
           ("ACAd1", "ACAd", 30))),
    "C": ("VISp", (9020.0, 3910.0, 2980.0), (0.15, -0.95, -0.27),
          (("LP", "LP", 60), ("DG-mo", "DG", 20), ("DG-sg", "DG", 10), ("CA1", "CA1", 50), ("VISp6a", "VISp", 40),
           ("VISp5", "VISp", 40), ("VISp4", "VISp", 25), ("VISp2/3", "VISp", 35), ("VISp1", "VISp", 20))),
    "D": ("VISl", (9240.0, 4170.0, 1760.0), (0.11, -0.90, -0.42),
          (("LGd-co", "LGd", 40), ("CA3", "CA3", 40), ("CA1", "CA1", 50), ("VISl6a", "VISl", 40),
           ("VISl5", "VISl", 45), ("VISl4", "VISl", 25), ("VISl2/3", "VISl", 35), ("VISl1", "VISl", 20))),
    "E": ("AUDp", (7630.0, 4720.0, 2270.0), (0.05, -0.80, -0.60),
          (("MGv", "MGv", 60), ("MGd", "MGd", 30), ("AUDp6a", "AUDp", 50), ("AUDp5", "AUDp", 55),
           ("AUDp4", "AUDp", 30), ("AUDp2/3", "AUDp", 40), ("AUDp1", "AUDp", 20))),
    "F": ("VISam", (8640.0, 4020.0, 4230.0), (0.08, -0.97, -0.22),
          (("SCsg", "SCs", 50), ("CA1", "CA1", 50), ("VISam6a", "VISam", 40), ("VISam5", "VISam", 45),
           ("VISam4", "VISam", 20), ("VISam2/3", "VISam", 35), ("VISam1", "VISam", 20))),
}


@dataclass(frozen=True)
class Probes:
    """Devices, electrode groups and electrodes of a session, and the probe letters in order."""

    devices: pl.DataFrame
    electrode_groups: pl.DataFrame
    electrodes: pl.DataFrame
    letters: tuple[str, ...]


def synth_probes(rng: np.random.Generator, *, session_id: str, n_probes: int) -> Probes:
    """``n_probes`` Neuropixels 1.0 insertions (letters drawn from A–F) with 384 channels each."""
    letters = tuple(sorted(rng.choice(list(PROBES), size=n_probes, replace=False).tolist()))
    channel = np.arange(N_CHANNELS)
    row = channel // 2
    rel_x = np.where(row % 2 == 0, np.where(channel % 2 == 0, 43.0, 11.0), np.where(channel % 2 == 0, 59.0, 27.0))
    rel_y = 20.0 * row
    electrodes = []
    for i, letter in enumerate(letters):
        _, tip, direction, areas = PROBES[letter]
        d = np.asarray(direction) + rng.normal(0.0, 0.02, 3)
        d /= np.linalg.norm(d)
        xyz = np.asarray(tip) + rng.normal(0.0, 120.0, 3) + (rel_y + 175.0)[:, None] * d
        ends = np.cumsum([n for *_, n in areas]) + rng.integers(-6, 7, len(areas))
        ends = np.maximum.accumulate(np.clip(ends, 1, N_CHANNELS))
        area = np.searchsorted(ends, channel, side="right")
        location = np.array([a[0] for a in areas] + ["root"], dtype=object)[area]
        structure = np.array([a[1] for a in areas] + ["root"], dtype=object)[area]
        electrodes.append(frame(ELECTRODES, {
            "session_id": session_id, "electrode_id": i * N_CHANNELS + channel,
            "electrode_group_name": f"probe{letter}", "channel": channel, "x": xyz[:, 0], "y": xyz[:, 1],
            "z": xyz[:, 2], "location": location, "structure": structure, "rel_x": rel_x, "rel_y": rel_y,
            "imp": rng.normal(1.5e5, 1.5e4, N_CHANNELS),
            "filtering": "AP band: 300 Hz high-pass; LFP band: 0.5-500 Hz band-pass", "reference": "tip",
        }, N_CHANNELS))
    n = len(letters)
    names = [f"probe{letter}" for letter in letters]
    targets = [PROBES[letter][0] for letter in letters]
    devices = frame(DEVICES, {
        "session_id": session_id, "device_name": names, "description": [f"Neuropixels 1.0 probe {x}" for x in letters],
        "manufacturer": "imec", "model_name": "Neuropixels 1.0", "model_number": "PRB_1_4_0480_1",
        "serial_number": [str(s) for s in rng.integers(18_000_000_000, 19_999_999_999, n)],
    }, n)
    groups = frame(ELECTRODE_GROUPS, {
        "session_id": session_id, "electrode_group_name": names, "device_name": names, "location": targets,
        "description": [f"Neuropixels 1.0 insertion targeting {t}" for t in targets],
    }, n)
    return Probes(devices, groups, pl.concat(electrodes), letters)


#: Spread of a stimulus-locked spike after the response latency: a gamma(2, θ) delay (mode θ, mean 2θ).
RESPONSE_SPREAD_S = 0.012


@dataclass(frozen=True)
class PlantedResponse:
    """A stimulus-locked response planted in one unit of a synthetic session.

    Each presentation of ``stimulus`` adds on average ``gain`` spikes to the unit, at ``latency_s`` plus a
    gamma(2, :data:`RESPONSE_SPREAD_S`) delay after the onset. A session generated with planted responses
    has no other stimulus-locked units, so the planted ones are the whole truth.

    Parameters
    ----------
    unit_index
        Row of the unit in the session's units table.
    stimulus
        ``vis1``, ``vis2``, ``sound1`` or ``sound2`` (task trials), ``grating`` (RF-mapping gratings) or
        ``tone`` (RF-mapping pure tones).
    latency_s
        Delay from onset to the first stimulus-locked spike (s).
    gain
        Mean number of extra spikes per presentation.
    grating_xy
        For ``grating``: only gratings at this (grating_x, grating_y) position drive the unit.
    tone_freq
        For ``tone``: only tones of this frequency (Hz) drive the unit.
    """

    unit_index: int
    stimulus: str
    latency_s: float = 0.05
    gain: float = 2.0
    grating_xy: tuple[float, float] | None = None
    tone_freq: float | None = None


@dataclass(frozen=True)
class PlantedDrive:
    """A planted response resolved to its onsets and spike count (see :class:`PlantedResponse`)."""

    unit_index: int
    onsets: FloatArray
    n_spikes: int
    latency_s: float


@dataclass(frozen=True)
class SpikePlan:
    """What the spike generator needs per unit, in units-table order."""

    unit_ids: list[str]
    n_base: IntArray
    n_stim: IntArray
    modality: IntArray  # 0: none, 1: visual onsets, 2: auditory onsets
    latency: FloatArray
    amplitude: FloatArray
    planted: tuple[PlantedDrive, ...] = ()

    def drives_of(self, unit_index: int) -> list[PlantedDrive]:
        """The planted drives of one unit."""
        return [drive for drive in self.planted if drive.unit_index == unit_index]

    @property
    def n_planted(self) -> IntArray:
        """Planted spikes per unit."""
        counts = np.zeros(len(self.unit_ids), dtype=np.int64)
        for drive in self.planted:
            counts[drive.unit_index] += drive.n_spikes
        return counts


def synth_units(rng: np.random.Generator, *, session_id: str, probes: Probes, n_units: int, duration: float,
                vis_onsets: FloatArray, aud_onsets: FloatArray,
                planted: Sequence[PlantedDrive] | None = None) -> tuple[pl.DataFrame, SpikePlan]:
    """The units table and the plan from which their spike trains are drawn.

    With ``planted`` (even empty), only those drives are stimulus-locked; otherwise a share of the units
    in visual and auditory areas respond to every stimulus of their modality.
    """
    el = probes.electrodes
    group = el["electrode_group_name"].to_numpy()
    in_brain = (el["structure"] != "root").to_numpy()
    weights = np.array([np.count_nonzero(in_brain & (group == f"probe{x}")) for x in probes.letters], float)
    per_probe = rng.multinomial(n_units, weights / weights.sum())
    letter = np.repeat(np.array(probes.letters), per_probe)
    ks = np.concatenate([np.sort(rng.choice(3 * k + 20, k, replace=False)) for k in per_probe]).astype(np.int64)
    probe_i = np.repeat(np.arange(len(probes.letters)), per_probe)
    brain = rng.random(n_units) < 0.97
    peak_channel = np.empty(n_units, dtype=np.int64)
    for i in range(len(probes.letters)):
        mask = in_brain[i * N_CHANNELS:(i + 1) * N_CHANNELS]
        inside, outside = np.flatnonzero(mask), np.flatnonzero(~mask)
        sel = np.flatnonzero(probe_i == i)
        peak_channel[sel] = np.where(brain[sel], rng.choice(inside, len(sel)),
                                     rng.choice(outside if len(outside) else inside, len(sel)))
    peak = probe_i * N_CHANNELS + peak_channel
    first = np.clip(peak_channel - WAVEFORM_CHANNELS // 2, 0, N_CHANNELS - WAVEFORM_CHANNELS)
    neighbours = (probe_i * N_CHANNELS + first)[:, None] + np.arange(WAVEFORM_CHANNELS)
    structure = el["structure"].to_numpy()[peak]

    label = rng.choice(np.array(["sua", "mua", "noise"]), n_units, p=[0.6, 0.3, 0.1])
    silent = np.zeros(n_units, dtype=bool)
    if n_units >= 20:
        silent[rng.choice(n_units, max(1, round(0.01 * n_units)), replace=False)] = True
    label[silent] = "noise"
    modality = np.where(np.isin(structure, list(VISUAL)), 1, np.where(np.isin(structure, list(AUDITORY)), 2, 0))
    modality[(label == "noise") | (rng.random(n_units) > 0.6)] = 0
    n_onsets = np.array([0, len(vis_onsets), len(aud_onsets)])[modality]
    gain = np.clip(rng.lognormal(np.log(0.6), 0.5, n_units), 0.05, 3.0)
    rate = np.clip(rng.lognormal(np.log(5.0), 0.75, n_units), 0.05, 59.0)
    n_base = np.maximum(rng.poisson(rate * duration), int(np.ceil(0.05 * duration)))
    n_stim = np.where(modality > 0, rng.poisson(gain * n_onsets), 0)
    n_base[silent], n_stim[silent] = 0, 0
    if planted is not None:
        modality[:], n_stim[:] = 0, 0
    n = (n_base + n_stim).astype(np.int64)
    for drive in planted or ():
        if not 0 <= drive.unit_index < n_units:
            raise ValueError(f"planted response for unit {drive.unit_index}, but the session has {n_units} units")
        n[drive.unit_index] += drive.n_spikes
    spiking = n > 0

    def metric(values: FloatArray) -> FloatArray:
        return np.where(spiking, values, np.nan)

    snr = np.clip(rng.lognormal(np.log(4.0), 0.45, n_units), 1.0, 10.0)
    amplitude = snr * rng.uniform(11.0, 22.0, n_units)
    fast = rng.random(n_units) < 0.2
    half_width = np.where(fast, rng.normal(1.5e-4, 3e-5, n_units), rng.normal(3.0e-4, 6e-5, n_units)).clip(7e-5)
    peak_to_valley = np.where(fast, rng.normal(3.5e-4, 5e-5, n_units), rng.normal(7.5e-4, 1.2e-4, n_units)).clip(2e-4)
    peak_trough = -np.where(fast, rng.uniform(0.3, 0.8, n_units), rng.uniform(0.15, 0.6, n_units))
    spread = np.clip(rng.gamma(4.0, 18.0, n_units), 20.0, 200.0)
    # refractory-period violations as the sorter saw them: ratio = count / (2 * 1.5 ms * N^2 / T)
    expected = 2 * REFRACTORY_S * n.astype(float) ** 2 / duration
    ratio = np.where(rng.random(n_units) < 0.35, 0.0, rng.lognormal(np.log(0.08), 1.4, n_units))
    isi_count = np.round(ratio * expected)
    isi_ratio = np.divide(isi_count, expected, out=np.full(n_units, np.nan), where=expected > 0)
    activity_drift = metric(rng.beta(1.2, 8.0, n_units))
    is_not_drift = activity_drift <= 0.2
    amplitude_cutoff = metric(np.minimum(0.5, rng.beta(0.9, 10.0, n_units)))
    presence = np.round((1 - np.exp(-n / 100.0)) * (1 - rng.beta(0.6, 14.0, n_units)), 2)
    default_qc = ((isi_ratio <= 0.5) & (amplitude_cutoff <= 0.1) & (presence >= 0.7) & (label != "noise")
                  & is_not_drift)
    drift_ptp = rng.gamma(2.0, 8.0, n_units) + 2.0
    drift_std = drift_ptp * rng.uniform(0.15, 0.3, n_units)
    waveform_mean, waveform_sd = _waveforms(rng, amplitude, half_width, peak_to_valley, peak_trough, spread,
                                            probes.electrodes, neighbours, peak)
    unit_ids = [f"{session_id}_{x}-{k}" for x, k in zip(letter, ks, strict=True)]
    columns = {
        "session_id": session_id, "unit_id": unit_ids, "nwb_unit_id": np.arange(n_units), "ks_unit_id": ks,
        "electrode_group_name": [f"probe{x}" for x in letter], "device_name": [f"probe{x}" for x in letter],
        "peak_channel": peak_channel, "peak_electrode": peak, "electrodes": neighbours,
        **{c: el[c].to_numpy()[peak] for c in ("location", "structure", "x", "y", "z")},
        "amplitude_cutoff": amplitude_cutoff, "isi_violations_ratio": isi_ratio, "isi_violations_count": isi_count,
        "presence_ratio": presence, "firing_rate": n / duration, "snr": metric(snr),
        "amplitude_median": metric(amplitude), "drift_ptp": metric(drift_ptp), "drift_std": metric(drift_std),
        "drift_mad": metric(drift_std * rng.uniform(0.5, 0.8, n_units)),
        "nn_hit_rate": metric(rng.beta(6.0, 1.5, n_units)), "nn_miss_rate": metric(rng.beta(1.0, 40.0, n_units)),
        "rp_contamination": np.clip(isi_ratio * rng.uniform(0.3, 0.6, n_units), 0.0, 1.0),
        "rp_violations": np.round(isi_count * rng.uniform(0.6, 1.0, n_units)),
        "sliding_rp_violation": metric(np.clip(isi_ratio * 0.3 + rng.beta(1.0, 30.0, n_units), 0.0, 1.0)),
        "silhouette": metric(rng.beta(4.0, 4.0, n_units) * 0.9 - 0.05), "d_prime": metric(rng.gamma(4.0, 1.2, n_units)),
        "l_ratio": metric(rng.lognormal(np.log(0.02), 1.5, n_units)),
        "isolation_distance": metric(rng.lognormal(np.log(60.0), 0.6, n_units)),
        "amplitude_cv_median": metric(rng.uniform(0.1, 0.35, n_units)),
        "amplitude_cv_range": metric(rng.uniform(0.05, 0.3, n_units)),
        "firing_range": n / duration * rng.lognormal(np.log(1.2), 0.4, n_units),
        "sync_spike_2": metric(rng.beta(1.5, 40.0, n_units)), "half_width": half_width,
        "peak_to_valley": peak_to_valley, "peak_trough_ratio": peak_trough,
        "repolarization_slope": amplitude / (peak_to_valley / 2),
        "recovery_slope": -amplitude * np.abs(peak_trough) / rng.uniform(5e-4, 1.5e-3, n_units),
        "spread": spread, "velocity_above": rng.normal(0.0, 1.5e5, n_units),
        "velocity_below": rng.normal(0.0, 1.5e5, n_units), "activity_drift": activity_drift,
        "is_not_drift": is_not_drift, "decoder_label": label, "default_qc": default_qc,
        "quality": np.where(label == "noise", "noise", "good"), "num_spikes": n,
        "waveform_mean": waveform_mean, "waveform_sd": waveform_sd,
        "obs_intervals": np.tile([[0.0, duration]], (n_units, 1, 1)),
    }
    plan = SpikePlan(unit_ids, n_base.astype(np.int64), n_stim.astype(np.int64), modality.astype(np.int64),
                     rng.uniform(0.03, 0.08, n_units), amplitude, tuple(planted or ()))
    return frame(UNITS, columns, n_units), plan


def _waveforms(rng: np.random.Generator, amplitude: FloatArray, half_width: FloatArray, peak_to_valley: FloatArray,
               peak_trough: FloatArray, spread: FloatArray, electrodes: pl.DataFrame, neighbours: IntArray,
               peak: IntArray) -> tuple[FloatArray, FloatArray]:
    """Mean and SD waveforms (units x samples x channels, µV): a trough and a rebound, fading with distance."""
    t = np.arange(WAVEFORM_SAMPLES, dtype=float)[None, :] - TROUGH_SAMPLE
    width = (half_width * SAMPLE_RATE / 2.355)[:, None]
    delay = (peak_to_valley * SAMPLE_RATE)[:, None]
    shape = -np.exp(-0.5 * (t / width) ** 2) + np.abs(peak_trough)[:, None] * np.exp(
        -0.5 * ((t - delay) / (2.5 * width)) ** 2)
    rx, ry = electrodes["rel_x"].to_numpy(), electrodes["rel_y"].to_numpy()
    distance = np.hypot(rx[neighbours] - rx[peak][:, None], ry[neighbours] - ry[peak][:, None])
    scale = amplitude[:, None] * np.exp(-distance / (spread[:, None] / 2))
    mean = shape[:, :, None] * scale[:, None, :]
    noise = rng.uniform(6.0, 14.0, len(amplitude))[:, None, None]
    sd = noise + 0.08 * np.abs(mean)
    return np.round(mean, 3), np.round(sd, 3)


def batch_bounds(plan: SpikePlan) -> list[tuple[int, int]]:
    """Consecutive unit ranges of at most ``MAX_BATCH_UNITS`` units and about ``MAX_BATCH_SPIKES`` spikes."""
    counts = plan.n_base + plan.n_stim + plan.n_planted
    bounds, start, spikes = [], 0, 0
    for i, c in enumerate(counts.tolist()):
        if i > start and (i - start >= MAX_BATCH_UNITS or spikes + c > MAX_BATCH_SPIKES):
            bounds.append((start, i))
            start, spikes = i, 0
        spikes += c
    if start < len(counts):
        bounds.append((start, len(counts)))
    return bounds


def spike_batch(plan: SpikePlan, *, lo: int, hi: int, session_id: str, duration: float, seed: int, index: int,
                batch: int, onsets: Sequence[FloatArray]) -> pl.DataFrame:
    """Spikes of units ``lo:hi`` (units-table order), sorted by time within each unit.

    Every spike lies in [0, ``duration``] and follows its unit's previous spike by at least 1.5 ms.
    """
    rng = stream(seed, index, SPIKES, batch)
    n_base, n_stim = plan.n_base[lo:hi], plan.n_stim[lo:hi]
    drives = {u: plan.drives_of(u) for u in {d.unit_index for d in plan.planted} if lo <= u < hi}
    counts = n_base + n_stim + plan.n_planted[lo:hi]
    total = int(counts.sum())
    cumulative = rng.standard_exponential(int((n_base + 1).sum()))
    steps = np.arange(int(n_base.max(initial=0))) * _DEAD_TIME_S + 1e-4
    out = np.empty(total)
    e0 = o0 = 0
    for u in range(hi - lo):
        nb, ns = int(n_base[u]), int(n_stim[u])
        if nb + ns == 0 and lo + u not in drives:
            continue
        # nb+1 exponential gaps, normalised by their sum: nb sorted uniform samples, no sort needed
        c = np.cumsum(cumulative[e0:e0 + nb + 1], out=cumulative[e0:e0 + nb + 1])
        e0 += nb + 1
        n_total = int(counts[u])
        span = duration - n_total * _DEAD_TIME_S - 2e-4
        times = out[o0:o0 + nb]
        np.multiply(c[:-1], span / c[-1], out=times)
        times += steps[:nb]  # the i-th spike moves i dead times later: gaps >= dead time, order kept
        locked = []
        if ns:
            source = onsets[plan.modality[lo + u]]
            locked.append(source[rng.integers(0, len(source), ns)] + plan.latency[lo + u]
                          + rng.gamma(2.0, RESPONSE_SPREAD_S, ns))
        for drive in drives.get(lo + u, ()):
            if drive.n_spikes:
                locked.append(drive.onsets[rng.integers(0, len(drive.onsets), drive.n_spikes)] + drive.latency_s
                              + rng.gamma(2.0, RESPONSE_SPREAD_S, drive.n_spikes))
        if locked:
            merged = np.sort(np.concatenate([times, np.clip(np.concatenate(locked), 1e-4, duration - 1e-4)]))
            out[o0:o0 + n_total] = _refractory(merged, duration)
        o0 += n_total
    amplitude = rng.standard_normal(total, dtype=np.float32)
    amplitude *= np.float32(0.12)
    amplitude += np.float32(1.0)
    amplitude *= np.repeat(plan.amplitude[lo:hi].astype(np.float32), counts)
    unit = pl.Series("unit_id", plan.unit_ids[lo:hi], dtype=pl.String).gather(
        np.repeat(np.arange(hi - lo, dtype=np.uint32), counts))
    spikes = pl.DataFrame([unit, pl.Series("spike_time", out), pl.Series("amplitude", amplitude)])
    return spikes.select(pl.lit(session_id, dtype=pl.String).alias("session_id"), pl.all())


def _refractory(times: FloatArray, duration: float) -> FloatArray:
    """Push sorted spikes apart to at least the dead time, keeping them inside (0, duration)."""
    k = np.arange(len(times)) * _DEAD_TIME_S
    forward = np.maximum.accumulate(times - k) + k
    last = duration - 1e-4 - k[-1]
    backward = np.minimum.accumulate(np.minimum(forward - k, last)[::-1])[::-1] + k
    return np.asarray(backward, dtype=np.float64)


def spike_batches(plan: SpikePlan, *, session_id: str, duration: float, seed: int, index: int,
                  vis_onsets: FloatArray, aud_onsets: FloatArray) -> Iterator[pl.DataFrame]:
    """Every batch of the session's spikes, in units-table order (see :func:`spike_batch`)."""
    onsets = (np.empty(0), vis_onsets, aud_onsets)
    for batch, (lo, hi) in enumerate(batch_bounds(plan)):
        yield spike_batch(plan, lo=lo, hi=hi, session_id=session_id, duration=duration, seed=seed, index=index,
                          batch=batch, onsets=onsets)


__all__ = ["PlantedDrive", "PlantedResponse", "Probes", "SpikePlan", "spike_batches", "synth_probes", "synth_units"]
