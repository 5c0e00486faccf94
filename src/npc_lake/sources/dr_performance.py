"""Behavioural performance per block of the DR task, from trials tables (any number of sessions at once).

Rates count only scored trials (not reward-scheduled ones):

- ``hit_rate``: responses to the block's rewarded target;
- ``false_alarm_rate``: responses to the other modality's target;
- ``catch_response_rate``: responses on catch trials;
- ``{vis,aud}_{target,nontarget}_response_rate``: responses to each of the four stimuli, whatever the block.

d' clips each rate to [1/2n, 1 - 1/2n] before the z-transform (DR's convention), and is NaN when either
count has no trials. ``vis_dprime`` and ``aud_dprime`` compare each modality's target with its non-target;
``cross_modality_dprime`` compares the rewarded target with the other modality's target, and
``signed_cross_modality_dprime`` is the same d' made negative in auditory-rewarded blocks (DR's convention:
its sign says which modality's target the mouse favoured). Which stimulus is a target comes from the trials'
``is_*_target`` and ``is_*_nontarget`` flags, or from DR's names (vis1, sound1 targets; vis2, sound2
non-targets) where a source lacks them.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import polars as pl

_NORMAL = NormalDist()
#: Names of the auditory context in ``rewarded_modality`` (the 2022 pilot called it "sound").
AUDITORY_NAMES = ("aud", "sound")
#: Trial flag, and the stimulus name that means it when a trials table lacks the flag.
STIMULUS_FLAGS = {"vis_target": ("is_vis_target", "vis1"), "vis_nontarget": ("is_vis_nontarget", "vis2"),
                  "aud_target": ("is_aud_target", "sound1"), "aud_nontarget": ("is_aud_nontarget", "sound2")}


def dprime(n_hit: int, n_go: int, n_fa: int, n_nogo: int) -> float:
    """d' of two response counts; rates are clipped to [1/2n, 1-1/2n]; NaN when a count has no trials."""
    if n_go == 0 or n_nogo == 0:
        return math.nan
    hit = min(max(n_hit / n_go, 0.5 / n_go), 1 - 0.5 / n_go)
    fa = min(max(n_fa / n_nogo, 0.5 / n_nogo), 1 - 0.5 / n_nogo)
    return _NORMAL.inv_cdf(hit) - _NORMAL.inv_cdf(fa)


def _is(kind: str, trials: pl.DataFrame) -> pl.Expr:
    """Whether a trial showed ``kind`` (e.g. ``vis_target``), from its flag or else its stimulus name."""
    flag, name = STIMULUS_FLAGS[kind]
    by_name = pl.col("stim_name") == name
    return pl.coalesce(pl.col(flag), by_name) if flag in trials.columns else by_name


def _rate(responses: str, trials: str) -> pl.Expr:
    return pl.when(pl.col(trials) > 0).then(pl.col(responses) / pl.col(trials)).otherwise(float("nan"))


def block_performance(trials: pl.DataFrame) -> pl.DataFrame:
    """One ``performance`` intervals row per block of each session in ``trials`` (a DR trials frame).

    Parameters
    ----------
    trials
        DR trials of one or more sessions: ``block_index``, ``rewarded_modality``, ``stim_name``, ``start_time``,
        ``stop_time``, ``is_response``, ``is_hit``, ``is_contingent_reward``, ``is_reward_scheduled`` (and
        ``session_id`` to tell sessions apart).

    Returns
    -------
    polars.DataFrame
        ``interval_name`` ("performance"), ``interval_index`` and the performance columns, one row per
        (session, block), ordered by session and block.
    """
    keys = ["session_id", "block_index"] if "session_id" in trials.columns else ["block_index"]
    session_keys = keys[:-1]
    scored = ~pl.col("is_reward_scheduled").fill_null(False)
    response = pl.col("is_response").fill_null(False)
    vis_block = pl.col("rewarded_modality") == "vis"
    aud_block = pl.col("rewarded_modality").is_in(AUDITORY_NAMES)
    rewarded_target = pl.when(vis_block).then(_is("vis_target", trials)).otherwise(_is("aud_target", trials))
    other_target = pl.when(vis_block).then(_is("aud_target", trials)).otherwise(_is("vis_target", trials))
    shown = {"go": rewarded_target, "other": other_target, "catch": pl.col("stim_name") == "catch",
             **{kind: _is(kind, trials) for kind in STIMULUS_FLAGS}}
    counts = [expr for kind, is_kind in shown.items() for expr in (
        (scored & is_kind.fill_null(False)).sum().alias(f"_n_{kind}"),
        (scored & is_kind.fill_null(False) & response).sum().alias(f"_r_{kind}"))]
    blocks = (trials.group_by(keys, maintain_order=True).agg(
        *counts, start_time=pl.col("start_time").min(), stop_time=pl.col("stop_time").max(), n_trials=pl.len(),
        n_responses=response.sum(), n_hits=pl.col("is_hit").fill_null(False).sum(),
        n_contingent_rewards=pl.col("is_contingent_reward").fill_null(False).sum(),
        rewarded_modality=pl.col("rewarded_modality").first())
        .sort(keys)
        .with_columns(
            hit_rate=_rate("_r_go", "_n_go"), false_alarm_rate=_rate("_r_other", "_n_other"),
            catch_response_rate=_rate("_r_catch", "_n_catch"),
            **{f"{kind}_response_rate": _rate(f"_r_{kind}", f"_n_{kind}") for kind in STIMULUS_FLAGS},
            is_first_block_aud=aud_block.first().over(session_keys or pl.lit(0)),
            interval_index=pl.int_range(pl.len()).over(session_keys or pl.lit(0)).cast(pl.Int64)))

    def dprimes(go: str, nogo: str) -> list[float]:
        return [dprime(*row) for row in blocks.select(f"_r_{go}", f"_n_{go}", f"_r_{nogo}", f"_n_{nogo}").iter_rows()]

    blocks = blocks.with_columns(cross_modality_dprime=pl.Series(dprimes("go", "other"), dtype=pl.Float64))
    blocks = blocks.with_columns(
        signed_cross_modality_dprime=pl.when(aud_block)
        .then(-pl.col("cross_modality_dprime")).otherwise(pl.col("cross_modality_dprime")),
        vis_dprime=pl.Series(dprimes("vis_target", "vis_nontarget"), dtype=pl.Float64),
        aud_dprime=pl.Series(dprimes("aud_target", "aud_nontarget"), dtype=pl.Float64))
    return blocks.select(pl.lit("performance").alias("interval_name"), *session_keys, "interval_index",
                         pl.exclude("interval_name", "interval_index", *session_keys, "^_[nr]_.*$"))
