"""DQN and the off-policy loop: losses against hand computations, the target network and epsilon
schedules, the loop's warm-up and update cadence, chunking, options, config checks, learning."""

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import assert_trees_equal
from jax.flatten_util import ravel_pytree

from jaxrl import driver, losses
from jaxrl.agents import builder, dqn
from jaxrl.loops import off_policy
from jaxrl.types import Transition

# Small: 10 envs, 4 iterations of 200 env steps, learning after 200 env steps.
SMALL = dqn.Config(num_envs=10, total_timesteps=800, steps_per_iteration=200, buffer_size=500, batch_size=32,
                   learning_starts=200, train_every=20, updates_per_step=2, target_update_every=100)
# Every option at once: dueling C51 heads, 3-step returns, prioritized replay, Polyak (Huber is
# for scalar Q: C51 learns by its cross-entropy, and refuses loss="huber").
OPTIONS = SMALL.__class__(**{**SMALL.__dict__, "dueling": True, "num_atoms": 11, "v_min": 0.0, "v_max": 50.0,
                             "n_step": 3, "prioritized": True, "tau": 0.1,
                             "target_update_every": 10, "train_every": 10, "updates_per_step": 1})


@pytest.fixture(scope="module")
def small_train():
    return dqn.make_train(SMALL)


@pytest.fixture(scope="module")
def small_out(small_train):
    return jax.jit(small_train)(jax.random.key(0))


# ---- losses, by hand ----------------------------------------------------------------------

def test_q_learning_td_errors_by_hand():
    q = jnp.array([[1.0, 2.0]])
    args = (q, jnp.array([1]), jnp.array([1.0]), jnp.array([0.5]), jnp.array([[10.0, 20.0]]))
    # Q-learning: max_a Q_target(s', a) = 20 -> 1 + 0.5 * 20 - 2 = 9.
    np.testing.assert_allclose(losses.q_learning_td_errors(*args, None), [9.0])
    # Double: the online net picks a* = 0 (5 > 3), valued by the target net: 1 + 0.5 * 10 - 2 = 4.
    np.testing.assert_allclose(losses.q_learning_td_errors(*args, jnp.array([[5.0, 3.0]])), [4.0])


def test_huber_by_hand():
    np.testing.assert_allclose(losses.huber(jnp.array([0.5, -3.0]), 1.0), [0.125, 2.5])


def test_categorical_q_learning_by_hand():
    atoms = jnp.array([0.0, 1.0, 2.0])
    # Online logits for the taken action 1 give probabilities (1/4, 1/2, 1/4).
    logits = jnp.array([[[0.0, 0.0, 0.0], [0.0, math.log(2.0), 0.0]]])
    # Target net at s': action 0 has mass 1/2 on atoms 0 and 2; action 1 all on atom 2.
    next_logits = jnp.array([[[0.0, -1e9, 0.0], [-1e9, -1e9, 0.0]]])
    reward, discount, action = jnp.array([0.5]), jnp.array([0.5]), jnp.array([1])
    # a* = 0 (double, chosen by next_q_online): 0.5 + 0.5 * {0, 2} = {0.5, 1.5}, each with mass
    # 1/2, projects to (1/4, 1/2, 1/4); the cross-entropy with (1/4, 1/2, 1/4) is its entropy.
    expected = -(0.5 * math.log(0.25) + 0.5 * math.log(0.5))
    got = losses.categorical_q_learning_losses(atoms, logits, action, reward, discount, next_logits,
                                               jnp.array([[1.0, 0.0]]))
    np.testing.assert_allclose(got, [expected], rtol=1e-5)
    # Without double, a* = argmax of the target's means: action 1 (mean 2 > 1): 0.5 + 1 = 1.5
    # projects to (0, 1/2, 1/2): cross-entropy -(1/2 log 1/2 + 1/2 log 1/4).
    got = losses.categorical_q_learning_losses(atoms, logits, action, reward, discount, next_logits, None)
    np.testing.assert_allclose(got, [-(0.5 * math.log(0.5) + 0.5 * math.log(0.25))], rtol=1e-5)


def _batch(size=8, seed=0):
    k1, k2, k3 = jax.random.split(jax.random.key(seed), 3)
    transitions = Transition(
        observation=jax.random.normal(k1, (size, 4)),
        action=jax.random.randint(k2, (size,), 0, 2),
        reward=jnp.ones((size,)),
        discount=jnp.where(jnp.arange(size) % 3 == 0, 0.0, 1.0),
        last=jnp.arange(size) % 3 == 0,
        next_observation=jax.random.normal(k3, (size, 4)),
        extras={},
    )
    return off_policy.ReplayBatch(transitions, jnp.ones((size,)))


def test_dqn_loss_weights_the_per_item_loss_and_reports_td_errors_as_priorities():
    spec = builder.make_env(SMALL).spec()
    network = _network(SMALL, spec)
    params = network.init(jax.random.key(0), jnp.zeros((1, 4)))
    target = network.init(jax.random.key(1), jnp.zeros((1, 4)))  # a different net, as a target
    batch, hp = _batch(), SMALL.hparams()
    t = batch.transitions
    loss, metrics = dqn.dqn_loss(SMALL, network, params, target, batch, hp)
    q, next_online, next_target = (network.apply(p, o) for p, o in
                                   [(params, t.observation), (params, t.next_observation),
                                    (target, t.next_observation)])
    best = jnp.argmax(next_online, axis=1)
    y = t.reward + 0.99 * t.discount * next_target[jnp.arange(8), best]
    td = y - q[jnp.arange(8), t.action]
    np.testing.assert_allclose(loss, jnp.mean(0.5 * td**2), rtol=1e-5)
    np.testing.assert_allclose(metrics[off_policy.PRIORITIES], jnp.abs(td), rtol=1e-5)
    weights = jnp.linspace(0.0, 1.0, 8)
    weighted, _ = dqn.dqn_loss(SMALL, network, params, target, batch._replace(weights=weights), hp)
    np.testing.assert_allclose(weighted, jnp.mean(weights * 0.5 * td**2), rtol=1e-5)
    # Huber (delta 0.5 here, from the traced hparams): 0.5 td^2 inside, 0.5 (|td| - 0.25) outside.
    huber = SMALL.__class__(**{**SMALL.__dict__, "loss": "huber", "huber_delta": 0.5})
    loss, metrics = dqn.dqn_loss(huber, network, params, target, batch._replace(weights=weights), huber.hparams())
    abs_td = np.abs(np.asarray(td))
    expected = np.where(abs_td <= 0.5, 0.5 * abs_td**2, 0.5 * (abs_td - 0.25))
    assert 0 < np.sum(abs_td <= 0.5) < 8, abs_td  # both branches taken
    np.testing.assert_allclose(loss, np.mean(np.asarray(weights) * expected), rtol=1e-5)
    np.testing.assert_allclose(metrics[off_policy.PRIORITIES], abs_td, rtol=1e-5)


# ---- actor and learner ------------------------------------------------------------------

def test_epsilon_schedule_is_linear_then_constant():
    config = dqn.Config(total_timesteps=1000, steps_per_iteration=100, learning_starts=0, exploration_fraction=0.5,
                        epsilon_start=1.0, epsilon_end=0.1)
    eps = [float(dqn.epsilon(config, config.hparams(), jnp.int32(s))) for s in (0, 250, 500, 900)]
    np.testing.assert_allclose(eps, [1.0, 0.55, 0.1, 0.1], rtol=1e-6)


def test_acting_is_greedy_in_eval_and_at_epsilon_zero_and_uniform_at_one():
    spec = builder.make_env(SMALL).spec()
    agent, network = dqn.make_agent(SMALL, spec), _network(SMALL, spec)
    obs = jax.random.normal(jax.random.key(3), (1000, 4))
    state = agent.init(jax.random.key(0), spec, SMALL.hparams())
    greedy = jnp.argmax(network.apply(_as_pytree(network, state.params), obs), axis=1)
    for eps, eval in [(0.0, False), (1.0, True)]:
        hparams = SMALL.hparams().replace(epsilon_start=jnp.float32(eps))
        action, _, _ = agent.act(state, None, obs, jax.random.key(1), hparams, eval, jnp.int32(0))
        np.testing.assert_array_equal(action, greedy)
    # epsilon 1 at step 0
    action, _, _ = agent.act(state, None, obs, jax.random.key(1), SMALL.hparams(), False, jnp.int32(0))
    assert abs(float(jnp.mean(action)) - 0.5) < 0.06  # uniform over 2 actions; 1000 draws, sd ~0.016


def _network(config, spec):
    return dqn.make_network(spec, config.hidden_sizes, config.activation, config.dueling, config.num_atoms)


def _as_pytree(network, flat_params):
    # The learner keeps a flat vector; the network is applied to its pytree.
    tree = network.init(jax.random.key(0), jnp.zeros((1, 4)))
    return ravel_pytree(tree)[1](flat_params)


def test_hard_target_copy_every_target_period_updates():
    config = dqn.Config(train_every=10, updates_per_step=1, target_update_every=30, learning_starts=0,
                        total_timesteps=1000, steps_per_iteration=100)
    assert config.target_period == 3
    spec = builder.make_env(config).spec()
    agent = dqn.make_agent(config, spec)
    state = agent.init(jax.random.key(0), spec, config.hparams())
    last_copy = state.params  # the target starts as a copy of the online network
    update = jax.jit(agent.update)
    for i in range(1, 7):
        state, _ = update(state, _batch(seed=i), jax.random.key(i), config.hparams())
        if i % 3:
            np.testing.assert_array_equal(state.target_params, last_copy)
            assert not np.array_equal(state.target_params, state.params)
        else:
            np.testing.assert_array_equal(state.target_params, state.params)
            last_copy = state.params


def test_annealed_learning_rate_falls_linearly_to_zero_at_the_runs_last_update():
    # 40 env steps of 10 envs, an update every 10 from the start: 4 updates in the run.
    config = dqn.Config(num_envs=10, train_every=10, updates_per_step=1, learning_starts=0, total_timesteps=40,
                        steps_per_iteration=40, batch_size=10, learning_rate=1e-3, anneal_lr=True)
    assert config.total_updates == 4
    schedule = config.learning_rate_schedule(jnp.float32(1e-3))
    np.testing.assert_allclose([schedule(jnp.int32(c)) for c in range(6)], [1e-3, 7.5e-4, 5e-4, 2.5e-4, 0.0, 0.0],
                               rtol=1e-6)
    constant = dataclasses.replace(config, anneal_lr=False)
    assert constant.learning_rate_schedule(1e-3) == 1e-3
    spec = builder.make_env(config).spec()
    annealed, plain = (jax.jit(dqn.make_agent(c, spec).update) for c in (config, constant))
    state = dqn.make_agent(config, spec).init(jax.random.key(0), spec, config.hparams())
    # The first step is the constant rate's, bit for bit; the fifth, past the run's end, moves nothing.
    first, _ = annealed(state, _batch(seed=1), jax.random.key(1), config.hparams())
    np.testing.assert_array_equal(first.params,
                                  plain(state, _batch(seed=1), jax.random.key(1), config.hparams())[0].params)
    for i in range(2, 5):
        first, _ = annealed(first, _batch(seed=i), jax.random.key(i), config.hparams())
    fifth, _ = annealed(first, _batch(seed=5), jax.random.key(5), config.hparams())
    np.testing.assert_array_equal(fifth.params, first.params)
    assert not np.array_equal(plain(first, _batch(seed=5), jax.random.key(5), config.hparams())[0].params,
                              first.params)


def test_polyak_target_update():
    config = dqn.Config(target_update_every=10, train_every=10, tau=0.25, learning_starts=0,
                        total_timesteps=1000, steps_per_iteration=100)
    spec = builder.make_env(config).spec()
    agent = dqn.make_agent(config, spec)
    state = agent.init(jax.random.key(0), spec, config.hparams())
    new, _ = jax.jit(agent.update)(state, _batch(), jax.random.key(0), config.hparams())
    np.testing.assert_allclose(new.target_params, 0.25 * new.params + 0.75 * state.target_params, rtol=1e-6)


# ---- the loop ------------------------------------------------------------------------------

def test_metrics_warm_up_and_update_cadence(small_out):
    m = small_out.metrics
    np.testing.assert_array_equal(m["env_steps"], [200, 400, 600, 800])
    # No updates in the warm-up (the first 200 env steps); then 2 per 20 env steps.
    np.testing.assert_array_equal(m["updates"], [0, 20, 20, 20])
    assert m["loss"][0] == 0 and np.all(np.isfinite(m["loss"])) and np.all(m["loss"][1:] > 0)
    assert int(small_out.state.agent_state.num_updates) == SMALL.total_updates == 60
    replay = small_out.state.buffer_state.replay
    assert int(replay.size) == 500 and int(replay.insert_position) == 800 % 500


def test_chunked_run_is_bit_identical_to_one_call(small_train, small_out):
    run = jax.jit(small_train.run, static_argnums=1)
    state = jax.jit(small_train.init)(jax.random.key(0))
    state, first = run(state, 1)
    state, rest = run(state, 3)
    metrics = jax.tree.map(lambda a, b: jnp.concatenate([a, b]), first, rest)
    assert_trees_equal(state, small_out.state)
    assert_trees_equal(metrics, small_out.metrics)


@pytest.fixture(scope="module")
def options_out():
    train = dqn.make_train(OPTIONS)
    keys = jax.random.split(jax.random.key(0), 2)
    return train, jax.jit(jax.vmap(train))(keys)


def test_all_options_together_run_vmapped(options_out):
    train, out = options_out
    m = out.metrics
    # 3-step returns: init takes 2 steps of 10 envs to fill the window, so the first iteration
    # covers env steps 20..220, whose last two 10-step periods end after the 200-step warm-up.
    np.testing.assert_array_equal(m["env_steps"][0], [220, 420, 620, 820])
    assert driver.progress_total(train) == 820  # the progress bar ends at 100%, not 101%
    np.testing.assert_array_equal(m["updates"][0], [2, 20, 20, 20])
    # The count an annealed learning rate reaches 0 at is the loop's, the n-step prefill included.
    np.testing.assert_array_equal(out.state.agent_state.num_updates, OPTIONS.total_updates)
    assert OPTIONS.total_updates == 62
    assert all(np.all(np.isfinite(v)) for v in jax.tree.leaves(m))
    replay = out.state.buffer_state.replay
    # Prioritized: the learner reprioritised sampled items, so priorities now differ.
    leaves = replay.sum_tree[:, replay.sum_tree.shape[1] // 2:][:, :500]
    assert np.all(np.asarray(leaves) > 0) and len(np.unique(np.asarray(leaves[0]))) > 10
    # n-step transitions carry the whole bootstrap factor: gamma^m * prod(d), m <= 3.
    discounts = np.unique(np.asarray(replay.data.discount))
    allowed = np.array([0.0, 0.99, 0.99**2, 0.99**3])
    assert np.all(np.min(np.abs(discounts[:, None] - allowed), axis=1) < 1e-6), discounts
    assert np.any(np.abs(discounts - 0.99**3) < 1e-6)


def test_vmapped_seed_matches_a_single_run(options_out):
    train, out = options_out
    single = jax.jit(train)(jax.random.split(jax.random.key(0), 2)[1])
    np.testing.assert_array_equal(single.metrics["env_steps"], out.metrics["env_steps"][1])
    np.testing.assert_allclose(single.metrics["episode_return"], out.metrics["episode_return"][1], rtol=1e-5)


# ---- config checks -------------------------------------------------------------------------

@pytest.mark.parametrize(
    "kwargs, field",
    [
        (dict(train_every=7), "train_every"),
        (dict(steps_per_iteration=1005), "steps_per_iteration"),
        (dict(target_update_every=505), "target_update_every"),
        (dict(batch_size=20_000), "batch_size"),
        (dict(learning_starts=-1), "learning_starts"),
        (dict(learning_starts=15), "learning_starts"),
        (dict(num_atoms=1), "num_atoms"),
        (dict(num_atoms=51, v_min=10.0, v_max=0.0), "v_max"),
        (dict(num_atoms=51, loss="huber"), "loss must be 'mse'"),  # it was accepted, and ignored
        (dict(total_timesteps=2000, learning_starts=0, batch_size=4000, buffer_size=5000),
         "batch_size must be <= total_timesteps=2000, or replay never holds a batch"),
        (dict(loss="l1"), "loss"),
        (dict(gamma=1.01), "gamma"),
        (dict(tau=0.0), "tau"),
        (dict(epsilon_end=-0.1), "epsilon_end"),
        (dict(exploration_fraction=0.0), "exploration_fraction"),
        (dict(importance_exponent=2.0), "importance_exponent"),
        (dict(learning_rate=float("inf")), "learning_rate"),
        (dict(n_step=0), "n_step"),
    ],
)
def test_bad_config_raises_naming_the_field(kwargs, field):
    with pytest.raises(ValueError, match=f"dqn.Config.{field}"):
        dqn.Config(**kwargs)


def test_continuous_env_is_refused_before_tracing():
    with pytest.raises(ValueError, match="Pendulum-v1.*discrete actions|discrete actions.*Pendulum-v1"):
        dqn.make_train(dqn.Config(env="Pendulum-v1"))


# ---- learning ------------------------------------------------------------------------------
# DQN's learning test in `make test` is the n-step prioritized dueling one below (100k steps, two
# seeds); the 300k-step budget over 4 seeds (the longer evidence, ~80 s of worker time on a
# slow 2-core host) runs in `make check`.

@pytest.mark.check
def test_dqn_learns_cartpole_within_300k_steps():
    # The budget: mean final return >= 400 over 4 vmapped seeds within 300k env steps,
    # at PureJaxRL's settings with epsilon annealed over the first 10% of the run. The final return
    # is the trained policy's: greedy, over fresh evaluation episodes. The last iteration's training
    # episodes (epsilon 0.05, a few episodes) were a weaker witness: over 16 sets of 4 keys their
    # mean passed 400 on 13, each failure one seed caught in DQN's late dips (15, 32, 161), while
    # greedy evaluation passed on all 16 (set means 416-500; lab notes, 2026-12-04).
    config = dqn.Config(env="CartPole-v1", total_timesteps=300_000, exploration_fraction=0.1)
    train = dqn.make_train(config)
    out = jax.jit(jax.vmap(train))(jax.random.split(jax.random.key(0), 4))
    assert out.metrics["env_steps"][0, -1] == 300_000
    greedy = np.asarray(jax.jit(jax.vmap(train.evaluate))(out.state, jax.random.split(jax.random.key(1), 4)))
    assert greedy.mean() >= 400, (greedy, np.asarray(out.metrics["episode_return"][:, -1]))


@pytest.mark.slow
def test_n_step_prioritized_dueling_dqn_learns_cartpole_quickly():
    # The options together (3-step returns, prioritized replay, dueling heads) learn, not just run:
    # both seeds pass 300 within 100k env steps and hold it: the median of the last 10 iterations'
    # greedy returns (measured: ~500 from ~60k steps on). Not the last iteration alone: on one
    # machine (jax 0.10.2, AMD EPYC) seed 0 held 500 for 48 iterations, then DQN's familiar late
    # collapse took its last two evaluations to 58 and 10.
    config = dqn.Config(env="CartPole-v1", total_timesteps=100_000, exploration_fraction=0.1, n_step=3,
                        prioritized=True, dueling=True)
    out = jax.jit(jax.vmap(dqn.make_train(config)))(jax.random.split(jax.random.key(0), 2))
    late = np.median(np.asarray(out.metrics["episode_return"][:, -10:]), axis=1)
    assert late.min() >= 300, np.asarray(out.metrics["episode_return"][:, -10:])
