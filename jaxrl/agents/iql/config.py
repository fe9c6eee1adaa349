"""IQL's configuration: static `Config` (shapes, control flow) and traced `HParams` (numbers)."""

from __future__ import annotations

import dataclasses

import flax.struct

from jaxrl.agents.config import NON_NEGATIVE, ActorCriticConfig, ActorCriticHParams, OfflineConfig, Range
from jaxrl.types import Array


@flax.struct.dataclass
class HParams(ActorCriticHParams):
    """IQL's numeric hyperparameters: the actor-critic ones, the expectile and the temperature."""

    expectile: Array
    temperature: Array


@dataclasses.dataclass(frozen=True)
class Config(OfflineConfig, ActorCriticConfig):
    """Implicit Q-Learning (Kostrikov, Nair & Levine 2021, "Offline Reinforcement Learning with
    Implicit Q-Learning", arXiv:2110.06169): never evaluates Q at an action outside the dataset. V(s)
    is fitted by expectile regression to the target critics' min Q(s, a) over the data's actions (an
    upper expectile approximates a max over the actions the data supports), the twin critics
    regress on r + gamma * V(s'), and the policy is extracted by advantage-weighted regression:
    log pi(a|s) weighted by exp(temperature * (Q(s, a) - V(s))), clipped at 100.

    Defaults: the paper's MuJoCo settings (expectile 0.7, temperature 3, Adam 3e-4 for all three
    networks, tau 0.005, batch 256, two layers of 256) on Pendulum-v1, without its cosine decay of
    the actor's rate; V uses `critic_learning_rate`. The policy is SAC's tanh-Gaussian network.
    """

    agent = "iql"
    HParams = HParams

    expectile: float = 0.7
    """tau of V's expectile regression on Q(s, a): 0.5 fits the data's mean value, toward 1 its best action's."""
    temperature: float = 3.0
    """Inverse temperature beta of the advantage weights exp(beta * (Q - V)): 0 is behaviour cloning."""

    ranges = dict(expectile=Range(0.5, 1.0, high_open=True), temperature=NON_NEGATIVE)

