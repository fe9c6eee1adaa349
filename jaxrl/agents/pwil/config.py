"""PWIL's configurations, one per base agent (`direct_rl`): the base's fields, the demonstrations
block and the reward's. `pwil.Config` is PWIL on SAC; `pwil.config(direct_rl="td3", ...)` (or
`--direct-rl td3`) gives PWIL on TD3, and `direct_rl="ppo"` on PPO."""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

from jaxrl.agents.config import (POSITIVE, AgentConfig, DemonstrationsConfig, OneOf, Text, at_least,
                                 require_raw_observations, variant)
from jaxrl.agents.ppo import config as ppo_config
from jaxrl.agents.sac import config as sac_config
from jaxrl.agents.td3 import config as td3_config
from jaxrl.types import EnvSpec


@dataclasses.dataclass(frozen=True)
class RewardConfig(AgentConfig):
    """PWIL's reward r = alpha * exp(-beta * T / sqrt(d) * c) of a step whose greedy coupling to
    the demonstrations costs c (d: the size of a state-action pair); the paper's alpha = beta = 5
    (Dadashi et al. 2021, section 4)."""

    reward_scale: float = 5.0
    """alpha: the reward of a step coupled at no cost, and of every demonstration row mixed into replay."""
    reward_bandwidth: float = 5.0
    """beta: how fast the reward falls with the coupling's cost."""
    reward_horizon: int | None = None
    """T: the steps an episode's unit mass is spread over, 1/T per step (None: the env's time limit)."""

    ranges = dict(reward_scale=POSITIVE, reward_bandwidth=POSITIVE, reward_horizon=at_least(1).or_none())

    def check_spec(self, spec: EnvSpec) -> None:
        super().check_spec(spec)
        if self.reward_horizon is None and spec.max_episode_steps is None:
            raise ValueError(f"{self.agent}.Config.reward_horizon: {spec.name} has no time limit to spread an "
                             f"episode's mass over; set reward_horizon (or episode_length)")

    def horizon(self, spec: EnvSpec) -> int:
        """T: `reward_horizon`, or the env's time limit."""
        return self.reward_horizon or spec.max_episode_steps


_ABOUT = """Primal Wasserstein Imitation Learning (Dadashi, Hussenot, Geist & Pietquin 2021, "Primal
    Wasserstein Imitation Learning", arXiv:2006.04678): each episode the agent's state-action pairs,
    of mass 1/T each, are coupled greedily, one step at a time, to the demonstrations' pairs (mass
    1/M each, standardised by the demonstrations' per-dimension spread), and a step whose share of
    this upper bound on the Wasserstein distance costs c earns alpha * exp(-beta * T / sqrt(d) * c) in
    place of the environment's reward, which is never used (only reported). The reward is offline
    (no learnt discriminator): the actor computes it as it stores each step (`Agent.observe`),
    carrying the demonstrations' unused masses in its state. Needs `demonstrations`, collected in
    `env`."""


@dataclasses.dataclass(frozen=True)
class SACConfig(RewardConfig, DemonstrationsConfig, sac_config.Config):
    __doc__ = _ABOUT + """

    On SAC (Haarnoja et al. 2018), for continuous actions; a share of every batch
    (`demonstration_ratio`) is demonstration rows with reward alpha, the reward of a pair coupled to
    itself (the authors fill the replay with demonstrations first; a fixed share never fades)."""

    agent = "pwil"
    defaults = dict(demonstration_ratio=0.5)

    direct_rl: Literal["sac", "td3", "ppo"] = "sac"
    """The base agent: "sac" or "td3" (continuous actions, demonstrations in replay) or "ppo"."""

    ranges = dict(direct_rl=OneOf(("sac", "td3", "ppo")))


@dataclasses.dataclass(frozen=True)
class TD3Config(RewardConfig, DemonstrationsConfig, td3_config.Config):
    __doc__ = _ABOUT + """

    On TD3 (Fujimoto et al. 2018), for continuous actions, with demonstration rows of reward alpha
    in every batch as on SAC."""

    agent = "pwil"
    defaults = dict(demonstration_ratio=0.5)

    direct_rl: Literal["sac", "td3", "ppo"] = "td3"
    """The base agent: "sac" or "td3" (continuous actions, demonstrations in replay) or "ppo"."""

    ranges = dict(direct_rl=OneOf(("sac", "td3", "ppo")))


@dataclasses.dataclass(frozen=True)
class PPOConfig(RewardConfig, ppo_config.Config):
    __doc__ = _ABOUT + """

    On PPO (Schulman et al. 2017), for discrete (one-hot in the pairs) or continuous actions; the
    demonstrations serve the reward alone."""

    agent = "pwil"

    demonstrations: str | None = None
    """Directory of a jaxrl dataset of demonstrations (python -m experiments.collect) the rewards come from."""
    direct_rl: Literal["sac", "td3", "ppo"] = "ppo"
    """The base agent: "sac" or "td3" (continuous actions, demonstrations in replay) or "ppo"."""

    ranges = dict(demonstrations=Text(optional=True), direct_rl=OneOf(("sac", "td3", "ppo")))

    def check(self) -> None:
        super().check()
        require_raw_observations(self)  # the couplings compare raw observations with the demonstrations'


SACConfig.variants = TD3Config.variants = PPOConfig.variants = {"sac": SACConfig, "td3": TD3Config, "ppo": PPOConfig}
Config = SACConfig


def config(direct_rl: str = "sac", **fields: Any) -> Any:
    """PWIL's Config on the base agent `direct_rl` ("sac", "td3" or "ppo") with `fields` set."""
    return variant(Config, direct_rl)(**fields)
