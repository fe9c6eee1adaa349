"""The agent kit: the registry, the shared config checks, actor state in the loops, and the promise
that a population run in chunks equals one `jit(vmap(train))` call bit for bit, for every agent."""

import collections
import dataclasses
import re
import uuid

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import assert_trees_equal, chunks_and_one_call, jaxpr_equations

import jaxrl
import jaxrl.agents
from jaxrl import driver, types
from jaxrl.agents import builder, dqn, ppo
from jaxrl.agents import config as config_lib
from jaxrl.envs.wrappers import EpisodeStatisticsState
from jaxrl.loops import common, off_policy, on_policy
from jaxrl.types import Agent

AGENT_NAMES = ["ppo", "dqn", "ddpg", "td3", "sac", "d4pg", "pqn", "recurrent_ppo", "impala", "r2d2", "mpo"]
# Agents on the offline loop (their own tests: tests/test_bc.py, test_td3_bc.py, test_cql.py, ...).
OFFLINE_NAMES = ["bc", "td3_bc", "cql", "iql", "crr", "bve"]
# Online agents with demonstrations mixed into their replay (tests/test_demonstrations.py,
# tests/test_imitation.py).
DEMONSTRATION_NAMES = ["ail", "sqil", "pwil", "sacfd", "td3fd", "dqfd"]

# ---- the registry -----------------------------------------------------------------------------


def test_registry_lists_and_returns_every_agent():
    assert jaxrl.agents.names()[:23] == AGENT_NAMES + OFFLINE_NAMES + DEMONSTRATION_NAMES
    for name in AGENT_NAMES + OFFLINE_NAMES + DEMONSTRATION_NAMES:
        agent = jaxrl.agents.get(name)
        assert agent.Config.agent == name
        assert callable(agent.make_train) and callable(agent.make_agent)
    with pytest.raises(ValueError, match=r"unknown agent 'nope'; known agents: ppo, dqn, ddpg, td3, sac, d4pg, pqn, "
                                         r"recurrent_ppo, impala, r2d2, mpo"):
        jaxrl.agents.get("nope")


def test_a_registered_agent_is_listed_and_returned(monkeypatch):
    monkeypatch.setattr(jaxrl.agents.registry, "_REGISTERED", {})
    jaxrl.agents.register("my_ppo", ppo)
    assert jaxrl.agents.names()[-1] == "my_ppo" and jaxrl.agents.get("my_ppo") is ppo
    with pytest.raises(TypeError, match=r"agent 'bad' lacks \['Config', 'make_train'\]"):
        jaxrl.agents.register("bad", object())


# ---- the shared config checks -----------------------------------------------------------------


@pytest.mark.parametrize("name", AGENT_NAMES + DEMONSTRATION_NAMES)
def test_every_config_checks_the_common_fields_naming_them(name):
    config_cls = jaxrl.agents.get(name).Config
    for field, value, what in [("num_envs", 0, "must be an int >= 1"), ("gamma", 1.5, r"must be in \[0, 1\]"),
                               ("hidden_sizes", (), "must be a non-empty sequence"),
                               ("eval_episodes", 0, "must be an int >= 1"), ("activation", "nope", "must be one of")]:
        with pytest.raises(ValueError, match=rf"^{name}\.Config\.{field} {what}"):
            config_cls(**{field: value})


@pytest.mark.parametrize("name", ["dqn", "sac"])
def test_off_policy_configs_refuse_a_budget_that_is_not_whole_iterations(name):
    # DQN used to accept it and silently drop the remainder.
    with pytest.raises(ValueError, match=rf"^{name}\.Config\.total_timesteps must be a multiple of "
                                         r"steps_per_iteration=1000, got 2500"):
        jaxrl.agents.get(name).Config(total_timesteps=2500, steps_per_iteration=1000, learning_starts=0)


@pytest.mark.parametrize("name, budget", [("ppo", dict(total_timesteps=2**31 + 512)),
                                          ("sac", dict(total_timesteps=2_147_484_000, learning_starts=0))])
def test_a_run_longer_than_the_int32_step_counter_is_refused(name, budget):
    # env_steps is an int32: past 2**31 it went negative, and the off-policy loop's warm-up and
    # replay readiness (and DQN's epsilon) with it.
    agent = jaxrl.agents.get(name)
    with pytest.raises(ValueError, match=rf"^{name}\.Config: a run of 2,147,48\d,\d+ env_steps overflows the int32 "
                                         r"counter its TrainState keeps \(at most 2,147,483,647 per run\)"):
        agent.make_train(agent.Config(env="Pendulum-v1", **budget))


@dataclasses.dataclass(frozen=True)
class Drift:
    """A custom env with no time limit: x moves by 0.1 a (a clipped to [-1, 1] by the env's box);
    reward -|x|; it terminates after `end` steps. `action_shape` is its action box's shape,
    `action_bound` the box's high (and -low)."""

    end: int = 5
    action_shape: tuple = (1,)
    action_bound: float = 1.0

    def spec(self):
        bound = self.action_bound
        return types.EnvSpec("Drift", types.Box(-np.inf, np.inf, (1,)), types.Box(-bound, bound, self.action_shape))

    def reset(self, key):
        x = jax.random.uniform(key, (1,), minval=-1.0, maxval=1.0)
        return (x, jnp.int32(0)), types.restart(x)

    def step(self, state, action, key):
        x, t = state
        x, t = x + 0.1 * jnp.sum(action), t + 1
        return (x, t), types.transition(x, -jnp.abs(x[0]), t >= self.end, False)


def _register(prefix, **kwargs):
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    jaxrl.register(name, lambda: Drift(**kwargs))
    return name


def test_an_env_without_a_time_limit_trains_and_says_what_evaluation_needs():
    # It used to raise in make_train: every program built its greedy evaluation, which needs a cap.
    name = _register("Drift")
    config = ppo.Config(env=name, num_envs=2, rollout_length=8, total_timesteps=32, num_minibatches=2,
                        num_epochs=1)
    train = ppo.make_train(config)
    assert train.evaluate is None
    out = jax.jit(train)(jax.random.key(0))
    np.testing.assert_array_equal(out.metrics["env_steps"], [16, 32])
    np.testing.assert_array_equal(out.metrics["episode_length"], [5, 5])
    with pytest.raises(ValueError, match=r"no evaluate function \(greedy episodes need a time limit.*episode_length"):
        driver.run(train, eval_every=1)
    with pytest.raises(ValueError, match=r"the env Drift has no time limit; give it one \(an agent Config's "
                                         r"episode_length"):
        jaxrl.agents.evaluate_policy(ppo.make_policy(config, out.state), 2)
    # With a time limit from the config it evaluates.
    assert ppo.make_train(dataclasses.replace(config, episode_length=5)).evaluate is not None


@pytest.mark.parametrize("shape", [(), (2, 3)])
@pytest.mark.parametrize("agent", ["ppo", "sac", "td3"])
def test_continuous_actions_that_are_not_a_vector_are_refused(agent, shape):
    # A scalar box failed deep in tracing (IndexError); a [2, 3] one trained PPO on 3 numbers.
    name = _register("Drift", action_shape=shape)
    with pytest.raises(ValueError, match=rf"^{agent}\.Config\.env: continuous actions must be a vector, a Box of "
                                         rf"shape \(A,\), but Drift has a Box of shape {re.escape(str(shape))}"):
        jaxrl.agents.get(agent).make_train(jaxrl.agents.get(agent).Config(env=name, learning_starts=0)
                                           if agent != "ppo" else ppo.Config(env=name))


UNIT_BOX_AGENTS = {"sac": "SAC's actor", "td3": "TD3's actor", "ddpg": "DDPG's actor", "d4pg": "D4PG's actor",
                   "mpo": "MPO's actor", "ppo": "ppo.Config.continuous_policy='tanh_gaussian'"}


@pytest.mark.parametrize("agent", list(UNIT_BOX_AGENTS))
def test_agents_acting_in_the_unit_box_refuse_an_unbounded_action_box(agent):
    # Their [-1, 1] actions are rescaled to the box's bounds; on an unbounded box they acted in
    # [-1, 1] whatever the env allowed, silently.
    name = _register("Drift", action_bound=np.inf, end=10)
    module = jaxrl.agents.get(agent)
    extra = dict(continuous_policy="tanh_gaussian") if agent == "ppo" else dict(learning_starts=0)
    with pytest.raises(ValueError, match=rf"^{agent}\.Config\.env: {re.escape(UNIT_BOX_AGENTS[agent])}.* acts in "
                                         r"\[-1, 1\], rescaled to the action box's bounds, but Drift's action box "
                                         r"is unbounded"):
        module.make_train(module.Config(env=name, episode_length=10, **extra))
    if agent == "ppo":  # PPO's plain Gaussian is not squashed: it keeps an unbounded box, unclipped.
        assert ppo.make_train(ppo.Config(env=name, episode_length=10)).num_iterations > 0
        # BC's deterministic tanh actor likewise, its Gaussian not (the spec check every agent's build runs).
        spec = jaxrl.make(name).spec()
        with pytest.raises(ValueError, match=r"^bc\.Config\.env: bc\.Config\.loss='mse' \(a deterministic tanh "
                                             r"actor\) acts in \[-1, 1\]"):
            jaxrl.agents.get("bc").Config(env=name, loss="mse").check_spec(spec)
        jaxrl.agents.get("bc").Config(env=name, loss="nll").check_spec(spec)


@pytest.mark.parametrize("name, direct_rl, env, hint", [
    ("sac", None, "CartPole-v1", "dqn, pqn, r2d2, impala or ppo for discrete actions"),
    ("iql", None, "CartPole-v1", "bc, cql or bve for discrete actions"),
    ("bve", None, "Pendulum-v1", "bc, td3_bc, cql, iql or crr for continuous actions"),
    ("sacfd", None, "CartPole-v1", "dqfd for discrete actions"),
    ("dqfd", None, "Pendulum-v1", "sacfd or td3fd for continuous actions"),
    ("ail", "td3", "CartPole-v1", "direct_rl='ppo' for discrete actions"),
    ("sqil", "dqn", "Pendulum-v1", "direct_rl='sac' for continuous actions"),
])
def test_a_refusal_for_the_kind_of_actions_names_the_agents_that_take_them(name, direct_rl, env, hint):
    # Offline, demonstration and imitation agents were pointed at the online agents.
    module = jaxrl.agents.get(name)
    config = module.config(direct_rl, env=env) if direct_rl else module.Config(env=env)
    with pytest.raises(ValueError, match=rf"^{name}\.Config\.env: .*; use {re.escape(hint)}$"):
        config.check_spec(builder.make_eval_env(config).spec())


def test_configs_keep_python_values_for_lists_and_numpy_or_jax_scalars():
    # NumPy/JAX scalars were refused as out of range ("learning_rate must be > 0, got
    # np.float32(0.0003)"), and a list of hidden sizes trained but made the Config unhashable, so
    # make_policy and evaluate_policy (which cache on it) failed after training.
    given = ppo.Config(learning_rate=np.float32(3e-4), gamma=jnp.float32(0.99), num_envs=np.int64(4),
                       hidden_sizes=[np.int64(16), 16], normalize_advantages=np.bool_(True))
    plain = ppo.Config(learning_rate=float(np.float32(3e-4)), gamma=float(jnp.float32(0.99)), num_envs=4,
                       hidden_sizes=(16, 16), normalize_advantages=True)
    assert given == plain and hash(given) == hash(plain)
    assert [type(v) for v in (given.learning_rate, given.num_envs, given.normalize_advantages)] == [float, int, bool]
    assert type(given.hidden_sizes) is tuple and type(given.hidden_sizes[0]) is int
    with pytest.raises(ValueError, match=r"^ppo\.Config\.learning_rate must be > 0, got -0\.5"):
        ppo.Config(learning_rate=np.float32(-0.5))


def test_hparams_come_from_the_config_fields_of_the_same_name():
    config = dqn.Config(learning_rate=1e-3, gamma=0.9)
    hparams = config.hparams()
    assert {f.name for f in dataclasses.fields(hparams)} == {f.name for f in dataclasses.fields(dqn.HParams)}
    np.testing.assert_array_equal(hparams.learning_rate, np.float32(1e-3))
    np.testing.assert_array_equal(hparams.gamma, np.float32(0.9))
    assert hparams.gamma.dtype == jnp.float32 and hparams.gamma.shape == ()


# ---- chunked == one call, for every agent ------------------------------------------------------

# Tiny configs with 4 iterations: two chunks of 2 compile one chunk program.
TINY = {
    "ppo": dict(env="CartPole-v1", total_timesteps=512, num_envs=4, rollout_length=32, num_epochs=1,
                num_minibatches=2, hidden_sizes=(16,)),
    "dqn": dict(env="CartPole-v1", total_timesteps=800, num_envs=4, buffer_size=400, batch_size=32,
                learning_starts=200, train_every=4, target_update_every=40, steps_per_iteration=200,
                hidden_sizes=(16,)),
    "pqn": dict(env="CartPole-v1", total_timesteps=512, num_envs=4, rollout_length=32, num_epochs=1,
                num_minibatches=2, hidden_sizes=(16,)),
    "recurrent_ppo": dict(env="MaskedCartPole-v1", total_timesteps=512, num_envs=4, rollout_length=32, num_epochs=1,
                          num_minibatches=2, hidden_sizes=(16,), core_size=8),
    # Lagged actors: their parameter queue is actor state, chunked and resumed with the rest.
    "impala": dict(env="CartPole-v1", total_timesteps=512, num_envs=4, rollout_length=32, num_minibatches=2,
                   policy_lag=1, hidden_sizes=(16,)),
    # Recurrent actor, sequence adder and prioritized sequences: all of it in the TrainState.
    "r2d2": dict(env="MaskedCartPole-v1", total_timesteps=512, num_envs=4, steps_per_iteration=128, train_every=8,
                 learning_starts=64, buffer_size=64, batch_size=8, sequence_length=4, burn_in=2, sequence_period=2,
                 n_step=2, target_update_every=32, hidden_sizes=(16,), core_size=8),
}
for _name in ("ddpg", "td3", "sac", "d4pg", "mpo"):
    TINY[_name] = dict(env="Pendulum-v1", total_timesteps=800, learning_starts=200, steps_per_iteration=200,
                       buffer_size=800, batch_size=32, hidden_sizes=(16,))


# PPO's vmapped population in two chunks is tests/test_backend_paths.py's, on both cpu_tricks paths.
@pytest.mark.parametrize("name", [name for name in AGENT_NAMES if name != "ppo"])
def test_two_chunks_of_a_vmapped_population_equal_one_call(name):
    module = jaxrl.agents.get(name)
    train = module.make_train(module.Config(**TINY[name]))
    assert train.num_iterations == 4
    # Every learner metric too (DQN's loss differed in the last bit), and the final state.
    one = chunks_and_one_call(train, jax.random.split(jax.random.key(0), 2))
    # The run learned something: the learner's losses moved (the test is not of a frozen program).
    loss = {"ppo": "total_loss", "recurrent_ppo": "total_loss", "impala": "total_loss", "dqn": "loss",
            "pqn": "loss", "r2d2": "loss"}.get(name, "critic_loss")
    assert not np.all(one.metrics[loss][:, -1] == one.metrics[loss][:, -2])


# ---- actor state --------------------------------------------------------------------------------


def counting(agent: Agent) -> Agent:
    """`agent` with an actor state: per env, the steps taken in the current episode, reset where
    one ends; and the number of times the learner's parameters were pulled (`sync_actor`)."""

    def init_actor(agent_state, num_envs):
        return {"steps": jnp.zeros((num_envs,), jnp.int32), "syncs": jnp.zeros((), jnp.int32)}

    def act(agent_state, actor_state, observation, key, hparams, eval=False, env_steps=None):
        action, _, extras = agent.act(agent_state, None, observation, key, hparams, eval, env_steps)
        extras = {**extras, "steps_before": actor_state["steps"]}
        return action, {**actor_state, "steps": actor_state["steps"] + 1}, extras

    def reset_actor(actor_state, last):
        return {**actor_state, "steps": jnp.where(last, 0, actor_state["steps"])}

    def sync_actor(actor_state, agent_state):
        return {**actor_state, "syncs": actor_state["syncs"] + 1}

    return agent._replace(act=act, init_actor=init_actor, reset_actor=reset_actor, sync_actor=sync_actor)


def _episode_lengths(env_state):
    stats = [x for x in jax.tree.leaves(env_state, is_leaf=lambda x: isinstance(x, EpisodeStatisticsState))
             if isinstance(x, EpisodeStatisticsState)]
    assert len(stats) == 1
    return stats[0].episode_length


def test_rollout_threads_and_resets_the_actor_state():
    config = ppo.Config(**TINY["ppo"])
    env = builder.make_env(config)
    agent = counting(ppo.make_agent(config, env.spec()))
    env_state, timestep = env.reset(jax.random.key(0))
    agent_state = agent.init(jax.random.key(1), env.spec(), config.hparams())
    actor_state = agent.init_actor(agent_state, 4)
    actor_state, env_state, _, trajectory, _ = jax.jit(on_policy.rollout, static_argnums=(0, 1, 7))(
        env, agent, agent_state, actor_state, env_state, timestep.observation, jax.random.key(2), 64,
        config.hparams())
    before, last = np.asarray(trajectory.extras["steps_before"]), np.asarray(trajectory.last)
    assert last.any()  # random CartPole episodes end within 64 steps
    expected = np.zeros(4, np.int64)
    for t in range(64):
        np.testing.assert_array_equal(before[t], expected)
        expected = np.where(last[t], 0, expected + 1)
    np.testing.assert_array_equal(actor_state["steps"], expected)
    np.testing.assert_array_equal(actor_state["steps"], _episode_lengths(env_state))


@pytest.mark.parametrize("loop", ["on_policy", "off_policy"])
def test_train_state_carries_the_actor_state_through_chunks(loop):
    name = "ppo" if loop == "on_policy" else "dqn"
    config = jaxrl.agents.get(name).Config(**TINY[name])
    env = builder.make_env(config)
    agent = counting(jaxrl.agents.get(name).make_agent(config, env.spec()))
    if loop == "on_policy":
        train = on_policy.make_train(env, agent, rollout_length=config.rollout_length, num_iterations=4,
                                     default_hparams=config.hparams())
    else:
        train = off_policy.make_train(env, agent, dqn.make_buffer(config), default_hparams=config.hparams(),
                                      **config.loop_schedule())
    one = jax.jit(train)(jax.random.key(0))
    state = jax.jit(train.init)(jax.random.key(0))
    state, _ = jax.jit(lambda s: train.run(s, 2))(state)
    state, _ = jax.jit(lambda s: train.run(s, 2))(state)
    assert_trees_equal(state, one.state)
    # The counter carried across iterations equals each env's running episode length.
    np.testing.assert_array_equal(one.state.actor_state["steps"], _episode_lengths(one.state.env_state))
    # The actor pulled the learner's parameters after every update: once per iteration on-policy,
    # once per update period after the warm-up off-policy.
    if loop == "on_policy":
        assert int(one.state.actor_state["syncs"]) == 4
    else:
        periods = config.loop_schedule()["periods_per_iteration"] * 4
        warmup_periods = config.learning_starts // config.period_env_steps
        assert int(one.state.actor_state["syncs"]) == periods - warmup_periods


# ---- a population shares its counters -----------------------------------------------------------


def _primitive_counts(jaxpr):
    """{primitive name: uses} over a jaxpr and every jaxpr nested in it (scan, cond, pjit...)."""
    return collections.Counter(eqn.primitive.name for eqn in jaxpr_equations(jaxpr))


@pytest.mark.parametrize("name, conds", [("dqn", 2), ("td3", 3)])
def test_a_vmapped_population_keeps_the_single_runs_conditionals(name, conds):
    # The members' counters (iteration, env steps, replay positions, the learner's update count)
    # are one shared value inside `run` (`common.shared_counters`): the warm-up and learning-start
    # `cond`s, and TD3's delayed actor step, stay conditionals under vmap instead of selects that
    # run both branches, and replay writes keep shared rows.
    train = jaxrl.agents.get(name).make_train(jaxrl.agents.get(name).Config(**TINY[name]))
    keys = jax.random.split(jax.random.key(0), 2)
    # Traced from the states' shapes alone (jax.eval_shape): nothing here needs to run.
    single = _primitive_counts(jax.make_jaxpr(lambda s: train.run(s, 2))(jax.eval_shape(train.init, keys[0])).jaxpr)
    states = jax.eval_shape(jax.vmap(train.init), keys)  # every leaf batched, as the driver's chunks get them
    population = _primitive_counts(jax.make_jaxpr(jax.vmap(lambda s: train.run(s, 2)))(states).jaxpr)
    assert single["cond"] >= conds  # the warm-up's random actions, the learning start (TD3: its actor step)
    for primitive in ("cond", "select_n", "scatter"):
        assert population.get(primitive, 0) == single.get(primitive, 0), primitive


def test_shared_counters_read_the_first_member_under_vmap_and_nothing_outside():
    state = jax.vmap(jax.jit(jaxrl.agents.get("ppo").make_train(ppo.Config(**TINY["ppo"])).init))(
        jax.random.split(jax.random.key(0), 3))
    state = state.replace(iteration=jnp.array([5, 5, 5], jnp.int32))
    shared = jax.vmap(lambda s: common.shared_counters(s).iteration, out_axes=None)(state)  # unbatched
    assert int(shared) == 5
    single = jax.tree.map(lambda x: x[0], state)
    assert_trees_equal(common.shared_counters(single), single)
    # The agent state's update count (DQN's, TD3's) too.
    state = jax.vmap(jax.jit(dqn.make_train(dqn.Config(**TINY["dqn"])).init))(jax.random.split(jax.random.key(0), 3))
    state = state.replace(agent_state=state.agent_state.replace(num_updates=jnp.array([7, 7, 7], jnp.int32)))
    shared = jax.vmap(lambda s: common.shared_counters(s).agent_state.num_updates, out_axes=None)(state)
    assert int(shared) == 7


# ---- config bases: defaults, ranges -------------------------------------------------------------


def test_defaults_change_an_inherited_default_in_place():
    from jaxrl.agents.config import OffPolicyConfig

    assert dqn.Config().buffer_size == 10_000 and dqn.Config().max_grad_norm == 10.0
    assert jaxrl.agents.get("sac").Config().buffer_size == 100_000  # the base's default, untouched
    assert jaxrl.agents.get("td3").Config().actor_learning_rate == 3e-4  # DDPG's subclass, its own default
    assert jaxrl.agents.get("ddpg").Config().actor_learning_rate == 1e-4
    # The field keeps its place among the base's fields (the CLI's and config.json's order).
    base = [f.name for f in dataclasses.fields(OffPolicyConfig)]
    assert [f.name for f in dataclasses.fields(dqn.Config) if f.name in base] == base
    with pytest.raises(TypeError, match=r"Bad\.defaults names \['bufer_size'\]: not fields declared by a base"):
        @dataclasses.dataclass(frozen=True)
        class Bad(OffPolicyConfig):
            defaults = dict(bufer_size=10)
    with pytest.raises(TypeError, match=r"Worse\.ranges names \['nope'\], which are not fields"):
        @dataclasses.dataclass(frozen=True)
        class Worse(OffPolicyConfig):
            ranges = dict(nope=config_lib.UNIT)


def test_ranges_hold_and_say_what_they_require():
    cases = [(config_lib.UNIT, [0, 0.5, 1.0], [-0.1, 1.01, float("nan"), True, "0.5", None], "must be in [0, 1]"),
             (config_lib.STEP, [1e-9, 1.0], [0.0, 1.5], "must be in (0, 1]"),
             (config_lib.Range(0.5, 1.0, high_open=True), [0.5, 0.999], [1.0, 0.49], "must be in [0.5, 1)"),
             (config_lib.POSITIVE, [1e-9, 1e9], [0.0, -1.0, float("inf")], "must be > 0"),
             (config_lib.NON_NEGATIVE, [0.0, 3], [-1e-9], "must be >= 0"),
             (config_lib.FINITE, [-1e30, 0, 2.5], [float("inf"), float("-inf"), None], "must be a finite number"),
             (config_lib.at_least(2), [2, 100], [1, 2.0, True, None], "must be an int >= 2"),
             (config_lib.at_least(1).or_none(), [None, 1], [0, 1.5], "must be an int >= 1 or None"),
             (config_lib.OneOf(("huber", "mse")), ["mse"], ["MSE", None], "must be 'huber' or 'mse'"),
             (config_lib.BOOL, [True, False], [1, 0, None], "must be False or True")]
    for allowed, good, bad, what in cases:
        assert allowed.what == what
        assert all(allowed.holds(x) for x in good), (what, good)
        assert not any(allowed.holds(x) for x in bad), (what, bad)


@pytest.mark.parametrize("name", AGENT_NAMES + OFFLINE_NAMES + DEMONSTRATION_NAMES)
def test_every_numeric_or_option_field_declares_its_range(name):
    # Sweeps and population-based training perturb settings within these ranges; a field without
    # one would be unchecked. (env, hidden_sizes and activation are checked by AgentConfig.check.)
    config_cls = jaxrl.agents.get(name).Config
    ranges = config_cls.all_ranges()
    unranged = [f.name for f in dataclasses.fields(config_cls)
                if f.name not in ranges and f.name not in ("env", "hidden_sizes", "activation")]
    assert not unranged
    for field, allowed in ranges.items():  # every default lies in its own range
        assert allowed.holds(getattr(config_cls(), field)), field
