"""PQN: its targets and exploration schedule, config checks, vmapped seeds, and learning CartPole
through to the greedy policy a user saves and reloads."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl.agents import builder, evaluate_policy, load_policy, pqn, save_policy

SMALL = pqn.Config(num_envs=4, rollout_length=16, num_epochs=2, num_minibatches=4, total_timesteps=256,
                   hidden_sizes=(16,))


def test_epsilon_anneals_linearly_then_stays():
    config = pqn.Config(total_timesteps=100_000, epsilon_start=1.0, epsilon_end=0.2, exploration_fraction=0.2)
    hparams = config.hparams()
    at = lambda steps: float(pqn.epsilon(config, hparams, jnp.asarray(steps, jnp.int32)))  # noqa: E731
    assert at(0) == 1.0 and at(20_000) == pytest.approx(0.2) and at(90_000) == pytest.approx(0.2)
    assert at(10_000) == pytest.approx(0.6)


def test_the_actor_explores_at_its_epsilon_and_evaluation_is_greedy():
    spec = builder.make_env(SMALL).spec()
    agent = pqn.make_agent(SMALL, spec)
    hparams = SMALL.hparams()
    state = agent.init(jax.random.key(0), spec, hparams)
    observation = jax.random.normal(jax.random.key(1), (4096, 4))
    q = pqn.make_network(spec, SMALL.hidden_sizes, SMALL.activation, SMALL.layer_norm).apply(state.params, observation)
    greedy, _, extras = agent.act(state, None, observation, None, hparams, True)
    np.testing.assert_array_equal(greedy, jnp.argmax(q, axis=-1))
    assert extras == {}
    # Early in the run epsilon is 1: every action is uniform; once annealed, 20% are, so ~10% differ.
    early, _, extras = agent.act(state, None, observation, jax.random.key(2), hparams, False, jnp.int32(0))
    late, _, _ = agent.act(state, None, observation, jax.random.key(2), hparams, False, jnp.int32(10**6))
    np.testing.assert_allclose(extras["max_q"], jnp.max(q, axis=-1), rtol=1e-6)
    assert 0.45 < float(jnp.mean(early != greedy)) < 0.55
    assert 0.07 < float(jnp.mean(late != greedy)) < 0.13


def test_config_errors_name_the_field_before_compiling():
    with pytest.raises(ValueError, match=r"pqn.Config.env: PQN needs discrete actions, but Pendulum-v1"):
        pqn.make_train(pqn.Config(env="Pendulum-v1"))
    with pytest.raises(ValueError, match=r"^pqn.Config.num_minibatches must divide the batch num_envs \* "
                                         r"rollout_length = 2048, got 3"):
        pqn.Config(num_minibatches=3)
    with pytest.raises(ValueError, match=r"^pqn.Config.td_lambda must be in \[0, 1\], got 1.5"):
        pqn.Config(td_lambda=1.5)
    with pytest.raises(TypeError, match=r"pqn.make_train takes a pqn.Config, got a ppo.Config"):
        from jaxrl.agents import ppo

        pqn.make_train(ppo.Config())


def test_vmapped_seeds_equal_single_runs():
    train = pqn.make_train(SMALL)
    keys = jax.random.split(jax.random.key(3), 2)
    out = jax.jit(jax.vmap(train))(keys)
    single = jax.jit(train)(keys[1])
    assert out.metrics["loss"].shape == (2, SMALL.num_iterations)
    for metric in ("episode_return", "loss", "q_mean"):
        np.testing.assert_allclose(single.metrics[metric], out.metrics[metric][1], rtol=1e-5, err_msg=metric)


# ---- learning -----------------------------------------------------------------------------------

# The bar: >= 400 on CartPole-v1 over 4 vmapped seeds. A smaller network than the default
# (64-64 instead of 256-256) and epsilon annealed to 0.05 keep the test short. The default learning
# rate, purejaxql's 1e-4 for its 256-256 network, is too small for the 64-64 one: at 204,800 steps
# only 4 of 8 sets of 4 keys reached 400 (set means 275-494; the test's own keys drew a good set,
# and on a GPU, whose arithmetic draws other trajectories, it failed at 357). At 1e-3 all 16 sets
# measured passed at half those steps (set means 470-500, greedy 456-500; lab notes).
LEARN = pqn.Config(env="CartPole-v1", total_timesteps=102_400, hidden_sizes=(64, 64), learning_rate=1e-3,
                   epsilon_end=0.05, eval_episodes=20)


@pytest.fixture(scope="module")
def learned():
    train = pqn.make_train(LEARN)
    return train, jax.jit(jax.vmap(train))(jax.random.split(jax.random.key(0), 4))


def test_pqn_learns_cartpole(learned):
    _, out = learned
    final = np.asarray(out.metrics["episode_return"][:, -1])
    assert int(out.metrics["env_steps"][0, -1]) == 102_400  # 50 iterations of 32 envs x 64 steps
    assert final.mean() >= 400, final


def test_pqn_greedy_policy_plays_cartpole_after_saving_and_reloading(learned, tmp_path):
    train, out = learned
    greedy = np.asarray(jax.jit(jax.vmap(train.evaluate))(out.state, jax.random.split(jax.random.key(1), 4)))
    assert greedy.mean() >= 400, greedy
    best = int(np.argmax(greedy))
    policy = pqn.make_policy(LEARN, out.state, member=best)
    loaded = load_policy(save_policy(str(tmp_path / "pqn"), policy))
    observation = jax.random.normal(jax.random.key(2), (32, 4))
    np.testing.assert_array_equal(loaded(observation), policy(observation))
    assert float(evaluate_policy(loaded, 10)) >= 400
