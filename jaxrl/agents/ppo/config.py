"""PPO's configuration: static `Config` (shapes, control flow) and traced `HParams` (numbers)."""

from __future__ import annotations

import dataclasses
import math
from typing import Literal

import flax.struct

from jaxrl.agents.config_checks import default_hparams, finite_in, requirer
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
class Config:
    """Proximal Policy Optimization (Schulman et al. 2017, arXiv:1707.06347).

    Defaults are PureJaxRL's CartPole-v1 settings. Fields from `learning_rate` down to
    `max_grad_norm` are the defaults of `hparams()`, which `train(key, hparams)` may override.
    """

    env: str = "CartPole-v1"
    """Environment name for jaxrl.make: a gymnax id (CartPole-v1, ...), brax/<name> or a registered env."""
    num_envs: int = 4
    """Environments stepped in parallel (vmapped) per seed."""
    rollout_length: int = 128
    """Steps of every env per iteration; an iteration's batch is num_envs * rollout_length."""
    total_timesteps: int = 500_000
    """Env steps of the run, summed over the env batch (iterations: this // batch)."""
    num_epochs: int = 4
    """Passes over each iteration's batch."""
    num_minibatches: int = 4
    """Minibatches per epoch; must divide the batch num_envs * rollout_length."""
    hidden_sizes: tuple[int, ...] = (64, 64)
    """Hidden-layer widths of the policy and value MLPs (separate torsos)."""
    activation: str = "tanh"
    """Hidden-layer activation, a name in jaxrl.networks.ACTIVATIONS (tanh, relu, ...)."""
    anneal_lr: bool = True
    """Decay the learning rate linearly to 0 over the run (PureJaxRL's schedule)."""
    normalize_advantages: bool = True
    """Normalise advantages to zero mean and unit std within each minibatch."""
    clip_value_loss: bool = True
    """Clip the value update to clip_eps around the old value estimate."""
    normalize_observations: bool = False
    """Normalise observations by their running mean and variance."""
    episode_length: int | None = None
    """Time limit in env steps (None: the environment's own; brax: 1000)."""
    eval_episodes: int = 10
    """Greedy evaluation (--eval-every): one episode in each of this many separate envs."""
    # Continuous-action options: setting them for a discrete-action environment is an error.
    continuous_policy: Literal["gaussian", "tanh_gaussian"] | None = None
    """Policy for continuous actions: gaussian (the env clips its samples) or tanh_gaussian (None: gaussian)."""
    init_log_std: float | None = None
    """Initial log std of the Gaussian policy (None: 0.0); continuous actions only."""
    # Hyperparameters (defaults of `hparams()`).
    learning_rate: float = 2.5e-4
    """Adam step size."""
    gamma: float = 0.99
    """Discount factor."""
    gae_lambda: float = 0.95
    """GAE's lambda (Schulman et al. 2016): trades the advantages' bias against variance."""
    clip_eps: float = 0.2
    """Clipping range of the probability ratio (and of the value update with clip_value_loss)."""
    ent_coef: float = 0.01
    """Weight of the entropy bonus in the loss."""
    vf_coef: float = 0.5
    """Weight of the value loss in the loss."""
    max_grad_norm: float = 0.5
    """Gradients are clipped to this global norm."""

    def __post_init__(self):
        require = requirer(self, "ppo")

        for field in ("num_envs", "rollout_length", "total_timesteps", "num_epochs", "num_minibatches"):
            require(isinstance(getattr(self, field), int) and getattr(self, field) >= 1, field, "must be an int >= 1")
        require(bool(self.env) and isinstance(self.env, str), "env", "must be an environment name")
        batch = self.num_envs * self.rollout_length
        require(
            batch % self.num_minibatches == 0,
            "num_minibatches",
            f"must divide the batch num_envs * rollout_length = {batch}",
        )
        require(
            self.total_timesteps >= batch,
            "total_timesteps",
            f"must be at least one iteration's batch num_envs * rollout_length = {batch}",
        )
        require(len(self.hidden_sizes) >= 1 and all(h >= 1 for h in self.hidden_sizes), "hidden_sizes",
                "must be a non-empty sequence of positive ints")
        require(self.episode_length is None or self.episode_length >= 1, "episode_length", "must be >= 1 or None")
        require(isinstance(self.eval_episodes, int) and self.eval_episodes >= 1, "eval_episodes", "must be an int >= 1")
        require(self.continuous_policy in (None, "gaussian", "tanh_gaussian"), "continuous_policy",
                "must be 'gaussian', 'tanh_gaussian' or None")
        require(finite_in(self.learning_rate, 0.0, math.inf, low_open=True), "learning_rate", "must be > 0")
        require(finite_in(self.gamma, 0.0, 1.0), "gamma", "must be in [0, 1]")
        require(finite_in(self.gae_lambda, 0.0, 1.0), "gae_lambda", "must be in [0, 1]")
        require(finite_in(self.clip_eps, 0.0, math.inf, low_open=True), "clip_eps", "must be > 0")
        require(finite_in(self.ent_coef, 0.0, math.inf), "ent_coef", "must be >= 0")
        require(finite_in(self.vf_coef, 0.0, math.inf), "vf_coef", "must be >= 0")
        require(finite_in(self.max_grad_norm, 0.0, math.inf, low_open=True), "max_grad_norm", "must be > 0")
        # Imported here: the activation table lives with the networks.
        from jaxrl.networks import ACTIVATIONS

        require(self.activation in ACTIVATIONS, "activation", f"must be one of {sorted(ACTIVATIONS)}")

    @property
    def batch_size(self) -> int:
        return self.num_envs * self.rollout_length

    @property
    def minibatch_size(self) -> int:
        return self.batch_size // self.num_minibatches

    @property
    def num_iterations(self) -> int:
        return self.total_timesteps // self.batch_size

    def hparams(self) -> HParams:
        """The default hyperparameters as float32 scalar arrays."""
        return default_hparams(self, HParams)

    def check_spec(self, spec: EnvSpec) -> None:
        """Checks the options that depend on the environment; raises ValueError naming the field."""
        if spec.discrete_actions:
            for field in ("continuous_policy", "init_log_std"):
                if getattr(self, field) is not None:
                    raise ValueError(
                        f"ppo.Config.{field} is a continuous-action option, but {spec.name} has "
                        f"discrete actions ({spec.action}); leave it None"
                    )

