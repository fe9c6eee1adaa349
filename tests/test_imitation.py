"""Imitation without rewards: SQIL's relabelling by hand, the agent family's configs (one registry
name, the base agent a field, on the command line and in saved runs and policies), and SQIL and AIL
imitating 10 expert episodes on SAC (a point steered home, tests/steer_home.py; Pendulum-v1 in
`make check`), SQIL on DQN (CartPole-v1, in `make check`) and GAIL on PPO (CartPole-v1)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import steer_home
from offline_data import dataset, normalised

from jaxrl import agents, cli, datasets, driver, losses, networks
from jaxrl.agents import ail, sqil
from jaxrl.agents.config import config_from_json, jsonable
from jaxrl.loops.off_policy import ReplayBatch

KEYS = jax.random.split(jax.random.key(0), 4)


def test_sqil_relabels_every_reward_by_where_the_row_came_from():
    rows, _ = dataset("CartPole-v1", "expert", 1)
    t = jax.tree.map(lambda x: x[:4], rows)
    t = t._replace(extras={datasets.DEMONSTRATION: jnp.array([True, True, False, False])})
    out = sqil.relabel(ReplayBatch(t, jnp.ones(4))).transitions
    np.testing.assert_array_equal(out.reward, [1.0, 1.0, 0.0, 0.0])
    assert out.reward.dtype == rows.reward.dtype
    np.testing.assert_array_equal(out.observation, t.observation)


def test_one_registry_name_serves_each_base_agent(tmp_path):
    assert type(sqil.config("dqn")) is sqil.DQNConfig and sqil.Config is sqil.SACConfig
    assert sqil.config("dqn").env == "CartPole-v1" and sqil.Config().env == "Pendulum-v1"
    assert sqil.Config().demonstration_ratio == 0.5
    with pytest.raises(ValueError, match=r"sqil\.Config\.direct_rl must be 'sac' in a SACConfig \(sqil on dqn is "
                                         r"jaxrl\.agents\.sqil\.config\(direct_rl='dqn', \.\.\.\)\)"):
        sqil.Config(direct_rl="dqn")
    with pytest.raises(ValueError, match=r"sqil\.Config\.direct_rl must be one of \['dqn', 'sac'\], got 'ppo'"):
        sqil.config("ppo")
    # Recorded and read back (a run's config.json, a saved policy) as the same base agent's.
    recorded = jsonable(sqil.config("dqn", learning_rate=1e-3))
    assert config_from_json(sqil.Config, recorded) == sqil.config("dqn", learning_rate=1e-3)
    # On the command line the base agent picks the flags.
    name, config, _ = cli.parse_train(["sqil", "--direct-rl", "dqn", "--learning-rate", "0.001"])
    assert name == "sqil" and config == sqil.config("dqn", learning_rate=1e-3)
    _, config, _ = cli.parse_train(["sqil", "--actor-learning-rate", "0.001"])
    assert config == sqil.Config(actor_learning_rate=1e-3)
    with pytest.raises(SystemExit, match=r"direct_rl must be one of \['dqn', 'sac'\], got 'ppo'"):
        cli.parse_train(["sqil", "--direct-rl=ppo"])
    for make in (sqil.Config, lambda **kw: ail.config("ppo", **kw)):  # demonstrations hold raw observations
        with pytest.raises(ValueError, match=r"\.Config\.normalize_observations must be False with demonstrations"):
            make(normalize_observations=True)
    with pytest.raises(TypeError, match=r"sqil\.make_train takes a sqil\.Config, got a sac\.Config"):
        sqil.make_train(agents.get("sac").Config(), dataset("Pendulum-v1", "expert", 1)[0])


# SQIL's and AIL's learning tests in `make test` imitate `home` on the short task of
# tests/steer_home.py, from 10 episodes without rewards; imitating Pendulum-v1 (the longer evidence,
# ~190 s of worker time on a slow 2-core host) runs in `make check`.
@pytest.mark.slow
def test_sqil_on_sac_steers_a_point_home_from_10_demonstrations_without_rewards(tmp_path):
    steer_home.learn_and_play(sqil, sqil.Config(**steer_home.ONLINE), tmp_path, steer_home.demonstrations()[0])


@pytest.mark.check
def test_sqil_on_sac_imitates_pendulum_from_10_episodes_without_rewards(tmp_path):
    demonstrations, _ = dataset("Pendulum-v1", "expert", 10)
    # Batches of 128 (SAC's 256 learn alike here: 0.98-1.07 at the end either way, in half the time).
    config = sqil.Config(total_timesteps=10_000, steps_per_iteration=1000, learning_starts=1000, hidden_sizes=(64, 64),
                         batch_size=128)
    out = jax.jit(jax.vmap(sqil.make_train(config, demonstrations)))(KEYS)
    scores = normalised("Pendulum-v1", out.metrics["episode_return"][:, -1])
    assert np.all(scores >= 0.8), normalised("Pendulum-v1", out.metrics["episode_return"])
    policy = agents.load_policy(agents.save_policy(str(tmp_path / "sqil"), sqil.make_policy(config, out.state, 0)))
    assert policy.name == "sqil" and normalised("Pendulum-v1", agents.evaluate_policy(policy, 10)) >= 0.8


# SQIL on DQN learning runs in `make check` (the longer learning evidence, as SQIL on SAC's above is
# SQIL's one in `make test`); the command-line test below trains and plays SQIL on DQN in make test.
@pytest.mark.check
def test_sqil_on_dqn_imitates_cartpole(tmp_path):
    demonstrations, _ = dataset("CartPole-v1", "expert", 10)
    config = sqil.config("dqn", total_timesteps=20_000, steps_per_iteration=2000, learning_starts=1000,
                         updates_per_step=4)
    out = jax.jit(jax.vmap(sqil.make_train(config, demonstrations)))(KEYS)
    late = normalised("CartPole-v1", out.metrics["episode_return"][:, -5:])
    # SQIL's returns sag once the agent's own rows (reward 0) crowd its replay: it holds 0.9 on average.
    assert np.all(late.mean(axis=1) >= 0.8) and np.all(late.max(axis=1) >= 0.95), late
    policy = agents.load_policy(agents.save_policy(str(tmp_path / "sqil"), sqil.make_policy(config, out.state, 1)))
    assert isinstance(policy.config, sqil.DQNConfig)


def test_the_discriminator_losses_by_hand():
    expert, policy = jnp.array([2.0, -1.0]), jnp.array([0.5, -3.0])
    sigmoid = lambda x: 1 / (1 + np.exp(-np.asarray(x)))  # noqa: E731
    expected = -np.mean(np.log(sigmoid(expert))) - np.mean(np.log(1 - sigmoid(policy)))
    np.testing.assert_allclose(losses.imitation.discriminator_loss(expert, policy), expected, rtol=1e-6)
    # A linear discriminator's gradient is its weight vector everywhere: the penalty is (||w|| - 1)^2.
    w = jnp.array([3.0, 4.0])
    a, b = jnp.ones((5, 2)), jnp.zeros((5, 2))
    np.testing.assert_allclose(losses.imitation.gradient_penalty(lambda x: x @ w, a, b, jax.random.key(0)), 16.0,
                               rtol=1e-5)
    np.testing.assert_allclose(losses.imitation.adversarial_reward(jnp.log(3.0)), np.log(0.75 / 0.25), rtol=1e-6)
    np.testing.assert_allclose(losses.imitation.absorbing_bonus(2.0, 0.99), 0.99 * 2.0 / 0.01, rtol=1e-6)
    x = ail.discriminator_inputs(jnp.ones((3, 2, 2)), jnp.zeros((3, 1)), 1.0)
    assert x.shape == (3, 6) and np.all(x[:, -1] == 1) and np.all(x[:, :4] == 1)


def test_ail_relabels_the_base_agents_rewards_with_the_discriminators(monkeypatch):
    config = ail.Config(hidden_sizes=(8,), batch_size=8)
    rows, _ = dataset("Pendulum-v1", "expert", 1)
    spec = agents.builder.make_eval_env(config).spec()
    agent = ail.make_agent(config, spec)
    hparams = config.hparams()
    state = agent.init(jax.random.key(0), spec, hparams)
    t = jax.tree.map(lambda x: x[:8], rows)
    t = t._replace(discount=jnp.asarray(t.discount).at[7].set(0.0), extras={datasets.DEMONSTRATION: jnp.arange(8) < 4})
    base = agents.get("sac").make_agent(config, spec)

    def spy(base_state, batch, key, hparams):  # reports the rewards the base agent was handed
        new_base_state, base_metrics = base.update(base_state, batch, key, hparams)
        return new_base_state, {**base_metrics, "seen_reward": batch.transitions.reward}

    monkeypatch.setattr("jaxrl.agents.ail.learning.sac_learning.make_agent", lambda c, s: base._replace(update=spy))
    spied = ail.make_agent(config, spec)
    new_state, metrics = jax.jit(spied.update)(state, ReplayBatch(t, jnp.ones(8)), jax.random.key(1), hparams)
    network = networks.flat_network(ail.Discriminator((8,)), jnp.zeros((1, 5)))
    logits = network.apply(new_state.discriminator_params, ail.discriminator_inputs(t.observation, t.action))
    absorbing = network.apply(new_state.discriminator_params, jnp.array([[0, 0, 0, 0, 1.0]]))[0]
    expected = np.asarray(logits) + np.where(np.arange(8) == 7, 0.99 * absorbing / 0.01, 0.0)
    np.testing.assert_allclose(metrics["seen_reward"], expected, rtol=1e-5)
    assert not np.array_equal(new_state.discriminator_params, state.discriminator_params)
    assert 0 <= metrics["discriminator_accuracy"] <= 1


@pytest.mark.slow
def test_ail_on_sac_steers_a_point_home_from_10_demonstrations_without_rewards(tmp_path):
    demonstrations, _ = steer_home.demonstrations()
    _, policy = steer_home.learn_and_play(ail, ail.Config(**steer_home.ONLINE), tmp_path, demonstrations, 2)
    # A plain Policy, as SAC's (it came out a StatefulPolicy, which policy(obs) and collect refused).
    assert type(policy) is agents.Policy and np.shape(policy(demonstrations.observation[:3])) == (3, 1)


@pytest.mark.check
def test_ail_on_sac_imitates_pendulum_from_10_episodes_without_rewards(tmp_path):
    demonstrations, _ = dataset("Pendulum-v1", "expert", 10)
    config = ail.Config(total_timesteps=8000, steps_per_iteration=1000, learning_starts=1000, hidden_sizes=(64, 64),
                        batch_size=128)  # as SQIL's test: 0.98-1.07 at the end
    out = jax.jit(jax.vmap(ail.make_train(config, demonstrations)))(KEYS)
    scores = normalised("Pendulum-v1", out.metrics["episode_return"][:, -1])
    assert np.all(scores >= 0.8), normalised("Pendulum-v1", out.metrics["episode_return"])
    policy = agents.load_policy(agents.save_policy(str(tmp_path / "ail"), ail.make_policy(config, out.state, 2)))
    assert policy.name == "ail" and normalised("Pendulum-v1", agents.evaluate_policy(policy, 10)) >= 0.8
    # A plain Policy, as SAC's (it came out a StatefulPolicy, which policy(obs) and collect refused).
    assert type(policy) is agents.Policy and np.shape(policy(demonstrations.observation[:3])) == (3, 1)


def test_a_sqil_run_on_dqn_trains_and_plays_from_the_command_line(tmp_path):
    rows, _ = dataset("CartPole-v1", "expert", 2)
    path = datasets.save(str(tmp_path / "demos"), rows, env="CartPole-v1", kind="expert")
    run_dir = str(tmp_path / "run")
    cli.train_main(["sqil", "--direct-rl", "dqn", "--demonstrations", path, "--total-timesteps", "800",
                    "--num-envs", "4", "--buffer-size", "400", "--batch-size", "16", "--learning-starts", "200",
                    "--train-every", "4", "--target-update-every", "40", "--steps-per-iteration", "400",
                    "--hidden-sizes", "16", "--checkpoint-every", "1", "--run-dir", run_dir, "--no-progress"])
    policy = driver.run_policy(run_dir, 0)  # the run's config.json read back as SQIL on DQN
    assert isinstance(policy.config, sqil.DQNConfig) and policy.config.demonstrations == path
    assert np.shape(policy(rows.observation[:3])) == (3,)
    assert driver.evaluate_run(run_dir, episodes=2).shape == (1,)
    # Resumed with another base agent: refused by name (tyro said --direct-rl was unrecognised).
    with pytest.raises(SystemExit, match=r"^error: --resume continues .* these flags change them: direct_rl: 'dqn' "
                                         r"there, 'sac' here$"):
        cli.train_main(["--resume", run_dir, "--direct-rl", "sac"])


@pytest.mark.slow
def test_gail_on_ppo_clearly_improves_on_cartpole():
    demonstrations, _ = dataset("CartPole-v1", "expert", 10)
    config = ail.config("ppo", env="CartPole-v1", total_timesteps=100_000)
    assert config.reward == "gail"
    out = jax.jit(jax.vmap(ail.make_train(config, demonstrations)))(KEYS)
    returns = np.asarray(out.metrics["episode_return"])
    late = returns[:, -20:].mean(axis=1)  # the env's returns; the learner saw only D's rewards
    assert np.all(late >= 150) and np.all(late >= 4 * returns[:, :5].mean(axis=1)), returns[:, ::20]
    policy = ail.make_policy(config, out.state, 0)  # GAIL's policy is PPO's: stateless
    assert type(policy) is agents.Policy and np.shape(policy(demonstrations.observation[:3])) == (3,)
