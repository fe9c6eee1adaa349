"""PPO's configuration: static `Config` (shapes, control flow) and traced `HParams` (numbers)."""

from __future__ import annotations

import dataclasses
import math
from typing import Literal

import flax.struct

from jaxrl.agents.config import AgentConfig, finite_in, is_int
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
class Config(AgentConfig):
    """Proximal Policy Optimization (Schulman et al. 2017, arXiv:1707.06347).

    Defaults are PureJaxRL's CartPole-v1 settings. Fields named like `HParams` fields (learning
    rate, gamma, ...) are the defaults of `hparams()`, which `train(key, hparams)` may override.
    """

    agent = "ppo"
    HParams = HParams

    rollout_length: int = 128
    """Env steps per env per iteration; an iteration's batch is num_envs * rollout_length."""
    num_epochs: int = 4
    """Passes over each iteration's batch."""
    num_minibatches: int = 4
    """Minibatches per pass; each is one gradient step."""
    anneal_lr: bool = True
    """Anneal the learning rate linearly to 0 over the run."""
    normalize_advantages: bool = True
    """Normalise advantages per minibatch to zero mean and unit variance."""
    clip_value_loss: bool = True
    """Clip the value loss around the rollout's values by clip_eps."""
    continuous_policy: Literal["gaussian", "tanh_gaussian"] | None = None
    """Continuous actions only: a Gaussian clipped by the env (None: "gaussian") or a tanh-squashed one."""
    init_log_std: float | None = None
    """Continuous actions only: the Gaussian's initial log standard deviation (None: 0.0)."""
    learning_rate: float = 2.5e-4
    """Adam step size (before annealing)."""
    gae_lambda: float = 0.95
    """GAE's lambda, trading bias for variance in the advantages."""
    clip_eps: float = 0.2
    """Clipping range of the probability ratio (and of the value loss)."""
    ent_coef: float = 0.01
    """Weight of the entropy bonus."""
    vf_coef: float = 0.5
    """Weight of the value loss."""
    max_grad_norm: float = 0.5
    """Global norm the gradient is clipped to."""

    def check(self) -> None:
        super().check()
        require = self.require
        for field in ("rollout_length", "num_epochs", "num_minibatches"):
            require(is_int(getattr(self, field), 1), field, "must be an int >= 1")
        batch = self.num_envs * self.rollout_length
        require(batch % self.num_minibatches == 0, "num_minibatches",
                f"must divide the batch num_envs * rollout_length = {batch}")
        require(self.total_timesteps >= batch, "total_timesteps",
                f"must be at least one iteration's batch num_envs * rollout_length = {batch}")
        require(self.continuous_policy in (None, "gaussian", "tanh_gaussian"), "continuous_policy",
                "must be 'gaussian', 'tanh_gaussian' or None")
        require(self.init_log_std is None or finite_in(self.init_log_std, -math.inf, math.inf), "init_log_std",
                "must be a finite number or None")
        require(finite_in(self.learning_rate, 0.0, math.inf, low_open=True), "learning_rate", "must be > 0")
        require(finite_in(self.gae_lambda, 0.0, 1.0), "gae_lambda", "must be in [0, 1]")
        require(finite_in(self.clip_eps, 0.0, math.inf, low_open=True), "clip_eps", "must be > 0")
        require(finite_in(self.ent_coef, 0.0, math.inf), "ent_coef", "must be >= 0")
        require(finite_in(self.vf_coef, 0.0, math.inf), "vf_coef", "must be >= 0")
        require(finite_in(self.max_grad_norm, 0.0, math.inf, low_open=True), "max_grad_norm", "must be > 0")

    @property
    def batch_size(self) -> int:
        return self.num_envs * self.rollout_length

    @property
    def minibatch_size(self) -> int:
        return self.batch_size // self.num_minibatches

    @property
    def steps_per_iteration(self) -> int:
        return self.batch_size

    def check_spec(self, spec: EnvSpec) -> None:
        """Continuous-policy options on a discrete-action env are an error naming the field."""
        super().check_spec(spec)
        if spec.discrete_actions:
            for field in ("continuous_policy", "init_log_std"):
                if getattr(self, field) is not None:
                    raise ValueError(
                        f"ppo.Config.{field} is a continuous-action option, but {spec.name} has "
                        f"discrete actions ({spec.action}); leave it None"
                    )
