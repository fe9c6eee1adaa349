"""IMPALA: config checks, the lagged actors' parameters, the on-policy case's exact ratios, vmapped
seeds, and learning CartPole at policy lag 0 and 4 through to the greedy policy a user saves."""

import dataclasses

import jax
import numpy as np
import pytest

from jaxrl.agents import Policy, StatefulPolicy, builder, evaluate_policy, impala, load_policy, save_policy

SMALL = impala.Config(num_envs=4, rollout_length=8, num_minibatches=2, total_timesteps=32 * 6, hidden_sizes=(16,))


def test_config_errors_name_the_field_before_compiling():
    with pytest.raises(ValueError, match=r"impala.Config.env: IMPALA needs discrete actions, but Pendulum-v1"):
        impala.make_train(impala.Config(env="Pendulum-v1"))
    with pytest.raises(ValueError, match=r"^impala.Config.num_minibatches must divide num_envs = 16 \(each "
                                         r"minibatch holds whole env unrolls\), got 32"):
        impala.Config(num_minibatches=32)
    with pytest.raises(ValueError, match=r"^impala.Config.policy_lag must be an int >= 0, got -1"):
        impala.Config(policy_lag=-1)
    with pytest.raises(ValueError, match=r"^impala.Config.vtrace_lambda must be in \[0, 1\], got 2"):
        impala.Config(vtrace_lambda=2)


def _iterations(config, count):
    """The train state after each of `count` iterations, one at a time (the chunked path)."""
    train = impala.make_train(config)
    state = jax.jit(train.init)(jax.random.key(0))
    run = jax.jit(train.run, static_argnums=1)
    states, metrics = [state], []
    for _ in range(count):
        state, m = run(state, 1)
        states.append(state)
        metrics.append(m)
    return states, metrics


def test_actors_act_with_the_parameters_of_policy_lag_iterations_before():
    lag = 2
    states, metrics = _iterations(dataclasses.replace(SMALL, policy_lag=lag), 5)
    leaves = lambda tree: jax.tree.leaves(tree)  # noqa: E731
    for k, state in enumerate(states):
        # After k iterations the queue holds the learner's parameters after iterations k-2, k-1, k
        # (the initial ones where negative), oldest first; the next rollout acts with those of k-2
        # while the learner holds those of k.
        assert leaves(state.actor_state.params)[0].shape[0] == lag + 1
        for slot in range(lag + 1):
            expected = states[max(0, k - lag + slot)].agent_state.params
            for got, want in zip(leaves(state.actor_state.params), leaves(expected)):
                np.testing.assert_array_equal(got[slot], want)
    # The lagged behaviour policy differs from the learner's once the learner has moved.
    assert float(metrics[-1]["behaviour_kl"][0]) > 1e-6


def test_without_lag_and_one_minibatch_the_behaviour_policy_is_the_learners():
    # On-policy, pi/mu = 1 for every action, so V-trace's targets are the n-step returns
    # (tests/test_losses.py::test_vtrace_on_policy_is_the_n_step_return).
    config = dataclasses.replace(SMALL, num_minibatches=1)
    states, metrics = _iterations(config, 3)
    assert states[-1].actor_state is None
    for m in metrics:
        assert abs(float(m["behaviour_kl"][0])) < 1e-6, m["behaviour_kl"]


def test_each_epochs_minibatches_hold_every_env_unroll_once():
    T, N = 3, 8
    ids = jax.numpy.broadcast_to(jax.numpy.arange(N), (T, N))
    unrolls = impala.Unrolls(ids, ids, ids, ids, ids, ids, ids)
    batches = impala.env_minibatches(jax.random.key(0), unrolls, 2, 4)
    assert batches.reward.shape == (8, T, 2)
    np.testing.assert_array_equal(batches.reward[:, 0], batches.reward[:, 2])  # whole unrolls: time intact
    for epoch in (batches.reward[:4, 0], batches.reward[4:, 0]):
        assert sorted(np.asarray(epoch).reshape(-1)) == list(range(N))
    assert not np.array_equal(batches.reward[:4], batches.reward[4:])  # reshuffled per epoch


def test_vmapped_seeds_equal_single_runs():
    # Lagged actors and two epochs over each batch of unrolls.
    train = impala.make_train(dataclasses.replace(SMALL, policy_lag=1, num_epochs=2))
    keys = jax.random.split(jax.random.key(3), 2)
    out = jax.jit(jax.vmap(train))(keys)
    single = jax.jit(train)(keys[1])
    assert out.metrics["total_loss"].shape == (2, SMALL.num_iterations)
    for metric in ("episode_return", "total_loss", "behaviour_kl", "entropy"):
        np.testing.assert_allclose(single.metrics[metric], out.metrics[metric][1], rtol=1e-5, err_msg=metric)


# ---- learning -----------------------------------------------------------------------------------

# The bars: >= 400 on CartPole-v1 over 4 vmapped seeds, with policy lag 0 and 4. At 300,000
# steps the greedy means of four sets of 4 seeds ran from 368 to 495 (lag 4 below 400 on an
# AVX-512 CPU, whose arithmetic differs in the last bits: one seed collapsed late); at 600,000,
# over eight sets, they ran from 424 to 500 with lag 0 and 474 to 500 with lag 4 (sampled 409-485).
# Still not settled: a seed can collapse to ~9 at any budget (one in 8 with XLA's legacy emitters'
# arithmetic at 600,000), and a learning rate of 5e-4, an entropy weight of 0.02 or 32 envs each
# did worse on some set of keys (experiments/benchmarks/README.md, 2026-12-04).
LEARN = impala.Config(env="CartPole-v1", total_timesteps=600_064, eval_episodes=20)


@pytest.fixture(scope="module", params=[0, 4], ids=["lag0", "lag4"])
def learned(request):
    config = dataclasses.replace(LEARN, policy_lag=request.param)
    train = impala.make_train(config)
    out = jax.jit(jax.vmap(train))(jax.random.split(jax.random.key(0), 4))
    greedy = np.asarray(jax.jit(jax.vmap(train.evaluate))(out.state, jax.random.split(jax.random.key(1), 4)))
    return config, out, greedy


def test_impala_learns_cartpole(learned):
    config, out, greedy = learned
    assert int(out.metrics["env_steps"][0, -1]) == config.total_timesteps
    final = np.asarray(out.metrics["episode_return"][:, -20:]).mean(axis=1)
    assert final.mean() >= 350, final  # sampled actions, entropy bonus: below the greedy policy
    assert greedy.mean() >= 400, greedy
    if config.policy_lag:
        assert np.all(np.asarray(out.metrics["behaviour_kl"]).mean(axis=1) > 1e-4)


def test_impala_greedy_policy_plays_cartpole_after_saving_and_reloading(learned, tmp_path):
    config, out, greedy = learned
    best = int(np.argmax(greedy))
    policy = impala.make_policy(config, out.state, member=best)
    # The lagged parameters are a training device: the policy is the learner's, without state.
    assert isinstance(policy, Policy) and not isinstance(policy, StatefulPolicy)
    loaded = load_policy(save_policy(str(tmp_path / "impala"), policy))
    observation = jax.random.normal(jax.random.key(2), (32, 4))
    np.testing.assert_array_equal(loaded(observation), policy(observation))
    spec = builder.make_env(config).spec()
    network = impala.make_network(spec, config)
    params = jax.tree.map(lambda x: x[best], out.state.agent_state.params)
    logits = network.apply(params, observation, method=impala.ActorCritic.policy).logits
    np.testing.assert_array_equal(policy(observation), np.argmax(logits, axis=-1))
    assert float(evaluate_policy(loaded, 10)) >= 400
