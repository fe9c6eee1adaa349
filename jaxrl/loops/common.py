"""What every training loop shares: the `TrainState`, the `Train` program object, episode
metrics and input checks."""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import chex
import flax.struct
import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import io_callback

from jaxrl.types import Array, Metrics, PRNGKey, PyTree, TimeStep

# The axis name under which a population is vmapped (`jax.vmap(train, axis_name=...)`).
POPULATION_AXIS = "population"


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
        evaluate: Callable[[TrainState, PRNGKey], Array] | None = None,
    ):
        self._init = init
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

        return Train(self._init, iteration, self.num_iterations, self.default_hparams, self.config,
                     self.steps_per_iteration, self.evaluate)

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


def first_state(agent_state: Any, env_state: Any, observation: PyTree, buffer_state: Any, key: PRNGKey,
                hparams: Any, env_steps: int = 0) -> TrainState:
    """A run's `TrainState` before its first iteration (no episode has ended yet)."""
    return TrainState(
        agent_state=agent_state,
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
    on CartPole (43 leaves, 27k elements) it costs ~30 us of CPU time per iteration, ~0.6% of one.
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


def shuffled_minibatches(key: PRNGKey, batch: PyTree, num_epochs: int, num_minibatches: int) -> PyTree:
    """`num_epochs` passes over `batch` in minibatches, each pass in a fresh random order.

    Every leaf [N, ...] becomes [num_epochs * num_minibatches, N // num_minibatches, ...]:
    epoch e's minibatches are rows e * num_minibatches ... (e + 1) * num_minibatches - 1 and
    together hold each sample exactly once. All permutations come from one `random_permutations`
    call and the data from one gather, so a learner scans over minibatches with no per-epoch
    work inside its loop.
    """
    leaves = jax.tree.leaves(batch)
    batch_size = leaves[0].shape[0]
    if any(leaf.shape[0] != batch_size for leaf in leaves):
        raise ValueError(f"batch leaves disagree on the batch size: {[leaf.shape for leaf in leaves]}")
    if batch_size % num_minibatches:
        raise ValueError(f"num_minibatches={num_minibatches} does not divide the batch size {batch_size}")
    permutations = random_permutations(key, num_epochs, batch_size)
    minibatch_size = batch_size // num_minibatches
    indices = jnp.reshape(permutations, (num_epochs * num_minibatches, minibatch_size))
    return jax.tree.map(lambda x: x[indices], batch)


# Permutations of at least this many elements are Feistel networks of this many rounds.
_FEISTEL_MIN_SIZE = 64
_FEISTEL_ROUNDS = 8


def random_permutations(key: PRNGKey, num: int, size: int) -> Array:
    """`num` independent random permutations of range(size), as int32 [num, size].

    Below 64 elements they are uniformly random, from one sort of random keys with the index
    packed into their low bits (ties, which need two of the high parts to be equal, fall back to
    index order).

    From 64 elements on, each is a keyed pseudo-random permutation: an 8-round Feistel network
    (Luby & Rackoff 1988) on the smallest power-of-two domain that holds `size`, with a
    bijective integer hash as round function and fresh random round keys per permutation,
    walked back into range(size) by cycle walking (Black & Rogaway 2002) when `size` is not a
    power of two. It is a few fused integer kernels where XLA:CPU's sort costs ~18 ns per
    element: PPO's shuffle with 8 seeds takes ~10 us instead of ~300 us, +3.7% env steps/s
    (README, Speed). A Feistel network reaches only even permutations, which changes nothing
    for minibatch SGD (any split into minibatches is reachable); the statistics that matter,
    how often two samples share a minibatch and where each one lands, match a uniform shuffle's
    in tests/test_loops.py. Below 64 elements its restriction is measurable, and a sort is cheap.
    """
    if size < _FEISTEL_MIN_SIZE:
        return _sorted_permutations(key, num, size)
    return _feistel_permutations(key, num, size)


def _sorted_permutations(key: PRNGKey, num: int, size: int) -> Array:
    index_bits = max(int(size - 1).bit_length(), 1)
    # One small draw per permutation: XLA:CPU runs threefry as a 5-round loop that it unrolls
    # only for small arrays, so one [num, size] draw is ~5x slower than num draws of [size].
    keys = jax.random.split(key, num)
    if num <= 16:
        random_bits = jnp.stack([jax.random.bits(k, (size,), jnp.uint32) for k in keys])
    else:  # keep the program small when many permutations are asked for
        random_bits = jax.vmap(lambda k: jax.random.bits(k, (size,), jnp.uint32))(keys)
    high_mask = jnp.uint32((0xFFFFFFFF << index_bits) & 0xFFFFFFFF)
    packed = (random_bits & high_mask) | jnp.arange(size, dtype=jnp.uint32)
    return (jax.lax.sort(packed, dimension=1) & jnp.uint32((1 << index_bits) - 1)).astype(jnp.int32)


def _mix32(x: Array) -> Array:
    # "lowbias32" (C. Wellons, hash-prospector): a bijective uint32 hash with low avalanche bias.
    x = x ^ (x >> 16)
    x = x * jnp.uint32(0x7FEB352D)
    x = x ^ (x >> 15)
    x = x * jnp.uint32(0x846CA68B)
    return x ^ (x >> 16)


def _feistel_permutations(key: PRNGKey, num: int, size: int) -> Array:
    if size > 2**31:
        raise ValueError(f"random_permutations returns int32 indices; size {size} is too large")
    bits = int(size - 1).bit_length()
    round_keys = jax.random.bits(key, (_FEISTEL_ROUNDS, num, 1), jnp.uint32)

    def permute(x):
        # x = (high, low) with high_bits + low_bits = bits. A round maps it to
        # (low, high ^ F(low)): invertible whatever F is, and the halves trade widths.
        high_bits, low_bits = bits // 2, bits - bits // 2
        for round_key in round_keys:
            high, low = x >> low_bits, x & jnp.uint32((1 << low_bits) - 1)
            f = _mix32(low ^ round_key) & jnp.uint32((1 << high_bits) - 1)
            x = (low << high_bits) | (high ^ f)
            high_bits, low_bits = low_bits, high_bits
        return x

    x = permute(jnp.broadcast_to(jnp.arange(size, dtype=jnp.uint32), (num, size)))
    if size < 1 << bits:
        # Cycle walking: re-encipher what fell outside range(size) until it lands inside, which
        # restricts the bijection on [0, 2^bits) to one on range(size). The domain is under
        # twice `size`, so each index needs fewer than 2 extra rounds on average.
        x = jax.lax.while_loop(lambda x: jnp.any(x >= size), lambda x: jnp.where(x >= size, permute(x), x), x)
    return x.astype(jnp.int32)


def trajectory_values(
    value_fn: Callable[[PyTree], Array],
    observation: PyTree,
    next_observation: PyTree,
    last: Array,
    discount: Array,
) -> tuple[Array, Array]:
    """V(s_t) and V(s'_t) for a time-major trajectory, evaluating `value_fn` on few extra rows.

    `observation` and `next_observation` are [T, N, ...] pytrees (`Transition` fields); `last`
    and `discount` are [T, N]. The true successor s'_t is the next stored observation s_{t+1}
    except where an episode ended (the env auto-reset) and at t = T - 1. So `value_fn` runs once
    on the T * N observations plus the N final successors, and again, in a `while_loop` over
    chunks of N rows, only on the successors of steps that were truncated (LAST with a nonzero
    discount). After a termination (discount 0) V(s'_t) is multiplied by 0 in every target, so it
    is left as V(s_{t+1}), the reset observation's value. Under `vmap` the loop runs as many
    rounds as the member with the most truncations needs, typically 0 or 1: about half the rows
    of one `value_fn` call over [s; s'].

    Returns:
      (values, next_values), each [T, N].
    """
    chex.assert_rank(last, 2)
    chex.assert_equal_shape([last, discount])
    rollout_length, num_envs = last.shape
    size = rollout_length * num_envs
    flat = lambda x: jnp.reshape(x, (size,) + x.shape[2:])  # noqa: E731
    final = jax.tree.map(lambda x: x[-1], next_observation)
    rows = jax.tree.map(lambda o, f: jnp.concatenate([flat(o), f]), observation, final)
    all_values = value_fn(rows)
    if all_values.shape != (size + num_envs,):
        raise ValueError(f"value_fn must map [B, ...] observations to [B] values, got {all_values.shape}")
    values = all_values[:size]
    next_values = all_values[num_envs:]  # V(s_{t+1}); the last N rows are V(s'_{T-1})
    # Successors still to evaluate: truncated steps before the last one.
    pending = jnp.logical_and(last, discount != 0).at[-1].set(False).reshape(size)
    next_flat = jax.tree.map(flat, next_observation)

    def evaluate_chunk(carry):
        next_values, pending = carry
        # Fill slots get index `size`, out of bounds: their rows are clamped reads and dropped writes.
        (index,) = jnp.nonzero(pending, size=num_envs, fill_value=size)
        chunk = jax.tree.map(lambda x: jnp.take(x, index, axis=0, mode="clip"), next_flat)
        next_values = next_values.at[index].set(value_fn(chunk), mode="drop")
        return next_values, pending.at[index].set(False, mode="drop")

    next_values, _ = jax.lax.while_loop(lambda carry: jnp.any(carry[1]), evaluate_chunk, (next_values, pending))
    return values.reshape(rollout_length, num_envs), next_values.reshape(rollout_length, num_envs)
