"""AIL's configurations, one per base agent (`direct_rl`): the base's fields, the demonstrations
block and the discriminator's. `ail.Config` is AIL on SAC; `ail.config(direct_rl="td3", ...)` (or
`--direct-rl td3`) gives AIL on TD3, and `direct_rl="ppo"` GAIL."""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

import flax.struct

from jaxrl.agents.config import (NON_NEGATIVE, POSITIVE, AgentConfig, DemonstrationsConfig, OneOf, Text,
                                 require_raw_observations, variant)
from jaxrl.agents.ppo import config as ppo_config
from jaxrl.agents.sac import config as sac_config
from jaxrl.agents.td3 import config as td3_config
from jaxrl.types import Array


@flax.struct.dataclass
class SACHParams(sac_config.HParams):
    """AIL on SAC's numeric hyperparameters: SAC's and the discriminator's."""

    discriminator_learning_rate: Array
    gradient_penalty_weight: Array


@flax.struct.dataclass
class TD3HParams(td3_config.HParams):
    """AIL on TD3's numeric hyperparameters: TD3's and the discriminator's."""

    discriminator_learning_rate: Array
    gradient_penalty_weight: Array


@flax.struct.dataclass
class PPOHParams(ppo_config.HParams):
    """GAIL's (AIL on PPO's) numeric hyperparameters: PPO's and the discriminator's."""

    discriminator_learning_rate: Array
    gradient_penalty_weight: Array


@dataclasses.dataclass(frozen=True)
class DiscriminatorConfig(AgentConfig):
    """The discriminator of adversarial imitation: an MLP on (s, a, absorbing) as wide as the
    agent's networks (`hidden_sizes`, tanh), trained by binary cross-entropy with a gradient penalty."""

    discriminator_learning_rate: float = 3e-4
    """Adam step size of the discriminator."""
    gradient_penalty_weight: float = 1.0
    """Weight of the gradient penalty (||grad D|| - 1)^2 at points between expert and agent pairs."""
    reward: Literal["logit", "gail"] = "logit"
    """D's reward: "logit", log D - log(1 - D) with DAC's absorbing state, or "gail", -log(1 - D) without it."""

    ranges = dict(discriminator_learning_rate=POSITIVE, gradient_penalty_weight=NON_NEGATIVE,
                  reward=OneOf(("logit", "gail")))


_ABOUT = """Adversarial imitation learning in the manner of DAC (Kostrikov, Agrawal, Dwibedi, Levine &
    Tompson 2019, "Discriminator-Actor-Critic", arXiv:1809.02925; GAIL's idea, Ho & Ermon 2016): a
    discriminator D(s, a) learns to tell the demonstrations' pairs (labelled 1) from the agent's own
    (0), with a gradient penalty between them, and the base agent learns from its rewards
    log D - log(1 - D) in place of the environment's, which are never used (only reported). Every
    batch is half demonstrations (`demonstration_ratio`); both halves train both learners. A
    termination leads to DAC's absorbing state, whose reward D gives too: its discounted value
    gamma * r_abs / (1 - gamma) is added to the terminal transition's reward. Needs
    `demonstrations`, collected in `env`. The gradient penalty's weight is 1, not DAC's 10: on
    Pendulum-v1 the weaker penalty learned faster (measured beside 10, 4 seeds, 10,000 steps)."""


@dataclasses.dataclass(frozen=True)
class SACConfig(DiscriminatorConfig, DemonstrationsConfig, sac_config.Config):
    __doc__ = _ABOUT + "\n\n    On SAC (Haarnoja et al. 2018), for continuous actions."

    agent = "ail"
    HParams = SACHParams
    # The discriminator's rewards are small (|r| ~ 0.1 on Pendulum-v1): from SAC's alpha = 1 the
    # entropy term ruled for thousands of steps (one seed of four at 0.76 after 10,000 steps; with
    # 0.1 all four >= 0.97 from 7,000 on).
    defaults = dict(demonstration_ratio=0.5, init_temperature=0.1)

    direct_rl: Literal["sac", "td3", "ppo"] = "sac"
    """The base agent: "sac" or "td3" (continuous actions) or "ppo" (GAIL), each with its own fields."""

    ranges = dict(direct_rl=OneOf(("sac", "td3", "ppo")))


@dataclasses.dataclass(frozen=True)
class TD3Config(DiscriminatorConfig, DemonstrationsConfig, td3_config.Config):
    __doc__ = _ABOUT + "\n\n    On TD3 (Fujimoto et al. 2018), DAC's own base agent, for continuous actions."

    agent = "ail"
    HParams = TD3HParams
    defaults = dict(demonstration_ratio=0.5)

    direct_rl: Literal["sac", "td3", "ppo"] = "td3"
    """The base agent: "sac" or "td3" (continuous actions) or "ppo" (GAIL), each with its own fields."""

    ranges = dict(direct_rl=OneOf(("sac", "td3", "ppo")))


@dataclasses.dataclass(frozen=True)
class PPOConfig(DiscriminatorConfig, ppo_config.Config):
    """Generative adversarial imitation learning (Ho & Ermon 2016, "Generative Adversarial
    Imitation Learning", arXiv:1606.03476): AIL on PPO (Schulman et al. 2017), for discrete or
    continuous actions. Each iteration a discriminator D(s, a) takes one step on the rollout's pairs
    (labelled 0) against as many pairs drawn uniformly from the demonstrations (1), with a gradient
    penalty between them, then PPO learns from the rollout with D's rewards in place of the
    environment's, which are never used (only reported). By default GAIL's reward -log(1 - D)
    (`reward="gail"`, no absorbing state); "logit" gives DAC's. Needs `demonstrations`, collected
    in `env`."""

    agent = "ail"
    HParams = PPOHParams
    # GAIL's own reward: with log D - log(1 - D), two seeds of four on CartPole-v1 learned to end
    # episodes at once (every step's reward negative once D tells the agent apart).
    defaults = dict(reward="gail")

    demonstrations: str | None = None
    """Directory of a jaxrl dataset of demonstrations (python -m experiments.collect) the discriminator learns from."""
    direct_rl: Literal["sac", "td3", "ppo"] = "ppo"
    """The base agent: "sac" or "td3" (continuous actions) or "ppo" (GAIL), each with its own fields."""

    ranges = dict(demonstrations=Text(optional=True), direct_rl=OneOf(("sac", "td3", "ppo")))

    def check(self) -> None:
        super().check()
        require_raw_observations(self)  # the discriminator compares the rollout's with the demonstrations'


SACConfig.variants = TD3Config.variants = PPOConfig.variants = {"sac": SACConfig, "td3": TD3Config, "ppo": PPOConfig}
Config = SACConfig


def config(direct_rl: str = "sac", **fields: Any) -> Any:
    """AIL's Config on the base agent `direct_rl` ("sac", "td3" or "ppo") with `fields` set."""
    return variant(Config, direct_rl)(**fields)
