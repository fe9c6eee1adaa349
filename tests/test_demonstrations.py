"""Learning from demonstrations: the mixed replay (its batches, marks, weights and priorities),
DQfD's large-margin loss by hand, the configs' checks, and learning: SACfD and TD3fD steering a
point home (tests/steer_home.py), DQfD on CartPole-v1; in `make check`, faster than the agent alone
with the same budget and seeds: SACfD and TD3fD on MountainCarContinuous-v0 (sparse reward,
where SAC alone never reaches the flag), DQfD on CartPole-v1."""

import functools
import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import steer_home
from helpers import chunks_and_one_call
from offline_data import dataset, mountain_car_demonstrations, normalised

from jaxrl import agents, datasets, driver, losses, replay
from jaxrl.agents import dqfd, dqn, sac, sacfd, td3fd
from jaxrl.types import Transition

MOUNTAIN_CAR = dict(env="MountainCarContinuous-v0", total_timesteps=10_000, steps_per_iteration=1000,
                    learning_starts=1000, hidden_sizes=(64, 64))
KEYS = jax.random.split(jax.random.key(0), 4)


def _rows(n, start=0.0):
    return Transition(observation=start + np.arange(n, dtype=np.float32)[:, None], action=np.zeros(n, np.int32),
                      reward=np.ones(n, np.float32), discount=np.ones(n, np.float32),
                      last=np.arange(n) == n - 1, next_observation=np.zeros((n, 1), np.float32), extras={})


def test_every_batch_holds_the_demonstration_rows_first_and_marks_them():
    shown = _rows(5, start=100.0)
    buffer = datasets.with_demonstrations(replay.prioritized(64, 6, alpha=0.6, beta=0.4), shown, 2)
    state = buffer.init(jax.tree.map(lambda x: x[0], _rows(1)))
    assert not buffer.can_sample(state)
    state = buffer.add(state, _rows(10))
    batch, info = jax.jit(buffer.sample)(state, jax.random.key(0))
    assert batch.observation.shape == (8, 1)
    np.testing.assert_array_equal(batch.extras["demonstration"], [True] * 2 + [False] * 6)
    assert np.all(batch.observation[:2] >= 100) and np.all(batch.observation[2:] < 10)
    np.testing.assert_array_equal(batch.observation[:2, 0], 100 + np.asarray(info.indices[:2]))
    np.testing.assert_array_equal(info.weights[:2], [1.0, 1.0])
    # Reprioritising touches the agent's own rows only, with their priorities.
    priorities = jnp.arange(8, dtype=jnp.float32) + 1.0
    after = buffer.update_priorities(state, info.indices, priorities)
    assert_same = jax.tree.map(np.array_equal, after.demonstrations, state.demonstrations)
    assert all(jax.tree.leaves(assert_same))
    alone = replay.prioritized(64, 6, alpha=0.6, beta=0.4)
    expected = alone.update_priorities(state.live, info.indices[2:], priorities[2:])
    assert all(jax.tree.leaves(jax.tree.map(np.array_equal, after.live, expected)))
    with pytest.raises(ValueError, match=r"the demonstrations' rows .* do not match the agent's transitions"):
        buffer.init(jax.tree.map(lambda x: x[0], _rows(1))._replace(action=np.zeros(2, np.float32)))
    with pytest.raises(ValueError, match="num_demonstrations must be an int >= 1, got 0"):
        datasets.with_demonstrations(replay.uniform(8, 4), shown, 0)


def test_the_large_margin_loss_by_hand():
    q = jnp.array([[1.0, 0.5, 0.9], [0.0, 2.0, 1.0], [5.0, 0.0, 0.0]])
    action = jnp.array([0, 0, 1])
    mask = jnp.array([True, True, False])
    # Row 0: max(1, 0.5 + 0.8, 0.9 + 0.8) - 1 = 0.7; row 1: max(0, 2.8, 1.8) - 0 = 2.8; row 2 masked out.
    np.testing.assert_allclose(losses.large_margin_loss(q, action, 0.8, mask), (0.7 + 2.8) / 2, rtol=1e-6)
    assert losses.large_margin_loss(q, action, 0.8, jnp.zeros(3, bool)) == 0.0
    # A demonstrator's action ahead by the margin costs nothing.
    assert losses.large_margin_loss(jnp.array([[1.0, 0.1]]), jnp.array([0]), 0.8, jnp.array([True])) == 0.0


def test_the_demonstration_configs_are_checked_before_tracing(tmp_path):
    with pytest.raises(ValueError, match=r"sacfd\.Config\.demonstrations: sacfd needs a dataset directory"):
        sacfd.make_train(sacfd.Config())
    with pytest.raises(ValueError, match=r"sacfd\.Config\.n_step must be 1 with demonstrations"):
        sacfd.Config(n_step=3)
    with pytest.raises(ValueError, match=r"dqfd\.Config\.demonstration_ratio must leave at least one row"):
        dqfd.Config(demonstration_ratio=1.0)
    with pytest.raises(ValueError, match=r"td3fd\.Config\.demonstration_ratio must be in \(0, 1\]"):
        td3fd.Config(demonstration_ratio=0.0)
    rows, _ = dataset("CartPole-v1", "expert", 2)
    path = datasets.save(str(tmp_path / "cartpole"), rows, env="CartPole-v1", kind="expert")
    with pytest.raises(ValueError, match=r"sacfd\.Config\.env is 'Pendulum-v1', but the demonstrations .* were "
                                         r"collected in 'CartPole-v1'"):
        sacfd.make_train(sacfd.Config(demonstrations=path))
    with pytest.raises(ValueError, match=r"the demonstrations' rows .* do not match the agent's transitions"):
        sacfd.make_train(sacfd.Config(), rows).init(jax.random.key(0))


def test_two_chunks_equal_one_call_with_prioritized_demonstration_replay():
    demonstrations, _ = dataset("CartPole-v1", "expert", 2)
    config = dqfd.Config(env="CartPole-v1", total_timesteps=800, num_envs=4, buffer_size=400, batch_size=16,
                         learning_starts=200, train_every=4, target_update_every=40, steps_per_iteration=200,
                         hidden_sizes=(16,), prioritized=True)
    one = chunks_and_one_call(dqfd.make_train(config, demonstrations), KEYS[:2])
    assert np.all(one.metrics["margin_loss"][:, -1] > 0)


def test_the_command_line_trains_dqfd_on_a_demonstrations_directory(tmp_path):
    from jaxrl import cli

    rows, _ = dataset("CartPole-v1", "expert", 2)
    path = datasets.save(str(tmp_path / "demos"), rows, env="CartPole-v1", kind="expert")
    run_dir = str(tmp_path / "run")
    cli.train_main(["dqfd", "--env", "CartPole-v1", "--demonstrations", path, "--total-timesteps", "800",
                    "--num-envs", "4", "--buffer-size", "400", "--batch-size", "16", "--learning-starts", "200",
                    "--train-every", "4", "--target-update-every", "40", "--steps-per-iteration", "400",
                    "--hidden-sizes", "16", "--checkpoint-every", "1", "--run-dir", run_dir, "--no-progress"])
    with open(os.path.join(run_dir, "config.json")) as f:
        assert json.load(f)["config"]["demonstrations"] == path
    assert driver.run_policy(run_dir, 0).name == "dqfd"


def _auc_and_solved(out):
    returns = np.asarray(out.metrics["episode_return"])
    return returns.mean(), int(np.sum(returns.max(axis=1) > 90)), returns


# SACfD's and TD3fD's learning tests in `make test` are on the short task of tests/steer_home.py,
# with 10 episodes of its demonstrator; reaching MountainCarContinuous-v0's flag (sparse reward,
# where SAC and TD3 alone never do in the budget; the longer evidence, ~280 s of worker time on a slow
# 2-core host) runs in `make check`.
@pytest.mark.slow
@pytest.mark.parametrize("module", [sacfd, td3fd], ids=["sacfd", "td3fd"])
def test_steers_a_point_home_with_demonstrations_and_its_saved_policy_plays(module, tmp_path):
    steer_home.learn_and_play(module, module.Config(**steer_home.ONLINE), tmp_path, steer_home.demonstrations()[0], 3)


@pytest.mark.check
def test_sacfd_reaches_the_flag_and_its_saved_policy_plays(tmp_path):
    demonstrations, demo_returns = mountain_car_demonstrations()
    assert len(demo_returns) == 10 and np.all(demo_returns > 80)
    shown = jax.jit(jax.vmap(sacfd.make_train(sacfd.Config(**MOUNTAIN_CAR), demonstrations)))(KEYS)
    _, solved, returns = _auc_and_solved(shown)
    assert solved >= 3, returns
    policy = agents.load_policy(agents.save_policy(str(tmp_path / "sacfd"),
                                                   sacfd.make_policy(sacfd.Config(**MOUNTAIN_CAR), shown.state, 3)))
    assert policy.name == "sacfd" and agents.evaluate_policy(policy, 10) > 85


# The comparison with plain SAC runs in `make check` (the longer learning evidence): SAC alone
# never reaches the flag in this budget, so it costs a second run of the same length.
@pytest.mark.check
def test_sacfd_learns_mountain_car_faster_than_sac():
    demonstrations, _ = mountain_car_demonstrations()
    alone = jax.jit(jax.vmap(sac.make_train(sac.Config(**MOUNTAIN_CAR))))(KEYS)
    shown = jax.jit(jax.vmap(sacfd.make_train(sacfd.Config(**MOUNTAIN_CAR), demonstrations)))(KEYS)
    auc, solved, returns = _auc_and_solved(shown)
    sac_auc, sac_solved, sac_returns = _auc_and_solved(alone)
    assert auc > sac_auc + 20 and solved >= max(sac_solved, 3), (returns, sac_returns)


@pytest.mark.check
def test_td3fd_reaches_the_flag():
    # 20,000 steps, twice SACfD's budget: at 10,000, TD3fD reached the flag with two to four of
    # four seeds depending on the keys (and on the last bits of XLA's arithmetic); at 20,000 every
    # seed of four sets of keys did, with final returns of 88 to 94.
    demonstrations, _ = mountain_car_demonstrations()
    config = td3fd.Config(**dict(MOUNTAIN_CAR, total_timesteps=20_000))
    out = jax.jit(jax.vmap(td3fd.make_train(config, demonstrations)))(KEYS)
    _, solved, returns = _auc_and_solved(out)
    # (TD3 alone, like SAC, never reaches the flag in this budget: its returns stay below 0.)
    assert solved >= 3 and np.mean(returns[:, -1]) > 70, returns


DQFD_BASE = dict(env="CartPole-v1", total_timesteps=20_000, steps_per_iteration=2000, learning_starts=1000,
                 updates_per_step=4)


@functools.lru_cache(maxsize=None)
def dqfd_on_cartpole():
    demonstrations, _ = dataset("CartPole-v1", "expert", 10)
    return jax.jit(jax.vmap(dqfd.make_train(dqfd.Config(**DQFD_BASE), demonstrations)))(KEYS)


@pytest.mark.slow
def test_dqfd_learns_cartpole_from_10_expert_episodes():
    shown = dqfd_on_cartpole()
    scores = normalised("CartPole-v1", shown.metrics["episode_return"])
    assert np.mean(scores[:, -1]) >= 0.6, scores
    assert np.all(shown.metrics["margin_loss"][:, -1] < shown.metrics["margin_loss"][:, 0])


# The comparison with plain DQN (a second run of the same length) is in `make check`.
@pytest.mark.check
def test_dqfd_learns_cartpole_faster_than_dqn():
    alone = jax.jit(jax.vmap(dqn.make_train(dqn.Config(**DQFD_BASE))))(KEYS)
    scores, dqn_scores = (normalised("CartPole-v1", out.metrics["episode_return"])
                          for out in (dqfd_on_cartpole(), alone))
    assert np.mean(scores) > np.mean(dqn_scores) + 0.1 and np.mean(scores[:, -1]) >= 0.6, (scores, dqn_scores)
