"""Core types shared by every layer: time steps, spaces, environment specs, the Agent bundle.

The time-step convention is dm_env's (as in Acme): an episode is FIRST, MID..., LAST. A
termination is a LAST step with ``discount == 0``; a truncation by a time limit is a LAST step
with ``discount == 1``, so that learners bootstrap through it (Pardo et al. 2018, "Time Limits
in Reinforcement Learning").
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

PRNGKey = jax.Array
Array = jax.Array
PyTree = Any
Params = Any
EnvState = Any
AgentState = Any
ActorState = Any
HParams = Any
Metrics = dict[str, jax.Array]


class StepType(enum.IntEnum):
    """Position of a time step in its episode (dm_env's convention)."""

    FIRST = 0
    MID = 1
    LAST = 2


class TimeStep(NamedTuple):
    """What an environment returns from `reset` and `step`.

    Attributes:
      step_type: `StepType` as int8; LAST ends the episode (termination or truncation).
      observation: the observation the agent acts on next.
      reward: reward of the transition into this step (0 on FIRST).
      discount: 0 where the episode terminated, 1 otherwise (also on truncation).
      extras: environment-specific side information, e.g. `next_observation` written by
        `AutoReset`, episode statistics written by `EpisodeStatistics`.
    """

    step_type: Array
    observation: PyTree
    reward: Array
    discount: Array
    extras: dict[str, Any]

    def first(self) -> Array:
        return self.step_type == StepType.FIRST

    def mid(self) -> Array:
        return self.step_type == StepType.MID

    def last(self) -> Array:
        return self.step_type == StepType.LAST


def restart(observation: PyTree, extras: dict[str, Any] | None = None) -> TimeStep:
    """A FIRST time step: reward 0, discount 1."""
    return TimeStep(
        step_type=jnp.asarray(StepType.FIRST, jnp.int8),
        observation=observation,
        reward=jnp.zeros((), jnp.float32),
        discount=jnp.ones((), jnp.float32),
        extras={} if extras is None else extras,
    )


def transition(
    observation: PyTree,
    reward: Array,
    terminated: Array,
    truncated: Array,
    extras: dict[str, Any] | None = None,
) -> TimeStep:
    """A MID or LAST time step from a transition's `terminated` and `truncated` flags.

    Termination wins over truncation when both hold: the true value of a terminal state is 0.
    """
    terminated = jnp.asarray(terminated, jnp.bool_)
    last = jnp.logical_or(terminated, jnp.asarray(truncated, jnp.bool_))
    return TimeStep(
        step_type=jnp.where(last, StepType.LAST, StepType.MID).astype(jnp.int8),
        observation=observation,
        reward=jnp.asarray(reward, jnp.float32),
        discount=jnp.where(terminated, 0.0, 1.0).astype(jnp.float32),
        extras={} if extras is None else extras,
    )


@dataclasses.dataclass(frozen=True)
class Discrete:
    """A discrete space of `num_values` actions {0, ..., num_values - 1}."""

    num_values: int
    dtype: Any = dataclasses.field(default=jnp.int32, repr=False)

    @property
    def shape(self) -> tuple[int, ...]:
        return ()

    def sample(self, key: PRNGKey) -> Array:
        return jax.random.randint(key, (), 0, self.num_values, self.dtype)

    def contains(self, x: Array) -> Array:
        return jnp.logical_and(x >= 0, x < self.num_values)


@dataclasses.dataclass(frozen=True, eq=False)
class Box:
    """A box in R^shape with elementwise bounds (may be infinite).

    Bounds are stored as NumPy arrays: a spec is static Python, never a tracer.
    """

    low: np.ndarray
    high: np.ndarray
    shape: tuple[int, ...]
    dtype: Any = dataclasses.field(default=jnp.float32, repr=False)

    def __post_init__(self):
        shape = tuple(int(s) for s in self.shape)
        object.__setattr__(self, "shape", shape)
        object.__setattr__(self, "low", np.broadcast_to(np.asarray(self.low, np.float32), shape))
        object.__setattr__(self, "high", np.broadcast_to(np.asarray(self.high, np.float32), shape))

    def _key(self) -> tuple:
        return (self.shape, np.dtype(self.dtype).str, self.low.tobytes(), self.high.tobytes())

    # NumPy fields defeat the generated __eq__/__hash__; compare by value so specs can be
    # compared, used as dict keys and passed as static arguments.
    def __eq__(self, other: object) -> bool:
        return isinstance(other, Box) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    @property
    def bounded(self) -> bool:
        return bool(np.all(np.isfinite(self.low)) and np.all(np.isfinite(self.high)))

    def sample(self, key: PRNGKey) -> Array:
        low = np.where(np.isfinite(self.low), self.low, -1.0)
        high = np.where(np.isfinite(self.high), self.high, 1.0)
        return jax.random.uniform(key, self.shape, self.dtype, low, high)

    def contains(self, x: Array) -> Array:
        return jnp.all(jnp.logical_and(x >= self.low, x <= self.high))


Space = Discrete | Box


@dataclasses.dataclass(frozen=True)
class EnvSpec:
    """Static description of an environment: what it observes and accepts.

    Attributes:
      name: the name it was made under (e.g. "CartPole-v1", "brax/ant").
      observation: space of one (unbatched) observation.
      action: space of one (unbatched) action.
      max_episode_steps: the time limit after which episodes are truncated, if any.
      num_envs: the batch size for batched environments, None for a single environment.
    """

    name: str
    observation: Box
    action: Space
    max_episode_steps: int | None = None
    num_envs: int | None = None

    @property
    def discrete_actions(self) -> bool:
        return isinstance(self.action, Discrete)


class Transition(NamedTuple):
    """One step of experience, the unit that rollouts and replay buffers store.

    `next_observation` is the true successor of `observation` (never a reset observation), so
    that `reward + gamma * discount * V(next_observation)` is the right target also where the
    episode was truncated. `last` marks where the episode ended (termination or truncation);
    advantage estimators must not carry traces across it.
    """

    observation: PyTree
    action: Array
    reward: Array
    discount: Array
    last: Array
    next_observation: PyTree
    extras: dict[str, Any]


def no_actor_state(agent_state: AgentState, num_envs: int) -> None:
    """`Agent.init_actor` of a stateless actor: no actor state."""
    del agent_state, num_envs
    return None


def keep_actor_state(actor_state: ActorState, *args: Any) -> ActorState:
    """`Agent.reset_actor` / `Agent.sync_actor` of an actor with nothing to reset or pull."""
    del args
    return actor_state


def observe_as_is(actor_state: ActorState, transition: Transition) -> tuple[ActorState, Transition]:
    """`Agent.observe` of an actor that stores each step as the environment gave it."""
    return actor_state, transition


class Agent(NamedTuple):
    """An agent as a bundle of pure functions (Acme's actor + learner, without mutable state).

    init:   (key, spec, hparams) -> agent_state: parameters, optimiser state, targets...
    act:    (agent_state, actor_state, observation, key, hparams, eval, env_steps)
              -> (action, actor_state, extras);
            `observation` has a leading batch axis of envs; `eval` asks for the greedy /
            deterministic action; `env_steps` (int32 scalar, env steps taken so far) lets an actor
            follow a schedule (DQN's epsilon); `extras` is stored with the transition.
    update: (agent_state, batch, key, hparams) -> (agent_state, metrics)

    The actor's own state (a recurrent core's state per env, parameters the actor holds apart
    from the learner's, e.g. IMPALA's lagged ones) lives in `TrainState.actor_state`, so it is
    chunked and checkpointed with everything else; stateless actors leave the defaults:
    init_actor:  (agent_state, num_envs) -> actor_state, at the start of a run or an evaluation.
    reset_actor: (actor_state, last) -> actor_state after every env step; `last` [num_envs] marks
                 the envs whose episode just ended (the next observation starts a new one).
    sync_actor:  (actor_state, agent_state) -> actor_state after each round of learner updates
                 (Acme's variable client: where the actor pulls the learner's parameters).
    observe:     (actor_state, transition) -> (actor_state, transition) after every env step of
                 training, before the step is stored and before `reset_actor`: the transition
                 [num_envs, ...] as the env gave it (the action it took, random ones of a warm-up
                 included), returned as it is to be learnt from (Acme's adder wrappers: PWIL's
                 rewards, computed from the episode so far, which the actor state carries).
    """

    init: Callable[..., AgentState]
    act: Callable[..., tuple[Array, ActorState, dict[str, Array]]]
    update: Callable[..., tuple[AgentState, Metrics]]
    init_actor: Callable[[AgentState, int], ActorState] = no_actor_state
    reset_actor: Callable[[ActorState, Array], ActorState] = keep_actor_state
    sync_actor: Callable[[ActorState, AgentState], ActorState] = keep_actor_state
    observe: Callable[[ActorState, Transition], tuple[ActorState, Transition]] = observe_as_is
