"""What every training loop shares: the `TrainState`, the `Train` program object, episode
metrics and input checks."""

from __future__ import annotations

import copy
from typing import Any, Callable, NamedTuple

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np
from jax.custom_batching import custom_vmap
from jax.experimental import io_callback

from jaxrl import tricks
from jaxrl.types import Array, Metrics, PRNGKey, PyTree, TimeStep

# The axis name under which a population is vmapped (`jax.vmap(train, axis_name=...)`).
POPULATION_AXIS = "population"
# `TrainState.env_steps` (and the offline loop's learner step count) is an int32, as JAX computes
# without x64: a run's counter must stay at or below this.
MAX_RUN_STEPS = 2**31 - 1
# The most iterations one trip of `Train.run`'s inner loop takes on XLA:CPU (`inner_iterations`).
MAX_INNER_ITERATIONS = 128


def check_run_steps(num_iterations: int, steps_per_iteration: int, step_metric: str = "env_steps",
                    config: Any = None) -> None:
    """ValueError unless a run's `num_iterations * steps_per_iteration` steps fit the int32 counter
    its `TrainState` keeps. A wrapped counter would not fail: it would go negative, and with it the
    warm-up, replay readiness and epsilon schedules that read it."""
    total = num_iterations * steps_per_iteration
    if total > MAX_RUN_STEPS:
        owner = f"{config.agent}.Config" if hasattr(config, "agent") else "train"
        raise ValueError(f"{owner}: a run of {total:,} {step_metric} overflows the int32 counter its TrainState keeps "
                         f"(at most {MAX_RUN_STEPS:,} per run); train fewer steps per run")


@flax.struct.dataclass
class TrainState:
    """Everything a run needs to continue: checkpoint this and nothing is lost.

    Attributes:
      agent_state: the agent's params, optimiser state, target params...
      actor_state: the actor's own state (`Agent.init_actor`), e.g. a recurrent core's state per env.
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
    actor_state: Any
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
        evaluate: Callable[[TrainState, PRNGKey], Array] | None = None,
        step_metric: str = "env_steps",
    ):
        check_run_steps(num_iterations, steps_per_iteration, step_metric, config)
        self._init = init
        # The metric that counts a run's progress (cumulative, one per iteration), the x-axis of
        # its progress bar and plots: env steps, or gradient steps for a program that takes no env
        # steps (the offline loop's "learner_steps"); `steps_per_iteration` counts the same thing.
        self.step_metric = step_metric
        # `evaluate(state, key) -> eval_return`: greedy episodes on separate envs (loops.evaluate),
        # for the driver to call between chunks; None if the agent provides none.
        self.evaluate = evaluate
        self._iteration = iteration
        self.num_iterations = num_iterations
        self.default_hparams = default_hparams
        self.config = config
        self.steps_per_iteration = steps_per_iteration
        self.__name__ = "train"  # for jax.jit's and profilers' names
        self.__qualname__ = "train"

    def init(self, key: PRNGKey, hparams: Any = None) -> TrainState:
        if hparams is None:
            # Behind a barrier the defaults are values, not constants XLA may fold into the loop
            # body (while-loop constant sinking): `train(key)` then compiles the same arithmetic
            # as `train(key, hparams)` and as the chunked `run`, and gives the same bits.
            hparams = jax.lax.optimization_barrier(self.default_hparams)
        else:
            check_hparams_type(self.default_hparams, hparams)
        return batched_like(self._init(key, hparams), key)

    def run(self, state: TrainState, num_iterations: int) -> tuple[TrainState, Metrics]:
        """Runs `num_iterations` more iterations (a static int); metrics have that leading axis.

        Under `jax.vmap`, every member of `state` must be at the same iteration, as the members
        of one population always are: the counters are read from the first (`shared_counters`).
        """
        if not isinstance(num_iterations, int) or num_iterations < 0:
            raise ValueError(f"num_iterations must be a non-negative Python int, got {num_iterations!r}")

        def body(state, _):
            return self._iteration(state)

        state = shared_counters(state)
        inner = inner_iterations(num_iterations) if tricks.on_at_trace_time() else num_iterations
        if inner == num_iterations:
            return jax.lax.scan(body, state, None, length=num_iterations)

        def trip(state, _):
            return jax.lax.scan(body, state, None, length=inner)

        trips, rest = divmod(num_iterations, inner)
        state, metrics = jax.lax.scan(trip, state, None, length=trips)
        metrics = jax.tree.map(lambda x: x.reshape((trips * inner,) + x.shape[2:]), metrics)
        if rest:  # a count with no divisor in range: the last iterations as a loop of their own
            state, last = jax.lax.scan(body, state, None, length=rest)
            metrics = jax.tree.map(lambda x, y: jnp.concatenate([x, y]), metrics, last)
        return state, metrics

    def with_callback(self, callback: Callable[[int, int, Metrics], None], axis_name: str = POPULATION_AXIS) -> Train:
        """This program, handing every iteration's metrics to `callback` on the host as it runs.

        `callback(member, iteration, metrics)` is called from inside the compiled loop through
        `jax.experimental.io_callback` (e.g. a `telemetry.LiveCallback`); `member` is the index
        along a vmapped axis named `axis_name` (`jax.vmap(train, axis_name="population")`), or
        0 outside such a vmap. The program without `with_callback` compiles no callback at all.
        """

        def host(member, iteration, metrics):
            callback(int(member), int(iteration), {k: np.asarray(v) for k, v in metrics.items()})

        def iteration(state: TrainState) -> tuple[TrainState, Metrics]:
            state, metrics = self._iteration(state)
            try:
                member = jax.lax.axis_index(axis_name)
            except NameError:  # not inside a vmap with that axis name: a single run
                member = jnp.zeros((), jnp.int32)
            io_callback(host, None, member, state.iteration, metrics, ordered=False)
            return state, metrics

        # A copy keeps whatever a subclass adds (the offline loop's dataset argument).
        program = copy.copy(self)
        program._iteration = iteration
        return program

    def __call__(self, key: PRNGKey, hparams: Any = None) -> TrainOutput:
        state, metrics = self.run(self.init(key, hparams), self.num_iterations)
        return TrainOutput(state, metrics)


def inner_iterations(num_iterations: int) -> int:
    """Iterations per trip of `Train.run`'s inner loop where the CPU tricks are on: the largest
    divisor of `num_iterations` from 8 to `MAX_INNER_ITERATIONS` that leaves two trips or more;
    without one, `MAX_INNER_ITERATIONS` where that leaves two trips or more (the remaining
    iterations then run as a loop of their own after the trips); else `num_iterations` (one loop).

    On XLA:CPU a loop over many iterations, each stacking its row of metrics, ran slower than the
    same iterations as a loop over trips of ~100, with the same loop body and the same bits: PPO's
    MountainCar-v0 table row (1,953 iterations, two cores) by 12-18% in every A/B, its CartPole-v1
    row (976) by 2-17%, Acrobot-v1 by 0-6%; IMPALA, DQN and PQN's rows ran as fast either way
    (experiments/benchmarks/README.md). The cost grows with the stacked metric buffers the long
    loop keeps among the program's temporaries; why was not found. Every iteration computes the
    same either way, so a run in chunks (each chunk nested by its own length) still equals one call.
    A count with no divisor in range gains as much from trips and a remainder (MountainCar-v0 at
    1,951 iterations +18%, CartPole-v1 at 977 +7%), and a divisor spares the remainder's loop.
    """
    for inner in range(min(MAX_INNER_ITERATIONS, num_iterations // 2), 7, -1):
        if num_iterations % inner == 0:
            return inner
    return MAX_INNER_ITERATIONS if num_iterations >= 2 * MAX_INNER_ITERATIONS else num_iterations


def check_hparams_type(default_hparams: Any, hparams: Any) -> None:
    """TypeError unless `hparams` is of the program's `HParams` type (that of `default_hparams`)."""
    if type(hparams) is not type(default_hparams):
        raise TypeError(f"hparams must be a {type(default_hparams).__name__} (from config.hparams()), "
                        f"got {type(hparams).__name__}")


def batched_like(state: TrainState, key: PRNGKey) -> TrainState:
    """`state`, with every leaf batched like `key` under `jax.vmap` (values unchanged).

    `jax.vmap(train)(keys)` would otherwise leave unbatched every leaf that does not depend on
    the key (counters, shared hyperparameters, a warm-up's `cond`), while the chunked driver's
    `vmap(init)` hands `vmap(run)` all of them batched. XLA compiles scalar and per-member
    arithmetic differently (fusions, FMA contractions), and the two programs then differ in the
    last bits. A select between a value and itself on a key-derived predicate broadcasts the
    value under vmap and is folded away by XLA: the one call then runs the chunked program's loop.
    """
    typed = jnp.issubdtype(key.dtype, jax.dtypes.prng_key)
    data = jnp.ravel(jax.random.key_data(key) if typed else key)
    same = data[0] == data[0]

    def follow(x):
        if jnp.issubdtype(x.dtype, jax.dtypes.prng_key):
            return x
        return jax.lax.select(jnp.broadcast_to(same, x.shape), x, x)

    return jax.tree.map(follow, state)


@custom_vmap
def _first_member(x: Array) -> Array:
    return x


@_first_member.def_vmap
def _first_member_rule(axis_size: int, in_batched: list, x: Array) -> tuple[Array, bool]:
    del axis_size
    return (x[0] if in_batched[0] else x), False


def shared_counters(state: TrainState) -> TrainState:
    """`state`, whose counters a vmapped population shares are one unbatched value again.

    The members of a population step in lockstep, so `iteration`, `env_steps`, the replay's
    scalar integer leaves (write position, size) and the agent state's learner-step counts (its
    scalar integer `num_updates` fields, at any depth) are equal in all of them. `batched_like`
    and the driver's `vmap(init)` hand them to `run` batched, and batched they would turn every
    condition on them (warm-up, learning starts, TD3's delayed actor step) into a select that runs
    both branches and every replay write into a scatter. Read from the first member, they stay
    unbatched through the whole loop, in the one call and in every chunk alike (so both still
    compile the same program). Outside a vmap it changes nothing; under a sharded population it
    costs one scalar broadcast per `run`.
    """

    def scalar_int(x) -> bool:
        return jnp.ndim(x) == 0 and jnp.issubdtype(jnp.result_type(x), jnp.integer)

    def counter(x):
        return _first_member(x) if scalar_int(x) else x

    def update_count(path, x):
        name = getattr(path[-1], "name", None) if path else None
        return _first_member(x) if name == "num_updates" and scalar_int(x) else x

    return state.replace(iteration=_first_member(state.iteration), env_steps=_first_member(state.env_steps),
                         buffer_state=jax.tree.map(counter, state.buffer_state),
                         agent_state=jax.tree_util.tree_map_with_path(update_count, state.agent_state))


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


def first_state(agent_state: Any, actor_state: Any, env_state: Any, observation: PyTree, buffer_state: Any,
                key: PRNGKey, hparams: Any, env_steps: int = 0) -> TrainState:
    """A run's `TrainState` before its first iteration (no episode has ended yet)."""
    return TrainState(
        agent_state=agent_state,
        actor_state=actor_state,
        env_state=env_state,
        observation=observation,
        buffer_state=buffer_state,
        key=key,
        iteration=jnp.zeros((), jnp.int32),
        env_steps=jnp.full((), env_steps, jnp.int32),
        hparams=hparams,
        episode_return=jnp.zeros((), jnp.float32),
        episode_length=jnp.zeros((), jnp.float32),
    )


def end_iteration(
    state: TrainState,
    *,
    agent_state: Any,
    actor_state: Any,
    env_state: Any,
    observation: PyTree,
    buffer_state: Any,
    key: PRNGKey,
    env_steps: Array,
    last: Array,
    returns: Array,
    lengths: Array,
    learner_metrics: Metrics,
) -> tuple[TrainState, Metrics]:
    """The state after an iteration and its row of metrics: the shared `env_steps`,
    `episode_return`, `episode_length` (of the episodes that ended, see `episode_metrics`, from
    the per-step `last`, `returns`, `lengths`), the loop's and learner's own, and `nonfinite`
    (see `nonfinite_flag`)."""
    episode_return, episode_length = episode_metrics(last, returns, lengths, state)
    state = state.replace(
        agent_state=agent_state,
        actor_state=actor_state,
        env_state=env_state,
        observation=observation,
        buffer_state=buffer_state,
        key=key,
        iteration=state.iteration + 1,
        env_steps=env_steps,
        episode_return=episode_return,
        episode_length=episode_length,
    )
    metrics = {"env_steps": env_steps, "episode_return": episode_return, "episode_length": episode_length,
               **learner_metrics, NONFINITE: nonfinite_flag(learner_metrics, agent_state)}
    return state, metrics


# The per-iteration metric that flags NaN or inf in the learner's metrics or the agent's state.
NONFINITE = "nonfinite"


def nonfinite_flag(learner_metrics: Metrics, agent_state: Any) -> Array:
    """int32 1 if any floating-point leaf of `learner_metrics` (losses, gradient norms...) or of
    `agent_state` after the update (params, optimiser and target state) holds a NaN or an inf,
    else 0: the flag the driver stops a run on (`driver.NonFiniteError`).

    One `all(isfinite)` reduction per leaf, combined by one `all`. A sum per leaf, non-finite iff
    an element is, needs as many reductions and overflows to inf on large finite values; one
    reduction over the leaves concatenated pays for the copy: both measured no cheaper. For PPO
    on CartPole it is under 1% of an iteration's time.
    """
    leaves = [x for x in jax.tree.leaves((learner_metrics, agent_state)) if jnp.issubdtype(x.dtype, jnp.inexact)]
    if not leaves:
        return jnp.zeros((), jnp.int32)
    finite = jnp.stack([jnp.all(jnp.isfinite(x)) for x in leaves])
    return jnp.logical_not(jnp.all(finite)).astype(jnp.int32)


def check_timestep_extras(timestep: TimeStep) -> None:
    """The loops need `AutoReset` and `EpisodeStatistics` in the env stack; say so early."""
    missing = [k for k in ("next_observation", "episode_return", "episode_length") if k not in timestep.extras]
    if missing:
        raise ValueError(
            f"the training environment must be wrapped with AutoReset and EpisodeStatistics "
            f"(use jaxrl.envs.batched); its time steps lack extras {missing}"
        )
