"""The agent kit's configuration bases: the fields every agent has, checked once, the
epochs-of-minibatches block that PPO and PQN share, and the off-policy schedule block that DQN and
the continuous-control agents share.

An agent's `Config` subclasses one of these and declares only its own fields; a different
default for an inherited field goes in its `defaults` dict (the field keeps its one declaration
and help text). `check()` extends the inherited checks. Every range check raises
ValueError "<agent>.Config.<field> <what>, got <value>" at construction, before anything is traced.
Fields whose names match the agent's `HParams` fields are the defaults of `hparams()`: float32
scalar arrays, so `jax.vmap` sweeps them in one compile.
"""

from __future__ import annotations

import dataclasses
import math
import os
import typing
from typing import Any, ClassVar, Literal

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxrl import optim
from jaxrl.types import EnvSpec


def finite_in(x: Any, low: float, high: float, low_open: bool = False, high_open: bool = False) -> bool:
    """Whether `x` is a finite real number in [low, high] (open at `low_open` / `high_open` ends)."""
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
        return False
    return (x > low if low_open else x >= low) and (x < high if high_open else x <= high)


def is_int(x: Any, minimum: int) -> bool:
    """Whether `x` is a Python int (not a bool) of at least `minimum`."""
    return isinstance(x, int) and not isinstance(x, bool) and x >= minimum


@dataclasses.dataclass(frozen=True)
class Range:
    """The values a numeric field may take: a finite number in [low, high] (open at an end with
    `low_open` / `high_open`), an int >= low with `integer`, and also None with `optional`.
    Declared per field in a Config's `ranges`, so the checks, their messages and anything that
    samples or perturbs a setting (sweeps, population-based training) read one table."""

    low: float = -math.inf
    high: float = math.inf
    low_open: bool = False
    high_open: bool = False
    integer: bool = False
    optional: bool = False

    def holds(self, x: Any) -> bool:
        if x is None:
            return self.optional
        if self.integer:
            return is_int(x, int(self.low)) and x <= self.high
        return finite_in(x, self.low, self.high, self.low_open, self.high_open)

    @property
    def what(self) -> str:
        """The requirement as the error message says it ("must be in [0, 1]")."""
        if self.integer:
            what = f"an int >= {int(self.low)}"
        elif math.isinf(self.low) and math.isinf(self.high):
            what = "a finite number"
        elif math.isinf(self.high):
            what = f"{'>' if self.low_open else '>='} {self.low:g}"
        else:
            what = f"in {'(' if self.low_open else '['}{self.low:g}, {self.high:g}{')' if self.high_open else ']'}"
        return f"must be {what}" + (" or None" if self.optional else "")

    def or_none(self) -> Range:
        return dataclasses.replace(self, optional=True)


@dataclasses.dataclass(frozen=True)
class OneOf:
    """A field that takes one of a few values (a string option, None)."""

    values: tuple

    def holds(self, x: Any) -> bool:
        return any(x is v or (type(x) is type(v) and x == v) for v in self.values)

    @property
    def what(self) -> str:
        return "must be " + " or ".join(repr(v) for v in self.values)


@dataclasses.dataclass(frozen=True)
class Text:
    """A field that holds a non-empty string (a path, made absolute by the Config), and also None
    with `optional`."""

    optional: bool = False

    def holds(self, x: Any) -> bool:
        return (x is None and self.optional) or (isinstance(x, str) and bool(x))

    @property
    def what(self) -> str:
        return "must be a non-empty string" + (" or None" if self.optional else "")


FINITE = Range()
POSITIVE = Range(0.0, low_open=True)
NON_NEGATIVE = Range(0.0)
UNIT = Range(0.0, 1.0)  # [0, 1]: a probability, a discount, a mixing weight
STEP = Range(0.0, 1.0, low_open=True)  # (0, 1]: a fraction or a Polyak step that must move
BOOL = OneOf((False, True))


def at_least(minimum: int) -> Range:
    """An int >= `minimum` (counts, sizes)."""
    return Range(minimum, integer=True)


@dataclasses.dataclass(frozen=True)
class AgentConfig:
    """The fields every agent has. Subclasses set `agent` (the name errors use), `HParams` (the
    traced hyperparameters' class) and `actions` ("discrete", "continuous" or None for both)."""

    agent: ClassVar[str] = "agent"
    HParams: ClassVar[type] = type(None)
    actions: ClassVar[str | None] = None
    # {field: default} for fields declared by a base class, set in a subclass's body.
    defaults: ClassVar[dict[str, Any]] = {}
    # An agent family's Config classes by base agent (imitation agents: {"sac": ..., "dqn": ...}),
    # chosen by the `direct_rl` field; empty for an agent with one Config class.
    variants: ClassVar[dict[str, type]] = {}
    # {field: Range or OneOf} for this class's own fields; `check()` applies every class's table.
    ranges: ClassVar[dict[str, Any]] = dict(episode_length=at_least(1).or_none(), eval_episodes=at_least(1),
                                            gamma=UNIT, normalize_observations=BOOL)

    env: str = "CartPole-v1"
    """Environment name for jaxrl.make (a gymnax id, "brax/<name>", or one registered with jaxrl.register)."""
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

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Turns the class body's `defaults` into field declarations of this class, before
        `dataclasses.dataclass` reads them: the inherited field keeps its place, type and
        docstring (tyro finds it along the MRO), and only its default changes."""
        super().__init_subclass__(**kwargs)
        own = set(cls.__dict__.get("__annotations__", {}))
        inherited_fields = {f for base in cls.__mro__[1:] for f in getattr(base, "__dataclass_fields__", {})}
        unranged = sorted(set(cls.__dict__.get("ranges", {})) - own - inherited_fields)
        if unranged:
            raise TypeError(f"{cls.__qualname__}.ranges names {unranged}, which are not fields")
        changed = dict(cls.__dict__.get("defaults", {}))
        unknown = sorted(name for name in changed if name not in inherited_fields or name in cls.__dict__)
        if unknown:
            raise TypeError(f"{cls.__qualname__}.defaults names {unknown}: not fields declared by a base class "
                            f"(declare a new field in the class body instead)")
        # A field's default is the one the nearest class in the MRO gives it. `dataclasses` instead
        # takes it from the last base it merges, and every base carries all of its own bases'
        # fields: in `class C(OffPolicyConfig, ActorCriticConfig)` OffPolicyConfig's copy of
        # AgentConfig's env would override ActorCriticConfig's `defaults`. Such fields are declared
        # again here with the nearest default.
        merged: dict[str, Any] = {}
        for base in reversed(cls.__mro__[1:]):
            merged.update(getattr(base, "__dataclass_fields__", {}))
        for name, field in merged.items():
            if name in changed or name in own:
                continue
            nearest = next(base for base in cls.__mro__[1:] if name in base.__dict__.get("__annotations__", {}))
            default = nearest.__dataclass_fields__[name].default
            if default is not field.default:
                changed[name] = default
        if not changed:
            return
        # Resolved types, not the base's annotation strings: this module may not import their names.
        inherited = {name: hint for base in reversed(cls.__mro__[1:]) if dataclasses.is_dataclass(base)
                     for name, hint in typing.get_type_hints(base).items()}
        annotations = dict(cls.__dict__.get("__annotations__", {}))
        for name, value in changed.items():
            annotations[name] = inherited[name]
            setattr(cls, name, value)
        cls.__annotations__ = annotations

    def __post_init__(self):
        # Values are kept as the Python ones they stand for (a list as a tuple, a NumPy or concrete
        # JAX scalar as an int, float or bool): a Config is hashed as a static argument and written
        # to JSON, and its checks compare Python numbers. Paths (the `Text` fields: a dataset,
        # demonstrations) are kept absolute, so that a run's config.json names the data wherever a
        # later resume or evaluation runs from.
        values = {f.name: plain_value(getattr(self, f.name)) for f in dataclasses.fields(self)}
        paths = absolute_paths(type(self), values)
        for field, value in paths.items():
            if value is not getattr(self, field):
                object.__setattr__(self, field, value)
        self.check()

    def require(self, ok: bool, field: str, what: str) -> None:
        """Raises ValueError "<agent>.Config.<field> <what>, got <value>" unless `ok`."""
        if not ok:
            raise ValueError(f"{self.agent}.Config.{field} {what}, got {getattr(self, field)!r}")

    @classmethod
    def all_ranges(cls) -> dict[str, Any]:
        """Every field's `Range` or `OneOf`, from the `ranges` of this class and its bases."""
        table: dict[str, Any] = {}
        for klass in reversed(cls.__mro__):
            table.update(klass.__dict__.get("ranges", {}))
        return table

    def check(self) -> None:
        """Checks every field in `all_ranges()`, then what relates fields; subclasses call
        `super().check()` and add their own relations."""
        require = self.require
        for field, allowed in self.all_ranges().items():
            require(allowed.holds(getattr(self, field)), field, allowed.what)
        require(isinstance(self.env, str) and bool(self.env), "env", "must be an environment name")
        require(isinstance(self.hidden_sizes, (tuple, list)) and len(self.hidden_sizes) >= 1
                and all(is_int(h, 1) for h in self.hidden_sizes), "hidden_sizes",
                "must be a non-empty sequence of positive ints")
        # Imported here: the activation table lives with the networks.
        from jaxrl.networks import ACTIVATIONS

        require(self.activation in ACTIVATIONS, "activation", f"must be one of {sorted(ACTIVATIONS)}")
        if self.variants:  # an agent family's Config serves one base agent
            direct_rl = getattr(self, "direct_rl", None)
            own = next(name for name, cls in self.variants.items() if isinstance(self, cls))
            require(direct_rl == own, "direct_rl", f"must be {own!r} in a {type(self).__qualname__} ({self.agent} on "
                    f"{direct_rl} is jaxrl.agents.{self.agent}.config(direct_rl={direct_rl!r}, ...))")

    @property
    def num_iterations(self) -> int:
        """Iterations of the training program, one row of metrics each."""
        raise NotImplementedError(f"{type(self).__qualname__} must define num_iterations")

    def hparams(self) -> Any:
        """The default hyperparameters: every `HParams` field from the config's field of that name,
        as a float32 scalar array."""
        return self.HParams(**{f.name: jnp.asarray(getattr(self, f.name), jnp.float32)
                               for f in dataclasses.fields(self.HParams)})

    def check_spec(self, spec: EnvSpec) -> None:
        """Checks what depends on the environment; ValueError naming the env and the action space."""
        if self.actions == "discrete" and not spec.discrete_actions:
            # The box's shape, not its bounds: the spec here is the training stack's, rescaled to [-1, 1].
            raise ValueError(f"{self.agent}.Config.env: {self.agent.upper()} needs discrete actions, but "
                             f"{spec.name} has continuous ones (a Box of shape {tuple(spec.action.shape)}); use "
                             f"{self.alternatives(discrete=False)} for continuous actions")
        if self.actions == "continuous" and spec.discrete_actions:
            raise ValueError(f"{self.agent}.Config.env: {self.agent.upper()} needs continuous actions, but "
                             f"{spec.name} has discrete actions ({spec.action}); use "
                             f"{self.alternatives(discrete=True)} for discrete actions")
        # Every continuous actor and critic sizes its action layer by shape[-1]: a scalar action
        # would fail deep in tracing, and a [2, 3] one would train on 3 numbers broadcast over rows.
        if not spec.discrete_actions and len(spec.action.shape) != 1:
            raise ValueError(f"{self.agent}.Config.env: continuous actions must be a vector, a Box of shape (A,), "
                             f"but {spec.name} has a Box of shape {spec.action.shape}; reshape them inside the "
                             f"environment's step")

    def alternatives(self, discrete: bool) -> str:
        """What to use instead for the other kind of actions, as a refusal names it: the family's
        base agents that take them (`direct_rl`), or `other_agents`."""
        if self.variants:
            kind = "discrete" if discrete else "continuous"
            names = [name for name, cls in self.variants.items() if cls.actions in (None, kind)]
            return " or ".join(f"direct_rl={name!r}" for name in names)
        return self.other_agents(discrete)

    @staticmethod
    def other_agents(discrete: bool) -> str:
        """The agents of the same kind (online, offline, from demonstrations) for those actions."""
        return "dqn, pqn, r2d2, impala or ppo" if discrete else "sac, td3, ddpg, d4pg, mpo or ppo"

    def require_bounded_actions(self, spec: EnvSpec, policy: str) -> None:
        """For a policy that acts in [-1, 1] (tanh-squashed or clipped there), which the env stack
        rescales to the action box's bounds: on an unbounded box nothing rescales, and the agent
        would act in [-1, 1] whatever the env allows. ValueError naming the env and the box."""
        if not spec.discrete_actions and not spec.action.bounded:
            raise ValueError(f"{self.agent}.Config.env: {policy} acts in [-1, 1], rescaled to the action box's "
                             f"bounds, but {spec.name}'s action box is unbounded ({spec.action}); give the "
                             f"environment's action space finite low and high")


@dataclasses.dataclass(frozen=True)
class OnlineConfig(AgentConfig):
    """The fields of every agent that learns by acting in its environment (all but the offline
    ones): a batch of envs stepped in parallel and a budget of env steps."""

    num_envs: int = 4
    """Environments stepped in parallel (one vmapped batch) by each population member."""
    total_timesteps: int = 500_000
    """Environment steps to train for, summed over the env batch."""
    host_overlap: bool = False
    """Host-side envs, on-policy: collect the next rollout while the learner updates (actors one update behind)."""

    ranges = dict(num_envs=at_least(1), total_timesteps=at_least(1), host_overlap=BOOL)

    @property
    def steps_per_iteration(self) -> int:
        """Env steps (summed over the env batch) per iteration, one row of metrics."""
        raise NotImplementedError(f"{type(self).__qualname__} must define steps_per_iteration")

    @property
    def num_iterations(self) -> int:
        return self.total_timesteps // self.steps_per_iteration


@dataclasses.dataclass(frozen=True)
class OptimizerConfig(AgentConfig):
    """The fields of an agent trained by one Adam optimizer (`jaxrl.optim.adam`): its step size
    and the global norm its gradients are clipped to. Mixed into an agent's Config beside the
    other bases (`class Config(OffPolicyConfig, OptimizerConfig)`)."""

    learning_rate: float = 2.5e-4
    """Adam step size."""
    max_grad_norm: float = 0.5
    """Global norm the gradient is clipped to."""

    ranges = dict(learning_rate=POSITIVE, max_grad_norm=POSITIVE)


@dataclasses.dataclass(frozen=True)
class EpochsConfig(OnlineConfig, OptimizerConfig):
    """The on-policy schedule block of PPO-style learners (PPO, PQN): each iteration rolls out
    `rollout_length` steps of every env, then takes `num_epochs` passes over that batch in
    `num_minibatches` gradient steps each, with Adam's rate optionally annealed to 0 over the run."""

    rollout_length: int = 128
    """Env steps per env per iteration; an iteration's batch is num_envs * rollout_length."""
    num_epochs: int = 4
    """Passes over each iteration's batch."""
    num_minibatches: int = 4
    """Minibatches per pass; each is one gradient step."""
    anneal_lr: bool = True
    """Anneal the learning rate linearly to 0 over the run."""

    ranges = dict(rollout_length=at_least(1), num_epochs=at_least(1), num_minibatches=at_least(1), anneal_lr=BOOL)

    def check(self) -> None:
        super().check()
        require = self.require
        batch = self.batch_size
        require(batch % self.num_minibatches == 0, "num_minibatches",
                f"must divide the batch num_envs * rollout_length = {batch}")
        require(self.total_timesteps >= batch, "total_timesteps",
                f"must be at least one iteration's batch num_envs * rollout_length = {batch}")

    @property
    def batch_size(self) -> int:
        """Transitions per iteration: num_envs * rollout_length."""
        return self.num_envs * self.rollout_length

    @property
    def minibatch_size(self) -> int:
        return self.batch_size // self.num_minibatches

    @property
    def steps_per_iteration(self) -> int:
        return self.batch_size


@dataclasses.dataclass(frozen=True)
class TorsoConfig(AgentConfig):
    """The torso choice of the agents that read observations through one feature extractor before
    their heads (PPO, recurrent PPO, IMPALA, DQN, PQN): an MLP on the flattened observation, or
    for image observations (MinAtar's [10, 10, C]) a small conv torso before it
    (`networks.ConvTorso`). Mixed into an agent's Config beside its other bases."""

    torso: Literal["mlp", "conv"] = "mlp"
    """Feature extractor: "mlp" (observation flattened) or "conv" (3x3 convolution of 16 filters,
    then the MLP; image observations)."""

    ranges = dict(torso=OneOf(("mlp", "conv")))

    def check_spec(self, spec: EnvSpec) -> None:
        super().check_spec(spec)
        if self.torso == "conv" and len(spec.observation.shape) != 3:
            raise ValueError(f"{self.agent}.Config.torso: 'conv' needs image observations [H, W, C], but {spec.name} "
                             f"has observations of shape {tuple(spec.observation.shape)}; use torso='mlp'")


@dataclasses.dataclass(frozen=True)
class OffPolicyConfig(OnlineConfig):
    """The off-policy schedule block (Acme's replay ratio): counts are env steps summed over the env
    batch; every `train_every` env steps are followed by `updates_per_step` gradient updates, each
    on its own batch sampled from a buffer of `buffer_size` transitions."""

    buffer_size: int = 100_000
    """Replay capacity in items, transitions (R2D2: sequences); the oldest are overwritten."""
    batch_size: int = 256
    """Items (transitions; R2D2: sequences) per sampled batch, one batch per gradient update."""
    learning_starts: int = 1_000
    """Env steps of uniformly random actions, without updates, before learning starts."""
    train_every: int = 1
    """Env steps (summed over the env batch) between rounds of gradient updates."""
    updates_per_step: int = 1
    """Gradient updates per round, so updates_per_step / train_every updates per env step."""
    steps_per_iteration: int = 1_000
    """Env steps per iteration, one row of metrics."""
    n_step: int = 1
    """n of n-step returns: replayed transitions sum n discounted rewards and bootstrap n steps on."""

    ranges = dict(buffer_size=at_least(1), batch_size=at_least(1), learning_starts=at_least(0),
                  train_every=at_least(1), updates_per_step=at_least(1), steps_per_iteration=at_least(1),
                  n_step=at_least(1))

    def check(self) -> None:
        super().check()
        require = self.require
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
        self.check_replay_items()
        require(self.batch_size <= self.buffer_size, "batch_size", f"must be <= buffer_size={self.buffer_size}")
        # The loop learns once replay holds a batch, and the run writes replay_items_per_period a period.
        stored = self.total_timesteps // period * self.replay_items_per_period
        require(self.replay_ready_items <= stored, "batch_size",
                f"must be <= {self.replay_items_stored_text(stored)}, or replay never holds a batch and the agent "
                f"never learns")
        require(self.replay_items_per_period <= self.buffer_size, "buffer_size",
                f"must hold one update period's {self.replay_items_per_period} {self.replay_item}s")

    @property
    def period_env_steps(self) -> int:
        """Env steps per update period: `train_every`, or one step of the env batch if that is more."""
        return max(self.train_every, self.num_envs)

    def check_replay_items(self) -> None:
        """An agent's own checks of what it writes to replay, made before the replay checks that
        count those items (R2D2: its sequences); none here."""

    # What replay holds: one transition per env step (R2D2: sequences, every sequence_period steps).
    replay_item: ClassVar[str] = "transition"

    @property
    def replay_items_per_period(self) -> int:
        """Items each update period writes to replay: a transition per env step."""
        return self.period_env_steps

    @property
    def replay_ready_items(self) -> int:
        """Items replay must hold before the loop samples it (its buffer's `min_size`): a batch."""
        return self.batch_size

    def replay_items_stored_text(self, stored: int) -> str:
        """How the run's count of stored items reads in an error message."""
        return f"total_timesteps={self.total_timesteps}"

    @property
    def periods_before_learning(self) -> int:
        """Update periods that end before the loop's first update: those that end within the
        `learning_starts` warm-up, or before replay holds `replay_ready_items` (periods end every
        `period_env_steps` from `prefill_env_steps` on)."""
        period = self.period_env_steps
        warm = max(0, (self.learning_starts - self.prefill_env_steps) // period)
        filling = -(-self.replay_ready_items // self.replay_items_per_period) - 1
        return max(warm, filling)

    @property
    def loop_n_step(self) -> int:
        """The n of the n-step transitions the loop writes to replay (`n_step_length` of
        `loops.off_policy.make_train`): `n_step`, or 1 where the agent forms n-step targets itself."""
        return self.n_step

    @property
    def prefill_env_steps(self) -> int:
        """Env steps the loop takes before its first iteration, counted in its `env_steps`: random
        actions that fill the n-step window, loop_n_step - 1 per env."""
        return (self.loop_n_step - 1) * self.num_envs

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
class TargetNetworkConfig(OffPolicyConfig):
    """The Q-learning agents on replay (DQN, R2D2): their target network, updated every
    `target_update_every` env steps (a count that must fall after a whole number of gradient
    updates, since the learner counts updates), and their learning-rate schedule."""

    target_update_every: int = 500
    """Env steps between target-network updates (a copy, or with tau < 1 a Polyak step)."""
    tau: float = 1.0
    """Target update step: 1 copies the online network, < 1 averages (Polyak)."""
    anneal_lr: bool = False
    """Anneal Adam's learning rate linearly to 0 at the run's last gradient update."""

    ranges = dict(target_update_every=at_least(1), tau=STEP, anneal_lr=BOOL)

    def check(self) -> None:
        super().check()
        updates = self.target_update_every * self.updates_per_step
        self.require(updates % self.train_every == 0, "target_update_every",
                     f"must be a multiple of train_every / updates_per_step = "
                     f"{self.train_every / self.updates_per_step:g} (the target is updated after a whole number "
                     f"of gradient updates)")

    @property
    def target_period(self) -> int:
        """Gradient updates between target-network updates."""
        return self.target_update_every * self.updates_per_step // self.train_every

    @property
    def total_updates(self) -> int:
        """The run's gradient updates, the loop's count: `updates_per_period` after each update period
        from the first that ends past the `learning_starts` warm-up with a batch in replay."""
        periods = self.total_timesteps // self.period_env_steps - self.periods_before_learning
        return periods * self.loop_schedule()["updates_per_period"]

    def learning_rate_schedule(self, rate: Any) -> Any:
        """Adam's step size (`optim.adam`): `rate`, or with `anneal_lr` the schedule from `rate` down
        to 0 after the run's `total_updates` (a policy that plays well late in a run is then not
        moved off it by full-size steps: R2D2's CartPole-v1 row in docs/baselines.md)."""
        if not self.anneal_lr:
            return rate
        anneal = optim.linear_anneal(rate, self.total_updates)
        # Held at 0 past the count (a loop that took more updates would otherwise step uphill).
        return lambda count: jnp.maximum(anneal(count), 0.0)

    def update_target(self, params: Any, target_params: Any, num_updates: Any, tau: Any) -> Any:
        """The target network after gradient update `num_updates` (counted from 1): every
        `target_period` updates it moves to tau * online + (1 - tau) * target (tau 1 copies the
        online network, bit for bit); in between a step of 0 keeps it."""
        step = jnp.where(num_updates % self.target_period == 0, tau, 0.0)
        return optax.incremental_update(params, target_params, step)


@dataclasses.dataclass(frozen=True)
class EpsilonGreedyConfig(OnlineConfig):
    """The linear exploration schedule of the epsilon-greedy actors (DQN, R2D2, PQN;
    `agents.exploration.linear_epsilon`): epsilon falls from `epsilon_start` to `epsilon_end` over
    the first `exploration_fraction` of total_timesteps, then stays."""

    epsilon_start: float = 1.0
    """Exploration rate at the start of the run."""
    epsilon_end: float = 0.05
    """Exploration rate after the anneal."""
    exploration_fraction: float = 0.5
    """Fraction of total_timesteps over which epsilon anneals linearly."""

    ranges = dict(epsilon_start=UNIT, epsilon_end=UNIT, exploration_fraction=STEP)

    def epsilon(self, hparams: Any, env_steps: Any) -> Any:
        """The actor's exploration rate after `env_steps` env steps, from the (traced) schedule
        numbers in `hparams` and this run's total_timesteps (Mnih et al. 2015: a linear anneal)."""
        from jaxrl.agents import exploration

        return exploration.linear_epsilon(hparams.epsilon_start, hparams.epsilon_end, hparams.exploration_fraction,
                                          self.total_timesteps, env_steps)


@flax.struct.dataclass
class ActorCriticHParams:
    """The numeric hyperparameters every actor-critic agent's `HParams` starts with (DDPG, TD3,
    TD3+BC, IQL, CRR): scalar arrays, so `jax.vmap` sweeps them in one compile."""

    actor_learning_rate: Any
    critic_learning_rate: Any
    gamma: Any
    tau: Any


@dataclasses.dataclass(frozen=True)
class ActorCriticConfig(AgentConfig):
    """The fields of the actor-critic agents for continuous actions, online (DDPG, TD3, SAC, D4PG,
    MPO) and offline (TD3+BC): an actor and critics with their own learning rates and
    Polyak-averaged targets. Defaults: the settings those papers share (two layers of 256 ReLU
    units, tau 0.005) on Pendulum-v1."""

    actions: ClassVar[str | None] = "continuous"
    defaults = dict(env="Pendulum-v1", hidden_sizes=(256, 256), activation="relu")

    actor_learning_rate: float = 3e-4
    """Adam step size of the actor."""
    critic_learning_rate: float = 3e-4
    """Adam step size of the critics."""
    tau: float = 0.005
    """Polyak step of the target networks toward the online ones, after every update."""

    ranges = dict(actor_learning_rate=POSITIVE, critic_learning_rate=POSITIVE, tau=STEP)

    def check_spec(self, spec: EnvSpec) -> None:
        super().check_spec(spec)
        self.require_bounded_actions(spec, f"{self.agent.upper()}'s actor (tanh-squashed or clipped)")


@dataclasses.dataclass(frozen=True)
class ContinuousOffPolicyConfig(OffPolicyConfig, ActorCriticConfig):
    """The online actor-critic agents for continuous actions (DDPG, TD3, SAC, D4PG, MPO) on the
    off-policy schedule: batches of 256 (the papers' shared setting), one env, a short warm-up and
    budget for Pendulum-v1."""

    defaults = dict(num_envs=1, total_timesteps=20_000)


@dataclasses.dataclass(frozen=True)
class OfflineConfig(AgentConfig):
    """The fields of the agents that learn from a fixed dataset (`jaxrl.loops.offline`): the
    dataset's directory, the batch size and a budget of gradient steps, in iterations that each
    end with `eval_episodes` greedy episodes in `env` (the dataset's environment)."""

    dataset: str | None = None
    """Directory of a jaxrl dataset (jaxrl.datasets.save, python -m experiments.collect) to learn from."""
    batch_size: int = 256
    """Dataset rows per sampled batch, one batch per gradient step."""
    num_updates: int = 10_000
    """Gradient steps to train for."""
    updates_per_iteration: int = 1_000
    """Gradient steps per iteration; each iteration ends with a greedy evaluation, one row of metrics."""

    ranges = dict(dataset=Text(optional=True), batch_size=at_least(1), num_updates=at_least(1),
                  updates_per_iteration=at_least(1))

    def check(self) -> None:
        super().check()
        self.require(self.num_updates % self.updates_per_iteration == 0, "num_updates",
                     f"must be a multiple of updates_per_iteration={self.updates_per_iteration}")
        # The online agents' normaliser keeps statistics in the training envs' state, which an
        # offline run has none of.
        self.require(not self.normalize_observations, "normalize_observations",
                     "must be False for an offline agent (it learns from the dataset's raw observations)")

    @staticmethod
    def other_agents(discrete: bool) -> str:
        return "bc, cql or bve" if discrete else "bc, td3_bc, cql, iql or crr"

    @property
    def steps_per_iteration(self) -> int:
        """Gradient steps per iteration (an offline run's progress counts learner steps)."""
        return self.updates_per_iteration

    @property
    def num_iterations(self) -> int:
        return self.num_updates // self.updates_per_iteration


@dataclasses.dataclass(frozen=True)
class DemonstrationsConfig(OffPolicyConfig):
    """The fields of the agents that learn from demonstrations mixed into their replay (SACfD,
    TD3fD, DQfD): every sampled batch holds a fixed share of rows drawn from a dataset of
    demonstrations (`datasets.with_demonstrations`). Mixed in first, so its fields come last."""

    demonstrations: str | None = None
    """Directory of a jaxrl dataset of demonstrations (python -m experiments.collect) mixed into every batch."""
    demonstration_ratio: float = 0.25
    """Share of each sampled batch drawn from the demonstrations (rounded to whole rows)."""

    ranges = dict(demonstrations=Text(optional=True), demonstration_ratio=Range(0.0, 1.0, low_open=True))

    def check(self) -> None:
        super().check()
        rows = self.num_demonstration_rows
        self.require(1 <= rows < self.batch_size, "demonstration_ratio",
                     f"must leave at least one row of each batch of {self.batch_size} to the demonstrations and one "
                     f"to the agent's own replay ({rows} demonstration rows)")
        self.require(self.n_step == 1, "n_step", "must be 1 with demonstrations (their rows are single transitions)")
        require_raw_observations(self)

    @staticmethod
    def other_agents(discrete: bool) -> str:
        return "dqfd" if discrete else "sacfd or td3fd"

    @property
    def num_demonstration_rows(self) -> int:
        """Demonstration rows in each sampled batch."""
        return int(round(self.demonstration_ratio * self.batch_size))

    @property
    def replay_ready_items(self) -> int:
        """The agent's own replay is sampled once it holds its share of a batch."""
        return self.batch_size - self.num_demonstration_rows


def require_raw_observations(config: AgentConfig) -> None:
    """ValueError naming `normalize_observations` if set: an agent that learns from demonstrations
    (raw observations, as collected) must see raw observations of its own too."""
    config.require(not config.normalize_observations, "normalize_observations",
                   "must be False with demonstrations (they hold raw observations, as the agent's own must be)")


def jsonable(x: Any) -> Any:
    """`x` (a config dataclass, tuples, arrays) as plain JSON values: dicts, lists, numbers, strings."""
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return {f.name: jsonable(getattr(x, f.name)) for f in dataclasses.fields(x)}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, (np.ndarray, jnp.ndarray)):
        return np.asarray(x).tolist()
    return x


def variant(config_cls: type, direct_rl: str | None) -> type:
    """The Config class of `config_cls`'s agent family for the base agent `direct_rl` (None:
    `config_cls` itself); ValueError naming the family's base agents for an unknown one."""
    if direct_rl is None or not config_cls.variants:
        return config_cls
    if direct_rl not in config_cls.variants:
        raise ValueError(f"{config_cls.agent}.Config.direct_rl must be one of {sorted(config_cls.variants)}, got "
                         f"{direct_rl!r}")
    return config_cls.variants[direct_rl]


def family_class(config_cls: type, config: Any) -> type:
    """The class of `config` if it is one of `config_cls`'s family (an imitation agent's variant),
    else `config_cls`, whose check then names the wrong config (`builder.check_config_class`)."""
    return type(config) if type(config) in config_classes(config_cls) else config_cls


def config_classes(config_cls: type) -> tuple[type, ...]:
    """Every Config class of `config_cls`'s agent: its family's variants, or itself alone."""
    return tuple(getattr(config_cls, "variants", {}).values()) or (config_cls,)


def plain_value(x: Any) -> Any:
    """`x` as a static Config value: lists as tuples (recursively), NumPy scalars and concrete 0-d
    JAX or NumPy arrays as the Python int, float or bool they hold; anything else as it is."""
    if isinstance(x, (list, tuple)):
        return tuple(plain_value(v) for v in x)
    if isinstance(x, np.generic) or (isinstance(x, (np.ndarray, jax.Array)) and x.ndim == 0
                                     and not isinstance(x, jax.core.Tracer)):
        return x.item()
    return x


def absolute_paths(config_cls: type, data: dict) -> dict:
    """`data` (a recorded config) with its path fields absolute, as a `config_cls` keeps them:
    runs recorded before paths were made absolute hold them as given."""
    ranges = config_cls.all_ranges()
    return {k: os.path.abspath(os.path.expanduser(v)) if isinstance(ranges.get(k), Text) and isinstance(v, str) and v
            else v for k, v in data.items()}


def config_from_json(config_cls: type, data: dict) -> Any:
    """The `config_cls` instance that `jsonable(config)` recorded (a run's config.json, a saved
    policy): JSON lists become tuples again; fields added to `config_cls` since take their defaults."""
    if config_cls.variants and "direct_rl" in data:  # an agent family: the recorded base agent's class
        config_cls = variant(config_cls, data["direct_rl"])
    names = {f.name for f in dataclasses.fields(config_cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(f"{config_cls.__module__}.{config_cls.__qualname__} has no fields {unknown}")

    def tuples(x):
        return tuple(tuples(v) for v in x) if isinstance(x, list) else x

    config = config_cls(**{k: tuples(v) for k, v in data.items()})
    if {k: v for k, v in jsonable(config).items() if k in data} != absolute_paths(type(config), data):
        raise ValueError(f"config.json does not round-trip through {config_cls.__qualname__}: {data}")
    return config


__all__ = ["BOOL", "FINITE", "NON_NEGATIVE", "POSITIVE", "STEP", "UNIT", "ActorCriticConfig", "AgentConfig",
           "ContinuousOffPolicyConfig", "EpochsConfig", "OffPolicyConfig", "OfflineConfig", "OneOf", "OnlineConfig",
           "OptimizerConfig", "Range", "Text", "TorsoConfig", "absolute_paths", "at_least", "config_from_json",
           "finite_in", "is_int", "jsonable", "require_raw_observations"]
