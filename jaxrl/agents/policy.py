"""Policies a user takes away from a run: acting without the training state.

`make_policy(config, state, member=None)` turns a `TrainState` (a run's, or member i of a
population's) into a `Policy`: the agent's `act` with that member's parameters and hyperparameters,
which applies the observation-normalisation statistics of the member's training envs (if it
trained with `normalize_observations`) to raw observations.

    policy = jaxrl.agents.get("ppo").make_policy(config, out.state)
    action = policy(observation)              # greedy; one observation or a batch of them
    action = policy(observation, key)         # sampled as the agent does in training
    save_policy("cartpole_policy", policy)
    policy = load_policy("cartpole_policy")   # e.g. in another process, without the run

Actions are those the training env stack takes: an index for discrete actions, and for bounded
continuous ones a point of [-1, 1]^d that `jaxrl.envs.make_batched` rescales onto the env's box.

An agent with an actor state (its `init_actor` is not the stateless default, e.g. a recurrent
core) gives a `StatefulPolicy`, which threads that state explicitly, as the loops do (an agent
module whose actor state only serves training, IMPALA's lagged parameters, supplies
`make_acting_agent(config, spec)`, and its policies are built from that agent instead):

    state = policy.initial_state(batch_size)        # batch_size 1 for a single observation
    action, state = policy(observation, state)      # key optional, as above
    state = policy.reset(state, done)               # after each env step: ended episodes restart

A policy is a pytree: its arrays are leaves, the agent's functions and config static, so it can
be an argument of `jax.jit`- and `jax.vmap`-ed functions; called outside them, it runs a cached
compiled program.

`save_policy` keeps only what acting needs: the agent's name and config, the hyperparameters, the
normalisation statistics, and the leaves of the agent state that `act` (and `init_actor`) read,
found by tracing them (`jax.make_jaxpr`, then dead-code elimination), so optimiser state, target
networks and PPO's critic stay behind. It reuses `checkpoint.Checkpointer` (checksummed leaves)
in a temporary directory renamed into place once complete.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np
from jax.interpreters import partial_eval as pe

from jaxrl import checkpoint
from jaxrl.agents import builder, registry
from jaxrl.agents.config import AgentConfig, config_classes, config_from_json, jsonable
from jaxrl.envs.host import first_episode_returns, is_host_env, make_host, seed_from_key
from jaxrl.envs.wrappers import NormalizationStats, NormalizeObservation, find_normalization_stats, find_wrapper
from jaxrl.envs.wrappers import normalize as normalize_observation
from jaxrl.loops.common import TrainState
from jaxrl.loops.evaluate import make_evaluate
from jaxrl.types import Agent, Array, EnvSpec, PRNGKey, no_actor_state

FORMAT_VERSION = 1


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class Policy:
    """`policy(observation, key=None) -> action` of one trained agent (see the module docstring).

    Attributes:
      agent_state: the agent's state (after `load_policy`, leaves that acting does not read are zeros).
      hparams: the member's hyperparameters, which `act` receives.
      env_steps: env steps the member had taken (a schedule's position, e.g. DQN's epsilon).
      normalization: the training envs' observation statistics, or None without normalisation.
      agent: the agent's functions; config: its config; name: its registry name (None if unregistered).
      observation_shape: one observation's shape; clip, epsilon: the normalisation's clip and epsilon.
    """

    agent_state: Any
    hparams: Any
    env_steps: Array
    normalization: NormalizationStats | None
    agent: Agent
    config: AgentConfig
    name: str | None
    observation_shape: tuple[int, ...]
    clip: float | None
    epsilon: float | None

    stateful: ClassVar[bool] = False

    def __repr__(self) -> str:  # not the dataclass's: it would print every parameter
        normalized = self.normalization is not None
        return (f"{type(self).__name__}(agent={self.name!r}, env={self.config.env!r}, "
                f"observation_shape={self.observation_shape}, normalized={normalized})")

    def __call__(self, observation: Array, key: PRNGKey | None = None) -> Array:
        """The action for `observation` (shape `observation_shape`, or a batch of them): greedy
        without `key`, else sampled with it as in training."""
        return _act_compiled(self, observation, None, key)[0]


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class StatefulPolicy(Policy):
    """`policy(observation, state, key=None) -> (action, state)` of an agent with an actor state."""

    stateful: ClassVar[bool] = True

    def __call__(self, observation: Array, state: Any, key: PRNGKey | None = None) -> tuple[Array, Any]:
        """The action for `observation` and the next actor state; `state` holds one entry per
        observation of the batch (batch size 1 for a single observation)."""
        return _act_compiled(self, observation, state, key)

    def initial_state(self, batch_size: int = 1) -> Any:
        """The actor state at the start of `batch_size` episodes (`Agent.init_actor`)."""
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"initial_state: batch_size must be an int >= 1, got {batch_size!r}")
        return self.agent.init_actor(self.agent_state, batch_size)

    def reset(self, state: Any, done: Array) -> Any:
        """`state` after an env step: where `done` (a bool per observation, or one bool for a
        single observation) the episode ended and the next observation starts a new one."""
        done = jnp.asarray(done, jnp.bool_)
        return self.agent.reset_actor(state, done[None] if done.ndim == 0 else done)


_DATA_FIELDS = ["agent_state", "hparams", "env_steps", "normalization"]
_META_FIELDS = ["agent", "config", "name", "observation_shape", "clip", "epsilon"]
for _cls in (Policy, StatefulPolicy):
    jax.tree_util.register_dataclass(_cls, data_fields=_DATA_FIELDS, meta_fields=_META_FIELDS)


def _act(policy: Policy, observation: Array, actor_state: Any, key: PRNGKey | None) -> tuple[Array, Any]:
    """The traced body of a policy call: batch, normalise, act, unbatch."""
    observation = jnp.asarray(observation)
    shape = policy.observation_shape
    single = observation.shape == shape
    if not single and observation.shape[1:] != shape:
        raise ValueError(f"policy: observations must have shape {shape} (one) or (batch, *{shape}), got "
                         f"{observation.shape}")
    batch = observation[None] if single else observation
    if policy.normalization is not None:
        batch = normalize_observation(policy.normalization, batch, policy.clip, policy.epsilon)
    greedy = key is None
    if greedy:
        key = jax.random.key(0)  # a greedy act draws nothing from it
    action, actor_state, _ = policy.agent.act(policy.agent_state, actor_state, batch, key, policy.hparams, greedy,
                                              policy.env_steps)
    return (action[0] if single else action), actor_state


_act_compiled = jax.jit(_act)


# ---- making a policy from a training state -------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Built:
    """An agent built for a config, with the shapes of its state and of its env's reset."""

    env: Any
    agent: Agent
    abstract_agent_state: Any
    abstract_env_state: Any
    observation_shape: tuple[int, ...]


@functools.lru_cache(maxsize=32)
def _build(config_cls: type, make_agent: Any, config: AgentConfig) -> _Built:
    # Cached: policies of one config share the agent's functions, so they share compiled programs
    # (a jitted function's cache is keyed on them) and stack into one pytree.
    env, agent = builder.build_agent(config, config_cls, make_agent)
    key = jax.random.key(0)
    if isinstance(env, EnvSpec):  # a host-side environment: its spec, and no env state
        spec = env
        abstract_agent_state = jax.eval_shape(lambda k: agent.init(k, spec, config.hparams()), key)
        return _Built(None, agent, abstract_agent_state, None, tuple(spec.observation.shape))
    spec = env.spec()
    abstract_agent_state = jax.eval_shape(lambda k: agent.init(k, spec, config.hparams()), key)
    abstract_env_state, timestep = jax.eval_shape(env.reset, key)
    return _Built(env, agent, abstract_agent_state, abstract_env_state, tuple(timestep.observation.shape[1:]))


def _acting_agent_maker(module: Any) -> Any:
    """How a policy builds `module`'s agent: `make_acting_agent(config, spec)` where the agent has
    one (its training actors hold state that acting alone does not need, e.g. IMPALA's lagged
    parameters), else `make_agent`."""
    return getattr(module, "make_acting_agent", module.make_agent)


def _resolve(config: Any, agent: Any) -> tuple[Any, str | None]:
    """The agent module (or object) for `config` and its registry name."""
    if agent is None:
        name = getattr(config, "agent", None)
        if not isinstance(name, str):
            raise TypeError(f"make_policy takes an agent's Config, got {type(config).__name__}")
        module = registry.get(name)
    elif isinstance(agent, str):
        name, module = agent, registry.get(agent)
    else:
        name, module = registry.name_of(agent), agent
    missing = [attr for attr in ("Config", "make_agent") if not hasattr(module, attr)]
    if missing:
        raise TypeError(f"agent {name or module!r} lacks {missing}: a policy needs its Config and make_agent")
    if not isinstance(config, config_classes(module.Config)) or config.agent != module.Config.agent:
        raise TypeError(f"make_policy: the agent {name or module!r} takes a {_qualified(module.Config)}, got a "
                        f"{_qualified(type(config))}")
    return module, name


def _qualified(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _population_size(agent_state: Any, abstract: Any, agent: str) -> int | None:
    """None if `agent_state` is one member's, N if every leaf has a leading population axis of N."""
    with_paths = jax.tree_util.tree_flatten_with_path(agent_state)[0]
    paths, leaves = [p for p, _ in with_paths], [x for _, x in with_paths]
    wanted_leaves, wanted_tree = jax.tree.flatten(abstract)
    if jax.tree.structure(agent_state) != wanted_tree:
        raise ValueError(f"make_policy: state.agent_state is not a {agent} agent state for this config (its tree "
                         f"structure differs); pass the config the run was trained with")
    shapes = [tuple(np.shape(x)) for x in leaves]
    wanted = [tuple(x.shape) for x in wanted_leaves]
    if shapes == wanted:
        return None
    sizes = {s[0] for s, w in zip(shapes, wanted) if len(s) == len(w) + 1 and s[1:] == w}
    if len(sizes) == 1 and all(len(s) == len(w) + 1 and s[1:] == w for s, w in zip(shapes, wanted)):
        return sizes.pop()
    path, shape, want = next((p, s, w) for p, s, w in zip(paths, shapes, wanted) if s != w and s[1:] != w)
    raise ValueError(f"make_policy: state.agent_state{jax.tree_util.keystr(path)} has shape {shape}, but the "
                     f"{agent} agent of this config has {want} (or a population's (N, *{want}))")


def make_policy(config: AgentConfig, state: TrainState, member: int | None = None, *, agent: Any = None) -> Policy:
    """The policy of `state`'s agent (see the module docstring).

    Args:
      config: the agent's `Config` the run was trained with.
      state: a `TrainState` (`train(key).state`, a restored checkpoint), or a population's stacked
        one (`jax.vmap(train)(keys).state`, the driver's), whose member `member` is taken.
      member: which member of a population's state; must be None for a single run's state.
      agent: the agent (a registered name or a module with `Config` and `make_agent`); default the
        registered agent named `config.agent`.

    Returns a `StatefulPolicy` if the agent has an actor state, else a `Policy`.
    """
    module, name = _resolve(config, agent)
    if not isinstance(state, TrainState):
        raise TypeError(f"make_policy takes a TrainState (train(key).state or a restored checkpoint), got "
                        f"{type(state).__name__}")
    built = _build(type(config), _acting_agent_maker(module), config)
    size = _population_size(state.agent_state, built.abstract_agent_state, name or config.agent)
    stats = find_normalization_stats(state.env_state)
    parts = (state.agent_state, state.hparams, state.env_steps, stats)
    if size is None:
        if member is not None:
            raise ValueError(f"make_policy: member={member!r}, but the state is a single run's, not a population's")
    else:
        if member is None:
            raise ValueError(f"make_policy: the state holds a population of {size} members; pass member=i "
                             f"(0 <= i < {size})")
        if isinstance(member, bool) or not isinstance(member, (int, np.integer)) or not 0 <= member < size:
            raise ValueError(f"make_policy: member must be an int in [0, {size}), got {member!r}")
        parts = jax.tree.map(lambda x: x[member], parts)
    agent_state, hparams, env_steps, stats = parts
    wrapper = find_wrapper(built.env, NormalizeObservation)
    if (wrapper is None) != (stats is None):
        raise ValueError(f"make_policy: config.normalize_observations={config.normalize_observations}, but the "
                         f"state's env state {'has' if stats is not None else 'has no'} normalisation statistics")
    cls = Policy if built.agent.init_actor is no_actor_state else StatefulPolicy
    return cls(agent_state=agent_state, hparams=hparams, env_steps=jnp.asarray(env_steps, jnp.int32),
               normalization=stats, agent=built.agent, config=config, name=name,
               observation_shape=built.observation_shape, clip=None if wrapper is None else float(wrapper.clip),
               epsilon=None if wrapper is None else float(wrapper.epsilon))


# ---- saving and loading -----------------------------------------------------------------------


def acting_leaves(policy: Policy) -> list[bool]:
    """For each leaf of `policy.agent_state` (flattened), whether acting reads it: traced through
    `init_actor` and `act` (greedy and sampling) with `jax.make_jaxpr`; a leaf counts if it survives
    dead-code elimination of the outputs (action and actor state)."""
    leaves, treedef = jax.tree.flatten(policy.agent_state)

    def acting(leaves, observation, key):
        agent_state = jax.tree.unflatten(treedef, leaves)
        actor_state = policy.agent.init_actor(agent_state, 1)
        outputs = [actor_state]
        for greedy in (True, False):
            action, next_actor_state, _ = policy.agent.act(agent_state, actor_state, observation, key,
                                                           policy.hparams, greedy, policy.env_steps)
            outputs.append((action, next_actor_state))
        return outputs

    observation = jnp.zeros((1,) + policy.observation_shape, jnp.float32)
    closed = jax.make_jaxpr(acting)(leaves, observation, jax.random.key(0))
    _, used = pe.dce_jaxpr(closed.jaxpr, [True] * len(closed.jaxpr.outvars))
    return list(used[:len(leaves)])


def save_policy(directory: str, policy: Policy, *, overwrite: bool = False) -> str:
    """Writes `policy` into `directory` (which must not exist unless `overwrite`); returns its path.

    The directory appears complete or not at all: written under a temporary name beside it and
    renamed. Only the agent-state leaves acting reads are stored (`acting_leaves`); `load_policy`
    rebuilds the rest as zeros. The agent is looked up by name on loading, so it must be registered
    (`jaxrl.agents.register`) under `policy.name`.
    """
    if not isinstance(policy, Policy):
        raise TypeError(f"save_policy takes a Policy (make_policy, load_policy), got {type(policy).__name__}")
    if policy.name is None:
        raise ValueError("save_policy: the policy's agent is not registered; register it with "
                         "jaxrl.agents.register(name, agent) before making and saving its policy")
    registered = registry.get(policy.name)
    if not hasattr(registered, "Config") or not isinstance(policy.config, config_classes(registered.Config)):
        raise ValueError(f"save_policy: the agent registered as {policy.name!r} does not take this policy's "
                         f"{_qualified(type(policy.config))}, so loading would build another agent")
    if os.path.exists(directory) and not overwrite:
        raise FileExistsError(f"save_policy: {os.path.abspath(directory)} exists; pass overwrite=True to replace it")
    paths = [jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_flatten_with_path(policy.agent_state)[0]]
    leaves = jax.tree.leaves(policy.agent_state)
    used = acting_leaves(policy)
    arrays = {"agent_state": [x for x, keep in zip(leaves, used) if keep], "hparams": policy.hparams,
              "env_steps": policy.env_steps, "normalization": policy.normalization}
    record = {"format": FORMAT_VERSION, "agent": policy.name, "config": jsonable(policy.config),
              "agent_state_leaves": [p for p, keep in zip(paths, used) if keep], "stateful": policy.stateful,
              "observation_shape": list(policy.observation_shape), "clip": policy.clip, "epsilon": policy.epsilon}

    def write(staging: str) -> None:
        with checkpoint.Checkpointer(staging, max_to_keep=1) as checkpointer:
            checkpointer.save(0, arrays, record)

    return checkpoint.write_directory(directory, write, overwrite=overwrite)


def load_policy(directory: str) -> Policy:
    """The policy `save_policy` wrote into `directory`, rebuilt from its agent's registered name
    and config alone (no training state, no run directory). The config names its environment, which
    is built to shape the networks: a custom one must be registered (`jaxrl.register`) under the
    same name in the loading process, as a custom agent must be. Raises `checkpoint.CheckpointError`
    naming the directory if it is missing, corrupted, or holds a state other than its config's."""
    directory = os.path.abspath(directory)
    if not os.path.isdir(directory):
        raise checkpoint.CheckpointError(f"no saved policy at {directory}")
    checkpointer = checkpoint.Checkpointer(directory, max_to_keep=None, read_only=True)
    try:
        record = checkpointer.progress()
        if not isinstance(record, dict) or record.get("format") != FORMAT_VERSION:
            raise checkpoint.CheckpointError(f"{directory} holds no saved policy of format {FORMAT_VERSION}")
        module = registry.get(record["agent"])
        config = config_from_json(module.Config, record["config"])
        built = _build(type(config), _acting_agent_maker(module), config)
        with_paths, treedef = jax.tree_util.tree_flatten_with_path(built.abstract_agent_state)
        paths = [jax.tree_util.keystr(p) for p, _ in with_paths]
        kept = set(record["agent_state_leaves"])
        unknown = sorted(kept - set(paths))
        if unknown:
            raise checkpoint.CheckpointError(f"{directory}: the {record['agent']} agent of its config has no "
                                             f"state leaves {unknown[:5]}")
        stats = find_normalization_stats(built.abstract_env_state)
        target = {"agent_state": [x for p, (_, x) in zip(paths, with_paths) if p in kept],
                  "hparams": jax.eval_shape(config.hparams), "env_steps": jax.ShapeDtypeStruct((), jnp.int32),
                  "normalization": stats}
        arrays, _ = checkpointer.restore(target)
    finally:
        checkpointer.close()
    stored = iter(arrays["agent_state"])
    leaves = [next(stored) if p in kept else jnp.zeros(x.shape, x.dtype) for p, (_, x) in zip(paths, with_paths)]
    cls = Policy if built.agent.init_actor is no_actor_state else StatefulPolicy
    return cls(agent_state=jax.tree.unflatten(treedef, leaves), hparams=arrays["hparams"],
               env_steps=arrays["env_steps"], normalization=arrays["normalization"], agent=built.agent,
               config=config, name=record["agent"], observation_shape=tuple(record["observation_shape"]),
               clip=record["clip"], epsilon=record["epsilon"])


# ---- playing episodes -----------------------------------------------------------------------------


@functools.lru_cache(maxsize=32)
def _evaluator(policy_type: type, agent: Agent, config: AgentConfig, episodes: int):
    """`evaluate(policy, key)`, compiled once per agent, config and number of episodes."""
    env = builder.make_eval_env(config, episodes)

    def act(policy, actor_state, observation, key, hparams, eval=True, env_steps=None):
        action, actor_state = _act(policy, observation, actor_state, None if eval else key)
        return action, actor_state, {}

    def init_actor(policy, num_envs):
        return policy.initial_state(num_envs) if policy.stateful else None

    # The loops' evaluation, with the policy as the "agent state": its act normalises raw
    # observations itself, so the evaluation env is built without normalisation.
    evaluate = make_evaluate(env, Agent(init=None, act=act, update=None, init_actor=init_actor,
                                        reset_actor=agent.reset_actor))

    def run(policy: Policy, key: PRNGKey) -> Array:
        zero = jnp.zeros((), jnp.float32)
        state = TrainState(agent_state=policy, actor_state=None, env_state=None, observation=None,
                           buffer_state=None, key=key, iteration=jnp.zeros((), jnp.int32), env_steps=policy.env_steps,
                           hparams=policy.hparams, episode_return=zero, episode_length=zero)
        return evaluate(state, key)

    return jax.jit(run)


def evaluate_policy(policy: Policy, episodes: int = 10, key: PRNGKey | None = None) -> Array:
    """The mean return of `episodes` greedy episodes of `policy`, one in each of as many envs of
    its config's environment (`jaxrl.loops.evaluate`); `key` (default `key(0)`) picks the envs."""
    if not isinstance(policy, Policy):
        raise TypeError(f"evaluate_policy takes a Policy, got {type(policy).__name__}")
    if isinstance(episodes, bool) or not isinstance(episodes, int) or episodes < 1:
        raise ValueError(f"evaluate_policy: episodes must be an int >= 1, got {episodes!r}")
    key = jax.random.key(0) if key is None else key
    if is_host_env(policy.config.env):
        return _evaluate_on_host(policy, episodes, key)
    evaluate = _evaluator(type(policy), policy.agent, policy.config, episodes)
    return evaluate(policy, key)


def _evaluate_on_host(policy: Policy, episodes: int, key: PRNGKey) -> Array:
    """`evaluate_policy` in a host-side environment: greedy play in `episodes` host envs (seeded
    from `key`) until each has finished one episode."""
    config = policy.config
    env = make_host(config.env, episodes, episode_length=config.episode_length)
    actor_state = policy.initial_state(episodes) if policy.stateful else None

    def act(observation: np.ndarray, last: np.ndarray | None) -> np.ndarray:
        nonlocal actor_state
        if policy.stateful and last is not None:
            actor_state = policy.reset(actor_state, last)
        action, actor_state = _act_compiled(policy, observation, actor_state, None)
        return np.asarray(action)

    try:
        returns = first_episode_returns(env, seed_from_key(jax.random.key_data(key)), act)
    finally:
        env.close()
    return jnp.asarray(returns.mean())


__all__ = ["FORMAT_VERSION", "Policy", "StatefulPolicy", "acting_leaves", "evaluate_policy", "load_policy",
           "make_policy", "save_policy"]
