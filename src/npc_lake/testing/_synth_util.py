"""Small helpers shared by the synthetic-session modules: seeded streams and schema-typed frames."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from npc_lake.schema.model import Table

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: Stream tags: every random quantity of a session is drawn from the stream named after what it makes,
#: so that changing how one table is generated never shifts the numbers of another.
IDENTITY, SUBJECT, EPOCHS, TASK, RF_MAPPING, PROBES, UNITS, SPIKES, EVENTS, RUNNING = range(1, 11)


def stream(seed: int, *keys: int) -> np.random.Generator:
    """A random generator determined by ``seed`` and the stream ``keys`` (non-negative ints)."""
    return np.random.default_rng(np.random.SeedSequence([seed % 2**63, *keys]))


def jitter(rng: np.random.Generator, size: int | None = None, *, low: float = 5e-4,
           high: float = 3e-3) -> Any:
    """Small positive delays (s) that keep event times off round numbers, as real clocks do."""
    return rng.uniform(low, high, size)


def frame(table: Table, columns: Mapping[str, Any], height: int) -> pl.DataFrame:
    """A frame with every declared column of ``table``, cast to its declared dtype.

    Parameters
    ----------
    table
        The declaration giving column order and dtypes.
    columns
        Values by column name: sequences or arrays of length ``height``, or a scalar that is repeated.
        Declared columns that are absent become all-null.
    height
        Number of rows.
    """
    series = []
    for name, dtype in table.polars_schema.items():
        value = columns.get(name)
        if value is None:
            series.append(pl.repeat(None, height, dtype=dtype, eager=True).alias(name))
        elif isinstance(value, pl.Series):
            series.append(value.alias(name).cast(dtype, strict=True))
        elif isinstance(value, (str, bool, int, float)):
            series.append(pl.repeat(value, height, eager=True).alias(name).cast(dtype, strict=True))
        else:
            series.append(pl.Series(name, value).cast(dtype, strict=True))
    unknown = set(columns) - set(table.column_names)
    if unknown:
        raise KeyError(f"{table.name}: undeclared columns {sorted(unknown)}")
    return pl.DataFrame(series)
