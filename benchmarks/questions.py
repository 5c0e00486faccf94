"""The six benchmark questions: their parameters and the exact shape of each answer.

Every engine (npc_lake through DuckDB or Polars, the pyarrow floor, pynwb, lazynwb) answers the same
question with the same columns; :func:`canonical` puts an answer in one order and dtype so that answers
can be compared by digest. This module needs only Polars, so lazynwb's own environment can import it.
"""

from __future__ import annotations

import hashlib

import polars as pl

#: Units of visual cortex: ``structure`` starting with this prefix (VISp, VISl, VISam, ...).
VISUAL_PREFIX = "VIS"
#: The area of questions 2, 3 and 5.
AREA = "VISp"
#: Question 5: sessions with at least this many QC-passing units in AREA.
MIN_UNITS = 40
#: Question 3: window around stimulus onset and bin width, in seconds; the aligned stimulus.
WINDOW_START, WINDOW_STOP, BIN_SIZE = -0.5, 1.0, 0.01
N_BINS = 150
STIMULUS = "vis1"
#: Range joins are widened by this much, then the exact window is applied to ``spike_time - onset``.
SLACK = 1e-6
#: Question 1: the metric columns reported with each unit.
METRICS = ("amplitude_cutoff", "firing_rate", "isi_violations_ratio", "presence_ratio", "snr", "d_prime",
           "isolation_distance", "half_width", "peak_to_valley", "amplitude_median")

TITLES = {
    "q1": "QC-passing units of visual areas, with metrics",
    "q2": f"spike times of QC-passing {AREA} units",
    "q3": f"PSTH of those units around {STIMULUS} onsets, by context (10 ms bins)",
    "q4": "hit and false-alarm rate per session, block and context",
    "q5": f"sessions with >= {MIN_UNITS} QC-passing {AREA} units, with trial counts",
    "q6": "one session into memory: units with spike times, trials, electrodes",
}
QUESTIONS = tuple(TITLES)

#: Columns (in order) and dtypes of each answer.
SCHEMAS: dict[str, dict[str, pl.DataType]] = {
    "q1": {"session_id": pl.String(), "unit_id": pl.String(), "structure": pl.String(),
           **{m: pl.Float64() for m in METRICS}},
    "q2": {"session_id": pl.String(), "unit_id": pl.String(), "spike_time": pl.Float64()},
    "q3": {"session_id": pl.String(), "unit_id": pl.String(), "rewarded_modality": pl.String(),
           "bin_index": pl.Int64(), "spike_count": pl.Int64()},
    "q4": {"session_id": pl.String(), "block_index": pl.Int64(), "rewarded_modality": pl.String(),
           "hit_rate": pl.Float64(), "false_alarm_rate": pl.Float64()},
    "q5": {"session_id": pl.String(), "n_units": pl.Int64(), "n_trials": pl.Int64()},
    # q6 is summarised order-independently: rows per table, and the units' spike count and time range
    "q6": {"table": pl.String(), "rows": pl.Int64(), "spikes": pl.Int64(), "first_spike_time": pl.Float64(),
           "last_spike_time": pl.Float64()},
}


def summarise_session(units: pl.DataFrame, spike_times: pl.Series, trials: pl.DataFrame,
                      electrodes: pl.DataFrame) -> pl.DataFrame:
    """Question 6's order-independent summary of one session held in memory."""
    return pl.DataFrame({
        "table": ["units", "trials", "electrodes"],
        "rows": [units.height, trials.height, electrodes.height],
        "spikes": [spike_times.len(), 0, 0],
        "first_spike_time": [spike_times.min(), None, None],
        "last_spike_time": [spike_times.max(), None, None],
    })


def psth(spikes: pl.LazyFrame, trials: pl.LazyFrame) -> pl.LazyFrame:
    """Question 3 in Polars: ``spikes`` (session_id, unit_id, spike_time) binned around the STIMULUS onsets
    of ``trials``, summed per unit, context and bin."""
    onsets = (trials.filter(pl.col("stim_name") == STIMULUS)
              .select("session_id", "rewarded_modality", pl.col("stim_start_time").alias("onset")))
    t = pl.col("spike_time") - pl.col("onset")
    return (spikes.join_where(onsets, pl.col("session_id") == pl.col("session_id_right"),
                              pl.col("spike_time") >= pl.col("onset") + (WINDOW_START - SLACK),
                              pl.col("spike_time") < pl.col("onset") + (WINDOW_STOP + SLACK))
            .filter((t >= WINDOW_START) & (t < WINDOW_STOP))
            .with_columns(((t - WINDOW_START) / BIN_SIZE).floor().cast(pl.Int64).alias("bin_index"))
            .filter(pl.col("bin_index").is_between(0, N_BINS - 1))
            .group_by("session_id", "unit_id", "rewarded_modality", "bin_index")
            .agg(pl.len().cast(pl.Int64).alias("spike_count")))


def performance(trials: pl.LazyFrame) -> pl.LazyFrame:
    """Question 4 in Polars: hit and false-alarm rate per session, block and context (null without trials
    to divide by)."""
    def rate(numerator: str, denominator: str) -> pl.Expr:
        d = pl.col(denominator).cast(pl.Int64).sum()
        return pl.when(d > 0).then(pl.col(numerator).cast(pl.Int64).sum() / d)

    return (trials.group_by("session_id", "block_index", "rewarded_modality")
            .agg(rate("is_hit", "is_go").alias("hit_rate"),
                 rate("is_false_alarm", "is_nogo").alias("false_alarm_rate")))


def canonical(question: str, frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with the question's columns in order and dtype, rows sorted by every column."""
    schema = SCHEMAS[question]
    missing = set(schema) - set(frame.columns)
    if missing:
        raise ValueError(f"{question}: answer lacks columns {sorted(missing)}")
    out = frame.select([pl.col(name).cast(dtype) for name, dtype in schema.items()])
    return out.sort(list(schema), nulls_last=True)


def digest(question: str, frame: pl.DataFrame) -> str:
    """A digest of the canonical answer: equal digests mean equal rows (floats bit for bit)."""
    out = canonical(question, frame)
    hasher = hashlib.blake2b(digest_size=16)
    hasher.update(str(out.height).encode())
    for name in out.columns:
        column = out[name]
        hasher.update(name.encode())
        hasher.update(column.is_null().to_numpy().tobytes())
        if column.dtype == pl.String:
            hasher.update(column.fill_null("").str.join("\x1f").item().encode())
        else:
            hasher.update(column.fill_null(0).to_numpy().tobytes())
    return hasher.hexdigest()
