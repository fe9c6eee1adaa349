"""The agent kit's configuration bases: the fields every agent has, checked once, and the
off-policy schedule block that DQN and the continuous-control agents share.

An agent's `Config` subclasses one of these and declares only its own fields (or a different
default for an inherited one); `check()` extends the inherited checks. Every range check raises
ValueError "<agent>.Config.<field> <what>, got <value>" at construction, before anything is traced.
Fields whose names match the agent's `HParams` fields are the defaults of `hparams()`: float32
scalar arrays, so `jax.vmap` sweeps them in one compile.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, ClassVar

import jax.numpy as jnp
import numpy as np

from jaxrl.types import EnvSpec


def finite_in(x: Any, low: float, high: float, low_open: bool = False) -> bool:
    """Whether `x` is a finite real number in [low, high] (or (low, high] with `low_open`)."""
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
        return False
    return (x > low if low_open else x >= low) and x <= high


def is_int(x: Any, minimum: int) -> bool:
    """Whether `x` is a Python int (not a bool) of at least `minimum`."""
    return isinstance(x, int) and not isinstance(x, bool) and x >= minimum


@dataclasses.dataclass(frozen=True)
class AgentConfig:
    """The fields every agent has. Subclasses set `agent` (the name errors use), `HParams` (the
    traced hyperparameters' class) and `actions` ("discrete", "continuous" or None for both)."""

    agent: ClassVar[str] = "agent"
    HParams: ClassVar[type] = type(None)
    actions: ClassVar[str | None] = None

    env: str = "CartPole-v1"
    """Environment name for jaxrl.make (a gymnax id, "brax/<name>", or one registered with jaxrl.register)."""
    num_envs: int = 4
    """Environments stepped in parallel (one vmapped batch) by each population member."""
    total_timesteps: int = 500_000
    """Environment steps to train for, summed over the env batch."""
    hidden_sizes: tuple[int, ...] = (64, 64)
    """Widths of the MLP torsos' hidden layers."""
    activation: str = "tanh"
    """Activation of the hidden layers (relu, tanh, gelu, ...)."""
    episode_length: int | None = None
    """Time limit (steps) for episodes, truncated and bootstrapped; None keeps the environment's own."""
    normalize_observations: bool = False
    """Normalise observations by running mean and variance (the policy keeps the training statistics)."""
    eval_episodes: int = 10
    """Greedy evaluation plays one episode in each of this many separate envs."""
    gamma: float = 0.99
    """Discount factor."""

    def __post_init__(self):
        self.check()

    def require(self, ok: bool, field: str, what: str) -> None:
        """Raises ValueError "<agent>.Config.<field> <what>, got <value>" unless `ok`."""
        if not ok:
            raise ValueError(f"{self.agent}.Config.{field} {what}, got {getattr(self, field)!r}")

    def check(self) -> None:
        """Checks every field's range; subclasses call `super().check()` and add their own."""
        require = self.require
        require(isinstance(self.env, str) and bool(self.env), "env", "must be an environment name")
        for field in ("num_envs", "total_timesteps"):
            require(is_int(getattr(self, field), 1), field, "must be an int >= 1")
        require(isinstance(self.hidden_sizes, (tuple, list)) and len(self.hidden_sizes) >= 1
                and all(is_int(h, 1) for h in self.hidden_sizes), "hidden_sizes",
                "must be a non-empty sequence of positive ints")
        # Imported here: the activation table lives with the networks.
        from jaxrl.networks import ACTIVATIONS

        require(self.activation in ACTIVATIONS, "activation", f"must be one of {sorted(ACTIVATIONS)}")
        require(self.episode_length is None or is_int(self.episode_length, 1), "episode_length",
                "must be an int >= 1 or None")
        require(isinstance(self.normalize_observations, bool), "normalize_observations", "must be a bool")
        require(is_int(self.eval_episodes, 1), "eval_episodes", "must be an int >= 1")
        require(finite_in(self.gamma, 0.0, 1.0), "gamma", "must be in [0, 1]")

    @property
    def steps_per_iteration(self) -> int:
        """Env steps (summed over the env batch) per iteration, one row of metrics."""
        raise NotImplementedError(f"{type(self).__qualname__} must define steps_per_iteration")

    @property
    def num_iterations(self) -> int:
        return self.total_timesteps // self.steps_per_iteration

    def hparams(self) -> Any:
        """The default hyperparameters: every `HParams` field from the config's field of that name,
        as a float32 scalar array."""
        return self.HParams(**{f.name: jnp.asarray(getattr(self, f.name), jnp.float32)
                               for f in dataclasses.fields(self.HParams)})

    def check_spec(self, spec: EnvSpec) -> None:
        """Checks what depends on the environment; ValueError naming the env and the action space."""
        if self.actions == "discrete" and not spec.discrete_actions:
            raise ValueError(f"{self.agent}.Config.env: {self.agent.upper()} needs discrete actions, but "
                             f"{spec.name} has {spec.action}; use sac, td3, ddpg, d4pg or ppo for continuous actions")
        if self.actions == "continuous" and spec.discrete_actions:
            raise ValueError(f"{self.agent}.Config.env: {self.agent.upper()} needs continuous actions, but "
                             f"{spec.name} has discrete actions ({spec.action}); use dqn or ppo for discrete actions")


@dataclasses.dataclass(frozen=True)
class OffPolicyConfig(AgentConfig):
    """The off-policy schedule block (Acme's replay ratio): counts are env steps summed over the env
    batch; every `train_every` env steps are followed by `updates_per_step` gradient updates, each
    on its own batch sampled from a buffer of `buffer_size` transitions."""

    buffer_size: int = 100_000
    """Replay capacity in transitions (the oldest are overwritten)."""
    batch_size: int = 256
    """Transitions per sampled batch, one batch per gradient update."""
    learning_starts: int = 1_000
    """Env steps of uniformly random actions, without updates, before learning starts."""
    train_every: int = 1
    """Env steps (summed over the env batch) between rounds of gradient updates."""
    updates_per_step: int = 1
    """Gradient updates per round, so updates_per_step / train_every updates per env step."""
    steps_per_iteration: int = 1_000
    """Env steps per iteration, one row of metrics."""

    def check(self) -> None:
        super().check()
        require = self.require
        for field in ("buffer_size", "batch_size", "train_every", "updates_per_step", "steps_per_iteration"):
            require(is_int(getattr(self, field), 1), field, "must be an int >= 1")
        require(is_int(self.learning_starts, 0), "learning_starts", "must be an int >= 0")
        # The loop acts in whole steps of the env batch and learns after whole update periods.
        require(self.train_every % self.num_envs == 0 or self.num_envs % self.train_every == 0, "train_every",
                f"must be a multiple or a divisor of num_envs={self.num_envs}")
        period = self.period_env_steps
        require(self.steps_per_iteration % period == 0, "steps_per_iteration",
                f"must be a multiple of the update period max(train_every, num_envs) = {period}")
        require(self.total_timesteps % self.steps_per_iteration == 0, "total_timesteps",
                f"must be a multiple of steps_per_iteration={self.steps_per_iteration}")
        require(self.learning_starts % self.num_envs == 0, "learning_starts",
                f"must be a multiple of num_envs={self.num_envs}")
        require(self.learning_starts < self.total_timesteps, "learning_starts",
                f"must be less than total_timesteps={self.total_timesteps}, or the agent never learns")
        require(self.batch_size <= self.buffer_size, "batch_size", f"must be <= buffer_size={self.buffer_size}")
        require(period <= self.buffer_size, "buffer_size", f"must hold one update period's {period} transitions")

    @property
    def period_env_steps(self) -> int:
        """Env steps per update period: `train_every`, or one step of the env batch if that is more."""
        return max(self.train_every, self.num_envs)

    def loop_schedule(self) -> dict[str, int]:
        """The off-policy loop's arguments (`loops.off_policy.make_train`) for these env-step counts."""
        period = self.period_env_steps
        return dict(
            num_iterations=self.num_iterations,
            periods_per_iteration=self.steps_per_iteration // period,
            period_steps=period // self.num_envs,
            updates_per_period=self.updates_per_step * period // self.train_every,
            warmup_steps=self.learning_starts // self.num_envs,
        )


@dataclasses.dataclass(frozen=True)
class ContinuousOffPolicyConfig(OffPolicyConfig):
    """The fields of the actor-critic agents for continuous actions (DDPG, TD3, SAC, D4PG): an
    actor and critics with their own learning rates and Polyak-averaged targets. Defaults: the
    settings those papers share (batch 256, two layers of 256, tau 0.005), a short warm-up and
    budget for Pendulum-v1."""

    actions: ClassVar[str | None] = "continuous"

    env: str = "Pendulum-v1"
    """Environment name for jaxrl.make (a gymnax id, "brax/<name>", or one registered with jaxrl.register)."""
    num_envs: int = 1
    """Environments stepped in parallel (one vmapped batch) by each population member."""
    total_timesteps: int = 20_000
    """Environment steps to train for, summed over the env batch."""
    hidden_sizes: tuple[int, ...] = (256, 256)
    """Widths of the actor's and critics' hidden layers."""
    activation: str = "relu"
    """Activation of the hidden layers (relu, tanh, gelu, ...)."""
    actor_learning_rate: float = 3e-4
    """Adam step size of the actor."""
    critic_learning_rate: float = 3e-4
    """Adam step size of the critics."""
    tau: float = 0.005
    """Polyak step of the target networks toward the online ones, after every update."""

    def check(self) -> None:
        super().check()
        for field in ("actor_learning_rate", "critic_learning_rate"):
            self.require(finite_in(getattr(self, field), 0.0, math.inf, low_open=True), field, "must be > 0")
        self.require(finite_in(self.tau, 0.0, 1.0, low_open=True), "tau", "must be in (0, 1]")


def jsonable(x: Any) -> Any:
    """`x` (a config dataclass, tuples, arrays) as plain JSON values: dicts, lists, numbers, strings."""
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return {f.name: jsonable(getattr(x, f.name)) for f in dataclasses.fields(x)}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, (np.ndarray, jnp.ndarray)):
        return np.asarray(x).tolist()
    return x


def config_from_json(config_cls: type, data: dict) -> Any:
    """The `config_cls` instance that `jsonable(config)` recorded (a run's config.json, a saved
    policy): JSON lists become tuples again; fields added to `config_cls` since take their defaults."""
    names = {f.name for f in dataclasses.fields(config_cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(f"{config_cls.__module__}.{config_cls.__qualname__} has no fields {unknown}")

    def tuples(x):
        return tuple(tuples(v) for v in x) if isinstance(x, list) else x

    config = config_cls(**{k: tuples(v) for k, v in data.items()})
    if {k: v for k, v in jsonable(config).items() if k in data} != data:
        raise ValueError(f"config.json does not round-trip through {config_cls.__qualname__}: {data}")
    return config


__all__ = ["AgentConfig", "ContinuousOffPolicyConfig", "OffPolicyConfig", "config_from_json", "finite_in", "is_int",
           "jsonable"]
