"""The reference-results command (experiments/baselines.py): its statistics by hand, rows stored
as they finish and skipped when present, and the `--check` regression slice against the
intervals committed in docs/baselines/check.csv (passing as committed, failing when doctored)."""

import csv
import os
import shutil

import numpy as np
import pytest

from experiments import baselines

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


# ---- rows stored as they finish --------------------------------------------------------------------


def _fake_run_row(calls, fail_on=None):
    def run_row(row, seeds, seed=0):
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


def test_unknown_agents_or_envs_are_named():
    with pytest.raises(SystemExit, match=r"--agents \['nope'\] have no rows in this profile"):
        baselines.build(baselines.parse(["--agents", "nope"]))
    with pytest.raises(SystemExit, match=r"--envs \['Pong'\] have no rows"):
        baselines.build(baselines.parse(["--envs", "Pong"]))


def test_every_profile_row_builds_a_valid_config():
    for profile in baselines.PROFILES.values():
        for row in profile():
            row.make_config()
    for row in baselines.CHECK:
        row.make_config()


# ---- the regression slice --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def check_results():
    """The check slice, trained once: {(agent, env): 4-seed IQM}."""
    return {(row.agent, row.env): baselines.run_row(row, baselines.CHECK_SEEDS)["iqm"] for row in baselines.CHECK}


def _stored():
    return {(r["agent"], r["env"]): r for r in baselines.read_results(CHECK_CSV)}


def test_check_slice_is_inside_its_stored_intervals(check_results):
    stored = _stored()
    assert set(stored) == {(row.agent, row.env) for row in baselines.CHECK}
    assert baselines.compare(check_results, stored) == []


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
