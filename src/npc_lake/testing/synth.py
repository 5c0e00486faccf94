"""Deterministic synthetic Dynamic Routing (DR) ephys sessions, as :class:`~npc_lake.schema.SessionBundle`.

A corpus is named by a ``seed``; session ``index`` of it is always the same session: same subject, date,
trials, units and spikes, whatever else was generated before. Frames carry every declared column of
their table with its declared dtype. Spikes are never held together: ``spike_batches`` draws them
batch by batch (~200 units) from streams seeded by (seed, index, batch), so each call yields the same
batches again.

The numbers are plausible rather than faithful: a trained mouse doing the auditory/visual context
switching task (hit rate ~0.85, false alarms to the other modality's target ~0.2, more right after a
block switch), 5–6 Neuropixels 1.0 probes along straight CCF tracks, log-normal firing rates,
stimulus-locked responses in visual and auditory areas, licks, rewards, camera frames and running.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import numpy as np
import polars as pl

from npc_lake.schema.bundle import SessionBundle
from npc_lake.schema.session import EPOCHS, EVENTS, SESSIONS, SUBJECTS, TIMESERIES
from npc_lake.testing import _synth_util as u
from npc_lake.testing._synth_util import FloatArray, frame, stream
from npc_lake.testing.synth_trials import Task, synth_rf_mapping, synth_stimuli, synth_task
from npc_lake.testing.synth_units import PlantedDrive, PlantedResponse, spike_batches, synth_probes, synth_units

SESSIONS_PER_SUBJECT = 3
FIRST_DATE = date(2022, 6, 6)
CAMERA_RATE_HZ = RUNNING_RATE_HZ = 60.0
KEYWORDS = ("go-nogo", "context", "routing", "auditory", "visual", "behavior", "ecephys", "neuropixels")
EXPERIMENTERS = ("Ada Quill", "Bao Tran", "Chidi Okafor", "Dana Ruiz", "Émile Fournier", "Søren Lund")
GENOTYPES = (("wt/wt", "C57BL/6J"), ("VGAT-ChR2-YFP/wt", "B6.Cg-Tg(Slc32a1-COP4*H134R/EYFP)8Gfng/J"),
             ("Sst-IRES-Cre/wt;Ai32(RCL-ChR2(H134R)_EYFP)/wt", "C57BL/6J"))
TASK_VERSIONS = ("stage 5 ori AMN moving", "stage 5 ori tone moving")
#: Epochs in order: (script_name, share of the session, tags, interval names).
EPOCH_PLAN: tuple[tuple[str, float, list[str], list[str]], ...] = (
    ("Spontaneous", 0.035, ["spontaneous"], []),
    ("RFMapping", 0.065, ["rf_mapping"], ["VisRFMapping", "AudRFMapping"]),
    ("DynamicRouting1", 0.78, ["task", "rewards"], ["trials", "performance"]),
    ("RFMapping", 0.065, ["rf_mapping"], ["VisRFMapping", "AudRFMapping"]),
    ("Spontaneous", 0.035, ["spontaneous"], []),
)
BEHAVIOR_EVENTS = "processing/behavior/BehavioralEvents"


@dataclass(frozen=True)
class _Identity:
    """Who was recorded when: the parts of a session fixed by (seed, index) alone."""

    subject_id: str
    day: date
    local_start: datetime
    utc_offset_minutes: int
    date_of_birth: datetime
    sex: str
    genotype: str
    strain: str

    @property
    def session_id(self) -> str:
        return f"{self.subject_id}_{self.day.isoformat()}"

    @property
    def start_utc(self) -> datetime:
        return (self.local_start - timedelta(minutes=self.utc_offset_minutes)).replace(tzinfo=UTC)


def _pacific_offset_minutes(day: date) -> int:
    """UTC offset of US Pacific time on ``day``: -420 in daylight saving time, else -480."""
    march, november = date(day.year, 3, 8), date(day.year, 11, 1)
    dst_start = march + timedelta(days=(6 - march.weekday()) % 7)
    dst_stop = november + timedelta(days=(6 - november.weekday()) % 7)
    return -420 if dst_start <= day < dst_stop else -480


def _identity(seed: int, index: int) -> _Identity:
    """Subject and date of session ``index``: subjects are recorded on several different days."""
    subject, nth = divmod(index, SESSIONS_PER_SUBJECT)
    offset = int(stream(seed, u.SUBJECT).integers(0, 150_000))
    srng = stream(seed, u.SUBJECT, subject)
    first_day = FIRST_DATE + timedelta(days=4 * subject + int(srng.integers(0, 3)))
    day = first_day + timedelta(days=int(srng.integers(1, 4, SESSIONS_PER_SUBJECT)[:nth].sum()))
    birth = first_day - timedelta(days=int(srng.integers(95, 200)))
    genotype, strain = GENOTYPES[int(srng.choice(len(GENOTYPES), p=[0.6, 0.25, 0.15]))]
    rng = stream(seed, index, u.IDENTITY)
    hour, minute, second, micro = (int(rng.integers(a, b)) for a, b in ((8, 15), (0, 60), (0, 60), (0, 10**6)))
    clock = time(hour, minute, second, micro)
    return _Identity(
        subject_id=str(600_000 + (7919 * subject + offset) % 150_000), day=day,
        local_start=datetime.combine(day, clock), utc_offset_minutes=_pacific_offset_minutes(day),
        date_of_birth=datetime.combine(birth, time(), tzinfo=UTC), sex=str(srng.choice(["M", "F"])),
        genotype=genotype, strain=strain)


def _epochs(rng: np.random.Generator, duration: float) -> list[tuple[str, float, float, list[str], list[str]]]:
    """The session's epochs with their (start, stop); they tile [0, duration] with short gaps."""
    shares = np.array([share for _, share, *_ in EPOCH_PLAN]) * rng.uniform(0.97, 1.03, len(EPOCH_PLAN))
    gaps = rng.uniform(0.5, 1.5, len(EPOCH_PLAN) + 1)
    scale = duration / (shares.sum() + gaps.sum() * 0.004)
    edges, t = [], gaps[0] * 0.004 * scale
    for share, gap in zip(shares, gaps[1:], strict=True):
        edges.append((t, t + share * scale))
        t += (share + gap * 0.004) * scale
    return [(name, start, min(stop, duration), tags, names)
            for (name, _, tags, names), (start, stop) in zip(EPOCH_PLAN, edges, strict=True)]


def _events(rng: np.random.Generator, session_id: str, task: Task, duration: float, cameras: bool) -> pl.DataFrame:
    """Licks, lick-sensor edges, rewards and (optionally) camera frame times, in long format."""
    volume = float(rng.choice([0.003, 0.004, 0.005]))
    falling = task.lick_times + rng.uniform(0.03, 0.06, len(task.lick_times))
    series: list[tuple[str, FloatArray, float | None, str, str]] = [
        ("licks", task.lick_times, None, f"{BEHAVIOR_EVENTS}/licks",
         "Times of licks detected by the lick sensor, including the response licks of trials."),
        ("rewards", task.reward_times, volume, f"{BEHAVIOR_EVENTS}/rewards",
         "Times of water deliveries (contingent and free); value is the volume in mL."),
        ("lick_sensor_rising", task.lick_times, None, "acquisition/BehavioralEvents/lick_sensor_rising",
         "Rising edges of the lick-sensor line on the sync board."),
        ("lick_sensor_falling", falling, None, "acquisition/BehavioralEvents/lick_sensor_falling",
         "Falling edges of the lick-sensor line on the sync board."),
    ]
    if cameras:
        for camera in ("behavior", "face", "eye"):
            start, stop = rng.uniform(0.3, 1.2), duration - rng.uniform(0.3, 1.2)
            period = (1.0 + rng.normal(0.0, 2e-5)) / CAMERA_RATE_HZ
            n = int((stop - start) / period)
            t = start + np.arange(n) * period + rng.normal(0.0, 1.5e-4, n)
            t = np.clip(t[rng.random(n) >= 5e-4], 0.0, duration)  # a few dropped frames
            series.append((f"frametimes_{camera}", t, None, f"{BEHAVIOR_EVENTS}/frametimes_{camera}",
                           f"Exposure times of the {camera} camera frames."))
    sizes = np.array([len(s[1]) for s in series])
    which = np.repeat(np.arange(len(series), dtype=np.uint32), sizes)

    def per_series(values: list[str | float | None]) -> pl.Series:
        return pl.Series(values).gather(which)

    return frame(EVENTS, {
        "session_id": session_id, "name": per_series([s[0] for s in series]),
        "event_index": np.concatenate([np.arange(n) for n in sizes]),
        "event_time": np.concatenate([s[1] for s in series]),
        "value": per_series([s[2] for s in series]).cast(pl.Float64),
        "nwb_path": per_series([s[3] for s in series]), "description": per_series([s[4] for s in series]),
    }, int(sizes.sum()))


def _running(rng: np.random.Generator, session_id: str, duration: float) -> pl.DataFrame:
    """Running speed at 60 Hz: low-pass filtered noise through a soft threshold (bouts and rests)."""
    start = rng.uniform(0.2, 1.0)
    n = max(0, int((duration - start - rng.uniform(0.2, 1.0)) * RUNNING_RATE_HZ))
    t = start + np.arange(n) / RUNNING_RATE_HZ + rng.normal(0.0, 2e-4, n)
    spectrum = np.fft.rfft(rng.standard_normal(n)) * np.exp(-((np.fft.rfftfreq(n, 1 / RUNNING_RATE_HZ) / 0.25) ** 2))
    z = np.fft.irfft(spectrum, n)
    z /= z.std() if n and z.std() > 0 else 1.0
    speed = 12.0 * np.logaddexp(0.0, 2.5 * (z - 0.3)) + rng.normal(0.0, 0.4, n)
    return frame(TIMESERIES, {
        "session_id": session_id, "name": "running_speed", "sample_index": np.arange(n), "channel": 0,
        "sample_time": np.clip(t, 0.0, duration), "value": speed, "unit": "cm/s",
        "nwb_path": "processing/behavior/BehavioralTimeSeries/running_speed",
        "description": "Running speed of the mouse on the wheel, from the rotary encoder.",
    }, n)


def _planted_drives(rng: np.random.Generator, responses: Sequence[PlantedResponse], *, trials: pl.DataFrame,
                    rf: pl.DataFrame) -> list[PlantedDrive]:
    """Each planted response with the onsets that drive it and its spike count (Poisson, mean gain × onsets)."""
    drives = []
    for response in responses:
        if response.stimulus in ("vis1", "vis2", "sound1", "sound2"):
            chosen = trials.filter(pl.col("stim_name") == response.stimulus)
        elif response.stimulus == "grating":
            chosen = rf.filter((pl.col("interval_name") == "VisRFMapping") & pl.col("is_small_field_grating"))
            if response.grating_xy is not None:
                chosen = chosen.filter((pl.col("grating_x") == response.grating_xy[0])
                                       & (pl.col("grating_y") == response.grating_xy[1]))
        elif response.stimulus == "tone":
            chosen = rf.filter((pl.col("interval_name") == "AudRFMapping") & pl.col("is_pure_tone"))
            if response.tone_freq is not None:
                chosen = chosen.filter(pl.col("freq") == response.tone_freq)
        else:
            raise ValueError(f"unknown planted stimulus {response.stimulus!r} (vis1, vis2, sound1, sound2, "
                             "grating, tone)")
        onsets = chosen["stim_start_time"].drop_nulls().drop_nans().to_numpy()
        if onsets.size == 0:
            raise ValueError(f"no {response.stimulus} presentation matches {response}")
        drives.append(PlantedDrive(response.unit_index, onsets, int(rng.poisson(response.gain * onsets.size)),
                                   response.latency_s))
    return drives


def synth_session(index: int, *, n_units: int = 300, duration_s: float = 600.0, seed: int = 0,
                  n_probes: int | None = None, cameras: bool = True,
                  responses: Sequence[PlantedResponse] | None = None) -> SessionBundle:
    """Session ``index`` of the synthetic DR corpus made from ``seed``.

    Parameters
    ----------
    index
        Position of the session in the corpus (>= 0). Consecutive indices share a subject in runs of
        three, recorded on different days.
    n_units
        Units spread over the probes; about 1 % of them (at least one from 20 units on) never fire.
    duration_s
        Length of the session (s); the task epoch takes about 78 % of it, at ~6.6 s per trial.
    seed
        Names the corpus. The same (index, seed, sizes) always give identical frames and spikes.
    n_probes
        Number of probes (1–6); by default 5 or 6, drawn per session.
    cameras
        Include the three cameras' frame times in ``events`` (~180 rows per second of session).
    responses
        Plant exactly these stimulus-locked responses (see :class:`PlantedResponse`); no other unit is
        then stimulus-locked. By default a share of the units in visual and auditory areas respond to
        every stimulus of their modality, with latencies of 30–80 ms.

    Returns
    -------
    SessionBundle
        Frames for sessions, subjects, devices, electrode_groups, electrodes, units, trials, epochs,
        intervals, events and timeseries, and a re-callable ``spike_batches``.
    """
    if n_probes is not None and not 1 <= n_probes <= 6:
        raise ValueError(f"n_probes must be between 1 and 6, not {n_probes}")
    who = _identity(seed, index)
    session_id = who.session_id
    epochs = _epochs(stream(seed, index, u.EPOCHS), duration_s)
    task_start, task_stop = next((a, b) for name, a, b, *_ in epochs if name == "DynamicRouting1")
    task = synth_task(stream(seed, index, u.TASK), session_id=session_id, start=task_start, stop=task_stop)
    rf, vis_rf, aud_rf = synth_rf_mapping(stream(seed, index, u.RF_MAPPING), session_id=session_id,
                                          windows=[(a, b) for name, a, b, *_ in epochs if name == "RFMapping"])
    vis_onsets = np.sort(np.concatenate([task.vis_onsets, vis_rf]))
    aud_onsets = np.sort(np.concatenate([task.aud_onsets, aud_rf]))
    probe_rng = stream(seed, index, u.PROBES)
    probes = synth_probes(probe_rng, session_id=session_id, n_probes=n_probes or int(probe_rng.integers(5, 7)))
    planted = None if responses is None else _planted_drives(stream(seed, index, u.UNITS, 1), responses,
                                                             trials=task.trials, rf=rf)
    units, plan = synth_units(stream(seed, index, u.UNITS), session_id=session_id, probes=probes, n_units=n_units,
                              duration=duration_s, vis_onsets=vis_onsets, aud_onsets=aud_onsets, planted=planted)
    rng = stream(seed, index, u.IDENTITY, 1)
    start = who.start_utc
    digest = hashlib.blake2b(f"npc_lake synthetic DR {seed} {index}".encode(), digest_size=16).digest()
    sessions = frame(SESSIONS, {
        "session_id": session_id, "subject_id": who.subject_id, "session_start_time": [start],
        "utc_offset_minutes": who.utc_offset_minutes, "timestamps_reference_time": [start],
        "identifier": str(uuid.UUID(bytes=digest, version=4)),
        "session_description": "Dynamic Routing session: visual/auditory context-switching go/no-go task "
                               "with Neuropixels recordings (synthetic)",
        "experiment_description": "dynamic routing aud/vis", "institution": "Allen Institute",
        "lab": "Mindscope · Neural Circuits & Behavior",
        "experimenter": [sorted(rng.choice(EXPERIMENTERS, int(rng.integers(1, 3)), replace=False).tolist())],
        "keywords": [list(KEYWORDS)], "notes": f"Generated by npc_lake.testing.synth (seed={seed}, index={index}).",
        "rig": f"NP{int(rng.integers(0, 4))}", "task_version": str(rng.choice(TASK_VERSIONS)),
        "epochs": [[e[0] for e in epochs]],
    }, 1)
    age_days = (who.day - who.date_of_birth.date()).days
    subjects = frame(SUBJECTS, {
        "session_id": session_id, "subject_id": who.subject_id, "species": "Mus musculus", "sex": who.sex,
        "genotype": who.genotype, "strain": who.strain, "date_of_birth": [who.date_of_birth], "age": f"P{age_days}D",
        "weight": [None if rng.random() < 0.3 else f"{rng.uniform(19.0, 28.0):.1f} g"],
        "description": f"{who.strain.split('(')[0].replace('/', '').replace('.', '')}-{who.subject_id}",
    }, 1)
    epochs_frame = frame(EPOCHS, {
        "session_id": session_id, "epoch_index": np.arange(len(epochs)), "start_time": [e[1] for e in epochs],
        "stop_time": [e[2] for e in epochs], "script_name": [e[0] for e in epochs],
        "interval_names": [e[4] for e in epochs], "tags": [e[3] for e in epochs],
    }, len(epochs))
    tables = {
        "sessions": sessions, "subjects": subjects, "devices": probes.devices,
        "electrode_groups": probes.electrode_groups, "electrodes": probes.electrodes, "units": units,
        "trials": task.trials, "stimuli": synth_stimuli(session_id, task_version=sessions["task_version"][0]),
        "epochs": epochs_frame, "intervals": pl.concat([rf, task.performance]),
        "events": _events(stream(seed, index, u.EVENTS), session_id, task, duration_s, cameras),
        "timeseries": _running(stream(seed, index, u.RUNNING), session_id, duration_s),
    }

    def batches() -> Iterator[pl.DataFrame]:
        return spike_batches(plan, session_id=session_id, duration=duration_s, seed=seed, index=index,
                             vis_onsets=vis_onsets, aud_onsets=aud_onsets)

    return SessionBundle(session_id=session_id, source_uri=f"synthetic://npc_lake/dr?seed={seed}&index={index}",
                         tables=tables, spike_batches=batches)


def synth_sessions(n_sessions: int, *, n_units: int = 300, duration_s: float = 600.0, seed: int = 0,
                   n_probes: int | None = None, cameras: bool = True,
                   responses: Sequence[PlantedResponse] | None = None) -> Iterator[SessionBundle]:
    """Sessions 0 … ``n_sessions``-1 of the corpus made from ``seed``, one at a time.

    Parameters are those of :func:`synth_session`; session ``i`` of the iterator equals
    ``synth_session(i, ...)`` with the same arguments.
    """
    for index in range(n_sessions):
        yield synth_session(index, n_units=n_units, duration_s=duration_s, seed=seed, n_probes=n_probes,
                            cameras=cameras, responses=responses)
