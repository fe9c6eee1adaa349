"""PWIL: the greedy coupling and its reward by hand, every step a run stores rewarded as a plain
re-implementation of the paper's algorithm rewards it (off-policy with warm-up actions, and a PPO
rollout with discrete actions), the family's configs, and imitation from 10 expert episodes without
rewards: of a point steered home (tests/steer_home.py) in `make test`, of Pendulum-v1 in `make check`."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import steer_home
from offline_data import dataset, normalised

from jaxrl import agents, cli, losses
from jaxrl.agents import builder, pwil
from jaxrl.loops import on_policy

ALPHA, BETA = 5.0, 5.0


def test_greedy_coupling_and_reward_by_hand():
    # Three expert atoms of mass 1/3 on a line; an episode of T = 2 steps of mass 1/2 each.
    atoms, remaining = jnp.array([[0.0], [1.0], [5.0]]), jnp.full(3, 1 / 3)
    # x = 0.2: all of atom 0 (1/3 at distance 0.2), then 1/6 of atom 1 (distance 0.8).
    cost, remaining = losses.imitation.greedy_coupling(atoms, remaining, jnp.array([0.2]), 0.5)
    np.testing.assert_allclose(cost, 1 / 3 * 0.2 + 1 / 6 * 0.8, rtol=1e-6)
    np.testing.assert_allclose(remaining, [0.0, 1 / 6, 1 / 3], atol=1e-7)
    # x = 4: all of atom 2 (distance 1), then what atom 1 has left (1/6 at distance 3); atom 0,
    # used up, takes nothing though it is no farther than atom 1.
    cost, remaining = losses.imitation.greedy_coupling(atoms, remaining, jnp.array([4.0]), 0.5)
    np.testing.assert_allclose(cost, 1 / 3 * 1.0 + 1 / 6 * 3.0, rtol=1e-6)
    np.testing.assert_allclose(remaining, [0.0, 0.0, 0.0], atol=1e-7)
    # r = alpha exp(-beta T / sqrt(d) c): T = 2, d = 1.
    np.testing.assert_allclose(losses.imitation.pwil_reward(jnp.float32(0.2), 5.0, 5.0, 2, 1), 5 * np.exp(-2.0),
                               rtol=1e-6)
    np.testing.assert_allclose(losses.imitation.pwil_reward(jnp.float32(0.0), 5.0, 5.0, 2, 1), 5.0)


def reference_rewards(demonstrations, observations, actions, lasts, horizon, num_actions=None):
    """PWIL's rewards for steps [T, N] of N envs, episode by episode, as the paper's Algorithm 1
    reads: a Python loop that moves each step's mass 1/T to the nearest expert atom with mass left."""

    def pair(observation, action):
        if num_actions is not None:
            action = np.eye(num_actions)[action]
        return np.concatenate([np.reshape(observation, (observation.shape[0], -1)), action], axis=-1)

    expert = pair(np.asarray(demonstrations.observation, np.float64), np.asarray(demonstrations.action))
    scale = expert.std(axis=0)
    scale = np.where(scale > 1e-8, scale, 1.0)
    expert = expert / scale
    steps = pair(np.asarray(observations, np.float64).reshape((-1,) + observations.shape[2:]),
                 np.asarray(actions).reshape((-1,) + actions.shape[2:])).reshape(observations.shape[:2] + (-1,)) / scale
    rewards = np.zeros(lasts.shape)
    for n in range(lasts.shape[1]):
        remaining = np.full(len(expert), 1 / len(expert))
        for t in range(lasts.shape[0]):
            distances = np.linalg.norm(expert - steps[t, n], axis=-1)
            mass, cost = 1 / horizon, 0.0
            while mass > 1e-12 and remaining.max() > 0:
                j = np.argmin(np.where(remaining > 0, distances, np.inf))
                moved = min(mass, remaining[j])
                cost, mass, remaining[j] = cost + moved * distances[j], mass - moved, remaining[j] - moved
            rewards[t, n] = ALPHA * np.exp(-BETA * horizon / np.sqrt(expert.shape[1]) * cost)
            if lasts[t, n]:
                remaining = np.full(len(expert), 1 / len(expert))
    return rewards


def test_every_stored_step_is_rewarded_by_its_coupling_warm_up_actions_included():
    # 2 envs x 400 steps of Pendulum-v1 (two 200-step episodes each), the first 300 steps random:
    # the buffer (large enough to keep every step) holds, in order, what the actor rewarded.
    demonstrations, _ = dataset("Pendulum-v1", "expert", 1)
    config = pwil.Config(num_envs=2, total_timesteps=800, steps_per_iteration=400, learning_starts=600,
                         buffer_size=800, batch_size=32, hidden_sizes=(16, 16))
    out = jax.jit(pwil.make_train(config, demonstrations))(jax.random.key(0))
    stored = jax.tree.map(lambda x: np.asarray(x).reshape((400, 2) + x.shape[1:]),
                          out.state.buffer_state.replay.live.data)
    assert stored.last.sum() == 4  # both episodes of both envs ended in the buffer
    expected = reference_rewards(demonstrations, stored.observation, stored.action, stored.last, horizon=200)
    np.testing.assert_allclose(stored.reward, expected, rtol=2e-3, atol=1e-6)
    assert 0.01 < expected.mean() < 4.0  # neither all alpha nor all zero: the test can tell rewards apart


def test_a_ppo_rollout_on_discrete_actions_carries_pwil_rewards():
    demonstrations, _ = dataset("CartPole-v1", "expert", 2)
    config = pwil.config("ppo", num_envs=4, rollout_length=64, hidden_sizes=(16,), reward_horizon=500)
    env = builder.make_env(config)
    agent = pwil.make_agent(config, env.spec(), demonstrations)
    agent_state = agent.init(jax.random.key(0), env.spec(), config.hparams())
    env_state, timestep = env.reset(jax.random.key(1))

    def run(actor_state, env_state, observation):
        return on_policy.rollout(env, agent, agent_state, actor_state, env_state, observation, jax.random.key(2),
                                 64, config.hparams())

    actor_state = agent.init_actor(agent_state, 4)
    actor_state, _, _, trajectory, _ = jax.jit(run)(actor_state, env_state, timestep.observation)
    lasts = np.asarray(trajectory.last)
    assert lasts.any()  # a random policy's CartPole episodes end within 64 steps
    expected = reference_rewards(demonstrations, np.asarray(trajectory.observation), np.asarray(trajectory.action),
                                 lasts, horizon=500, num_actions=2)
    np.testing.assert_allclose(trajectory.reward, expected, rtol=2e-3, atol=1e-6)
    # Envs whose episode ended start the next one with every expert atom's mass.
    ended = lasts[-1]
    assert np.allclose(np.asarray(actor_state.remaining)[ended].sum(-1), 1.0)


def test_one_registry_name_serves_each_base_agent():
    assert type(pwil.config("td3")) is pwil.TD3Config and type(pwil.config("ppo")) is pwil.PPOConfig
    assert pwil.Config().direct_rl == "sac" and pwil.Config().reward_scale == 5.0
    _, config, _ = cli.parse_train(["pwil", "--direct-rl", "td3", "--reward-bandwidth", "2"])
    assert config == pwil.config("td3", reward_bandwidth=2.0)
    for variant in ("sac", "ppo"):  # demonstrations hold raw observations
        with pytest.raises(ValueError, match=r"^pwil\.Config\.normalize_observations must be False with "
                                             r"demonstrations \(they hold raw observations"):
            pwil.config(variant, normalize_observations=True)
    with pytest.raises(ValueError, match=r"^pwil\.Config\.reward_scale must be > 0"):
        pwil.Config(reward_scale=0.0)
    with pytest.raises(TypeError, match=r"pwil\.make_train takes a pwil\.Config, got a sqil\.Config"):
        pwil.make_train(agents.get("sqil").Config(), dataset("Pendulum-v1", "expert", 1)[0])
    # An agent built without demonstrations acts (a saved policy's) but cannot reward steps.
    config = dataclasses.replace(pwil.Config(), hidden_sizes=(16,))
    env = builder.make_env(config)
    agent = pwil.make_agent(config, env.spec())
    state = agent.init(jax.random.key(0), env.spec(), config.hparams())
    transition = jax.tree.map(jnp.zeros_like, dataset("Pendulum-v1", "expert", 1)[0])
    with pytest.raises(ValueError, match=r"PWIL's actor rewards steps only with demonstrations"):
        agent.observe(agent.init_actor(state, 1), jax.tree.map(lambda x: x[:1], transition))


# PWIL's learning test in `make test` imitates `home` on the short task of tests/steer_home.py;
# imitating Pendulum-v1 (the longer evidence, ~110 s of worker time on a slow 2-core host) runs in
# `make check`.
@pytest.mark.slow
def test_pwil_on_sac_steers_a_point_home_from_10_demonstrations_without_rewards(tmp_path):
    steer_home.learn_and_play(pwil, pwil.Config(**steer_home.ONLINE), tmp_path, steer_home.demonstrations()[0])


@pytest.mark.check
def test_pwil_on_sac_imitates_pendulum_from_10_episodes_without_rewards(tmp_path):
    demonstrations, _ = dataset("Pendulum-v1", "expert", 10)
    # Batches of 128, half of them demonstrations: 0.99-1.07 at the end (256: 1.01-1.07), in half the time.
    config = pwil.Config(total_timesteps=10_000, steps_per_iteration=1000, learning_starts=1000, hidden_sizes=(64, 64),
                         batch_size=128)
    out = jax.jit(jax.vmap(pwil.make_train(config, demonstrations)))(jax.random.split(jax.random.key(0), 4))
    scores = normalised("Pendulum-v1", out.metrics["episode_return"])
    assert np.all(scores[:, -1] >= 0.8), scores
    policy = agents.load_policy(agents.save_policy(str(tmp_path / "pwil"), pwil.make_policy(config, out.state, 0)))
    assert policy.name == "pwil" and normalised("Pendulum-v1", agents.evaluate_policy(policy, 10)) >= 0.8
