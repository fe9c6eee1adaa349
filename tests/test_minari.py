"""Minari's format (HDF5), with the minari package itself: jaxrl's rows exported and read back by
Minari and by jaxrl unchanged (actions rescaled onto the env's box and back), a dataset Minari's own
DataCollector records from Gymnasium imported, and a clear error for a dataset of another env."""

import glob

import gymnasium
import jax
import minari
import numpy as np
import pytest
from offline_data import dataset

from jaxrl import datasets


@pytest.fixture(autouse=True)
def minari_home(tmp_path, monkeypatch):
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    return tmp_path / "minari"


def test_discrete_rows_round_trip_exactly_and_minari_reads_them(minari_home):
    rows, returns = dataset("CartPole-v1", "expert", 3)
    datasets.to_minari(rows, "jaxrl/cartpole-expert-v0", env="CartPole-v1")
    assert glob.glob(str(minari_home / "jaxrl" / "cartpole-expert-v0" / "data" / "*.hdf5"))
    stored = minari.load_dataset("jaxrl/cartpole-expert-v0")  # Minari's own reader, from disk
    assert stored.total_episodes == 3 and stored.total_steps == len(rows.reward)
    assert stored.spec.env_spec.id == "CartPole-v1"
    episodes = list(stored.iterate_episodes())
    np.testing.assert_allclose([np.sum(e.rewards) for e in episodes], returns)
    first = episodes[0]
    n = len(first.actions)
    assert first.observations.shape == (n + 1, 4)
    np.testing.assert_array_equal(first.observations[:-1], rows.observation[:n])
    np.testing.assert_array_equal(first.observations[-1], rows.next_observation[n - 1])
    np.testing.assert_array_equal(first.actions, rows.action[:n])
    assert first.terminations[-1] == (rows.discount[n - 1] == 0) and not np.any(first.terminations[:-1])
    back, env = datasets.from_minari("jaxrl/cartpole-expert-v0")
    assert env == "CartPole-v1"
    for got, want in zip(back, rows):
        if isinstance(want, dict):
            continue
        assert np.asarray(got).dtype == np.asarray(want).dtype
        np.testing.assert_array_equal(got, want)


def test_box_actions_are_stored_on_the_env_box():
    rows, _ = dataset("Pendulum-v1", "medium-replay")
    rows = jax.tree.map(lambda x: x[:600], rows)  # three whole episodes
    stored = datasets.to_minari(rows, "jaxrl/pendulum-v0", env="Pendulum-v1")
    episode = next(iter(stored.iterate_episodes()))
    np.testing.assert_allclose(episode.actions, 2.0 * rows.action[:200], rtol=1e-6)  # Pendulum's box is [-2, 2]
    assert np.any(episode.truncations) and not np.any(episode.terminations)  # time limits, not terminations
    back, _ = datasets.from_minari(stored)
    np.testing.assert_allclose(back.action, rows.action, atol=1e-6)
    np.testing.assert_array_equal(back.last, rows.last)
    np.testing.assert_array_equal(back.discount, rows.discount)


def test_a_dataset_minari_records_from_gymnasium_imports(tmp_path):
    env = minari.DataCollector(gymnasium.make("CartPole-v1"))
    env.reset(seed=0)
    env.action_space.seed(0)
    for _ in range(3):
        done = False
        while not done:
            _, _, terminated, truncated, _ = env.step(env.action_space.sample())
            done = terminated or truncated
        env.reset()
    recorded = env.create_dataset(dataset_id="gym/cartpole-random-v0", algorithm_name="random")
    rows, name = datasets.from_minari("gym/cartpole-random-v0")
    assert name == "CartPole-v1" and rows.action.dtype == np.int32
    episodes = list(recorded.iterate_episodes())
    assert len(rows.reward) == sum(len(e.actions) for e in episodes) and np.sum(rows.last) == 3
    assert np.all(rows.discount[rows.last] == 0)  # a random policy drops the pole: terminations
    np.testing.assert_array_equal(rows.observation[1:len(episodes[0].actions)], episodes[0].observations[1:-1])
    # Saved as a jaxrl dataset, it loads back as it was.
    loaded = datasets.load(datasets.save(str(tmp_path / "imported"), rows, env=name, kind="random"))
    np.testing.assert_array_equal(loaded.next_observation, rows.next_observation)


def test_a_dataset_of_another_env_is_refused_naming_both():
    rows, _ = dataset("CartPole-v1", "expert", 1)
    datasets.to_minari(rows, "jaxrl/cartpole-one-v0", env="CartPole-v1")
    with pytest.raises(ValueError, match=r"from_minari: jaxrl/cartpole-one-v0's observation space .* does not fit "
                                         r"Pendulum-v1's observations of shape \(3,\)"):
        datasets.from_minari("jaxrl/cartpole-one-v0", env="Pendulum-v1")
    # Four-dimensional observations but box actions, and no environment on record.
    from minari.data_collector import EpisodeBuffer

    episode = EpisodeBuffer(observations=np.zeros((3, 4), np.float32), actions=np.zeros((2, 1), np.float32),
                            rewards=[0.0, 0.0], terminations=[False, True], truncations=[False, False])
    minari.create_dataset_from_buffers("user/boxes-v0", [episode], action_space=gymnasium.spaces.Box(-1, 1, (1,)),
                                       observation_space=gymnasium.spaces.Box(-1, 1, (4,)))
    with pytest.raises(ValueError, match=r"the Minari dataset user/boxes-v0 records no environment; pass env="):
        datasets.from_minari("user/boxes-v0")
    with pytest.raises(ValueError, match=r"user/boxes-v0's action space Box\(-1.0, 1.0, \(1,\), float32\) does not "
                                         r"fit CartPole-v1's Discrete\(2\)"):
        datasets.from_minari("user/boxes-v0", env="CartPole-v1")
