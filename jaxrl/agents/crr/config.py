"""CRR's configuration: static `Config` (shapes, control flow) and traced `HParams` (numbers)."""

from __future__ import annotations

import dataclasses
from typing import Literal

import flax.struct

from jaxrl.agents.config import POSITIVE, ActorCriticConfig, ActorCriticHParams, OfflineConfig, OneOf, Range, at_least
from jaxrl.types import Array


@flax.struct.dataclass
class HParams(ActorCriticHParams):
    """CRR's numeric hyperparameters: the actor-critic ones and the filter's temperature."""

    beta: Array


@dataclasses.dataclass(frozen=True)
class Config(OfflineConfig, ActorCriticConfig):
    """Critic Regularized Regression (Wang, Novikov, Zolna et al. 2020, "Critic Regularized
    Regression", arXiv:2006.15134): the policy clones the dataset's actions weighted by a filter
    f(A) of their advantage under the critic, A(s, a) = Q(s, a) - V(s) with V(s) the mean (or max)
    of Q over `num_action_samples` actions of the policy; the critic learns the policy's value by
    TD on r + gamma * Q'(s', a'), a' ~ pi(.|s'). "exp" weighs exp(A / beta) (clipped at
    `max_weight`), "binary" keeps the actions with A > 0.

    Defaults: the paper's (beta 1, weights clipped at 20, 4 action samples, Adam 3e-4, batch 256)
    with SAC's tanh-Gaussian policy and twin critics (min over the twins) in place of its
    distributional critic, and Polyak target critics (tau 0.005) without a target policy.
    """

    agent = "crr"
    HParams = HParams

    filter: Literal["exp", "binary"] = "exp"
    """The advantage filter f: "exp" (min(exp(A / beta), max_weight)) or "binary" (1[A > 0])."""
    beta: float = 1.0
    """Temperature of the "exp" filter: lower trusts the critic's advantages more."""
    max_weight: float = 20.0
    """Upper clip of the "exp" filter's weights."""
    num_action_samples: int = 4
    """Policy actions per state whose Q-values estimate V(s)."""
    advantage_estimate: Literal["mean", "max"] = "mean"
    """V(s) as the mean (CRR's A_mean) or the max (A_max) of Q over the sampled actions."""

    ranges = dict(filter=OneOf(("exp", "binary")), beta=POSITIVE, max_weight=Range(1.0),
                  num_action_samples=at_least(1), advantage_estimate=OneOf(("mean", "max")))
