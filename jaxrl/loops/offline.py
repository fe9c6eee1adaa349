"""The generic offline program: gradient steps on batches sampled from a fixed dataset, with a
greedy evaluation in the environment after every iteration, all inside one compiled `lax.scan`
(Acme's offline learners, Hoffman et al. 2020 v2, without processes or TensorFlow datasets).

An iteration is `updates_per_iteration` learner updates, each on its own batch drawn uniformly
from the dataset, then `eval_env`'s greedy episodes (one per env), whose mean return is the
iteration's `episode_return`. The run's progress counts gradient steps, `learner_steps`
(`Train.step_metric`), since it takes no env steps of its own.

The dataset is part of the state (`TrainState.buffer_state`, a full `replay.uniform` state), so a
run resumes from a checkpoint alone and `jax.vmap` runs a population over datasets of equal
size as over seeds and hyperparameters:

    train = offline.make_train(agent, dataset, ...)
    outs = jax.jit(jax.vmap(train))(keys)                                   # seeds, one dataset
    outs = jax.jit(jax.vmap(lambda k, d: train(k, dataset=d)))(keys, sets)  # one dataset each
"""

from __future__ import annotations

from typing import Any, Callable

import chex
import jax
import jax.numpy as jnp

from jaxrl import prng
from jaxrl.datasets import check_actions, check_transitions, replay_state
from jaxrl.envs.base import Environment
from jaxrl.loops import common
from jaxrl.loops.common import Train, TrainState
from jaxrl.loops.evaluate import make_evaluate
from jaxrl.loops.off_policy import replay_update, zero_update_metrics
from jaxrl.replay import uniform
from jaxrl.types import Agent, Metrics, PRNGKey, Transition

STEP_METRIC = "learner_steps"


class OfflineTrain(Train):
    """An offline `Train`: `train(key, hparams=None, dataset=None)`, where `dataset` (a `Transition`
    of rows like the one the program was built with: same size, shapes and dtypes) replaces the
    built-in one, e.g. one dataset per member of a vmapped population."""

    def __init__(self, *args: Any, dataset: Transition, prepare: Callable[[Transition], Any] | None = None,
                 **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.dataset = dataset
        self.prepare = prepare
        self._shapes = jax.tree.map(lambda x: (jnp.shape(x), jnp.result_type(x)), dataset)

    def init(self, key: PRNGKey, hparams: Any = None, dataset: Transition | None = None) -> TrainState:
        if dataset is None:
            dataset = self.dataset
        else:
            shapes = jax.tree.map(lambda x: (jnp.shape(x), jnp.result_type(x)), dataset)
            if jax.tree.structure(shapes) != jax.tree.structure(self._shapes) or shapes != self._shapes:
                raise ValueError(f"offline train: the dataset must have the rows of the one the program was built "
                                 f"with (shapes and dtypes {self._shapes}), got {shapes}")
        state = super().init(key, hparams)
        rows = dataset if self.prepare is None else self.prepare(dataset)
        return state.replace(buffer_state=common.batched_like(replay_state(rows), key))

    def __call__(self, key: PRNGKey, hparams: Any = None, dataset: Transition | None = None) -> common.TrainOutput:
        state, metrics = self.run(self.init(key, hparams, dataset), self.num_iterations)
        return common.TrainOutput(state, metrics)


def make_train(
    agent: Agent,
    dataset: Transition,
    *,
    eval_env: Environment,
    batch_size: int,
    num_iterations: int,
    updates_per_iteration: int,
    default_hparams: Any,
    config: Any = None,
    prepare: Callable[[Transition], Any] | None = None,
) -> OfflineTrain:
    """Builds the offline `Train` program.

    Args:
      agent: the agent's pure functions: `init(key, spec, hparams)`, a greedy `act` (its `eval`
        True) and `update(agent_state, ReplayBatch, key, hparams) -> (agent_state, metrics)`.
      dataset: a `Transition` of [N] rows (`datasets.load`), moved to the device once.
      eval_env: a batched environment without observation normalisation, for the greedy episodes
        after every iteration (one per env); its spec is the agent's.
      batch_size: rows per sampled batch, one batch per update.
      num_iterations: iterations of `train(key)`; updates_per_iteration: updates in each.
      default_hparams: the hparams `train(key)` uses when none are given.
      prepare: a pure function of the dataset's rows giving the rows the agent samples, applied
        in `train.init` to whichever dataset the run takes (BVE adds each row's next action).
    """
    for name, value, minimum in (("batch_size", batch_size, 1), ("num_iterations", num_iterations, 0),
                                 ("updates_per_iteration", updates_per_iteration, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ValueError(f"offline.make_train: {name} must be an int >= {minimum}, got {value!r}")
    size = check_transitions(dataset)
    spec = eval_env.spec()
    observation_shape = tuple(jnp.shape(dataset.observation)[1:])
    action_shape = tuple(jnp.shape(dataset.action)[1:])
    if observation_shape != tuple(spec.observation.shape) or action_shape != tuple(spec.action.shape):
        raise ValueError(f"offline.make_train: the dataset's observations {observation_shape} and actions "
                         f"{action_shape} do not fit {spec.name}'s {tuple(spec.observation.shape)} and "
                         f"{tuple(spec.action.shape)}: was it collected in another environment?")
    if spec.discrete_actions != jnp.issubdtype(jnp.result_type(dataset.action), jnp.integer):
        raise ValueError(f"offline.make_train: {spec.name} has {'discrete' if spec.discrete_actions else 'continuous'} "
                         f"actions, but the dataset's actions are {jnp.result_type(dataset.action)}")
    try:
        check_actions(dataset, spec)
    except ValueError as error:
        raise ValueError(f"offline.make_train: {error}") from None
    dataset = jax.device_put(dataset)
    buffer = uniform(size, batch_size, min_size=1)
    evaluate = make_evaluate(eval_env, agent)

    def init(key: PRNGKey, hparams: Any) -> TrainState:
        key, agent_key = jax.random.split(key)
        agent_state = agent.init(agent_key, spec, hparams)
        # The dataset goes in as `OfflineTrain.init` places it; a placeholder of its shapes here.
        return common.first_state(agent_state, None, None, None, None, key, hparams)

    def iteration(state: TrainState) -> tuple[TrainState, Metrics]:
        key, updates_key, eval_key = jax.random.split(state.key, 3)
        sums = zero_update_metrics(agent, buffer, state.agent_state, state.buffer_state, state.key, state.hparams)
        # The updates' keys hash in fused kernels on CPU (`prng.fast_key`: the same bits): each update
        # draws its batch's indices and, for TD3+BC, its target noise, and XLA:CPU's rolled hash loops
        # cost TD3+BC's and BC's programs 1-3% (experiments/benchmarks/README.md, 2026-12-06).
        (agent_state, _, sums), _ = jax.lax.scan(
            lambda c, k: (replay_update(agent, buffer, state.hparams, c, k), None),
            (state.agent_state, state.buffer_state, sums),
            jax.random.split(prng.fast_key(updates_key), updates_per_iteration))
        learner_metrics = jax.tree.map(lambda m: m / updates_per_iteration, sums)
        learner_steps = (state.iteration + 1) * updates_per_iteration
        eval_return = evaluate(state.replace(agent_state=agent_state), eval_key)
        chex.assert_rank(eval_return, 0)
        state = state.replace(agent_state=agent_state, key=key, iteration=state.iteration + 1,
                              episode_return=eval_return)
        metrics = {STEP_METRIC: learner_steps, "episode_return": eval_return, **learner_metrics,
                   common.NONFINITE: common.nonfinite_flag(learner_metrics, agent_state)}
        return state, metrics

    return OfflineTrain(init, iteration, num_iterations, default_hparams, config, updates_per_iteration, evaluate,
                        step_metric=STEP_METRIC, dataset=dataset, prepare=prepare)


__all__ = ["STEP_METRIC", "OfflineTrain", "make_train"]
