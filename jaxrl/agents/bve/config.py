"""BVE's configuration: static `Config` (shapes, control flow) and traced `HParams` (numbers)."""

from __future__ import annotations

import dataclasses

import flax.struct

from jaxrl.agents.config import NON_NEGATIVE, STEP, OfflineConfig, OptimizerConfig, TorsoConfig
from jaxrl.types import Array


@flax.struct.dataclass
class HParams:
    """BVE's numeric hyperparameters: scalar arrays, so `jax.vmap` sweeps them in one compile."""

    learning_rate: Array
    max_grad_norm: Array
    gamma: Array
    tau: Array
    ranking_weight: Array
    ranking_margin: Array


@dataclasses.dataclass(frozen=True)
class Config(OfflineConfig, OptimizerConfig, TorsoConfig):
    """Regularized Behavior Value Estimation (Gulcehre, Gomez Colmenarejo, Wang et al. 2021,
    "Regularized Behavior Value Estimation", arXiv:2103.09575), for discrete actions: Q learns the
    value of the policy that collected the data by SARSA on the dataset's own next actions, so no
    target ever reads Q at an action the data lacks; a ranking regulariser holds the dataset's
    action above every other by `ranking_margin`; and the agent improves on the behaviour policy
    once, when it acts: greedily on that Q.

    Defaults: Adam at 3e-4 with gradients clipped at norm 10, batches of 256, two layers of 64
    ReLU units (CartPole-sized), a Polyak target network (tau 0.005). The paper applies the
    regulariser only to transitions of episodes whose return passes a threshold; here it applies
    to every row (`ranking_weight` 0 turns it off: plain BVE, Acme's).
    """

    agent = "bve"
    HParams = HParams
    actions = "discrete"
    defaults = dict(learning_rate=3e-4, max_grad_norm=10.0, activation="relu")

    tau: float = 0.005
    """Polyak step of the target network toward the online one, after every update."""
    ranking_weight: float = 1.0
    """Weight of the ranking regulariser sum_{a != a_data} max(Q(s, a) - Q(s, a_data) + margin, 0)^2."""
    ranking_margin: float = 0.5
    """The margin by which the dataset's action must outrank the others."""

    ranges = dict(tau=STEP, ranking_weight=NON_NEGATIVE, ranking_margin=NON_NEGATIVE)
