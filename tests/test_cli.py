"""The command line (`jaxrl train`, its help texts, the experiments alias) and the chunked driver:
files written, and results equal to one call."""

import csv
import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys

import jax
import numpy as np
import pytest
from helpers import assert_trees_equal

from jaxrl import agents, cli, driver, plotting
from jaxrl.agents import dqn, ppo, registry

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Networks of one 16-wide layer here: these tests are of the command line's files and programs, not
# of learning, and a smaller network compiles faster (the suite's time is mostly XLA compiling).
ARGS = ["ppo", "--env", "CartPole-v1", "--total-timesteps", "2048", "--num-envs", "4", "--rollout-length", "64",
        "--num-epochs", "1", "--num-minibatches", "2", "--hidden-sizes", "16", "--num-seeds", "2", "--no-progress",
        "--num-chunks", "3"]


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    run_dir = str(tmp_path_factory.mktemp("run"))
    out = cli.train_main(ARGS + ["--run-dir", run_dir])
    return run_dir, out


def test_cli_writes_config_metrics_and_plot(cli_run):
    run_dir, _ = cli_run
    with open(os.path.join(run_dir, "config.json")) as f:
        config = json.load(f)
    assert config["agent"] == "ppo" and config["num_seeds"] == 2
    assert config["config"]["total_timesteps"] == 2048 and config["config"]["rollout_length"] == 64
    with open(os.path.join(run_dir, "metrics.csv")) as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    assert header[:4] == ["seed", "iteration", "env_steps", "episode_return"]
    assert {"total_loss", "policy_loss", "value_loss", "entropy", "episode_length"} <= set(header)
    # One row per seed and iteration, streamed chunk by chunk.
    keys = sorted((int(r[0]), int(r[1]), int(r[2])) for r in body)
    assert keys == [(s, i, 256 * i) for s in (0, 1) for i in range(1, 9)]
    png = os.path.join(run_dir, "learning_curve.png")
    with open(png, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert os.path.getsize(png) > 5000


def test_chunked_driver_equals_one_vmapped_call(cli_run):
    run_dir, out = cli_run
    config = ppo.Config(env="CartPole-v1", total_timesteps=2048, num_envs=4, rollout_length=64, num_epochs=1,
                        num_minibatches=2, hidden_sizes=(16,))
    reference = jax.jit(jax.vmap(ppo.make_train(config)))(driver.population_keys(0, 2))
    for name, values in reference.metrics.items():
        np.testing.assert_array_equal(out.metrics[name], np.asarray(values), err_msg=name)
    # The CSV holds the same numbers (floats written with repr, so exactly).
    table = plotting.read_metrics(os.path.join(run_dir, "metrics.csv"))
    np.testing.assert_array_equal(table["iteration"], np.tile(np.arange(1, 9), (2, 1)))
    np.testing.assert_array_equal(table["episode_return"], np.asarray(reference.metrics["episode_return"]))


def test_a_new_run_refuses_a_directory_that_holds_another_run(cli_run, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(cli_run[0], run_dir)
    before = {name: (run_dir / name).read_bytes() for name in sorted(os.listdir(run_dir))}
    grid = ["--grid", "learning_rate=1e-3,3e-4", "--no-progress"]
    for args in (["train", *ARGS], ["sweep", "ppo", *grid], ["pbt", "ppo", *grid, "--ready-every", "8"]):
        with pytest.raises(SystemExit) as error:
            cli.main([*args, "--run-dir", str(run_dir)])
        assert str(error.value) == (f"error: {run_dir} already holds a run ({run_dir / 'config.json'}): choose another "
                                    f"run directory, or pass --overwrite (overwrite=True) to replace its files"), args
    with pytest.raises(driver.RunDirError, match="already holds a run"):  # the API as well
        driver.train_to_dir("ppo", ppo.make_train(ppo.Config(env="CartPole-v1")), str(run_dir))
    assert {name: (run_dir / name).read_bytes() for name in sorted(os.listdir(run_dir))} == before
    # --overwrite replaces it: the same run again (cli_run's compiled program) writes the same metrics.
    cli.train_main(ARGS + ["--run-dir", str(run_dir), "--overwrite"])
    assert (run_dir / "metrics.csv").read_bytes() == before["metrics.csv"]


def test_dqn_cli_equals_one_vmapped_call(tmp_path):
    args = ["dqn", "--env", "CartPole-v1", "--total-timesteps", "1200", "--steps-per-iteration", "200",
            "--learning-starts", "400", "--buffer-size", "500", "--batch-size", "32", "--target-update-every", "100",
            "--hidden-sizes", "16", "--num-seeds", "2", "--no-progress", "--num-chunks", "2",
            "--run-dir", str(tmp_path)]
    out = cli.train_main(args)
    config = dqn.Config(env="CartPole-v1", total_timesteps=1200, steps_per_iteration=200, learning_starts=400,
                        buffer_size=500, batch_size=32, target_update_every=100, hidden_sizes=(16,))
    reference = jax.jit(jax.vmap(dqn.make_train(config)))(driver.population_keys(0, 2))
    assert_trees_equal(out.state, reference.state)
    for name, values in reference.metrics.items():
        if name in ("loss", "q_mean"):
            # The learner's own metrics may differ in the last bit: XLA fuses the loss's mean
            # differently in the one-call program (init and loop compiled together) than in
            # the driver's chunk program; states and episode metrics are bit-identical.
            np.testing.assert_allclose(out.metrics[name], np.asarray(values), rtol=1e-6, err_msg=name)
        else:
            np.testing.assert_array_equal(out.metrics[name], np.asarray(values), err_msg=name)
    table = plotting.read_metrics(os.path.join(str(tmp_path), "metrics.csv"))
    np.testing.assert_array_equal(table["env_steps"], np.tile(200 * np.arange(1, 7), (2, 1)))
    assert {"loss", "q_mean", "updates"} <= set(table)


def test_cli_evaluates_and_writes_tensorboard_without_changing_training(cli_run, tmp_path):
    _, reference = cli_run
    out = cli.train_main(ARGS + ["--eval-every", "3", "--tensorboard", "--run-dir", str(tmp_path)])
    for name, values in reference.metrics.items():
        np.testing.assert_array_equal(out.metrics[name], values, err_msg=name)
    table = plotting.read_metrics(os.path.join(str(tmp_path), "metrics.csv"))
    evals = table["eval_return"]
    # Chunks end at iterations 3, 6 (evaluations) and 8 (the last iteration, also evaluated).
    assert np.all(np.isnan(np.delete(evals, [2, 5, 7], axis=1)))
    assert np.all((evals[:, [2, 5, 7]] >= 8) & (evals[:, [2, 5, 7]] <= 500))
    for seed in (0, 1):
        files = os.listdir(os.path.join(str(tmp_path), "tensorboard", f"seed_{seed}"))
        assert any(f.startswith("events.out.tfevents") for f in files)
    # --overwrite replaces the event files too (the old run's stayed, and TensorBoard drew both as one).
    cli.train_main(ARGS + ["--num-seeds", "1", "--tensorboard", "--run-dir", str(tmp_path), "--overwrite"])
    assert os.listdir(os.path.join(str(tmp_path), "tensorboard")) == ["seed_0"]
    assert len(os.listdir(os.path.join(str(tmp_path), "tensorboard", "seed_0"))) == 1


def test_chunk_size_prefers_divisors():
    assert driver.chunk_size(976, 50) == 16  # 976 = 61 * 16: one compiled chunk program
    assert driver.chunk_size(100, 10) == 10
    assert driver.chunk_size(7, 50) == 1
    assert driver.chunk_size(97, 10) == 10  # prime: 9 chunks of 10 and one of 7


@pytest.mark.parametrize(
    "args, message",
    [
        (["dqnn"], "unknown agent 'dqnn'"),
        (["ppo", "--num-minibatches", "3"], "num_minibatches"),
        (["ppo", "--env", "CartPol-v1"], "CartPole-v1"),
        (["ppo", "--init-log-std", "0.5"], "init_log_std"),
        (["dqn", "--env", "Pendulum-v1"], "discrete actions"),
        (["dqn", "--train-every", "7"], "train_every"),
        (["ppo", "--num-processes", "2"], "--coordinator"),
        (["ppo", "--coordinator", "localhost", "--num-processes", "2"], "HOST:PORT"),
        (["ppo", "--eval-every", "-1"], "--eval-every"),
    ],
)
def test_cli_errors_name_the_problem(args, message, capsys):
    with pytest.raises(SystemExit) as error:
        cli.train_main(args)
    assert message in str(error.value) + capsys.readouterr().err


def run_help(argv, capsys, monkeypatch):
    """The stdout of `jaxrl ARGV --help`, which exits with status 0."""
    monkeypatch.setenv("COLUMNS", "129")  # tyro lays groups out side by side from 130 columns
    with pytest.raises(SystemExit) as exit_:
        cli.main([*argv, "--help"])
    assert exit_.value.code in (0, None)
    return capsys.readouterr().out


def flag_help(text):
    """{field name: its help text, without the "(default: ...)"} from a tyro help page."""
    texts, current = {}, None
    for line in text.splitlines():
        line = line.strip().strip("│").strip()
        match = re.match(r"--([a-z][a-z0-9-]*)", line)
        if match:
            current = match.group(1).replace("-", "_")
            parts = re.split(r"\s{2,}", line, maxsplit=1)
            texts[current] = parts[1] if len(parts) > 1 else ""
        elif current and line and not line.startswith(("╰", "╭", "─")):
            texts[current] += " " + line
        else:
            current = None
    return {name: re.sub(r"\s*\(default: .*\)\s*$", "", help).strip() for name, help in texts.items()}


@pytest.mark.parametrize("name", agents.names())
def test_every_flag_has_its_own_help_text(name, capsys, monkeypatch):
    config_fields = [f.name for f in dataclasses.fields(agents.get(name).Config)]
    for command, options_cls in [("train", cli.RunOptions), ("sweep", cli.SweepOptions), ("pbt", cli.PBTOptions)]:
        texts = flag_help(run_help([command, name], capsys, monkeypatch))
        fields = config_fields + [f.name for f in dataclasses.fields(options_cls)]
        missing = [field for field in fields if not texts.get(field)]
        assert not missing, f"{command} {name}: flags without help text (add a docstring under the field): {missing}"
        # A comment above a group of fields is nobody's help text: each field says what it is.
        config_texts = [texts[field] for field in config_fields]
        assert len(set(config_texts)) == len(config_texts), config_texts
    assert texts["grid"].startswith("FIELD=V1,V2,...") and texts["env"].startswith("Environment name")


def test_a_changed_default_shows_in_help_with_the_base_fields_text(capsys, monkeypatch):
    # DQN changes OffPolicyConfig's buffer_size default (`defaults`), not its declaration.
    text = " ".join(run_help(["train", "dqn"], capsys, monkeypatch).split())
    assert re.search(r"--buffer-size INT\s.*Replay capacity in items, transitions \(R2D2: sequences\); the oldest "
                     r"are overwritten\. \(default: 10000\)", text)
    assert "--n-step INT" in run_help(["train", "sac"], capsys, monkeypatch)  # the off-policy block's field


def test_help_lists_the_commands_and_every_registered_agent(capsys, monkeypatch):
    monkeypatch.setattr(registry, "_REGISTERED", {})  # registrations below end with the test
    agents.register("tiny-ppo", ppo)
    overview = run_help([], capsys, monkeypatch)
    assert overview.startswith("usage: jaxrl {train,sweep,pbt,evaluate} AGENT|RUN_DIR")
    assert "  train  Train an agent" in overview and "  sweep  Sweep an agent's hyperparameters" in overview
    assert "  pbt  Population-based training" in overview
    for command in ([], ["train"], ["sweep"], ["pbt"]):
        text = run_help(command, capsys, monkeypatch)
        for name in ["ppo", "dqn", "ddpg", "td3", "sac", "d4pg", "pqn", "recurrent_ppo", "impala", "r2d2", "mpo",
                     "tiny-ppo"]:
            assert re.search(rf"^  {re.escape(name)} +\S", text, re.M), (command, name, text)
    # Summaries line up after the longest name (recurrent_ppo).
    assert "  ppo            Proximal Policy Optimization (Schulman et al. 2017, arXiv:1707.06347)\n" in overview
    # A cited title's own colon does not end the summary; the one after the citation does.
    assert ('  impala         IMPALA (Espeholt et al. 2018, "IMPALA: Scalable Distributed Deep-RL with Importance '
            'Weighted Actor-Learner Architectures", arXiv:1802.01561)\n') in overview
    for name in agents.names():
        summary = cli.agent_summary(name)
        assert summary.count("(") == summary.count(")") and summary.count('"') % 2 == 0, (name, summary)
    assert "jaxrl train AGENT --help" in overview
    # The registered agent is a command-line agent like the built-in ones.
    name, config, options = cli.parse_train(["tiny-ppo", "--num-envs", "2", "--num-seeds", "3"])
    assert (name, config, options.num_seeds) == ("tiny-ppo", ppo.Config(num_envs=2), 3)
    assert "--rollout-length INT" in run_help(["train", "tiny-ppo"], capsys, monkeypatch)


@pytest.mark.parametrize(
    "args, message",
    [([], "jaxrl needs a command"), (["fit", "ppo"], "unknown command 'fit'; choose one of: train, sweep"),
     (["train"], "jaxrl train needs an agent"), (["sweep", "ppo2"], "unknown agent 'ppo2'; known agents: ppo, dqn")],
)
def test_main_errors_name_the_problem(args, message):
    with pytest.raises(SystemExit) as error:
        cli.main(args)
    assert message in str(error.value)


@pytest.mark.parametrize("args, message", [
    (["train", "ppo", "--num-seeds", "0"], "error: --num-seeds must be >= 1, got 0"),
    (["train", "ppo", "--num-chunks", "0"], "error: --num-chunks must be >= 1, got 0"),
    (["sweep", "ppo", "--grid", "learning_rate=1e-3,3e-4", "--num-seeds", "-1"],
     "error: --num-seeds must be >= 1, got -1"),
    (["pbt", "ppo", "--grid", "learning_rate=1e-3,3e-4", "--num-seeds", "0"],
     "error: --num-seeds must be >= 1, got 0"),
    (["sweep", "ppo", "--random", "learning_rate=1e-4:1e-3", "--num-samples", "0"],
     "error: --num-samples must be >= 1, got 0"),
])
def test_a_count_below_one_is_refused_before_a_run_directory_is_written(args, message, tmp_path):
    # Zero seeds used to fail inside the driver with a traceback, after config.json was written.
    with pytest.raises(SystemExit) as error:
        cli.main([*args, "--run-dir", str(tmp_path / "run")])
    assert str(error.value) == message
    assert not os.path.exists(tmp_path / "run")


@pytest.mark.parametrize("writer, counts, message", [
    ("train", {"num_seeds": 0}, "num_seeds must be an int >= 1, got 0"),
    ("train", {"num_chunks": 0}, "num_chunks must be an int >= 1, got 0"),
    ("train", {"num_seeds": 2.0}, "num_seeds must be an int >= 1, got 2.0"),
    ("train", {"keep_checkpoints": 0}, "keep_checkpoints must be an int >= 1, got 0"),
    ("sweep", {"num_seeds": 0}, "num_seeds must be an int >= 1, got 0"),
    ("sweep", {"num_chunks": -2}, "num_chunks must be an int >= 1 or None, got -2"),
    ("pbt", {"num_seeds": True}, "num_seeds must be an int >= 1, got True"),
    ("pbt", {"num_chunks": 0}, "num_chunks must be an int >= 1 or None, got 0"),
])
def test_the_api_refuses_a_count_below_one_before_writing_the_run_directory(writer, counts, message, tmp_path):
    # The writers check as the CLI does: config.json used to be written before the driver refused.
    from jaxrl import pbt, sweep
    train = ppo.make_train(ppo.Config(env="CartPole-v1"))  # no program is built: the check comes first
    run_dir = str(tmp_path / "run")
    grid = [{"learning_rate": 1e-3}, {"learning_rate": 3e-4}]
    call = {"train": lambda: driver.train_to_dir("ppo", train, run_dir, progress=False, **counts),
            "sweep": lambda: sweep.sweep_to_dir("ppo", train, grid, run_dir, progress=False, **counts),
            "pbt": lambda: pbt.pbt_to_dir("ppo", train, grid, run_dir, ready_every=4, perturb=["learning_rate"],
                                          progress=False, **counts)}[writer]
    with pytest.raises(ValueError) as error:
        call()
    assert str(error.value) == message
    assert not os.path.exists(run_dir)


def test_population_commands_refuse_a_run_directory_or_population_they_cannot_use_in_one_line(tmp_path):
    from jaxrl import pbt

    train = ppo.make_train(ppo.Config(env="CartPole-v1"))  # no program is built: the checks come first
    with pytest.raises(ValueError, match=r"^pbt: a population needs at least 2 members, got 1 \(1 setting\(s\) x 1 "
                                         r"seed\(s\)\)$"):  # it used to write config.json first
        pbt.pbt_to_dir("ppo", train, [{"learning_rate": 1e-3}], str(tmp_path / "run"), ready_every=4,
                       perturb=["learning_rate"], progress=False)
    assert not os.path.exists(tmp_path / "run")
    os.makedirs(tmp_path / "trained" / "checkpoints" / "8")  # a train run's directory: a traceback before
    for main, extra in ((cli.sweep_main, []), (cli.pbt_main, ["--ready-every", "8", "--perturb", "learning_rate"])):
        with pytest.raises(SystemExit, match=r"^error: .*trained already holds checkpoints"):
            main(["ppo", "--grid", "learning_rate=1e-3,3e-4", "--run-dir", str(tmp_path / "trained"), *extra])


def test_experiments_aliases_run_the_package_cli(capsys, monkeypatch):
    result = subprocess.run([sys.executable, "-m", "experiments.train", "ppo", "--help"], cwd=ROOT, text=True,
                            capture_output=True, env=dict(os.environ, COLUMNS="129"), timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: python -m experiments.train ppo")
    assert flag_help(result.stdout)["total_timesteps"].startswith("Environment steps to train for")
    from experiments import sweep as sweep_alias

    monkeypatch.setenv("COLUMNS", "129")
    with pytest.raises(SystemExit) as exit_:
        sweep_alias.main(["dqn", "--help"])
    assert exit_.value.code in (0, None)
    text = capsys.readouterr().out
    assert text.startswith("usage: python -m experiments.sweep dqn") and "--target-update-every" in text
