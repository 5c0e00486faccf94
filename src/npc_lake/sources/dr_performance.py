"""Behavioural performance per block of a DR task, from its trials table.

Rates count only scored trials (not reward-scheduled ones): ``hit_rate`` is the response rate to the
block's rewarded target, ``false_alarm_rate`` to the other modality's target, ``catch_response_rate`` to
catch trials. d' clips each rate to [1/2n, 1 - 1/2n] before the z-transform; ``vis_dprime`` and
``aud_dprime`` compare each modality's target with its non-target; ``signed_cross_modality_dprime``
compares the rewarded target with the other modality's target, ``cross_modality_dprime`` is its size.
"""

from __future__ import annotations

import math
from collections import defaultdict
from statistics import NormalDist
from typing import Any

import polars as pl

_NORMAL = NormalDist()
#: Target stimulus of each rewarded modality when a trials table does not say (DR's usual names).
DEFAULT_TARGETS = {"vis": "vis1", "aud": "sound1"}
DEFAULT_NONTARGETS = {"vis": "vis2", "aud": "sound2"}


def dprime(n_hit: int, n_go: int, n_fa: int, n_nogo: int) -> float:
    """d' of two response counts; rates are clipped to [1/2n, 1-1/2n]; NaN when a count has no trials."""
    if n_go == 0 or n_nogo == 0:
        return math.nan
    hit = min(max(n_hit / n_go, 0.5 / n_go), 1 - 0.5 / n_go)
    fa = min(max(n_fa / n_nogo, 0.5 / n_nogo), 1 - 0.5 / n_nogo)
    return _NORMAL.inv_cdf(hit) - _NORMAL.inv_cdf(fa)


def _stimuli(trials: pl.DataFrame, flag: str, defaults: dict[str, str]) -> dict[str, str]:
    """The stimulus of each modality marked by ``flag`` (``is_target`` / ``is_nontarget``) in ``trials``."""
    found = dict(defaults)
    if flag in trials.columns:
        for modality, prefix in (("vis", "vis"), ("aud", "sound")):
            names = (trials.filter(pl.col(flag) & pl.col("stim_name").str.starts_with(prefix))["stim_name"]
                     .unique().sort().to_list())
            if names:
                found[modality] = names[0]
    return found


def block_performance(trials: pl.DataFrame) -> pl.DataFrame:
    """One ``performance`` intervals row per block of ``trials`` (a DR trials frame of one session)."""
    targets = _stimuli(trials, "is_target", DEFAULT_TARGETS)
    nontargets = _stimuli(trials, "is_nontarget", DEFAULT_NONTARGETS)
    other = {"vis": "aud", "aud": "vis"}
    rows: dict[str, list[Any]] = defaultdict(list)
    first_aud = trials.height > 0 and trials["rewarded_modality"][0] == "aud"
    for (block_index,), block in trials.group_by("block_index", maintain_order=True):
        modality = str(block["rewarded_modality"][0])
        scored = block.filter(~pl.col("is_reward_scheduled"))

        def counts(stim: str, scored: pl.DataFrame = scored) -> tuple[int, int]:
            chosen = scored.filter(pl.col("stim_name") == stim)
            return int(chosen["is_response"].sum()), chosen.height

        target = counts(targets.get(modality, ""))
        distractor = counts(targets.get(other.get(modality, ""), ""))
        catch = counts("catch")
        signed = dprime(*target, *distractor)
        values = {
            "start_time": block["start_time"].min(), "stop_time": block["stop_time"].max(),
            "block_index": block_index, "n_trials": block.height, "n_responses": int(block["is_response"].sum()),
            "n_hits": int(block["is_hit"].sum()), "n_contingent_rewards": int(block["is_contingent_reward"].sum()),
            "hit_rate": target[0] / target[1] if target[1] else math.nan,
            "false_alarm_rate": distractor[0] / distractor[1] if distractor[1] else math.nan,
            "catch_response_rate": catch[0] / catch[1] if catch[1] else math.nan,
            "rewarded_modality": modality, "is_first_block_aud": first_aud,
            "vis_dprime": dprime(*counts(targets["vis"]), *counts(nontargets["vis"])),
            "aud_dprime": dprime(*counts(targets["aud"]), *counts(nontargets["aud"])),
            "cross_modality_dprime": abs(signed), "signed_cross_modality_dprime": signed,
        }
        for name, value in values.items():
            rows[name].append(value)
    n = len(rows["block_index"])
    return pl.DataFrame({"interval_name": ["performance"] * n, "interval_index": list(range(n)), **rows},
                        strict=False)
