"""Runs that stop on garbage: the loops' per-iteration `nonfinite` flag and the driver's
`on_nonfinite` ("stop": `NonFiniteError`, the last good checkpoint kept; "warn": train on)."""

import csv
import dataclasses
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl import checkpoint, driver
from jaxrl import cli as train_cli
from jaxrl.agents import builder, dqn, ppo
from jaxrl.agents.dqn import learning as dqn_learning
from jaxrl.envs.base import Wrapper
from jaxrl.loops import off_policy, on_policy

# PPO on 4 CartPole-v1 envs, 16 steps each per iteration, 6 iterations.
PPO = ppo.Config(env="CartPole-v1", num_envs=4, rollout_length=16, total_timesteps=4 * 16 * 6, num_epochs=1,
                 num_minibatches=2, hidden_sizes=(16,))
# The step of the env batch (0-based, counted from the run's start) at which env 0's reward is NaN:
# step 40 lies in iterations' steps 32 ... 47, the third iteration.
NAN_STEP = 40
BAD_ITERATION = NAN_STEP // PPO.rollout_length + 1
assert BAD_ITERATION == 3
PPO_METRICS = {"total_loss", "policy_loss", "value_loss", "entropy", "approx_kl"}


@dataclasses.dataclass(frozen=True)
class NaNRewardAt(Wrapper):
    """A batched env whose env 0 gets a NaN reward at its `nan_step`-th step (0-based).

    It wraps the whole batched stack, not one env: inside it, `AutoReset` would restart a step
    counter with every episode, and the NaN's iteration would depend on episode lengths.
    (`jaxrl.register` takes single envs that `make_batched` batches, so it is not registered.)
    """

    nan_step: int = 0

    def reset(self, key):
        state, timestep = self.env.reset(key)
        return (state, jnp.zeros((), jnp.int32)), timestep

    def step(self, state, action, key):
        env_state, steps = state
        env_state, timestep = self.env.step(env_state, action, key)
        reward = timestep.reward.at[0].set(jnp.where(steps == self.nan_step, jnp.nan, timestep.reward[0]))
        return (env_state, steps + 1), timestep._replace(reward=reward)


def ppo_train(nan_step: int | None):
    """`ppo.make_train(PPO)`, on an env batch with a NaN reward at `nan_step` (None: none)."""
    if nan_step is None:
        return ppo.make_train(PPO)
    env = NaNRewardAt(builder.make_env(PPO), nan_step)
    agent = ppo.make_agent(PPO, env.spec())
    return on_policy.make_train(env, agent, rollout_length=PPO.rollout_length, num_iterations=PPO.num_iterations,
                                default_hparams=PPO.hparams(), config=PPO)


@pytest.fixture(scope="module")
def bad_train():
    return ppo_train(NAN_STEP)


@pytest.fixture(scope="module")
def bare_runs(bad_train):
    """`jax.jit(train)(key)` metrics of a healthy run and of one with the NaN reward."""
    healthy = jax.jit(ppo_train(None))(jax.random.key(0)).metrics
    bad = jax.jit(bad_train)(jax.random.key(0)).metrics
    return jax.tree.map(np.asarray, healthy), jax.tree.map(np.asarray, bad)


def test_bare_jit_reports_nonfinite_per_iteration(bare_runs):
    healthy, bad = bare_runs
    assert healthy["nonfinite"].shape == (PPO.num_iterations,)
    np.testing.assert_array_equal(healthy["nonfinite"], 0)
    for name in PPO_METRICS:
        assert np.isfinite(healthy[name]).all(), name
    # 0 before the NaN's iteration, 1 from it on (its update makes the parameters NaN for good).
    expected = (np.arange(1, PPO.num_iterations + 1) >= BAD_ITERATION).astype(np.int32)
    np.testing.assert_array_equal(bad["nonfinite"], expected)
    assert np.isnan(bad["total_loss"][BAD_ITERATION - 1])
    assert np.isfinite(bad["total_loss"][: BAD_ITERATION - 1]).all()


def test_dqn_reports_nonfinite():
    # 16 updates per iteration (4 envs, one update per step of the batch) on a buffer of 32
    # transitions sampled 32 at a time: the NaN transition of step 40 (iteration 3's steps are
    # 32 ... 47) is drawn by one of the 8 updates it stays in the buffer for (all but certainly;
    # for this seed, surely).
    config = dqn.Config(env="CartPole-v1", num_envs=4, total_timesteps=4 * 64, steps_per_iteration=64,
                        buffer_size=32, batch_size=32, learning_starts=0, train_every=4, target_update_every=16,
                        hidden_sizes=(16,))
    env = NaNRewardAt(builder.make_env(config), NAN_STEP)
    agent = dqn.make_agent(config, env.spec())
    buffer = dqn_learning.make_buffer(config)
    train = off_policy.make_train(env, agent, buffer, num_iterations=config.num_iterations, periods_per_iteration=16,
                                  default_hparams=config.hparams(), config=config)
    metrics = jax.tree.map(np.asarray, jax.jit(train)(jax.random.key(0)).metrics)
    # Updates start once the buffer holds a batch: after 8 steps of the batch, so 9 in iteration 1.
    np.testing.assert_array_equal(metrics["updates"], [9, 16, 16, 16])
    np.testing.assert_array_equal(metrics["nonfinite"], [0, 0, 1, 1])
    assert np.isnan(metrics["loss"][2]) and np.isfinite(metrics["loss"][:2]).all()


def abstract_state(train):
    """The shapes of a one-seed population's state, as `driver.run` restores it."""
    keys = jax.random.key_data(driver.population_keys(0, 1))
    return jax.eval_shape(lambda k: jax.vmap(train.init)(jax.random.wrap_key_data(k)), keys)


def read_rows(run_dir):
    with open(os.path.join(run_dir, "metrics.csv")) as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def stopped_run(bad_train, tmp_path_factory):
    """A run that stops at the NaN: chunks of 2 iterations, a checkpoint every 2."""
    run_dir = str(tmp_path_factory.mktemp("stopped"))
    with pytest.raises(driver.NonFiniteError) as error:
        driver.train_to_dir("ppo", bad_train, run_dir, num_chunks=3, checkpoint_every=2, progress=False)
    return run_dir, error.value


def test_stop_names_iteration_seed_and_metric(stopped_run):
    _, error = stopped_run
    assert (error.iteration, error.member) == (BAD_ITERATION, 0)
    assert "total_loss" in error.metrics and set(error.metrics) <= PPO_METRICS
    message = str(error)
    assert f"iteration {BAD_ITERATION} in seed 0" in message
    assert "total_loss" in message
    # The NaN reward enters outside EpisodeStatistics: episode returns stay finite, and unnamed.
    assert "episode_return" not in message
    # The chunk of iterations 3 and 4 ended the run; iteration 4's checkpoint was not written.
    assert "stopped after iteration 4 without saving it, the latest checkpoint is iteration 2" in message


def test_stop_keeps_last_good_checkpoint(stopped_run, bad_train):
    run_dir, _ = stopped_run
    # The rows of the bad chunk are written; the checkpoint of it is not.
    rows = read_rows(run_dir)
    assert [int(r["iteration"]) for r in rows] == [1, 2, 3, 4]
    assert [int(r["nonfinite"]) for r in rows] == [0, 0, 1, 1]
    assert not os.path.exists(os.path.join(run_dir, "learning_curve.png"))
    with checkpoint.Checkpointer(os.path.join(run_dir, "checkpoints"), read_only=True) as checkpointer:
        assert checkpointer.steps() == [2]
        step, state, progress = checkpointer.restore_latest(abstract_state(bad_train))
    assert step == 2 and progress["iteration"] == 2
    np.testing.assert_array_equal(state.iteration, [2])
    for leaf in jax.tree.leaves(state.agent_state):
        if jnp.issubdtype(leaf.dtype, jnp.inexact):
            assert np.isfinite(np.asarray(leaf)).all()


def test_resume_from_last_good_checkpoint_fails_again_the_same_way(stopped_run, bad_train):
    run_dir, first = stopped_run
    before = read_rows(run_dir)
    with pytest.raises(driver.NonFiniteError) as error:
        driver.train_to_dir("ppo", bad_train, run_dir, num_chunks=3, checkpoint_every=2, progress=False,
                            resume=True)
    assert str(error.value) == str(first)
    # metrics.csv was cut back to iteration 2 and the same chunk written again: the same rows.
    assert read_rows(run_dir) == before
    with checkpoint.Checkpointer(os.path.join(run_dir, "checkpoints"), read_only=True) as checkpointer:
        assert checkpointer.steps() == [2]


def test_warn_trains_on_and_warns_once(bad_train, tmp_path, capsys):
    run_dir = str(tmp_path / "warned")
    out = driver.train_to_dir("ppo", bad_train, run_dir, num_chunks=3, checkpoint_every=2, progress=False,
                              on_nonfinite="warn")
    expected = (np.arange(1, PPO.num_iterations + 1) >= BAD_ITERATION).astype(np.int32)
    np.testing.assert_array_equal(out.metrics["nonfinite"], [expected])
    stderr = capsys.readouterr().err
    assert stderr.count("non-finite") == 1  # once, though the chunks of iterations 5 and 6 are flagged too
    assert f"warning: non-finite values (NaN or inf) at iteration {BAD_ITERATION} in seed 0" in stderr
    assert "total_loss" in stderr
    with checkpoint.Checkpointer(os.path.join(run_dir, "checkpoints"), read_only=True) as checkpointer:
        assert checkpointer.steps()[-1] == PPO.num_iterations
    assert [int(r["iteration"]) for r in read_rows(run_dir)] == list(range(1, PPO.num_iterations + 1))


def test_on_nonfinite_is_checked_before_compiling(bad_train, tmp_path):
    with pytest.raises(ValueError, match="on_nonfinite must be one of .*'stop', 'warn'.*got 'ignore'"):
        driver.run(bad_train, on_nonfinite="ignore")
    with pytest.raises(ValueError, match="on_nonfinite"):
        driver.train_to_dir("ppo", bad_train, str(tmp_path / "x"), on_nonfinite="raise")
    assert not os.path.exists(tmp_path / "x")


def host_metrics(flags, total_loss, episode_return=None):
    flags = np.asarray(flags, np.int32)
    return {"env_steps": np.zeros(flags.shape, np.int32), "nonfinite": flags,
            "episode_return": np.zeros(flags.shape, np.float32) if episode_return is None else episode_return,
            "eval_return": np.full(flags.shape, np.nan, np.float32), "updates": np.ones(flags.shape, np.int32),
            "total_loss": np.asarray(total_loss, np.float32), "q_mean": np.ones(flags.shape, np.float32)}


def test_first_nonfinite_finds_earliest_iteration_then_lowest_member():
    nan, inf = np.nan, np.inf
    # Member 2 goes bad at the chunk's 2nd iteration, members 0 and 1 at its 3rd.
    metrics = host_metrics([[0, 0, 1], [0, 0, 1], [0, 1, 1]],
                           [[1, 1, nan], [1, 1, inf], [1, inf, nan]])
    assert driver.first_nonfinite(metrics, 10) == (12, [2], ["total_loss"])
    assert driver.first_nonfinite(host_metrics([[0, 0]], [[1, 1]]), 10) is None
    # eval_return (NaN between evaluations) and episode_return are never named as learner metrics.
    metrics = host_metrics([[0, 1], [0, 1]], [[1, 1], [1, 1]], episode_return=np.full((2, 2), nan, np.float32))
    iteration, members, names = driver.first_nonfinite(metrics, 0)
    assert (iteration, members, names) == (2, [0, 1], [])
    message = driver._nonfinite_message(metrics, iteration, members, names, 0, seeds=True)
    assert message == ("non-finite values (NaN or inf) at iteration 2 in seed 0 (population member 0): the agent's "
                       "parameters or optimiser state (every learner metric is finite); 1 more member(s) at that "
                       "iteration: [1]; its episode_return is not finite either, so the environment's rewards may be")
    message = driver._nonfinite_message(host_metrics([[1]], [[nan]]), 1, [0], ["total_loss"], 0, seeds=False)
    assert message == ("non-finite values (NaN or inf) at iteration 1 in population member 0: the learner metric "
                       "total_loss")


def test_cli_flag():
    _, _, options = train_cli.parse_train(["ppo"])
    assert options.on_nonfinite == "stop"
    _, _, options = train_cli.parse_train(["ppo", "--on-nonfinite", "warn"])
    assert options.on_nonfinite == "warn"
    with pytest.raises(SystemExit):
        train_cli.parse_train(["ppo", "--on-nonfinite", "ignore"])


def test_cli_passes_the_flag_and_exits_with_the_error(stopped_run, monkeypatch, tmp_path):
    run_dir, _ = stopped_run
    calls = []

    def train_to_dir(name, train, run_dir, **kwargs):
        calls.append(kwargs)
        raise driver.NonFiniteError("non-finite values (NaN or inf) at iteration 3 in seed 0", 3, 0, ["total_loss"])

    monkeypatch.setattr(train_cli.driver, "train_to_dir", train_to_dir)
    with pytest.raises(SystemExit, match=r"^error: non-finite values \(NaN or inf\) at iteration 3 in seed 0$"):
        train_cli.train_main(["ppo", "--run-dir", str(tmp_path / "cli"), "--on-nonfinite", "warn"])
    # --resume takes its settings from config.json, but how to react to NaN may change.
    with pytest.raises(SystemExit, match="^error: non-finite"):
        train_cli.train_main(["--resume", run_dir, "--on-nonfinite", "warn"])
    with pytest.raises(SystemExit, match="^error: non-finite"):
        train_cli.train_main(["--resume", run_dir])
    assert [(c["on_nonfinite"], c["resume"]) for c in calls] == [("warn", False), ("warn", True), ("stop", True)]
