"""What every training loop shares: the `TrainState`, the `Train` program object, episode
metrics and input checks."""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import flax.struct
import jax
import jax.numpy as jnp

from jaxrl.types import Array, Metrics, PRNGKey, PyTree, TimeStep


@flax.struct.dataclass
class TrainState:
    """Everything a run needs to continue: checkpoint this and nothing is lost.

    Attributes:
      agent_state: the agent's params, optimiser state, target params...
      env_state: state of the batched environment.
      observation: the batch of observations the agent acts on next.
      buffer_state: replay state for off-policy loops (None on-policy).
      key: the run's PRNG key, split once per iteration.
      iteration: iterations done.
      env_steps: environment steps taken (summed over the env batch).
      hparams: the run's hyperparameters (a pytree of arrays, so runs vmap over them).
      episode_return, episode_length: the latest reported episode statistics, carried forward
        through iterations in which no episode ended.
    """

    agent_state: Any
    env_state: Any
    observation: PyTree
    buffer_state: Any
    key: PRNGKey
    iteration: Array
    env_steps: Array
    hparams: Any
    episode_return: Array
    episode_length: Array


class TrainOutput(NamedTuple):
    """What `train(key)` returns: the final state and one row of metrics per iteration."""

    state: TrainState
    metrics: Metrics


class Train:
    """A compiled-program factory: `train(key, hparams=None) -> TrainOutput`.

    `train` is pure and traceable, so `jax.jit(train)`, `jax.vmap(train)` over keys and
    hparams, and `jax.jit(jax.vmap(train))` all work. It is split as `init(key, hparams)` and
    `run(state, num_iterations)`; `train(key, hp)` is exactly
    `run(init(key, hp), num_iterations)`, and running in chunks gives bit-identical results.
    """

    def __init__(
        self,
        init: Callable[[PRNGKey, Any], TrainState],
        iteration: Callable[[TrainState], tuple[TrainState, Metrics]],
        num_iterations: int,
        default_hparams: Any,
        config: Any = None,
        steps_per_iteration: int = 1,
    ):
        self._init = init
        self._iteration = iteration
        self.num_iterations = num_iterations
        self.default_hparams = default_hparams
        self.config = config
        self.steps_per_iteration = steps_per_iteration
        self.__name__ = "train"  # for jax.jit's and profilers' names
        self.__qualname__ = "train"

    def init(self, key: PRNGKey, hparams: Any = None) -> TrainState:
        if hparams is None:
            hparams = self.default_hparams
        elif type(hparams) is not type(self.default_hparams):
            raise TypeError(
                f"hparams must be a {type(self.default_hparams).__name__} (from config.hparams()), "
                f"got {type(hparams).__name__}"
            )
        return self._init(key, hparams)

    def run(self, state: TrainState, num_iterations: int) -> tuple[TrainState, Metrics]:
        """Runs `num_iterations` more iterations (a static int); metrics have that leading axis."""
        if not isinstance(num_iterations, int) or num_iterations < 0:
            raise ValueError(f"num_iterations must be a non-negative Python int, got {num_iterations!r}")

        def body(state, _):
            return self._iteration(state)

        return jax.lax.scan(body, state, None, length=num_iterations)

    def __call__(self, key: PRNGKey, hparams: Any = None) -> TrainOutput:
        state, metrics = self.run(self.init(key, hparams), self.num_iterations)
        return TrainOutput(state, metrics)


def episode_metrics(
    timesteps_last: Array, episode_return: Array, episode_length: Array, state: TrainState
) -> tuple[Array, Array]:
    """Mean return and length of the episodes that ended in this iteration.

    Where none ended, the previous iteration's values carry forward (never NaN); before the
    first episode ends they are 0.
    """
    last = timesteps_last.astype(jnp.float32)
    count = jnp.sum(last)
    safe = jnp.maximum(count, 1.0)
    mean_return = jnp.where(count > 0, jnp.sum(episode_return * last) / safe, state.episode_return)
    mean_length = jnp.where(
        count > 0, jnp.sum(episode_length.astype(jnp.float32) * last) / safe, state.episode_length
    )
    return mean_return, mean_length


def initial_episode_stats() -> tuple[Array, Array]:
    return jnp.zeros((), jnp.float32), jnp.zeros((), jnp.float32)


def check_timestep_extras(timestep: TimeStep) -> None:
    """The loops need `AutoReset` and `EpisodeStatistics` in the env stack; say so early."""
    missing = [k for k in ("next_observation", "episode_return", "episode_length") if k not in timestep.extras]
    if missing:
        raise ValueError(
            f"the training environment must be wrapped with AutoReset and EpisodeStatistics "
            f"(use jaxrl.envs.batched); its time steps lack extras {missing}"
        )
