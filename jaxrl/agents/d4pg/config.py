"""D4PG's configuration: static `Config` (shapes, control flow) and traced `HParams` (numbers)."""

from __future__ import annotations

import dataclasses
import math

import flax.struct
import jax.numpy as jnp

from jaxrl.agents import continuous_off_policy
from jaxrl.agents.config_checks import default_hparams
from jaxrl.types import Array, EnvSpec


@flax.struct.dataclass
class HParams:
    """D4PG's numeric hyperparameters: scalar arrays, so `jax.vmap` sweeps them in one compile."""

    actor_learning_rate: Array
    critic_learning_rate: Array
    gamma: Array
    tau: Array
    exploration_noise: Array


@dataclasses.dataclass(frozen=True)
class Config:
    """Distributed Distributional DDPG (Barth-Maron et al. 2018, arXiv:1804.08617), without the
    distribution over actor processes: DDPG whose critic is a categorical return distribution over
    `num_atoms` atoms evenly spaced on [v_min, v_max] (C51, Bellemare et al. 2017), learned on
    `n_step`-step returns by cross-entropy to the projected target; the actor follows the
    deterministic policy gradient of the distribution's mean. Polyak target copies and Gaussian
    exploration noise, as in the paper's experiments.

    Counts (`total_timesteps`, `learning_starts`, `train_every`, `steps_per_iteration`) are env
    steps summed over the env batch; every `train_every` env steps are followed by
    `updates_per_step` gradient updates. Defaults: the paper's 51 atoms, 5-step returns,
    exploration noise 0.3 and actor learning rate 1e-4, Acme's dqda clipping at norm 1, batch
    256, two layers of 256, tau 0.005, and for Pendulum-v1 a support [-1000, 0] that covers its
    discounted returns (rewards lie in [-16.3, 0]), a critic learning rate of 3e-3 (1e-3 and the
    paper's 1e-4 learn too slowly on a short budget), a short warm-up and budget. Fields from
    `actor_learning_rate` down are the defaults of `hparams()`.
    """

    env: str = "Pendulum-v1"
    """Environment name for jaxrl.make: a gymnax id (Pendulum-v1, ...) or brax/<name>; continuous actions."""
    num_envs: int = 1
    """Environments stepped in parallel (vmapped) per seed."""
    total_timesteps: int = 20_000
    """Env steps of the run, summed over the env batch; a multiple of steps_per_iteration."""
    buffer_size: int = 100_000
    """Replay buffer capacity in transitions."""
    batch_size: int = 256
    """Transitions sampled from the buffer per gradient update."""
    learning_starts: int = 1_000
    """Env steps (summed over envs) of uniformly random actions, without updates, before learning."""
    train_every: int = 1
    """Env steps (summed over envs) between bursts of updates_per_step gradient updates."""
    updates_per_step: int = 1
    """Gradient updates after every train_every env steps."""
    steps_per_iteration: int = 1_000
    """Env steps (summed over envs) per iteration, the unit of metrics rows and chunks."""
    hidden_sizes: tuple[int, ...] = (256, 256)
    """Hidden-layer widths of the actor and critic MLPs."""
    activation: str = "relu"
    """Hidden-layer activation, a name in jaxrl.networks.ACTIVATIONS (relu, tanh, ...)."""
    episode_length: int | None = None
    """Time limit in env steps (None: the environment's own; brax: 1000)."""
    eval_episodes: int = 10
    """Greedy evaluation (--eval-every): one episode in each of this many separate envs."""
    normalize_observations: bool = False
    """Normalise observations by their running mean and variance."""
    n_step: int = 5
    """n of the n-step returns the critic learns from."""
    num_atoms: int = 51
    """Atoms of the critic's categorical return distribution, evenly spaced on [v_min, v_max]."""
    v_min: float = -1000.0
    """Lowest atom of the return distribution's support."""
    v_max: float = 0.0
    """Highest atom of the return distribution's support."""
    dqda_clipping: float | None = 1.0
    """Clip dQ/da to this L2 norm per sample in the actor's loss (None: no clipping)."""
    # Hyperparameters (defaults of `hparams()`).
    actor_learning_rate: float = 1e-4
    """Adam step size of the actor."""
    critic_learning_rate: float = 3e-3
    """Adam step size of the critic."""
    gamma: float = 0.99
    """Discount factor."""
    tau: float = 0.005
    """Polyak rate of the target networks: target <- tau * online + (1 - tau) * target."""
    exploration_noise: float = 0.3
    """Std of the Gaussian noise added to the actor's actions (in [-1, 1] units) when acting."""

    def __post_init__(self):
        continuous_off_policy.check_common(self, "d4pg")
        require = continuous_off_policy.requirer(self, "d4pg")
        finite_in = continuous_off_policy.finite_in
        for field, minimum in (("n_step", 1), ("num_atoms", 2)):
            value = getattr(self, field)
            require(isinstance(value, int) and not isinstance(value, bool) and value >= minimum, field,
                    f"must be an int >= {minimum}")
        require(finite_in(self.v_min, -math.inf, math.inf), "v_min", "must be finite")
        require(finite_in(self.v_max, -math.inf, math.inf) and self.v_max > self.v_min, "v_max",
                f"must be finite and > v_min={self.v_min}")
        require(self.dqda_clipping is None or finite_in(self.dqda_clipping, 0.0, math.inf, low_open=True),
                "dqda_clipping", "must be > 0 or None")
        require(finite_in(self.exploration_noise, 0.0, math.inf), "exploration_noise", "must be >= 0")

    @property
    def atoms(self) -> jnp.ndarray:
        """The critic's support: `num_atoms` values evenly spaced on [v_min, v_max]."""
        return jnp.linspace(self.v_min, self.v_max, self.num_atoms, dtype=jnp.float32)

    @property
    def num_iterations(self) -> int:
        return self.total_timesteps // self.steps_per_iteration

    def hparams(self) -> HParams:
        """The default hyperparameters as float32 scalar arrays."""
        return default_hparams(self, HParams)

    def check_spec(self, spec: EnvSpec) -> None:
        """D4PG needs continuous actions; raises ValueError naming the environment otherwise."""
        continuous_off_policy.check_continuous_actions(spec, "d4pg")
