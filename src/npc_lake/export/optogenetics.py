"""``OptogeneticStimulusSite`` objects for the optotagging sites a session's intervals name.

Every intervals row with a ``device_name`` that names one of the session's devices (OptoTagging pulses read
from a raw DR session) belongs to the site of its (device, location, wavelength, bregma position). Each such
site becomes one ``/general/optogenetics/<location>`` object linked to the device, with the wavelength as
``excitation_lambda``. The rows stay in their intervals table; the sites are derived from them on every
export, so re-ingest has nothing to read back.

The pulses delivered at each site become an ``OptogeneticSeries`` in ``/stimulus`` (``<site>_pulses``):
the light power at every pulse onset and 0 at its offset, in watts (``power`` is stored in mW).
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl
from pynwb import NWBFile
from pynwb.ogen import OptogeneticSeries, OptogeneticStimulusSite

from npc_lake.schema import SessionBundle

_SITE_KEYS = ("device_name", "location", "wavelength", "bregma_x", "bregma_y")


def _site_name(location: str | None, device: str, taken: set[str]) -> str:
    base = (location or f"{device}_site").replace("/", "_").replace(":", "_")
    name, counter = base, 2
    while name in taken:
        name, counter = f"{base}_{counter}", counter + 1
    taken.add(name)
    return name


def add_optogenetic_sites(nwbfile: NWBFile, bundle: SessionBundle) -> None:
    """Add one ``OptogeneticStimulusSite`` per optotagging site of the session's intervals.

    Parameters
    ----------
    nwbfile
        The file being built (devices already added).
    bundle
        The session; ``intervals`` is read.
    """
    frame = bundle.table("intervals")
    if frame is None or "device_name" not in frame.columns:
        return
    rows = frame.filter(pl.col("device_name").is_in(list(nwbfile.devices)))
    if rows.height == 0:
        return
    present = [key for key in _SITE_KEYS if key in rows.columns]
    sites = rows.select(*present, "interval_name").unique(subset=present, keep="first", maintain_order=True)
    taken: set[str] = set()
    for site in sites.iter_rows(named=True):
        device, location = site["device_name"], site.get("location")
        wavelength = site.get("wavelength")
        bregma = [site.get("bregma_x"), site.get("bregma_y")]
        where = (f", {bregma[0]:g} mm lateral and {bregma[1]:g} mm anterior of bregma"
                 if all(v is not None and math.isfinite(v) for v in bregma) else "")
        known = wavelength is not None and math.isfinite(wavelength)
        excitation = float(wavelength) if wavelength is not None and known else math.nan
        ogen_site = OptogeneticStimulusSite(
            name=_site_name(location, device, taken), device=nwbfile.devices[device],
            description=f"Where the light of the {site['interval_name']} pulses ({device}) was delivered{where}"
                        + ("" if known else "; the wavelength was not recorded (excitation_lambda is NaN)") + ".",
            excitation_lambda=excitation, location=location or "unknown")
        nwbfile.add_ogen_site(ogen_site)
        match = pl.all_horizontal(pl.col(k).eq_missing(site[k]) for k in present)
        _add_pulses(nwbfile, rows.filter(match), ogen_site)


def _add_pulses(nwbfile: NWBFile, pulses: pl.DataFrame, site: OptogeneticStimulusSite) -> None:
    """The site's pulses as an OptogeneticSeries: power (W) at each onset, 0 at each offset."""
    needed = {"stim_start_time", "stim_stop_time", "power"}
    if not needed <= set(pulses.columns):
        return
    pulses = pulses.filter(pl.col("stim_start_time").is_not_nan() & pl.col("stim_stop_time").is_not_nan()
                           & pl.col("power").is_not_null() & pl.col("power").is_not_nan()).sort("stim_start_time")
    if pulses.height == 0:
        return
    timestamps = np.column_stack([pulses["stim_start_time"].to_numpy(), pulses["stim_stop_time"].to_numpy()])
    power = np.column_stack([pulses["power"].to_numpy() / 1000.0, np.zeros(pulses.height)])
    nwbfile.add_stimulus(OptogeneticSeries(
        name=f"{site.name}_pulses", site=site, data=power.ravel(), timestamps=timestamps.ravel(),
        description=f"Light pulses at {site.name}: the power at each pulse onset, then 0 at its offset "
                    "(a step function; the light was off between pulses)."))
