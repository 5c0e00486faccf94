"""npc_lake's answers to the benchmark questions, through DuckDB SQL and through Polars; and the floor.

The floor is pyarrow reading the Parquet columns an answer needs from the lake's files, with no engine
and no Delta log: what any engine must at least pay.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import polars as pl
import pyarrow.parquet as pq
from questions import (
    AREA,
    BIN_SIZE,
    METRICS,
    MIN_UNITS,
    N_BINS,
    SLACK,
    STIMULUS,
    VISUAL_PREFIX,
    WINDOW_START,
    WINDOW_STOP,
    performance,
    summarise_session,
)

_QC_AREA = f"default_qc AND structure = '{AREA}'"

SQL = {
    "q1": f"""SELECT session_id, unit_id, structure, {", ".join(METRICS)} FROM units
              WHERE default_qc AND starts_with(structure, '{VISUAL_PREFIX}')""",
    # spike_times carries its unit's structure and default_qc: the filter skips every other file
    "q2": f"""SELECT session_id, unit_id, spike_time FROM spike_times WHERE {_QC_AREA}""",
    "q3": f"""WITH spikes AS (
                  SELECT session_id, unit_id, spike_time FROM spike_times
                  SEMI JOIN (SELECT session_id, unit_id FROM units WHERE {_QC_AREA}) USING (session_id, unit_id)),
              onsets AS (SELECT session_id, rewarded_modality, stim_start_time AS onset FROM trials
                         WHERE stim_name = '{STIMULUS}'),
              aligned AS (
                  SELECT s.session_id, s.unit_id, o.rewarded_modality, s.spike_time - o.onset AS t
                  FROM spikes s JOIN onsets o ON s.session_id = o.session_id
                   AND s.spike_time >= o.onset + ({WINDOW_START} - {SLACK})
                   AND s.spike_time < o.onset + ({WINDOW_STOP} + {SLACK}))
              SELECT session_id, unit_id, rewarded_modality,
                     floor((t - ({WINDOW_START})) / {BIN_SIZE})::BIGINT AS bin_index, count(*) AS spike_count
              FROM aligned WHERE t >= {WINDOW_START} AND t < {WINDOW_STOP}
              GROUP BY 1, 2, 3, 4 HAVING bin_index >= 0 AND bin_index < {N_BINS}""",
    "q4": """SELECT session_id, block_index, rewarded_modality,
                    sum(is_hit::BIGINT) / nullif(sum(is_go::BIGINT), 0) AS hit_rate,
                    sum(is_false_alarm::BIGINT) / nullif(sum(is_nogo::BIGINT), 0) AS false_alarm_rate
             FROM trials GROUP BY ALL""",
    "q5": f"""SELECT session_id, n_units, n_trials
              FROM (SELECT session_id, count(*) AS n_units FROM units WHERE {_QC_AREA} GROUP BY session_id
                    HAVING count(*) >= {MIN_UNITS})
              JOIN (SELECT session_id, count(*) AS n_trials FROM trials GROUP BY session_id) USING (session_id)""",
}


class DuckDBEngine:
    """Questions as SQL over ``npc_lake.connect()``."""

    def __init__(self, lake: str, session_id: str) -> None:
        import npc_lake

        self.con = npc_lake.connect(lake)
        self.session_id = session_id

    def answer(self, question: str) -> pl.DataFrame:
        if question == "q6":
            one = {"sid": self.session_id}
            units = self.con.execute("SELECT * FROM units WHERE session_id = $sid", one).pl()
            spikes = self.con.execute("SELECT unit_id, spike_time, amplitude FROM spike_times "
                                      "WHERE session_id = $sid", one).pl()
            trials = self.con.execute("SELECT * FROM trials WHERE session_id = $sid", one).pl()
            electrodes = self.con.execute("SELECT * FROM electrodes WHERE session_id = $sid", one).pl()
            return summarise_session(units, spikes["spike_time"], trials, electrodes)
        return self.con.execute(SQL[question]).pl()


class PolarsEngine:
    """Questions as Polars lazy queries over ``npc_lake.scan()``."""

    def __init__(self, lake: str, session_id: str) -> None:
        import npc_lake
        from npc_lake.analysis import psth  # imported here, before the clock starts

        self.psth = psth
        self.lake = lake
        tables = {name: npc_lake.scan(name, lake=lake) for name in ("units", "spike_times", "trials", "electrodes")}
        self.scan = tables.__getitem__
        self.session_id = session_id

    def _qc_area_units(self) -> pl.LazyFrame:
        return (self.scan("units").filter(pl.col("default_qc") & (pl.col("structure") == AREA))
                .select("session_id", "unit_id"))

    def _qc_area_spikes(self) -> pl.LazyFrame:
        return (self.scan("spike_times").filter(pl.col("default_qc") & (pl.col("structure") == AREA))
                .select("session_id", "unit_id", "spike_time"))

    def answer(self, question: str) -> pl.DataFrame:
        units, trials = self.scan("units"), self.scan("trials")
        if question == "q1":
            return (units.filter(pl.col("default_qc") & pl.col("structure").str.starts_with(VISUAL_PREFIX))
                    .select("session_id", "unit_id", "structure", *METRICS).collect())
        if question == "q2":
            return self._qc_area_spikes().collect()
        if question == "q3":  # npc_lake.analysis.psth: reads only the units' spike files, aligns in NumPy
            units = (self.scan("units").filter(pl.col("default_qc") & (pl.col("structure") == AREA))
                     .select("session_id", "unit_id", "structure", "default_qc").collect())
            events = (trials.filter(pl.col("stim_name") == STIMULUS)
                      .select("session_id", pl.col("stim_start_time").alias("event_time"), "rewarded_modality")
                      .collect())
            return self.psth(units, events, lake=self.lake, window=(WINDOW_START, WINDOW_STOP),
                             bin_size=BIN_SIZE, by=("rewarded_modality",), dense=False)
        if question == "q4":
            return performance(trials).collect()
        if question == "q5":
            counts = (self._qc_area_units().group_by("session_id").agg(pl.len().alias("n_units"))
                      .filter(pl.col("n_units") >= MIN_UNITS))
            n_trials = trials.group_by("session_id").agg(pl.len().alias("n_trials"))
            return counts.join(n_trials, on="session_id").collect()
        one = pl.col("session_id") == self.session_id
        spikes = self.scan("spike_times").filter(one).select("unit_id", "spike_time", "amplitude")
        frames = pl.collect_all([units.filter(one), spikes, trials.filter(one),
                                 self.scan("electrodes").filter(one)])
        return summarise_session(frames[0], frames[1]["spike_time"], frames[2], frames[3])


class FloorEngine:
    """pyarrow reading the columns each answer needs straight from the Parquet files (no Delta log)."""

    COLUMNS: ClassVar[dict[str, dict[str, list[str]]]] = {
        "q1": {"units": ["unit_id", "structure", "default_qc", *METRICS]},
        "q2": {"spike_times": ["unit_id", "spike_time"]},
        "q3": {"spike_times": ["unit_id", "spike_time"],
               "trials": ["stim_name", "rewarded_modality", "stim_start_time"]},
        "q4": {"trials": ["block_index", "rewarded_modality", "is_hit", "is_go", "is_false_alarm", "is_nogo"]},
        "q5": {"units": ["unit_id", "structure", "default_qc"], "trials": ["stim_name"]},
    }

    def __init__(self, lake: str, session_id: str) -> None:
        self.root = Path(lake)
        self.session_id = session_id
        self._strings: dict[str, list[str]] = {}

    def _files(self, table: str, session_id: str | None = None) -> list[Path]:
        pattern = f"session_id={session_id}/*.parquet" if session_id else "session_id=*/*.parquet"
        return sorted((self.root / table).glob(pattern))

    @staticmethod
    def _holds_qc_area(path: Path) -> bool:
        """Whether the file's footer statistics say it holds spikes of QC-passing AREA units."""
        meta = pq.ParquetFile(path).metadata
        names = meta.schema.names
        if meta.num_row_groups == 0 or "structure" not in names:
            return True
        group = meta.row_group(0)
        structure = group.column(names.index("structure")).statistics
        qc = group.column(names.index("default_qc")).statistics
        return bool(structure is not None and structure.has_min_max and structure.min <= AREA <= structure.max
                    and (qc is None or not qc.has_min_max or qc.max))

    def _read(self, path: Path, columns: list[str] | None = None) -> Any:
        """The columns of one file; strings stay dictionary-encoded (the cheapest faithful read)."""
        table = path.parent.parent.name
        if table not in self._strings:  # the table's string columns, from its first file's schema
            names = pq.read_schema(path).names
            self._strings[table] = [c for c in ("unit_id", "structure", "stim_name", "rewarded_modality")
                                    if c in names]
        return pq.ParquetFile(path, read_dictionary=self._strings[table]).read(columns=columns)

    def answer(self, question: str) -> pl.DataFrame:
        read: list[Any] = []
        if question == "q6":
            for table in ("units", "spike_times", "trials", "electrodes"):
                read += [self._read(f) for f in self._files(table, self.session_id)]
        else:
            for table, columns in self.COLUMNS[question].items():
                files = self._files(table)
                if table == "spike_times":  # the layout groups spikes by unit structure and QC: read those files
                    files = [f for f in files if self._holds_qc_area(f)]
                read += [self._read(f, columns) for f in files]
        return pl.DataFrame({"rows_read": [sum(t.num_rows for t in read)]})


ENGINES = {"duckdb": DuckDBEngine, "polars": PolarsEngine, "pyarrow-floor": FloorEngine}
