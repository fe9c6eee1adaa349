"""jaxrl's datasets: collection of whole episodes, the on-disk format (atomic, checksummed), and
the dataset as a replay buffer."""

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl import datasets
from jaxrl.types import Transition


@pytest.fixture(scope="module")
def random_cartpole():
    # A 15-step time limit: random CartPole episodes (~22 steps) end both ways.
    return datasets.collect("CartPole-v1", None, episodes=12, key=jax.random.key(0), episode_length=15)


def test_collect_keeps_whole_episodes_with_terminations_and_truncations_apart(random_cartpole):
    rows, returns = random_cartpole
    ends = datasets.episode_ends(rows.last)
    assert len(ends) == len(returns) == 12 and ends[-1] == len(rows.reward) - 1
    starts = np.concatenate([[0], ends[:-1] + 1])
    lengths = ends - starts + 1
    terminated = rows.discount[ends] == 0
    # CartPole pays 1 per step; an episode that did not terminate ran into the 15-step limit.
    np.testing.assert_array_equal(returns, lengths)
    assert np.all(lengths[~terminated] == 15) and np.all(lengths[terminated] <= 15)
    assert terminated.any() and (~terminated).any()
    assert np.all(rows.discount[~rows.last] == 1)  # only an episode's end terminates
    # Within an episode each step's successor is the next row's observation.
    inside = np.setdiff1d(np.arange(len(rows.reward) - 1), ends)
    np.testing.assert_array_equal(rows.next_observation[inside], rows.observation[inside + 1])


def test_collect_explores_with_epsilon_and_clipped_noise():
    always = lambda observation, key: jnp.zeros(observation.shape[:1], jnp.int32)  # noqa: E731
    rows, _ = datasets.collect("CartPole-v1", always, episodes=8, key=jax.random.key(1))
    assert np.all(rows.action == 0)
    rows, _ = datasets.collect("CartPole-v1", always, episodes=8, key=jax.random.key(1), epsilon=0.5)
    share = np.mean(rows.action == 1)
    assert 0.15 < share < 0.35  # half the steps random, half of those the other action
    edge = lambda observation, key: jnp.full(observation.shape[:1] + (1,), 0.95)  # noqa: E731
    rows, _ = datasets.collect("Pendulum-v1", edge, episodes=2, key=jax.random.key(2), noise=0.5)
    assert rows.action.shape == (400, 1) and rows.action.max() == 1.0 and rows.action.min() >= -1.0
    assert rows.action.std() > 0.2
    with pytest.raises(ValueError, match="noise is for continuous actions"):
        datasets.collect("CartPole-v1", always, episodes=2, key=jax.random.key(0), noise=0.1)
    with pytest.raises(ValueError, match=r"epsilon must be in \[0, 1\]"):
        datasets.collect("CartPole-v1", always, episodes=2, key=jax.random.key(0), epsilon=2.0)


def test_save_and_load_round_trip_with_the_record(random_cartpole, tmp_path):
    rows, returns = random_cartpole
    path = datasets.save(str(tmp_path / "set"), rows, env="CartPole-v1", kind="random", source={"seed": 0})
    loaded = datasets.load(path)
    for name in Transition._fields[:-1]:
        np.testing.assert_array_equal(getattr(loaded, name), np.asarray(getattr(rows, name)), err_msg=name)
        assert getattr(loaded, name).dtype == np.asarray(getattr(rows, name)).dtype, name
    info = datasets.read_info(path)
    assert (info.env, info.kind, info.num_transitions, info.num_episodes) == ("CartPole-v1", "random",
                                                                               len(rows.reward), 12)
    np.testing.assert_allclose(info.episode_returns, returns)
    assert info.source == {"seed": 0}
    # The format stores terminations and truncations apart, as the issue asks.
    terminated, truncated = np.load(os.path.join(path, "terminated.npy")), np.load(os.path.join(path, "truncated.npy"))
    np.testing.assert_array_equal(terminated, rows.last & (rows.discount == 0))
    np.testing.assert_array_equal(truncated, rows.last & (rows.discount == 1))
    with pytest.raises(FileExistsError, match="exists; pass overwrite=True"):
        datasets.save(path, rows, env="CartPole-v1", kind="random")
    datasets.save(path, rows, env="CartPole-v1", kind="other", overwrite=True)
    assert datasets.read_info(path).kind == "other"
    assert sorted(os.listdir(tmp_path)) == ["set"]  # nothing left from staging or the replaced copy


def test_a_truncated_or_altered_file_is_named_on_loading(random_cartpole, tmp_path):
    rows, _ = random_cartpole
    path = datasets.save(str(tmp_path / "set"), rows, env="CartPole-v1", kind="random")
    observation = os.path.join(path, "observation.npy")
    data = open(observation, "rb").read()
    with open(observation, "wb") as f:
        f.write(data[: len(data) // 2])
    with pytest.raises(datasets.DatasetError, match=r"observation\.npy is truncated or damaged: \d+ bytes, the "
                                                    r"record says \d+"):
        datasets.load(path)
    altered = bytearray(data)
    altered[-1] ^= 1
    with open(observation, "wb") as f:
        f.write(bytes(altered))
    with pytest.raises(datasets.DatasetError, match=r"observation\.npy is corrupted: its SHA-256 differs"):
        datasets.load(path)
    os.remove(os.path.join(path, "dataset.json"))
    with pytest.raises(datasets.DatasetError, match="is not a jaxrl dataset: it has no dataset.json"):
        datasets.load(path)
    with pytest.raises(datasets.DatasetError, match="no dataset at"):
        datasets.load(str(tmp_path / "nothing"))


def test_rows_that_are_not_a_dataset_are_refused_naming_the_field(random_cartpole):
    rows, _ = random_cartpole
    with pytest.raises(ValueError, match="the last row must end an episode"):
        datasets.check_transitions(rows._replace(last=np.zeros_like(rows.last), discount=np.ones_like(rows.discount)))
    with pytest.raises(ValueError, match="a row with discount 0 .terminated. must also be last"):
        datasets.check_transitions(rows._replace(discount=np.zeros_like(rows.discount)))
    with pytest.raises(ValueError, match="action must have a leading axis of"):
        datasets.check_transitions(rows._replace(action=rows.action[:-1]))


def test_the_dataset_samples_as_a_uniform_buffer_of_its_rows(random_cartpole):
    rows, _ = random_cartpole
    buffer, state = datasets.as_replay(rows, batch_size=64)
    assert bool(buffer.can_sample(state)) and int(state.size) == len(rows.reward)
    batch, info = jax.jit(buffer.sample)(state, jax.random.key(3))
    np.testing.assert_array_equal(batch.observation, rows.observation[np.asarray(info.indices)])
    np.testing.assert_array_equal(batch.discount, rows.discount[np.asarray(info.indices)])
    np.testing.assert_array_equal(info.weights, np.ones(64, np.float32))
    # Many draws cover the rows about evenly.
    indices = jax.vmap(lambda k: buffer.sample(state, k)[1].indices)(jax.random.split(jax.random.key(4), 200))
    counts = np.bincount(np.asarray(indices).ravel(), minlength=len(rows.reward))
    expected = 200 * 64 / len(rows.reward)
    assert counts.min() > 0.5 * expected and counts.max() < 1.6 * expected
