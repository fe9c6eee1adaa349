"""The reference-results command (experiments/baselines.py): its statistics by hand, rows stored
as they finish and skipped when present, and the `--check` regression slice against the
intervals committed in docs/baselines/check.csv (passing as committed, failing when doctored)."""

import csv
import dataclasses
import os
import shutil
import sys

import numpy as np
import pytest

from experiments import baselines
from jaxrl import agents, datasets

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHECK_CSV = os.path.join(ROOT, "docs", "baselines", "check.csv")


# ---- statistics ----------------------------------------------------------------------------------


def test_final_returns_average_the_last_tenth_of_iterations():
    returns = np.arange(40, dtype=np.float64).reshape(2, 20)  # 20 iterations: the last 2 count
    np.testing.assert_array_equal(baselines.final_returns(returns), [18.5, 38.5])
    np.testing.assert_array_equal(baselines.final_returns(returns[:, :5]), [4.0, 24.0])  # at least one


def test_iqm_is_the_mean_of_the_middle_half():
    assert baselines.iqm(np.array([1.0, 2.0, 3.0, 100.0])) == pytest.approx(2.5)
    assert baselines.iqm(np.array([-50.0, 1, 2, 3, 4, 5, 6, 1000])) == pytest.approx(3.5)
    point, low, high = baselines.iqm_interval(np.array([10.0, 11, 12, 13, 14, 15, 16, 17]))
    assert point == pytest.approx(13.5) and low <= point <= high and high - low > 0


def test_prediction_interval_of_a_four_seed_iqm():
    assert baselines.prediction_interval(np.full(64, 7.0), 4) == (7.0, 7.0)
    finals = np.random.default_rng(0).normal(100.0, 10.0, 64)
    low, high = baselines.prediction_interval(finals, 4)
    # The IQM of 4 draws is the mean of the middle two: it spreads less than one seed, more than 64.
    assert finals.min() < low < 100.0 < high < finals.max()
    narrow = baselines.prediction_interval(finals, 4, coverage=0.5)
    assert low < narrow[0] < narrow[1] < high


def test_timed_reruns_short_programs_and_keeps_the_fastest(monkeypatch):
    clock = {"now": 0.0}
    durations = iter([25.0, 20.0, 30.0, 99.0])
    monkeypatch.setattr(baselines.time, "perf_counter", lambda: clock["now"])

    def run():
        clock["now"] += next(durations)
        return clock["now"]

    # 25 + 20 < 60: a third run, then the cap of 3; the first and the fastest come back.
    assert baselines.timed(run, 60.0, 3) == (75.0, 25.0, 20.0)
    durations = iter([70.0, 1.0])
    assert baselines.timed(run, 60.0, 3) == (145.0, 70.0, 70.0)  # a long first run is not repeated
    durations = iter([5.0, 1.0])
    assert baselines.timed(run, 0.0, 3) == (150.0, 5.0, 5.0)  # the --check slice: one run


def test_fresh_process_rows_come_as_each_ends_and_failed_processes_are_left_out(tmp_path, capsys):
    from experiments.benchmarks import throughput

    counter = tmp_path / "n"
    counter.write_text("0")
    script = ("import json, pathlib, sys\n"
              f"p = pathlib.Path({str(counter)!r}); n = int(p.read_text()) + 1; p.write_text(str(n))\n"
              "print('compiling...')\n"
              "if n == 2: sys.exit('second process broke')\n"
              "print(json.dumps(dict(n=n, first=True))); print(json.dumps(dict(n=n, env_steps_per_s=10 * n)))\n")
    seen = []
    rows = throughput.process_rows([sys.executable, "-c", script], 3, "toy",
                                   on_row=lambda row: seen.append(row["n"]) or {**row, "shown": True})
    assert seen == [1, 3]  # each process's last JSON line, handed over in order, the broken one skipped
    assert rows == [dict(n=1, env_steps_per_s=10, shown=True), dict(n=3, env_steps_per_s=30, shown=True)]
    err = capsys.readouterr().err
    assert "toy failed" in err and "second process broke" in err


# ---- rows stored as they finish --------------------------------------------------------------------


def _fake_run_row(calls, fail_on=None):
    def run_row(row, seeds, seed=0, min_timed_s=0.0):
        assert min_timed_s == baselines.TIMED_SECONDS  # the table's rows time the way the peer's do
        calls.append(row.key)
        if row.key == fail_on:
            raise KeyboardInterrupt  # the sitting ends in the middle of this row
        finals = np.linspace(400.0, 500.0, seeds)
        return dict(agent=row.agent, env=row.env, env_steps=1000, seeds=seeds, iqm=450.0, ci_low=420.0,
                    ci_high=480.0, mean=450.0, min=400.0, eval_mean=490.0, random=20.0,
                    bar="" if row.bar is None else row.bar, wall_s=1.0,
                    compile_s=0.5, env_steps_per_s=2000, version="0", commit="abc", date="2026-12-01", machine="cpu",
                    config="", finals=" ".join(map(str, finals)), evals=" ".join(map(str, finals)),
                    curve=(np.array([500, 1000]), np.tile([[100.0, 450.0]], (seeds, 1))))
    return run_row


def test_rows_are_stored_as_they_finish_and_skipped_when_present(tmp_path, monkeypatch):
    args = baselines.parse(["--agents", "ppo", "--envs", "CartPole-v1", "Acrobot-v1", "--seeds", "3",
                            "--out", str(tmp_path)])
    calls = []
    monkeypatch.setattr(baselines, "run_row", _fake_run_row(calls, fail_on="ppo/Acrobot-v1"))
    with pytest.raises(KeyboardInterrupt):
        baselines.build(args)
    stored = baselines.read_results(str(tmp_path / "baselines" / "results.csv"))
    assert [(r["agent"], r["env"]) for r in stored] == [("ppo", "CartPole-v1")]  # the finished row is kept
    assert "| ppo | CartPole-v1 | 1,000 | 3 | 450.0 [420.0, 480.0]" in (tmp_path / "baselines.md").read_text()

    calls.clear()
    monkeypatch.setattr(baselines, "run_row", _fake_run_row(calls))
    assert baselines.build(args) == 0  # the next sitting runs only what is missing
    assert calls == ["ppo/Acrobot-v1"]
    stored = baselines.read_results(str(tmp_path / "baselines" / "results.csv"))
    assert sorted(r["env"] for r in stored) == ["Acrobot-v1", "CartPole-v1"]
    assert os.path.isfile(tmp_path / "baselines" / "cpu-CartPole-v1.png")
    assert os.path.isfile(baselines.curve_path(str(tmp_path), "cpu", "ppo", "Acrobot-v1"))
    table = (tmp_path / "baselines.md").read_text()
    assert "| 475 **below** |" in table and "| -100 yes |" in table  # IQM 450 against each bar

    calls.clear()
    baselines.build(args)
    assert calls == []
    baselines.build(baselines.parse(["--agents", "ppo", "--envs", "CartPole-v1", "--seeds", "3", "--force",
                                     "--out", str(tmp_path)]))
    assert calls == ["ppo/CartPole-v1"]
    assert len(baselines.read_results(str(tmp_path / "baselines" / "results.csv"))) == 2  # replaced, not added


def test_data_rows_learn_from_the_projects_own_datasets(tmp_path, monkeypatch):
    # Every agent of the offline, imitation and demonstrations families has a row with its dataset.
    rows = [row for row in baselines.PROFILES["cpu"]() if row.data]
    assert {row.agent for row in rows} == {"bc", "td3_bc", "cql", "iql", "crr", "bve", "ail", "sqil", "pwil", "sacfd",
                                           "td3fd", "dqfd"}
    monkeypatch.setattr(baselines, "DATA_CACHE", str(tmp_path))
    offline = next(row for row in rows if row.agent == "td3_bc")
    assert baselines.with_data(offline.make_config(), offline, str(tmp_path)).dataset == os.path.join(
        ROOT, "tests", "data", "datasets", "Pendulum-v1", "medium-replay")
    # Episodes of the committed expert, collected once into the cache (seed 0: the same rows each time).
    gail = next(row for row in rows if row.agent == "ail" and row.env == "CartPole-v1")
    config = baselines.with_data(gail.make_config(), dataclasses.replace(gail, data="expert x2"), str(tmp_path))
    assert config.direct_rl == "ppo" and config.demonstrations == str(tmp_path / "CartPole-v1" / "expert-2")
    info = datasets.read_info(config.demonstrations)
    assert info.num_episodes == 2 and info.mean_return > 450  # the expert plays CartPole through
    stamp = os.path.getmtime(os.path.join(config.demonstrations, "dataset.json"))
    assert baselines.data_dir("CartPole-v1", "expert x2", str(tmp_path)) == config.demonstrations
    assert os.path.getmtime(os.path.join(config.demonstrations, "dataset.json")) == stamp
    with pytest.raises(SystemExit, match=r"dataset 'expert' of CartPole-v1: want 'medium-replay' or '<kind> "
                                         r"x<episodes>'"):
        baselines.data_dir("CartPole-v1", "expert", str(tmp_path))


def test_data_rows_are_shown_with_their_dataset_and_normalised():
    row = dict(profile="cpu", library="jaxrl", agent="sqil", env="CartPole-v1", env_steps="20000", seeds="8",
               iqm="400", ci_low="300", ci_high="500", mean="400", min="100", eval_mean="480", random="20",
               expert="500", bar="475", wall_s="10", env_steps_per_s="2000", data="expert x10",
               config="direct_rl=dqn total_timesteps=20000")
    offline = dict(row, agent="bc", data="expert x20", env_steps="2000", config="num_updates=2000")
    table = baselines.markdown_table([row, offline], "cpu")
    assert "| sqil | CartPole-v1 (expert x10, on dqn) | 20,000 | 8 |" in table
    assert "| bc | CartPole-v1 (expert x20) | 2,000 updates | 8 |" in table
    # (IQM - random) / (expert - random) = 380 / 480; min 80 / 480; greedy 460 / 480.
    assert "| sqil | CartPole-v1 (expert x10, on dqn) | 20,000 | 8 | 0.79 [0.58, 1.00] | 0.17 | 0.96 |" in (
        baselines.data_table([row, offline], "cpu"))


def test_unknown_agents_or_envs_are_named():
    with pytest.raises(SystemExit, match=r"--agents \['nope'\] have no rows in this profile"):
        baselines.build(baselines.parse(["--agents", "nope"]))
    with pytest.raises(SystemExit, match=r"--envs \['Pong'\] have no rows"):
        baselines.build(baselines.parse(["--envs", "Pong"]))
    # Both known, no row together: the check slice once passed having checked nothing.
    with pytest.raises(SystemExit, match=r"no row has both --agents \['ppo'\] and --envs \['Pendulum-v1'\]"):
        baselines.check(baselines.parse(["--check", "--agents", "ppo", "--envs", "Pendulum-v1"]))


def test_every_profile_row_builds_a_valid_config():
    for profile in baselines.PROFILES.values():
        for row in profile():
            row.make_config()
    for row in baselines.CHECK:
        row.make_config()


def test_agent_pages_show_their_rows_of_the_committed_table(tmp_path):
    results = baselines.read_results(os.path.join(ROOT, "docs", "baselines", "results.csv"))
    pages = os.path.join(ROOT, "docs", "agents")
    shown = set()
    for name in sorted(os.listdir(pages)):
        text = open(os.path.join(pages, name)).read()
        for marker in baselines.PAGE_MARKER.finditer(text):
            agents_ = marker.group(1).split(",")
            assert marker.group(2) == baselines.markdown_table(results, "cpu", agents_) + "\n", name
            shown.update(agents_)
    assert shown == set(agents.names())  # every built-in agent's page shows its rows
    # The command rewrites a stale table and leaves the rest of the page alone.
    os.makedirs(tmp_path / "agents")
    (tmp_path / "agents" / "x.md").write_text("# X\n\n<!-- baselines: ppo,sac -->\n| old |\n| --- |\n\nafter\n")
    assert baselines.update_agent_pages(str(tmp_path), results, "cpu") == [str(tmp_path / "agents" / "x.md")]
    text = (tmp_path / "agents" / "x.md").read_text()
    assert text.endswith("\n\nafter\n") and "| old |" not in text
    assert "| ppo | CartPole-v1 |" in text and "| sac | Pendulum-v1 |" in text and "| dqn |" not in text
    assert baselines.update_agent_pages(str(tmp_path), results, "cpu") == []


def test_every_committed_row_under_its_bar_is_explained_on_the_page():
    results = baselines.read_results(os.path.join(ROOT, "docs", "baselines", "results.csv"))
    below = {f"{r['agent']}/{r['env']}" for r in baselines.below_bar(results, "cpu")}
    # Each row under its bar has its reason, and no reason outlives its row's getting there.
    assert below == set(baselines.BELOW_BAR), (below ^ set(baselines.BELOW_BAR))
    page = open(os.path.join(ROOT, "docs", "baselines.md")).read()
    assert baselines.below_bar_notes(baselines.below_bar(results, "cpu")) in page
    assert ("| bc | Pendulum-v1 (medium-replay) | 20,000 updates | 8 | -1,170.7 [-1,246.2, -1,106.1] | -1,183.8 "
            "| -1,344.7 | -1,286.5 | -200 **below** |") in page
    assert "- bc on Pendulum-v1 (medium-replay): -1,170.7 against -200 (greedy -1,286.5): by design" in page
    assert "| r2d2 | CartPole-v1 | 320,000 | 8 | 497.9 [469.6, 500.0] | 484.4 | 401.5 | 493.9 | 475 yes |" in page


def test_readme_shows_the_headline_rows_of_the_committed_table():
    results = baselines.read_results(os.path.join(ROOT, "docs", "baselines", "results.csv"))
    readme = open(os.path.join(ROOT, "README.md")).read()
    marker = baselines.HEADLINE_MARKER.search(readme)
    assert marker and marker.group(1) == baselines.headline_table(results) + "\n"
    assert marker.group(1).count("\n") == 2 + len(baselines.HEADLINE)  # every headline row is stored


# ---- Rejax on the same rows ------------------------------------------------------------------------


def _cpu_row(agent, env):
    return next(row for row in baselines.PROFILES["cpu"]() if (row.agent, row.env) == (agent, env))


def test_rejax_settings_do_the_rows_work():
    algo, dqn = baselines.rejax_settings(_cpu_row("dqn", "CartPole-v1").make_config())
    # PureJaxRL's DQN (10 envs, one update per step of the batch) with a soft target step every 50.
    assert algo == "dqn" and dqn == dict(
        env="CartPole-v1", total_timesteps=500_000, num_envs=10, gamma=0.99, normalize_observations=False,
        buffer_size=10_000, batch_size=128, fill_buffer=10_000, num_epochs=1, learning_rate=2.5e-4,
        max_grad_norm=10.0, target_update_freq=50, polyak=pytest.approx(0.9), eps_start=1.0, eps_end=0.05,
        exploration_fraction=0.5, ddqn=True, agent="QNetwork", agent_kwargs=dict(activation="relu"))
    algo, ppo = baselines.rejax_settings(_cpu_row("ppo", "Pendulum-v1").make_config())
    assert algo == "ppo" and (ppo["num_envs"], ppo["num_steps"], ppo["num_epochs"], ppo["num_minibatches"]) == (
        64, 100, 10, 10)
    assert ppo["normalize_observations"] and ppo["agent_kwargs"] == dict(activation="tanh", hidden_layer_sizes=[64, 64])
    algo, sac = baselines.rejax_settings(_cpu_row("sac", "Pendulum-v1").make_config())
    assert algo == "sac" and sac["hidden_layer_sizes"] == [64, 64] and sac["polyak"] == pytest.approx(0.995)
    assert (sac["num_epochs"], sac["fill_buffer"], sac["learning_rate"]) == (1, 1_000, 3e-4)
    algo, td3 = baselines.rejax_settings(_cpu_row("td3", "Pendulum-v1").make_config())
    assert algo == "td3" and (td3["policy_delay"], td3["exploration_noise"], td3["target_noise"]) == (2, 0.1, 0.2)
    # Four updates per step of a 4-env batch; a quarter of an update per step has no Rejax setting.
    from jaxrl.agents import dqn, sac as sac_agent, td3 as td3_agent

    assert baselines.rejax_settings(dqn.Config(num_envs=4, train_every=1, learning_starts=1_000))[1]["num_epochs"] == 4
    refused = {
        "updates a whole number": dqn.Config(num_envs=10, train_every=40, target_update_every=520),
        "n-step": dqn.Config(n_step=3),
        "prioritized": dqn.Config(prioritized=True),
        "fixed at (64, 64)": td3_agent.Config(),
        "Gaussian noise only": td3_agent.Config(hidden_sizes=(64, 64), exploration="ou"),
        "one learning rate": sac_agent.Config(critic_learning_rate=1e-3),
        "brax": sac_agent.Config(env="brax/inverted_pendulum"),
        "no DDPG": _cpu_row("ddpg", "Pendulum-v1").make_config(),
        "no MaskedCartPole-v1": _cpu_row("ppo", "MaskedCartPole-v1").make_config(),
        "no conv torso": _cpu_row("ppo", "Breakout-MinAtar").make_config(),
    }
    for why, config in refused.items():
        algo, message = baselines.rejax_settings(config)
        assert algo is None and why in message, (why, message)


def _fake_peer(calls):
    def run_peer_row(row, seeds, peer_python, jaxrl_steps_per_s):
        calls.append("rejax " + row.key)
        finals = np.linspace(300.0, 500.0, seeds)
        return dict(library="rejax", agent=row.agent, env=row.env, env_steps=1000, seeds=seeds, iqm=400.0,
                    ci_low=350.0, ci_high=480.0, mean=400.0, min=300.0, eval_mean=400.0, bar=475.0, wall_s=2.0,
                    compile_s=1.0, env_steps_per_s=1000, speed_ratio=jaxrl_steps_per_s / 1000, version="rejax 0.1.3",
                    commit="", date="2026-12-01", machine="cpu", config="", finals=" ".join(map(str, finals)),
                    evals=" ".join(map(str, finals)))
    return run_peer_row


def test_peer_rows_run_beside_jaxrl_and_are_compared(tmp_path, monkeypatch):
    argv = ["--agents", "ppo", "dqn", "--envs", "CartPole-v1", "--seeds", "3", "--out", str(tmp_path),
            "--peers", "rejax", "--peer-python", __import__("sys").executable]
    calls = []
    monkeypatch.setattr(baselines, "run_row", _fake_run_row(calls))
    monkeypatch.setattr(baselines, "run_peer_row", _fake_peer(calls))
    baselines.build(baselines.parse(argv))
    # Each peer row right after its jaxrl row, so their speed ratio shares the machine's state.
    assert calls == ["ppo/CartPole-v1", "rejax ppo/CartPole-v1", "dqn/CartPole-v1", "rejax dqn/CartPole-v1"]
    stored = baselines.read_results(str(tmp_path / "baselines" / "results.csv"))
    assert sorted((baselines.library(r), r["agent"]) for r in stored) == [("jaxrl", "dqn"), ("jaxrl", "ppo"),
                                                                   ("rejax", "dqn"), ("rejax", "ppo")]
    table = (tmp_path / "baselines.md").read_text()
    # jaxrl's greedy IQM (of 400, 450, 500: 450) against Rejax's interval, and 2000 / 1000 env steps/s.
    assert "| ppo | CartPole-v1 | 1,000 | 3 | 450.0 [" in table
    assert "| 400.0 [350.0, 480.0] | yes | 2,000 | 1,000 | 2.00x |" in table
    main, beside = table.split("## Beside Rejax")
    beside = beside.split("## Published figures")[0]
    # The peer's row is not one of jaxrl's: one line in the main table, one beside Rejax.
    assert main.count("| ppo | CartPole-v1 |") == 1 and beside.count("| ppo | CartPole-v1 |") == 1
    assert "CleanRL ppo.py | 488.75 ± 18.40" in table  # the published figures for the rows shown
    calls.clear()
    baselines.build(baselines.parse(argv))
    assert calls == []
    # A stored jaxrl row without its peer reruns both: a ratio is only taken within one invocation.
    kept = [r for r in stored if not (baselines.library(r) == "rejax" and r["agent"] == "dqn")]
    baselines.write_results(str(tmp_path / "baselines" / "results.csv"), kept)
    baselines.build(baselines.parse(argv))
    assert calls == ["dqn/CartPole-v1", "rejax dqn/CartPole-v1"]
    assert len(baselines.read_results(str(tmp_path / "baselines" / "results.csv"))) == 4


def test_ratios_below_the_speed_floor_are_marked():
    assert baselines._ratio_cell("ppo", 1.32) == "1.32x (**below 1.5x**)"
    assert baselines._ratio_cell("dqn", 2.31) == "2.31x"
    assert baselines._ratio_cell("td3", 0.9) == "0.90x (**below 1x**)"
    assert baselines._ratio_cell("sac", 1.0) == "1.00x"


def test_rows_name_the_cpu_model_and_its_vector_isa(tmp_path):
    """2-core hosts have run one PPO program 3-4x apart: a row's machine names its CPU and ISA."""
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: AMD EPYC 9R14\nflags\t\t: fpu sse2 avx avx2 avx512f avx512dq\n\n"
                       "processor\t: 1\nmodel name\t: AMD EPYC 9R14\nflags\t\t: fpu sse2 avx avx2 avx512f\n")
    assert baselines._cpu_model(str(cpuinfo)) == ", AMD EPYC 9R14 (AVX-512)"
    cpuinfo.write_text("model name\t: Intel(R) Xeon(R) CPU @ 2.20GHz\nflags\t\t: fpu avx avx2 fma\n")
    assert baselines._cpu_model(str(cpuinfo)) == ", Intel(R) Xeon(R) CPU @ 2.20GHz (AVX2)"
    cpuinfo.write_text("processor\t: 0\nBogoMIPS\t: 50.00\nFeatures\t: fp asimd\n")  # aarch64: no model name
    assert baselines._cpu_model(str(cpuinfo)) == ""
    assert baselines._cpu_model(str(tmp_path / "missing")) == ""


def test_peer_row_reads_the_peer_scripts_json(tmp_path):
    """`run_peer_row` runs the peer's Python on experiments/baselines_rejax.py with the row's settings
    and turns its JSON line into a stored row (a stand-in Python echoes a fixed answer)."""
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\n"
                    "case \"$2\" in *'\"algo\": \"ppo\"'*'\"num_steps\": 128'*'\"min_timed_s\": 60.0'*) ;; "
                    "*) echo bad spec >&2; exit 3;; esac\n"
                    "echo '{\"finals\": [100, 200, 300, 400], \"env_steps\": 499712, \"seeds\": 4, \"compile_s\": 1.5, "
                    "\"wall_s\": 9.5, \"env_steps_per_s\": 250000, \"rejax\": \"0.1.3\", \"jax\": \"0\"}'\n")
    fake.chmod(0o755)
    row = _cpu_row("ppo", "CartPole-v1")
    peer = baselines.run_peer_row(row, 4, str(fake), jaxrl_steps_per_s=500_000)
    assert (peer["library"], peer["iqm"], peer["mean"], peer["min"]) == ("rejax", 250.0, 250.0, 100.0)
    assert peer["speed_ratio"] == 2.0 and peer["env_steps"] == 499712 and peer["version"] == "rejax 0.1.3"
    with pytest.raises(ValueError, match="no Rejax row"):
        baselines.run_peer_row(_cpu_row("ddpg", "Pendulum-v1"), 4, str(fake), 1.0)
    broken = tmp_path / "broken"
    broken.write_text("#!/bin/sh\necho boom >&2\nexit 1\n")
    broken.chmod(0o755)
    with pytest.raises(RuntimeError, match="(?s)Rejax run failed.*boom"):
        baselines.run_peer_row(row, 4, str(broken), 1.0)


def test_peers_need_the_peer_python(tmp_path):
    with pytest.raises(SystemExit, match="--peers rejax needs Rejax's Python at /nowhere/python"):
        baselines.build(baselines.parse(["--peers", "rejax", "--peer-python", "/nowhere/python",
                                         "--out", str(tmp_path)]))


# ---- the regression slice --------------------------------------------------------------------------
# Training the slice is `make check` (python -m experiments.baselines --check), not part of `make test`:
# the agents' learning tests are, and the slice is the longer evidence beside them.


def _stored():
    return {(r["agent"], r["env"]): r for r in baselines.read_results(CHECK_CSV)}


@pytest.fixture(scope="module")
def check_results():
    """Results inside every stored interval (its midpoint): what an unchanged agent gives."""
    return {key: (float(r["ci_low"]) + float(r["ci_high"])) / 2 for key, r in _stored().items()}


def test_check_slice_has_a_stored_interval_per_row(check_results):
    stored = _stored()
    assert set(stored) == {(row.agent, row.env) for row in baselines.CHECK}
    assert all(float(r["ci_low"]) < float(r["ci_high"]) for r in stored.values())
    assert baselines.compare(check_results, stored) == []


def test_every_check_interval_excludes_random_play():
    # An agent that stops learning plays about as random actions do: an interval that reaches down to
    # random play's return would let that regression pass the slice (SAC's and D4PG's once did).
    reaching = {f"{agent}/{env}": (float(r["ci_low"]), float(r["random"])) for (agent, env), r in _stored().items()
                if not float(r["ci_low"]) > float(r["random"])}
    assert reaching == {}


def test_check_fails_on_a_doctored_stored_row(check_results, tmp_path):
    stored = _stored()
    doctored = dict(stored[("ppo", "CartPole-v1")])
    value = check_results[("ppo", "CartPole-v1")]
    doctored["ci_low"], doctored["ci_high"] = str(value + 1.0), str(value + 50.0)  # moved above the result
    failures = baselines.compare(check_results, {**stored, ("ppo", "CartPole-v1"): doctored})
    assert len(failures) == 1 and failures[0].startswith("ppo/CartPole-v1: IQM") and "outside" in failures[0]
    # ...and the command says so with exit status 1, from a stored file (no training: nothing stored).
    os.makedirs(tmp_path / "baselines")
    shutil.copy(CHECK_CSV, tmp_path / "baselines" / "check.csv")
    with open(tmp_path / "baselines" / "check.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["agent"] != "dqn"]
    baselines.write_results(str(tmp_path / "baselines" / "check.csv"), rows)
    assert baselines.main(["--check", "--agents", "dqn", "--out", str(tmp_path)]) == 1


def test_every_registered_agent_has_a_check_row():
    assert sorted({row.agent for row in baselines.CHECK}) == sorted(agents.names())
    assert len({(row.agent, row.env) for row in baselines.CHECK}) == len(baselines.CHECK)


def test_re_recording_some_check_rows_keeps_the_others(monkeypatch, tmp_path):
    # `--check --force --agents dqn` once rewrote check.csv with the dqn row alone.
    def fake_run_row(row, seeds):
        assert seeds == baselines.CHECK_RECORD_SEEDS
        finals = np.arange(seeds, dtype=np.float64)
        return dict(library="jaxrl", agent=row.agent, env=row.env, finals=" ".join(f"{x:g}" for x in finals),
                    iqm=float(baselines.iqm(finals)), curve=None)

    monkeypatch.setattr(baselines, "run_row", fake_run_row)
    os.makedirs(tmp_path / "baselines")
    shutil.copy(CHECK_CSV, tmp_path / "baselines" / "check.csv")
    assert baselines.main(["--check", "--force", "--agents", "dqn", "--out", str(tmp_path)]) == 0
    after = {(r["agent"], r["env"]): r for r in baselines.read_results(str(tmp_path / "baselines" / "check.csv"))}
    before = _stored()
    assert set(after) == set(before)
    assert all(after[key] == before[key] for key in before if key[0] != "dqn")
    dqn = after[("dqn", "CartPole-v1")]
    low, high = baselines.prediction_interval(np.arange(64.0), baselines.CHECK_SEEDS)
    assert (float(dqn["ci_low"]), float(dqn["ci_high"])) == (low, high) and dqn["profile"] == "check"
    assert [(r["agent"], r["env"]) for r in baselines.read_results(str(tmp_path / "baselines" / "check.csv"))] == \
        [(row.agent, row.env) for row in baselines.CHECK if (row.agent, row.env) in after]


@pytest.mark.check
def test_the_check_slice_computes_what_run_row_stores():
    # `--check` skips the table's evaluation and timed reruns; its IQM must stay the recorded one's
    # (the same program and keys), or every stored interval would be moot. At XLA's default level,
    # as recorded: the slice's -O2 only rounds differently.
    rows = [baselines.Row("ppo", "CartPole-v1", dict(total_timesteps=4_096, num_envs=4, rollout_length=64,
                                                     hidden_sizes=(16,))),
            baselines.Row("bc", "CartPole-v1", dict(hidden_sizes=(16,), num_updates=40, updates_per_iteration=20),
                          data="expert x20")]
    recorded = [baselines.run_row(row, 2)["iqm"] for row in rows]
    assert list(baselines.check_iqms(rows, 2, optimization_level=None)) == recorded


def test_seed_only_draws_other_seeds_for_the_check(capsys):
    assert baselines.parse(["--check", "--seed", "1"]).seed == 1
    for argv in (["--seed", "1"], ["--check", "--force", "--seed", "1"]):
        with pytest.raises(SystemExit):
            baselines.parse(argv)
        assert "--seed draws other seeds for --check" in capsys.readouterr().err
