"""R2D2: sequence targets by hand, burn-in from the stored state without gradient, the actor's
stored states, errors, and learning: a cue recalled through an episode (tests/recall_cue.py) in
`make test`, velocity-masked CartPole where feed-forward DQN cannot in `make check`."""

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import recall_cue

from jaxrl import networks, replay
from jaxrl.agents import StatefulPolicy, builder, dqn, evaluate_policy, load_policy, r2d2, save_policy
from jaxrl.envs.wrappers import normalize
from jaxrl.loops import off_policy
from jaxrl.types import Transition

# 4 envs of velocity-masked CartPole, sequences of 6 steps (2 of burn-in) every 2 steps.
TINY = r2d2.Config(num_envs=4, total_timesteps=480, steps_per_iteration=48, train_every=8, updates_per_step=1,
                   learning_starts=16, buffer_size=64, batch_size=16, sequence_length=6, burn_in=2, sequence_period=2,
                   core_size=8, hidden_sizes=(8,), target_update_every=16, n_step=2)


@pytest.fixture(scope="module")
def agent():
    spec = builder.make_env(TINY).spec()
    network = r2d2.make_network(spec, TINY)
    state = r2d2.make_agent(TINY, spec).init(jax.random.key(0), spec, TINY.hparams())
    return network, state


def test_n_step_targets_by_hand_with_a_termination_and_a_truncation():
    # t = 1 terminates (discount 0), t = 3 is truncated by a time limit (discount 1, bootstraps).
    steps = Transition(observation=jnp.zeros((5, 1, 1)), action=jnp.zeros((5, 1), jnp.int32),
                       reward=jnp.array([[1.0], [2.0], [3.0], [4.0], [5.0]]),
                       discount=jnp.array([[1.0], [0.0], [1.0], [1.0], [1.0]]),
                       last=jnp.array([[False], [True], [False], [True], [False]]),
                       next_observation=jnp.zeros((5, 1, 1)), extras={})
    bootstrap = jnp.array([[10.0], [20.0], [30.0], [40.0], [50.0]])  # value of each step's true successor
    targets = r2d2.n_step_targets(steps, bootstrap, 2, 0.5)
    # t0: 1 + .5 * 2, then the termination cuts the bootstrap; t1: 2; t2: 3 + .5 * 4 + .25 * 40 (the
    # truncated episode's final observation); t3: 4 + .5 * 40; t4: the sequence ends, 5 + .5 * 50.
    np.testing.assert_allclose(targets[:, 0], [2.0, 2.0, 15.0, 24.0, 30.0])


def _sequences(key, batch_size=3, length=6):
    """Random sequences of masked-CartPole-shaped steps, with episode ends inside them."""
    keys = jax.random.split(key, 5)
    observation = jax.random.normal(keys[0], (batch_size, length, 4))
    last = jax.random.bernoulli(keys[1], 0.2, (batch_size, length))
    steps = Transition(observation=observation, action=jax.random.randint(keys[2], (batch_size, length), 0, 2),
                       reward=jnp.ones((batch_size, length)), discount=jnp.where(last, 0.0, 1.0), last=last,
                       next_observation=observation + 0.1, extras={})
    zeros = networks.initial_carry("lstm", 8, (batch_size,))
    carry = jax.tree.map(lambda c: jax.random.normal(keys[3], c.shape), zeros)
    return replay.Sequence(steps=steps, start={"carry": carry}, valid=jnp.ones((batch_size, length), bool))


def test_burn_in_starts_from_the_stored_state_and_takes_no_gradient(agent):
    network, state = agent
    params, hparams = state.params, TINY.hparams()
    sequences = _sequences(jax.random.key(1))
    weights = jnp.array([1.0, 0.5, 2.0])

    def loss(config, p, s):
        return r2d2.r2d2_loss(config, network, p, params, s, weights, hparams)

    grads, metrics = jax.jit(jax.grad(lambda p: loss(TINY, p, sequences), has_aux=True))(params)
    # The same loss on the 4 trained steps alone, started from the burn-in's state given as a constant:
    # equal values, and equal gradients only if nothing flows back through the burn-in steps.
    refreshed = r2d2.burn_in_state(network, params, sequences, 2)
    trimmed = replay.Sequence(steps=jax.tree.map(lambda x: x[:, 2:], sequences.steps), start={"carry": refreshed},
                              valid=sequences.valid[:, 2:])
    no_burn_in = dataclasses.replace(TINY, burn_in=0, sequence_length=4)
    trimmed_grads, trimmed_metrics = jax.jit(jax.grad(lambda p: loss(no_burn_in, p, trimmed), has_aux=True))(params)
    np.testing.assert_allclose(metrics["loss"], trimmed_metrics["loss"], rtol=1e-6)
    np.testing.assert_allclose(metrics["priorities"], trimmed_metrics["priorities"], rtol=1e-5)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7), grads, trimmed_grads)
    # The burn-in does start from the stored state and reads its steps: changing either changes the loss.
    moved = sequences._replace(start={"carry": jax.tree.map(lambda c: c + 1.0, sequences.start["carry"])})
    assert abs(float(jax.jit(loss, static_argnums=0)(TINY, params, moved)[0] - metrics["loss"])) > 1e-6
    replayed = sequences._replace(steps=sequences.steps._replace(observation=sequences.steps.observation.at[:, :2]
                                                                 .add(1.0)))
    assert abs(float(jax.jit(loss, static_argnums=0)(TINY, params, replayed)[0] - metrics["loss"])) > 1e-6
    # Padding (steps before the run's first one) leaves the stored state as it is.
    padded = sequences._replace(valid=sequences.valid.at[:, :2].set(False))
    jax.tree.map(np.testing.assert_array_equal, r2d2.burn_in_state(network, params, padded, 2),
                 sequences.start["carry"])


@pytest.mark.parametrize("end", range(6))
def test_trained_q_values_are_the_actors_with_an_episode_ending_anywhere_in_the_sequence(agent, end):
    # The Q-values the loss trains on are those the actor computed stepping one observation at a
    # time and zeroing its state after a LAST step. An episode ending on the burn-in's last step
    # (end 1) once carried the old episode's state into the first trained step.
    network, state = agent
    params = state.params
    sequences = _sequences(jax.random.key(4), batch_size=1)
    last = jnp.zeros((1, 6), bool).at[0, end].set(True)
    sequences = sequences._replace(steps=sequences.steps._replace(last=last, discount=jnp.where(last, 0.0, 1.0)))
    _, metrics = jax.jit(r2d2.r2d2_loss, static_argnums=(0, 1))(TINY, network, params, params, sequences,
                                                                 jnp.ones(1), TINY.hparams())
    carry, taken = sequences.start["carry"], []
    for t in range(6):
        carry, q = network.apply(params, carry, sequences.steps.observation[:, t][None], jnp.zeros((1, 1), bool))
        taken.append(q[0, 0, sequences.steps.action[0, t]])
        carry = networks.reset_carry(carry, last[:, t])
    np.testing.assert_allclose(metrics["q_mean"], np.mean(taken[TINY.burn_in:]), rtol=1e-5, atol=1e-6)


def test_target_network_is_copied_or_moved_by_tau_every_target_period(agent):
    # TINY's target period: 16 env steps at one update per 8, every second update.
    network, state = agent
    batch = off_policy.ReplayBatch(_sequences(jax.random.key(2)), jnp.ones(3))
    for tau in (1.0, 0.25):
        config = dataclasses.replace(TINY, tau=tau)
        update = jax.jit(r2d2.make_agent(config, builder.make_env(config).spec()).update)
        first, _ = update(state, batch, jax.random.key(0), config.hparams())
        second, _ = update(first, batch, jax.random.key(1), config.hparams())
        jax.tree.map(np.testing.assert_array_equal, first.target_params, state.target_params)
        assert not np.array_equal(np.asarray(jax.tree.leaves(second.params)[0]),
                                  np.asarray(jax.tree.leaves(first.target_params)[0]))
        moved = jax.tree.map(lambda new, old: tau * new + (1 - tau) * old, second.params, first.target_params)
        check = np.testing.assert_array_equal if tau == 1.0 else functools.partial(np.testing.assert_allclose,
                                                                                    rtol=1e-6, atol=1e-7)
        jax.tree.map(check, second.target_params, moved)


def test_replayed_sequences_start_from_the_state_the_actor_acted_from(agent):
    network, _ = agent
    # With a zero learning rate the parameters stay those the actor used, so unrolling a stored
    # sequence over its first `period` steps from its stored state must give the state stored with
    # the env's next sequence (episodes end inside the sequences, so the resets are exercised).
    train = r2d2.make_train(TINY)
    hparams = TINY.hparams().replace(learning_rate=jnp.float32(0.0))
    state, metrics = jax.jit(lambda s: train.run(s, 1))(train.init(jax.random.key(2), hparams))
    # 6 update periods of 4 sequences: the warm-up ends after 2, replay holds a batch of 16 after 4,
    # so 3 updates, the count an annealed learning rate reaches 0 at (it once counted from the warm-up).
    assert int(metrics["updates"][0]) == dataclasses.replace(TINY, total_timesteps=48).total_updates == 3
    pushes, envs, period = 48 // 8, 4, 2
    assert int(state.buffer_state.replay.size) == pushes * envs  # one sequence per env per push
    data = jax.tree.map(lambda x: x[:pushes * envs], state.buffer_state.replay.data)
    np.testing.assert_array_equal(data.valid[:envs], [[False] * 4 + [True] * 2] * envs)  # padded first ones
    jax.tree.map(lambda c: np.testing.assert_array_equal(c[:envs], 0.0), data.start["carry"])
    assert bool(jnp.any(data.steps.last))
    steps = jax.tree.map(lambda x: jnp.swapaxes(x[:-envs, :period], 0, 1), data.steps)  # [period, S, ...]
    valid = jnp.swapaxes(data.valid[:-envs, :period], 0, 1)
    carry = jax.tree.map(lambda c: c[:-envs], data.start["carry"])
    unrolled, _ = network.apply(state.agent_state.params, carry, steps.observation, r2d2.episode_starts(steps.last),
                                valid)
    unrolled = networks.reset_carry(unrolled, steps.last[-1])  # the actor zeroes it where an episode ended
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b[envs:], rtol=1e-5, atol=1e-6), unrolled,
                 data.start["carry"])
    assert bool(jnp.any(data.start["carry"][0][envs:] != 0))


def test_config_errors_name_the_field():
    with pytest.raises(ValueError, match=r"^r2d2.Config.burn_in must be < sequence_length=20"):
        r2d2.Config(burn_in=20)
    with pytest.raises(ValueError, match=r"^r2d2.Config.train_every must be a multiple of num_envs \* "
                                         r"sequence_period = 80"):
        r2d2.Config(train_every=40)
    with pytest.raises(ValueError, match=r"^r2d2.Config.sequence_period must be <= sequence_length=20"):
        r2d2.Config(sequence_period=25)
    # Replay counts sequences: 1,600 steps of 8 envs store 160 of them, 8 each update period of 80 steps.
    with pytest.raises(ValueError, match=r"^r2d2.Config.batch_size must be <= the 160 sequences the run stores "
                                         r"\(total_timesteps / sequence_period\), or replay never holds a batch"):
        r2d2.Config(total_timesteps=1_600, learning_starts=0, batch_size=200)
    with pytest.raises(ValueError, match=r"^r2d2.Config.buffer_size must hold one update period's 8 sequences"):
        r2d2.Config(buffer_size=7, batch_size=4)
    with pytest.raises(ValueError, match=r"^r2d2.Config.n_step must be <= the trained steps of a sequence, "
                                         r"sequence_length - burn_in = 10"):
        r2d2.Config(n_step=11)
    with pytest.raises(ValueError, match=r"^r2d2.Config.env: R2D2 needs discrete actions, but Pendulum-v1 has "
                                         r"continuous ones \(a Box of shape \(1,\)\)"):
        r2d2.make_train(r2d2.Config(env="Pendulum-v1"))
    with pytest.raises(TypeError, match=r"r2d2.make_train takes a r2d2.Config, got a dqn.Config"):
        r2d2.make_train(dqn.Config())


# ---- learning -----------------------------------------------------------------------------------

# R2D2's learning test in `make test`: the cue of tests/recall_cue.py recalled through the episode,
# which no policy without memory can do (5.5 of 10 at best; 32 greedy episodes, so that luck in the
# cues cannot lift one to 9). 16k env steps at R2D2's defaults, 4 seeds: every seed's greedy return
# was 10 on two sets of keys. Velocity-masked CartPole against feed-forward DQN (the longer evidence,
# ~90 s of worker time on a slow 2-core host) runs in `make check`.
RECALL = r2d2.Config(env=recall_cue.NAME, total_timesteps=16_000, eval_episodes=32)


@pytest.fixture(scope="module")
def learned():
    train = r2d2.make_train(RECALL)
    out = jax.jit(jax.vmap(train))(jax.random.split(jax.random.key(0), 4))
    greedy = np.asarray(jax.jit(jax.vmap(train.evaluate))(out.state, jax.random.split(jax.random.key(1), 4)))
    return out, greedy


@pytest.mark.slow
def test_r2d2_recalls_a_cue_as_no_memoryless_policy_can(learned):
    out, greedy = learned
    assert int(out.metrics["env_steps"][0, -1]) == RECALL.total_timesteps
    # The count an annealed learning rate would reach 0 at is the loop's (no n-step prefill here).
    np.testing.assert_array_equal(out.state.agent_state.num_updates, RECALL.total_updates)
    recall_cue.assert_remembered(out, greedy)


# Velocity-masked CartPole, 4 vmapped seeds, 48k env steps at R2D2's defaults; feed-forward DQN gets
# the same budget, the same warm-up and normalised observations.
BUDGET = 48_000
MASKED = r2d2.Config(total_timesteps=BUDGET)


@pytest.mark.check
def test_r2d2_learns_masked_cartpole_where_feed_forward_dqn_cannot():
    keys = jax.random.split(jax.random.key(0), 4)
    eval_keys = jax.random.split(jax.random.key(1), 4)
    train = r2d2.make_train(MASKED)
    out = jax.jit(jax.vmap(train))(keys)
    greedy = np.asarray(jax.jit(jax.vmap(train.evaluate))(out.state, eval_keys))
    assert int(out.metrics["env_steps"][0, -1]) == BUDGET
    np.testing.assert_array_equal(out.state.agent_state.num_updates, MASKED.total_updates)
    final = np.asarray(out.metrics["episode_return"][:, -5:]).mean(axis=1)
    feed_forward = dqn.make_train(dqn.Config(env="MaskedCartPole-v1", total_timesteps=BUDGET, learning_starts=2_000,
                                             steps_per_iteration=1_600, normalize_observations=True))
    ff_out = jax.jit(jax.vmap(feed_forward))(keys)
    ff_greedy = np.asarray(jax.jit(jax.vmap(feed_forward.evaluate))(ff_out.state, eval_keys))
    ff_final = np.asarray(ff_out.metrics["episode_return"][:, -5:]).mean(axis=1)
    assert greedy.mean() >= ff_greedy.mean() + 100, (greedy, ff_greedy)
    assert final.mean() >= ff_final.mean() + 100, (final, ff_final)


def test_a_saved_r2d2_policy_carries_its_core_state_and_plays(learned, tmp_path):
    out, greedy = learned
    best = int(np.argmax(greedy))
    policy = r2d2.make_policy(RECALL, out.state, member=best)
    assert isinstance(policy, StatefulPolicy)
    loaded = load_policy(save_policy(str(tmp_path / "r2d2"), policy))
    # The policy is the argmax of the network unrolled over the observations it was given.
    observations = jax.random.normal(jax.random.key(3), (6, 2, 2))  # 6 steps of 2 envs
    spec = builder.make_env(RECALL).spec()
    params = jax.tree.map(lambda x: x[best], out.state.agent_state.params)
    normalized = normalize(policy.normalization, observations, policy.clip, policy.epsilon)  # the training statistics
    _, q = r2d2.make_network(spec, RECALL).apply(params, networks.initial_carry("lstm", 32, (2,)), normalized,
                                                 jnp.zeros((6, 2), bool))
    state, loaded_state = policy.initial_state(2), loaded.initial_state(2)
    for t in range(6):
        action, state = policy(observations[t], state)
        loaded_action, loaded_state = loaded(observations[t], loaded_state)
        np.testing.assert_array_equal(action, loaded_action)
        np.testing.assert_array_equal(action, np.argmax(q[t], axis=-1))
    assert float(evaluate_policy(loaded, 10)) >= 0.8 * greedy[best]
