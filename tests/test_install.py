"""The package as a user installs it: a wheel built from this repository, installed into a fresh
venv outside the checkout, trains PPO from its own `jaxrl` console script.

Installing jax & co into the fresh venv from an index would take minutes, so the venv sees the
dependencies already installed for these tests through a .pth file that names their
site-packages directory. Python appends such a path line to sys.path without reading that
directory's own .pth files, so an editable install of jaxrl there stays inactive: the test checks
that `jaxrl` resolves to the wheel's copy in the new venv.
"""

import csv
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRAIN_ARGS = ["train", "ppo", "--env", "CartPole-v1", "--total-timesteps", "2048", "--num-envs", "4",
              "--rollout-length", "64", "--num-epochs", "1", "--num-minibatches", "2", "--no-progress",
              "--num-chunks", "2"]  # 8 iterations of 256 env steps


def _setuptools_builds_wheels() -> bool:
    """Whether this environment's setuptools meets pyproject.toml's build requirement (77: the
    SPDX `license` string) and so builds the wheel by itself (bdist_wheel is part of setuptools
    since 70.1). Otherwise (Python 3.11's venvs bring 65.5, 3.12's none) pip builds in isolation."""
    if importlib.util.find_spec("setuptools") is None:
        return False
    import setuptools

    version = tuple(int(p) for p in setuptools.__version__.split(".")[:2] if p.isdigit())
    return version >= (77, 0)


def _run(cmd, **kwargs):
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=600, **kwargs)
    assert result.returncode == 0, f"{cmd} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(wheel path, fresh venv, environment for its processes, a working directory outside the checkout)."""
    tmp = tmp_path_factory.mktemp("install")
    # Built from a copy of the packaging inputs: an in-tree build leaves build/ and jaxrl.egg-info in the checkout.
    source = tmp / "source"
    shutil.copytree(os.path.join(ROOT, "jaxrl"), source / "jaxrl", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(os.path.join(ROOT, name), source / name)
    dist = tmp / "dist"
    # In place and offline with this environment's setuptools where it can build wheels; else pip
    # installs the build requirements (setuptools>=77) from its configured index into an isolated build.
    flags = ["--no-build-isolation", "--no-index"] if _setuptools_builds_wheels() else []
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", *flags, "-w", str(dist), str(source)])
    (wheel,) = dist.glob("jaxrl-*.whl")

    venv = tmp / "venv"
    _run([sys.executable, "-m", "venv", str(venv)])
    new_site = _run([str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                    cwd=tmp).stdout.strip()
    assert new_site.startswith(str(venv))
    dependencies = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    with open(os.path.join(new_site, "jaxrl_test_dependencies.pth"), "w") as f:
        f.write("".join(f"{path}\n" for path in dependencies))
    _run([str(venv / "bin" / "python"), "-m", "pip", "install", "--no-deps", "--no-index", str(wheel)], cwd=tmp)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    outside = tmp / "elsewhere"
    outside.mkdir()
    return wheel, venv, env, outside


def test_wheel_holds_the_cli_and_its_console_script(installed):
    wheel = installed[0]
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        scripts = archive.read(entry_points).decode()
    assert {"jaxrl/cli.py", "jaxrl/__main__.py", "jaxrl/agents/registry.py", "jaxrl/driver.py"} <= set(names)
    assert not [n for n in names if n.startswith(("experiments/", "tests/"))]
    assert "[console_scripts]\njaxrl = jaxrl.cli:main\n" in scripts


def test_installed_jaxrl_trains_ppo_from_its_console_script(installed):
    _, venv, env, outside = installed
    python = str(venv / "bin" / "python")
    probe = _run([python, "-c", "import json, sys, jaxrl, jaxrl.cli; print(json.dumps([jaxrl.__file__, "
                  "jaxrl.cli.__file__, sys.path, [m for m in sys.modules if 'editable' in m]]))"],
                 cwd=outside, env=env)
    package, cli_file, path, editable = json.loads(probe.stdout)
    assert package.startswith(str(venv)) and cli_file.startswith(str(venv)), (package, cli_file)
    checkout = os.path.realpath(ROOT)
    assert editable == [] and checkout not in [os.path.realpath(os.path.join(outside, p)) for p in path], path

    run_dir = outside / "run"
    result = _run([str(venv / "bin" / "jaxrl"), *TRAIN_ARGS, "--run-dir", str(run_dir)], cwd=outside, env=env)
    assert "over 1 seed(s)" in result.stdout and f"wrote {run_dir}" in result.stdout
    with open(run_dir / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert [(int(r["seed"]), int(r["iteration"]), int(r["env_steps"])) for r in rows] == [
        (0, i, 256 * i) for i in range(1, 9)]
    returns = np.array([float(r["episode_return"]) for r in rows])
    assert np.all((returns >= 8) & (returns <= 500)), returns  # CartPole episodes last 8 to 500 steps
    with open(run_dir / "config.json") as f:
        config = json.load(f)
    assert (config["agent"], config["num_iterations"], config["config"]["rollout_length"]) == ("ppo", 8, 64)

    overview = _run([python, "-m", "jaxrl", "--help"], cwd=outside, env=env).stdout
    assert overview.startswith("usage: python -m jaxrl {train,sweep,pbt,evaluate} AGENT|RUN_DIR")
    assert all(f"\n  {name} " in overview
               for name in ("ppo", "dqn", "ddpg", "td3", "sac", "d4pg", "pqn", "recurrent_ppo", "impala", "r2d2",
                            "mpo"))
