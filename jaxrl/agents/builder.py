"""The agent kit's builders: from a checked `Config` and an agent's `make_agent(config, spec)` to
its environment and its training program on a generic loop (Acme's agent builders, without
processes). Every agent's `make_train` is one call to `on_policy_train` or `off_policy_train`.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, NamedTuple

import chex
import flax.struct
import jax
import jax.numpy as jnp
import optax

from jaxrl import datasets, envs, networks, optim, replay
from jaxrl.agents.config import AgentConfig, EpochsConfig, OfflineConfig, OffPolicyConfig, OnlineConfig
from jaxrl.envs import host
from jaxrl.loops import host as host_loop
from jaxrl.loops import off_policy, offline, on_policy
from jaxrl.loops.common import Train
from jaxrl.loops.shuffle import shuffled_minibatches
from jaxrl.types import Agent, Array, EnvSpec, Metrics

MakeAgent = Callable[[Any, EnvSpec], Agent]


def flat_actor_critic(spec: EnvSpec, actor_module: Any, critic_module: Any) -> tuple[networks.FlatNetwork,
                                                                                     networks.FlatNetwork]:
    """A continuous-action agent's actor pi(s) and critic Q(s, a) as flat-parameter networks
    (`networks.flat_network`), shaped for `spec`."""
    observation = jnp.zeros((1,) + spec.observation.shape, jnp.float32)
    action = jnp.zeros((1,) + spec.action.shape, jnp.float32)
    return networks.flat_network(actor_module, observation), networks.flat_network(critic_module, observation, action)


@flax.struct.dataclass
class AgentState:
    """The learner state of an agent with one network trained by one `jaxrl.optim.adam` (PPO,
    recurrent PPO, PQN): the parameters (a tree) and Adam's state, whose step count drives the
    learning-rate annealing."""

    params: Any
    opt_state: optim.AdamState


def fresh_agent_state(network: Any, transformation: optax.GradientTransformation, key: Any,
                      *example_inputs: Any) -> AgentState:
    """A one-network agent's start: `network.init(key, *example_inputs)` and `transformation`'s
    fresh state for those parameters."""
    params = network.init(key, *example_inputs)
    return AgentState(params=params, opt_state=transformation.init(params))


def epochs_adam(config: EpochsConfig, hparams: Any, *, decay_each_step: bool,
                eps: float = 1e-8) -> optax.GradientTransformation:
    """`optim.adam` at `hparams.learning_rate` after clipping to `hparams.max_grad_norm`, for an
    agent on `EpochsConfig`'s schedule. With `config.anneal_lr` the rate falls linearly to 0 over
    the run: after every gradient step with `decay_each_step` (PQN and IMPALA, as purejaxql), else
    once per iteration's update and constant within it (PPO, as PureJaxRL)."""
    rate = hparams.learning_rate
    if config.anneal_lr:
        steps = config.num_epochs * config.num_minibatches
        if decay_each_step:
            rate = optim.linear_anneal(rate, config.num_iterations * steps)
        else:
            rate = optim.linear_anneal(rate, config.num_iterations, steps)
    return optim.adam(rate, hparams.max_grad_norm, eps=eps)


def epochs_update(config: EpochsConfig, state: AgentState, batch: Any, key: Any,
                  loss: Callable[[Any, Any], tuple[Any, Metrics]],
                  transformation: optax.GradientTransformation) -> tuple[AgentState, Metrics]:
    """One iteration's learning on `EpochsConfig`'s schedule (PPO, recurrent PPO, PQN): `num_epochs`
    passes over `batch` (a pytree of examples on its leading axis, read without gradient), each
    shuffled into `num_minibatches` steps of `transformation` on `loss(params, minibatch) ->
    (loss, metrics)`. Returns the new state and each metric's mean over the steps."""
    batch = jax.lax.stop_gradient(batch)
    grad_fn = jax.grad(loss, has_aux=True)
    # Every epoch's shuffle up front, then one scan over all num_epochs * num_minibatches steps:
    # no nested loop, no per-epoch sort or gather inside it.
    minibatches = shuffled_minibatches(key, batch, config.num_epochs, config.num_minibatches)
    (params, opt_state), metrics = optim.minibatch_steps(grad_fn, transformation, state.params, state.opt_state,
                                                         minibatches)
    chex.assert_shape(jax.tree.leaves(metrics), (config.num_epochs * config.num_minibatches,))
    return AgentState(params=params, opt_state=opt_state), jax.tree.map(jnp.mean, metrics)


@flax.struct.dataclass
class RecurrentActorState:
    """The actor state of an agent with a recurrent core (recurrent PPO, R2D2): the core's state
    per env, [num_envs, core_size] per leaf (LSTM: (c, h); GRU: h)."""

    carry: Any


def recurrent_actor(core: str, core_size: int) -> tuple[Callable[[Any, int], RecurrentActorState],
                                                        Callable[[RecurrentActorState, Array], RecurrentActorState]]:
    """`Agent.init_actor` and `Agent.reset_actor` of a recurrent actor: every env starts from the
    zero state, and an env's state is zeroed where its episode ended (the next observation starts
    a new one), so an unroll over stored steps needs resets only inside the stored sequence."""

    def init_actor(agent_state: Any, num_envs: int) -> RecurrentActorState:
        return RecurrentActorState(networks.initial_carry(core, core_size, (num_envs,)))

    def reset_actor(actor_state: RecurrentActorState, last: Array) -> RecurrentActorState:
        return RecurrentActorState(networks.reset_carry(actor_state.carry, last))

    return init_actor, reset_actor


class ActorCriticInit(NamedTuple):
    """Fresh actor and critic parameters and their Adam states (`init_actor_critic`)."""

    actor_params: Any
    critic_params: Any
    actor_opt_state: Any
    critic_opt_state: Any


def init_actor_critic(actor: networks.FlatNetwork, critic: networks.FlatNetwork, key: Any,
                      hparams: Any) -> ActorCriticInit:
    """Fresh parameters (one key each) and zeroed Adam moments at `hparams.actor_learning_rate`
    and `hparams.critic_learning_rate`: the start of every actor-critic agent's state."""
    actor_key, critic_key = jax.random.split(key)
    actor_params, critic_params = actor.init(actor_key), critic.init(critic_key)
    return ActorCriticInit(actor_params, critic_params, optim.adam(hparams.actor_learning_rate).init(actor_params),
                           optim.adam(hparams.critic_learning_rate).init(critic_params))


def stochastic_policy_act(actor: networks.FlatNetwork) -> Callable[..., tuple[Array, Any, dict]]:
    """`Agent.act` of an agent whose state's `actor_params` drive a stochastic policy head (SAC,
    CQL, CRR, IQL): a sample while training, the policy's greedy action in evaluation."""

    def act(state: Any, actor_state: Any, observation: Array, key: Any, hparams: Any, eval: bool = False,
            env_steps: Array | None = None) -> tuple[Array, Any, dict]:
        policy = actor.apply(state.actor_params, observation)
        return (policy.greedy_action() if eval else policy.sample(seed=key)), actor_state, {}

    return act


def step_actor_critic(hparams: Any, state: Any, critic_grads: Any, actor_grads: Any) -> tuple[Any, Any, Any, Any]:
    """One `optim.adam` step each on `state`'s critic (at `hparams.critic_learning_rate`) and actor
    (at `hparams.actor_learning_rate`), from their `*_params` and `*_opt_state` fields. Returns
    (critic_params, critic_opt_state, actor_params, actor_opt_state)."""
    critic_params, critic_opt_state = optim.step(optim.adam(hparams.critic_learning_rate), state.critic_params,
                                                 critic_grads, state.critic_opt_state)
    actor_params, actor_opt_state = optim.step(optim.adam(hparams.actor_learning_rate), state.actor_params,
                                               actor_grads, state.actor_opt_state)
    return critic_params, critic_opt_state, actor_params, actor_opt_state


def step_actor_critic_and_targets(hparams: Any, state: Any, critic_grads: Any, actor_grads: Any) -> dict[str, Any]:
    """`step_actor_critic`, then both targets' Polyak step, target <- tau * online + (1 - tau) *
    target at `hparams.tau` (DDPG, TD3, D4PG, MPO). Returns the six fields by name (actor and
    critic parameters, their targets and Adam states), for the agent's state to take."""
    critic_params, critic_opt_state, actor_params, actor_opt_state = step_actor_critic(
        hparams, state, critic_grads, actor_grads)
    return dict(
        actor_params=actor_params,
        critic_params=critic_params,
        target_actor_params=optax.incremental_update(actor_params, state.target_actor_params, hparams.tau),
        target_critic_params=optax.incremental_update(critic_params, state.target_critic_params, hparams.tau),
        actor_opt_state=actor_opt_state,
        critic_opt_state=critic_opt_state,
    )


def make_env(config: AgentConfig, num_envs: int | None = None, *,
             normalize_observations: bool | None = None) -> envs.Environment:
    """The batched training environment of `config` (`num_envs` overrides the config's, e.g. for
    evaluation): auto-reset, episode statistics, the config's time limit and observation
    normalisation, bounded continuous actions rescaled to [-1, 1].

    `normalize_observations=False` leaves normalisation out whatever the config says: envs for
    acting outside training (evaluation, a saved policy) apply the training statistics instead.
    """
    normalize = config.normalize_observations if normalize_observations is None else normalize_observations
    return envs.make_batched(config.env, config.num_envs if num_envs is None else num_envs,
                             episode_length=config.episode_length, normalize_observations=normalize)


def make_eval_env(config: AgentConfig, num_envs: int | None = None) -> envs.Environment:
    """`config`'s environment for greedy evaluation: `config.eval_episodes` envs (or `num_envs`),
    without observation normalisation (evaluation applies the training statistics)."""
    return make_env(config, config.eval_episodes if num_envs is None else num_envs, normalize_observations=False)


def training_eval_env(config: AgentConfig, env: envs.Environment) -> envs.Environment | None:
    """The evaluation envs of a training program's `evaluate` (`make_eval_env`), or None where the
    training `env` has no time limit: greedy episodes need a cap (the config's `episode_length`
    gives one), and such an env still trains; the driver's `eval_every` then says what is missing."""
    return None if env.spec().max_episode_steps is None else make_eval_env(config)


def check_config_class(config: Any, config_cls: type) -> None:
    """TypeError naming both unless `config` is a `config_cls` of the same agent: by the agent's
    name too, since TD3's and D4PG's configs subclass DDPG's, yet are not DDPG's."""
    if not isinstance(config, config_cls) or config.agent != config_cls.agent:
        given = f"{config.agent}.Config" if isinstance(config, AgentConfig) else type(config).__name__
        raise TypeError(f"{config_cls.agent}.make_train takes a {config_cls.agent}.Config, got a {given}")


def host_spec(config: AgentConfig, num_envs: int | None = None) -> EnvSpec:
    """The batched spec of `config`'s host-side environment ("gymnasium/...", "envpool/..."), read
    from a probe batch that is closed again; ValueError for the options host envs do not take."""
    if config.normalize_observations:
        default = {f.name: f.default for f in dataclasses.fields(config)}["normalize_observations"]
        by_default = f", and {config.agent} turns it on by default" if default is True else ""
        raise ValueError(f"{config.agent}.Config.normalize_observations: not supported with host-side environments "
                         f"({config.env}){by_default}; set it False (--no-normalize-observations) and normalise "
                         f"inside the env (e.g. a gymnasium wrapper) if needed")
    probe = host.make_host(config.env, config.num_envs if num_envs is None else num_envs,
                           episode_length=config.episode_length)
    try:
        return probe.spec()
    finally:
        probe.close()


def make_host_env(config: AgentConfig) -> Callable[[int], host.HostEnvironment]:
    """`make(num_envs)`: a host-side batch of `config`'s environment (its time limit included)."""
    return lambda num_envs: host.make_host(config.env, num_envs, episode_length=config.episode_length)


def build_agent(config: AgentConfig, config_cls: type, make_agent: MakeAgent) -> tuple[envs.Environment, Agent]:
    """The training environment and the agent for it, after checking that `config` is a
    `config_cls` and fits the environment (ValueError naming the field, before any tracing).
    For a host-side environment the "environment" is its batched `EnvSpec` (`host_spec`)."""
    check_config_class(config, config_cls)
    if host.is_host_env(config.env):
        if not isinstance(config, OnlineConfig):
            raise ValueError(f"{config.agent}.Config.env: offline agents evaluate in compiled environments; "
                             f"{config.env!r} is a host-side one")
        spec = host_spec(config)
        config.check_spec(spec)
        return spec, make_agent(config, spec)
    if getattr(config, "host_overlap", False):
        raise ValueError(f"{config.agent}.Config.host_overlap: only for host-side environments (gymnasium/..., "
                         f"envpool/...), got env {config.env!r}")
    # An offline agent steps no training envs: its agent is built for the evaluation envs' spec.
    env = make_env(config) if isinstance(config, OnlineConfig) else make_eval_env(config)
    spec = env.spec()
    config.check_spec(spec)
    return env, make_agent(config, spec)


def on_policy_train(config: AgentConfig, config_cls: type, make_agent: MakeAgent, *, rollout_length: int) -> Train:
    """`config`'s agent on the on-policy loop: `train(key, hparams=None) -> TrainOutput`; on the
    host loop (`loops.host`) for a host-side environment."""
    env, agent = build_agent(config, config_cls, make_agent)
    if isinstance(env, EnvSpec):
        return host_loop.HostOnPolicyTrain(make_host_env(config), agent, env, rollout_length=rollout_length,
                                           overlap=config.host_overlap, num_iterations=config.num_iterations,
                                           default_hparams=config.hparams(), config=config,
                                           make_eval_env=make_host_env(config))
    return on_policy.make_train(env, agent, rollout_length=rollout_length, num_iterations=config.num_iterations,
                                default_hparams=config.hparams(), config=config,
                                eval_env=training_eval_env(config, env))


def off_policy_train(config: OffPolicyConfig, config_cls: type, make_agent: MakeAgent, *,
                     make_buffer: Callable[[Any], replay.ReplayBuffer] | None = None,
                     make_adder: Callable[[Any], replay.SequenceAdder] | None = None) -> Train:
    """`config`'s agent on the off-policy loop with its schedule block (`config.loop_schedule()`),
    n-step transitions of `config.loop_n_step`, and a uniform buffer of `buffer_size` and
    `batch_size` unless `make_buffer(config)` gives another. With a sequence adder (`make_adder(config)`)
    the buffer's items are sequences (R2D2), whose n-step targets the agent computes itself (its
    `loop_n_step` is 1)."""
    env, agent = build_agent(config, config_cls, make_agent)
    if make_buffer is None:
        buffer = replay.uniform(config.buffer_size, config.batch_size)
    else:
        buffer = make_buffer(config)
    adder = None if make_adder is None else make_adder(config)
    n_step = config.loop_n_step
    if isinstance(env, EnvSpec):
        if config.host_overlap:
            raise ValueError(f"{config.agent}.Config.host_overlap: only the on-policy loop overlaps acting and "
                             f"learning on host-side environments")
        return host_loop.HostOffPolicyTrain(make_host_env(config), agent, env, buffer, n_step_length=n_step,
                                            adder=adder,
                                            default_hparams=config.hparams(), config=config,
                                            make_eval_env=make_host_env(config), **config.loop_schedule())
    return off_policy.make_train(env, agent, buffer, n_step_length=n_step, adder=adder,
                                 default_hparams=config.hparams(), config=config,
                                 eval_env=training_eval_env(config, env),
                                 **config.loop_schedule())


def _load_checked(config: Any, field: str, what: str) -> Any:
    """The jaxrl dataset the directory `config.<field>` names, after checking that it was collected
    in `config.env`; ValueError naming the field otherwise."""
    directory = getattr(config, field)
    if directory is None:
        raise ValueError(f"{config.agent}.Config.{field}: {what} (make one with python -m experiments.collect or "
                         f"jaxrl.datasets.save), got None")
    info = datasets.read_info(directory)
    if info.env != config.env:
        verb = "was" if field == "dataset" else "were"
        raise ValueError(f"{config.agent}.Config.env is {config.env!r}, but the {field} {directory} {verb} collected "
                         f"in {info.env!r}")
    return datasets.load(directory)


def load_dataset(config: OfflineConfig) -> Any:
    """The dataset `config.dataset` names, after checking that it comes from `config.env`
    (ValueError naming the field otherwise)."""
    return _load_checked(config, "dataset", "an offline agent needs a dataset directory")


def load_demonstrations(config: Any) -> Any:
    """The demonstrations `config.demonstrations` names, after checking that they come from
    `config.env` (ValueError naming the field otherwise)."""
    return _load_checked(config, "demonstrations", f"{config.agent} needs a dataset directory of demonstrations")


def checked_demonstrations(config: Any, demonstrations: Any = None) -> Any:
    """The demonstration rows an agent learns from: `demonstrations`, or if None the directory
    `config.demonstrations` names (`load_demonstrations`), checked as a dataset
    (`datasets.check_transitions`) whose actions lie in the action space `config`'s agent acts in
    (`datasets.check_actions`); ValueError naming the field otherwise."""
    if demonstrations is None:
        demonstrations = load_demonstrations(config)
    datasets.check_transitions(demonstrations)
    try:
        datasets.check_actions(demonstrations, make_env(config).spec())
    except ValueError as error:
        raise ValueError(f"{config.agent}.Config.demonstrations: {error}") from None
    return demonstrations


def demonstrations_train(config: Any, config_cls: type, make_agent: MakeAgent, demonstrations: Any = None, *,
                         make_buffer: Callable[[Any], replay.ReplayBuffer] | None = None) -> Train:
    """`config`'s agent on the off-policy loop with `demonstrations` (a `Transition` of rows, or if
    None the directory `config.demonstrations`) mixed into every batch: `config.num_demonstration_rows`
    of them, then the agent's own replay (`make_buffer(config)`, uniform by default) for the rest."""
    check_config_class(config, config_cls)
    demonstrations = checked_demonstrations(config, demonstrations)
    shown = config.num_demonstration_rows
    own = dataclasses.replace(config, batch_size=config.batch_size - shown)
    live = replay.uniform(own.buffer_size, own.batch_size) if make_buffer is None else make_buffer(own)
    return off_policy_train(config, config_cls, make_agent,
                            make_buffer=lambda _: datasets.with_demonstrations(live, demonstrations, shown))


def offline_train(config: OfflineConfig, config_cls: type, make_agent: MakeAgent, dataset: Any = None, *,
                  prepare: Callable[[Any], Any] | None = None) -> offline.OfflineTrain:
    """`config`'s agent on the offline loop, learning from `dataset` (a `Transition` of rows) or,
    if None, from the directory `config.dataset`: `train(key, hparams=None, dataset=None)`.
    `prepare(rows)` gives the rows the agent samples (`offline.make_train`)."""
    eval_env, agent = build_agent(config, config_cls, make_agent)
    if dataset is None:
        dataset = load_dataset(config)
    return offline.make_train(agent, dataset, eval_env=eval_env, batch_size=config.batch_size,
                              num_iterations=config.num_iterations, updates_per_iteration=config.updates_per_iteration,
                              default_hparams=config.hparams(), config=config, prepare=prepare)


__all__ = ["AgentState", "RecurrentActorState", "build_agent", "epochs_adam", "epochs_update", "fresh_agent_state",
           "load_dataset", "make_env", "make_eval_env", "off_policy_train", "offline_train", "on_policy_train",
           "recurrent_actor", "step_actor_critic", "training_eval_env"]
