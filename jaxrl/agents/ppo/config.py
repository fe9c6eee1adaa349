"""PPO's configuration: static `Config` (shapes, control flow) and traced `HParams` (numbers)."""

from __future__ import annotations

import dataclasses
from typing import Literal

import flax.struct

from jaxrl.agents.config import BOOL, FINITE, NON_NEGATIVE, POSITIVE, UNIT, EpochsConfig, OneOf, TorsoConfig
from jaxrl.types import Array, EnvSpec


@flax.struct.dataclass
class HParams:
    """PPO's numeric hyperparameters: scalar arrays, so `jax.vmap` sweeps them in one compile."""

    learning_rate: Array
    gamma: Array
    gae_lambda: Array
    clip_eps: Array
    ent_coef: Array
    vf_coef: Array
    max_grad_norm: Array


@dataclasses.dataclass(frozen=True)
class Config(EpochsConfig, TorsoConfig):
    """Proximal Policy Optimization (Schulman et al. 2017, arXiv:1707.06347).

    Defaults are PureJaxRL's CartPole-v1 settings. Fields named like `HParams` fields (learning
    rate, gamma, ...) are the defaults of `hparams()`, which `train(key, hparams)` may override.
    """

    agent = "ppo"
    HParams = HParams

    normalize_advantages: bool = True
    """Normalise advantages per minibatch to zero mean and unit variance."""
    clip_value_loss: bool = True
    """Clip the value loss around the rollout's values by clip_eps."""
    continuous_policy: Literal["gaussian", "tanh_gaussian"] | None = None
    """Continuous actions only: a Gaussian clipped by the env (None: "gaussian") or a tanh-squashed one."""
    init_log_std: float | None = None
    """Continuous actions only: the Gaussian's initial log standard deviation (None: 0.0)."""
    gae_lambda: float = 0.95
    """GAE's lambda, trading bias for variance in the advantages."""
    clip_eps: float = 0.2
    """Clipping range of the probability ratio (and of the value loss)."""
    ent_coef: float = 0.01
    """Weight of the entropy bonus."""
    vf_coef: float = 0.5
    """Weight of the value loss."""

    ranges = dict(normalize_advantages=BOOL, clip_value_loss=BOOL,
                  continuous_policy=OneOf((None, "gaussian", "tanh_gaussian")), init_log_std=FINITE.or_none(),
                  gae_lambda=UNIT, clip_eps=POSITIVE, ent_coef=NON_NEGATIVE, vf_coef=NON_NEGATIVE)

    def check_spec(self, spec: EnvSpec) -> None:
        """Continuous-policy options on a discrete-action env are an error naming the field."""
        super().check_spec(spec)
        if self.continuous_policy == "tanh_gaussian":
            self.require_bounded_actions(spec, f"{self.agent}.Config.continuous_policy='tanh_gaussian'")
        if spec.discrete_actions:
            for field in ("continuous_policy", "init_log_std"):
                if getattr(self, field) is not None:
                    raise ValueError(
                        f"{self.agent}.Config.{field} is a continuous-action option, but {spec.name} has "
                        f"discrete actions ({spec.action}); leave it None"
                    )
