"""Behavioural performance per block of the DR task, from trials tables (any number of sessions at once).

The formulas are npc_sessions 0.0.291's (the reference for DR tables), on the trials' own flags:

- ``hit_rate`` = hits / go trials, ``false_alarm_rate`` = false alarms / no-go trials (every no-go
  stimulus, both modalities), ``catch_response_rate`` = responses / catch trials; go trials include the
  block's instruction trials, as the trials' ``is_go`` does;
- ``cross_modality_dprime``: d' of the hit rate against the false-alarm rate on the other modality's
  target; ``signed_cross_modality_dprime`` is the same made negative in auditory-rewarded blocks;
- ``vis_dprime`` / ``aud_dprime``: d' of hits among that modality's target trials against false alarms
  among its non-target trials (so in a block that rewards the other modality its hit rate is 0);
- ``{vis,aud}_{target,nontarget}_response_rate``: responses without a scheduled reward / presentations,
  over trials that are not instruction trials.

d' is z(hit rate) - z(false-alarm rate), a rate of exactly 0 or 1 first moved to 1/2n or 1 - 1/2n (DR's
``calcDprime``), and NaN when either has no trials. Flags a source lacks are derived from DR's stimulus
names (vis1 and sound1 targets, vis2 and sound2 non-targets, ``catch``).
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
    """d' of two response counts (DR's ``calcDprime``): a rate of exactly 0 or 1 becomes 1/2n or 1 - 1/2n;
    NaN when a count has no trials."""
    if n_go == 0 or n_nogo == 0:
        return math.nan
    z = []
    for k, n in ((n_hit, n_go), (n_fa, n_nogo)):
        rate = k / n
        rate = 0.5 / n if rate == 0 else 1 - 0.5 / n if rate == 1 else rate
        z.append(_NORMAL.inv_cdf(rate))
    return z[0] - z[1]


def _is(kind: str, trials: pl.DataFrame) -> pl.Expr:
    """Whether a trial showed ``kind`` (e.g. ``vis_target``), from its flag or else its stimulus name."""
    flag, name = STIMULUS_FLAGS[kind]
    by_name = pl.col("stim_name") == name
    return pl.coalesce(pl.col(flag), by_name) if flag in trials.columns else by_name


def _flag(trials: pl.DataFrame, name: str, derived: pl.Expr) -> pl.Expr:
    """A trial flag: the trials' own column where it has a value, else derived from names."""
    return (pl.coalesce(pl.col(name), derived) if name in trials.columns else derived).fill_null(False)


def _ratio(numerator: pl.Expr, denominator: pl.Expr) -> pl.Expr:
    return pl.when(denominator > 0).then(numerator / denominator).otherwise(float("nan"))


def block_performance(trials: pl.DataFrame) -> pl.DataFrame:
    """One ``performance`` intervals row per block of each session in ``trials`` (a DR trials frame).

    Parameters
    ----------
    trials
        DR trials of one or more sessions: ``block_index``, ``rewarded_modality``, ``stim_name``, ``start_time``,
        ``stop_time``, ``is_response`` and the outcome flags (``is_go``, ``is_hit``, ``is_nogo``,
        ``is_false_alarm``, ``is_*_target`` …, derived from the names where absent); ``session_id`` tells
        sessions apart.

    Returns
    -------
    polars.DataFrame
        ``interval_name`` ("performance"), ``interval_index`` and the performance columns, one row per
        (session, block), ordered by session and block.
    """
    keys = ["session_id", "block_index"] if "session_id" in trials.columns else ["block_index"]
    session_keys = keys[:-1]
    stim = pl.col("stim_name")
    response = pl.col("is_response").fill_null(False)
    vis_block = pl.col("rewarded_modality") == "vis"
    aud_block = pl.col("rewarded_modality").is_in(AUDITORY_NAMES)
    catch = _flag(trials, "is_catch", stim == "catch")
    rewarded_target = pl.when(vis_block).then(_is("vis_target", trials)).otherwise(_is("aud_target", trials))
    go = _flag(trials, "is_go", rewarded_target)
    nogo = _flag(trials, "is_nogo", ~go & ~catch)
    hit = _flag(trials, "is_hit", go & response)
    false_alarm = _flag(trials, "is_false_alarm", nogo & response)
    vis_stim = _flag(trials, "is_vis_stim", stim.str.contains("vis"))
    aud_stim = _flag(trials, "is_aud_stim", stim.str.contains("sound|aud"))
    target = _flag(trials, "is_target", _is("vis_target", trials) | _is("aud_target", trials))
    scheduled = pl.col("is_reward_scheduled").fill_null(False)
    instruction = _flag(trials, "is_instruction", scheduled)
    other_target = ((vis_stim & aud_block) | (aud_stim & vis_block)) & target
    kinds = {kind: _is(kind, trials).fill_null(False) for kind in STIMULUS_FLAGS}
    counts = {
        "_go": go.sum(), "_hit": hit.sum(), "_nogo": nogo.sum(), "_fa": false_alarm.sum(), "_catch": catch.sum(),
        "_catch_r": (catch & response).sum(), "_other": other_target.sum(),
        "_other_fa": (other_target & false_alarm).sum(),
        **{f"_n_{kind}": is_kind.sum() for kind, is_kind in kinds.items()},
        **{f"_hit_{kind}": (is_kind & hit).sum() for kind, is_kind in kinds.items()},
        **{f"_fa_{kind}": (is_kind & false_alarm).sum() for kind, is_kind in kinds.items()},
        **{f"_shown_{kind}": (is_kind & ~instruction).sum() for kind, is_kind in kinds.items()},
        **{f"_licked_{kind}": (is_kind & ~instruction & response & ~scheduled).sum()
           for kind, is_kind in kinds.items()},
    }
    blocks = (trials.group_by(keys, maintain_order=True).agg(
        **counts, start_time=pl.col("start_time").min(), stop_time=pl.col("stop_time").max(), n_trials=pl.len(),
        n_responses=response.sum(), n_hits=hit.sum(),
        n_contingent_rewards=pl.col("is_contingent_reward").fill_null(False).sum(),
        rewarded_modality=pl.col("rewarded_modality").first())
        .sort(keys)
        .with_columns(
            hit_rate=_ratio(pl.col("_hit"), pl.col("_go")), false_alarm_rate=_ratio(pl.col("_fa"), pl.col("_nogo")),
            catch_response_rate=_ratio(pl.col("_catch_r"), pl.col("_catch")),
            **{f"{kind}_response_rate": _ratio(pl.col(f"_licked_{kind}"), pl.col(f"_shown_{kind}"))
               for kind in STIMULUS_FLAGS},
            is_first_block_aud=aud_block.first().over(session_keys or pl.lit(0)),
            interval_index=pl.int_range(pl.len()).over(session_keys or pl.lit(0)).cast(pl.Int64)))

    def dprimes(*columns: str) -> pl.Series:
        return pl.Series([dprime(*row) for row in blocks.select(*columns).iter_rows()], dtype=pl.Float64)

    blocks = blocks.with_columns(cross_modality_dprime=dprimes("_hit", "_go", "_other_fa", "_other"))
    blocks = blocks.with_columns(
        signed_cross_modality_dprime=pl.when(aud_block)
        .then(-pl.col("cross_modality_dprime")).otherwise(pl.col("cross_modality_dprime")),
        vis_dprime=dprimes("_hit_vis_target", "_n_vis_target", "_fa_vis_nontarget", "_n_vis_nontarget"),
        aud_dprime=dprimes("_hit_aud_target", "_n_aud_target", "_fa_aud_nontarget", "_n_aud_nontarget"))
    return blocks.select(pl.lit("performance").alias("interval_name"), *session_keys, "interval_index",
                         pl.exclude("interval_name", "interval_index", *session_keys, "^_.*$"))
