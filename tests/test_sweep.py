"""Sweeps: one compile for settings x seeds, rows equal to single runs, the table, errors, the CLI."""

import collections
import copy
import csv
import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl import cli, driver, sweep
from jaxrl.agents import ppo

CONFIG = ppo.Config(env="CartPole-v1", num_envs=4, rollout_length=32, total_timesteps=1024, num_epochs=1,
                    num_minibatches=2, hidden_sizes=(16,))  # 8 iterations of 128 env steps
RATES = [1e-4, 3e-4, 1e-3]
NUM_SEEDS = 2
TINY_ARGS = ["--env", "CartPole-v1", "--num-envs", "4", "--rollout-length", "32", "--total-timesteps", "1024",
             "--num-epochs", "1", "--num-minibatches", "2", "--hidden-sizes", "16"]


def counting(train):
    """`train` with a count of how often `init` and `run` are traced (Python runs once per trace)."""
    counted = copy.copy(train)
    counted.traces = collections.Counter()

    def init(key, hparams=None):
        counted.traces["init"] += 1
        return train.init(key, hparams)

    def run(state, num_iterations):
        counted.traces["run"] += 1
        return train.run(state, num_iterations)

    counted.init, counted.run = init, run  # Train.__call__ is self.run(self.init(...))
    return counted


@pytest.fixture(scope="module")
def train():
    return counting(ppo.make_train(CONFIG))


@pytest.fixture(scope="module")
def result(train):
    return sweep.run(train, sweep.grid(learning_rate=RATES), num_seeds=NUM_SEEDS, seed=0)


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    run_dir = str(tmp_path_factory.mktemp("sweep"))
    made = []
    make_ppo_train = ppo.make_train

    def make_train(config):
        made.append(counting(make_ppo_train(config)))
        return made[-1]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ppo, "make_train", make_train)  # the CLI looks the agent up in the registry: this module
        out = cli.sweep_main(["ppo", *TINY_ARGS, "--grid", "learning_rate=1e-4,3e-4,1e-3", "--num-seeds", "2",
                              "--num-chunks", "4", "--no-progress", "--run-dir", run_dir])
    return run_dir, out, made


def test_sweep_compiles_once(train, result):
    assert result.output.metrics["episode_return"].shape == (len(RATES) * NUM_SEEDS, CONFIG.num_iterations)
    # jax.jit(jax.vmap(train)) traced train exactly once for all six members.
    assert train.traces == {"init": 1, "run": 1}


def test_rows_equal_single_runs(result):
    single = jax.jit(ppo.make_train(CONFIG))
    keys = driver.population_keys(0, NUM_SEEDS)
    for j, rate in enumerate(RATES):
        for i in range(NUM_SEEDS):
            m = j * NUM_SEEDS + i  # setting-major
            out = single(keys[i], CONFIG.hparams().replace(learning_rate=jnp.float32(rate)))
            # The sampled trajectories, hence env steps and episode returns, agree exactly; params
            # only to float rounding, since XLA's batched matmuls round differently (~1e-7) from
            # unbatched ones (as for vmapped seeds in test_ppo).
            np.testing.assert_array_equal(result.output.metrics["env_steps"][m], out.metrics["env_steps"])
            np.testing.assert_array_equal(result.output.metrics["episode_return"][m], out.metrics["episode_return"])
            jax.tree.map(lambda a, b, m=m: np.testing.assert_allclose(a[m], b, rtol=1e-4, atol=1e-5),
                         result.output.state.agent_state.params, out.state.agent_state.params)
            np.testing.assert_array_equal(result.output.state.hparams.learning_rate[m], np.float32(rate))
            returns = np.asarray(out.metrics["episode_return"], np.float64)
            assert result.table["final_return"][m] == returns[-1]
            assert result.table["best_return"][m] == returns.max()
            assert result.table["auc"][m] == returns.mean()


def test_table_columns_and_values(result):
    assert result.fields == ("learning_rate",)
    assert result.columns == ["learning_rate", "seed", "final_return", "best_return", "auc"]
    assert list(result.table) == result.columns
    np.testing.assert_array_equal(result.table["learning_rate"], np.repeat(RATES, NUM_SEEDS))
    np.testing.assert_array_equal(result.table["seed"], [0, 1, 0, 1, 0, 1])
    returns = np.asarray(result.output.metrics["episode_return"], np.float64)
    np.testing.assert_array_equal(result.table["final_return"], returns[:, -1])
    np.testing.assert_array_equal(result.table["best_return"], returns.max(axis=1))
    np.testing.assert_array_equal(result.table["auc"], returns.mean(axis=1))
    assert result.rows()[3] == {"learning_rate": 3e-4, "seed": 1, "final_return": returns[3, -1],
                                "best_return": returns[3].max(), "auc": returns[3].mean()}
    means = returns[:, -1].reshape(len(RATES), NUM_SEEDS).mean(axis=1)
    assert result.best_index == int(np.argmax(means)) and result.best == {"learning_rate": RATES[result.best_index]}
    assert result.curves().shape == (len(RATES), NUM_SEEDS, CONFIG.num_iterations)


def test_best_setting_ties_go_first_and_nan_ranks_last():
    assert sweep.best_setting_index(np.array([1.0, 3.0, 2.0, 2.0, 1.0, 3.0]), 3, 2) == 0
    assert sweep.best_setting_index(np.array([np.nan, 9.0, 1.0, 1.0]), 2, 2) == 1


def test_grid_is_the_cross_product_first_field_slowest():
    assert sweep.grid(learning_rate=[1, 2], gamma=[0.9, 0.99]) == [
        {"learning_rate": 1, "gamma": 0.9}, {"learning_rate": 1, "gamma": 0.99},
        {"learning_rate": 2, "gamma": 0.9}, {"learning_rate": 2, "gamma": 0.99}]
    with pytest.raises(ValueError, match="gamma must be a non-empty list"):
        sweep.grid(gamma=[])
    with pytest.raises(ValueError, match="learning_rate must be a non-empty list"):
        sweep.grid(learning_rate="1e-3")


def test_random_search_ranges_scales_and_reproducibility():
    space = {"learning_rate": (1e-5, 1e-2, "log"), "gamma": (0.9, 0.999), "vf_coef": [0.5, 1.0]}
    settings = sweep.random_search(200, seed=3, **space)
    assert len(settings) == 200 and all(list(s) == list(space) for s in settings)
    rates = np.array([s["learning_rate"] for s in settings])
    gammas = np.array([s["gamma"] for s in settings])
    assert rates.min() >= 1e-5 and rates.max() < 1e-2 and gammas.min() >= 0.9 and gammas.max() < 0.999
    # Log-uniform: about half the draws lie below the geometric midpoint 10^-3.5, far fewer below
    # the arithmetic one would (which holds ~50% of a linear draw at 5e-3).
    assert 0.35 < np.mean(rates < 10**-3.5) < 0.65 and np.mean(rates < 5e-3) > 0.85
    assert {s["vf_coef"] for s in settings} == {0.5, 1.0}
    assert sweep.random_search(5, seed=3, **space) == settings[:5]  # a prefix of the larger search
    assert sweep.random_search(5, seed=4, **space) != settings[:5]
    for bad, message in [((1.0, 0.5), "low < high"), ((0.0, 1.0, "log"), "low > 0"), ((0.1, 1.0, "cubic"), "scale"),
                         ([], "empty"), ({"a": 1}, "must be")]:
        with pytest.raises(ValueError, match=message):
            sweep.random_search(2, gamma=bad)


@pytest.mark.parametrize(
    "settings, message",
    [
        ([{"learning_rat": 1e-3}], "unknown hyperparameter 'learning_rat'"),
        ([{"num_envs": 8}], "unknown hyperparameter 'num_envs'"),
        ([{"learning_rate": "fast"}], "'learning_rate' must be a finite number, got 'fast'"),
        ([{"gamma": float("nan")}], "'gamma' must be a finite number"),
        ([{"gamma": True}], "'gamma' must be a finite number"),
        ([{"gamma": 0.9}, {"ent_coef": 0.0}], "same fields"),
        ([], "non-empty list"),
    ],
)
def test_bad_settings_raise_before_compiling(train, result, settings, message):
    traces = dict(train.traces)
    with pytest.raises(ValueError, match=message) as error:
        sweep.run(train, settings)
    if "hyperparameter" in message:
        assert "fields are: learning_rate, gamma, gae_lambda, clip_eps, ent_coef, vf_coef, max_grad_norm" in str(
            error.value)
    assert train.traces == traces


def test_out_of_range_values_fail_with_the_configs_message(train, result):
    traces = dict(train.traces)
    with pytest.raises(ValueError, match=r"setting 1 \(gamma=1.5\): ppo.Config.gamma must be in \[0, 1\]"):
        sweep.run(train, sweep.grid(gamma=[0.9, 1.5]))
    assert train.traces == traces


def test_cli_writes_csv_plot_and_config(cli_run, result, capsys):
    run_dir, out, made = cli_run
    # The chunked path compiles one init and one chunk program (4 chunks of 2 iterations).
    assert len(made) == 1 and made[0].traces == {"init": 1, "run": 1}
    with open(os.path.join(run_dir, "sweep.csv"), newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["learning_rate", "seed", "final_return", "best_return", "auc"]
    assert [(float(r[0]), int(r[1])) for r in rows[1:]] == [(lr, s) for lr in RATES for s in range(NUM_SEEDS)]
    # Chunked and one-call sweeps agree exactly, and the CSV holds the table's values exactly.
    for c, column in enumerate(rows[0]):
        np.testing.assert_array_equal([float(r[c]) for r in rows[1:]], result.table[column], err_msg=column)
        np.testing.assert_array_equal(out.table[column], result.table[column], err_msg=column)
    with open(os.path.join(run_dir, "sweep.png"), "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert os.path.getsize(os.path.join(run_dir, "sweep.png")) > 5000
    with open(os.path.join(run_dir, "config.json")) as f:
        config = json.load(f)
    assert config["agent"] == "ppo" and config["num_seeds"] == 2 and config["config"]["total_timesteps"] == 1024
    assert config["settings"] == [{"learning_rate": lr} for lr in RATES]
    assert out.best == result.best


def test_cli_parses_several_grids_and_random_search():
    name, config, options = cli.parse_sweep(["ppo", *TINY_ARGS, "--grid", "learning_rate=1e-4,1e-3",
                                             "--grid", "ent-coef=0,0.01", "--num-seeds", "3"])
    assert name == "ppo" and config == CONFIG and options.num_seeds == 3
    assert cli.settings_from_options(options) == sweep.grid(learning_rate=[1e-4, 1e-3], ent_coef=[0.0, 0.01])
    _, _, options = cli.parse_sweep(["ppo", "--random", "learning_rate=1e-5:1e-2:log", "--random", "vf_coef=0.5,1",
                                     "--num-samples", "4", "--search-seed", "2"])
    assert cli.settings_from_options(options) == sweep.random_search(
        4, 2, learning_rate=(1e-5, 1e-2, "log"), vf_coef=[0.5, 1.0])


@pytest.mark.parametrize(
    "args, message",
    [
        (["ppo", "--grid", "learning_rat=1e-3"], "unknown hyperparameter 'learning_rat'"),
        (["ppo", "--grid", "learning_rate=fast"], "fields are: learning_rate, gamma"),
        (["ppo", "--grid", "gamma=2"], "ppo.Config.gamma must be in [0, 1]"),
        (["ppo", "--grid", "learning_rate"], "--grid expects FIELD=VALUES"),
        (["ppo"], "give --grid"),
        (["ppo", "--grid", "gamma=0.9", "--random", "gamma=0.9:0.99"], "not both"),
        (["dqn", "--grid", "clip_eps=0.1"], "unknown hyperparameter 'clip_eps'"),
        (["pp0", "--grid", "gamma=0.9"], "unknown agent 'pp0'"),
    ],
)
def test_cli_errors_name_the_problem(args, message):
    with pytest.raises(SystemExit) as error:
        cli.sweep_main(args)
    assert message in str(error.value)
