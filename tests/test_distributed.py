"""Sharding over devices and processes gives the unsharded results.

Each configuration runs in a subprocess (tests/distributed_worker.py), since the number of CPU
devices is fixed when JAX starts: one process with 4 devices (populations sharded, one and two
members per device, and one run's env batch sharded, against the same programs unsharded), and
two processes with 2 devices each joined on loopback through `jax.distributed` (gloo
collectives), against the one-process run; and PBT (`jaxrl.pbt.shard`) over the 4 devices
against PBT unsharded, in the one-process worker.
The command line runs both ways too: a two-process run killed after a checkpoint resumes to the
one-process run's files.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import jax
import numpy as np
import pytest
from helpers import assert_trees_equal

from jaxrl import checkpoint, distributed, driver
from jaxrl.agents import ppo

WORKER = os.path.join(os.path.dirname(__file__), "distributed_worker.py")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(out, devices, *extra, timeout=300):
    # The worker script's own directory is tests/: put this checkout's jaxrl first on its path,
    # ahead of whichever checkout is installed (editable) into the environment.
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")])))
    return subprocess.Popen([sys.executable, WORKER, str(out), str(devices), *map(str, extra)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait(proc, timeout=300):
    try:
        output, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    assert proc.returncode == 0, output[-3000:]


@pytest.fixture(scope="module")
def one_process(tmp_path_factory):
    out = tmp_path_factory.mktemp("local") / "out.npz"
    _wait(_run(out, 4))
    return dict(np.load(out))


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory):
    out = tmp_path_factory.mktemp("multi") / "out.npz"
    with socket.socket() as s:  # a free port for the coordinator
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    procs = [_run(out, 2, f"127.0.0.1:{port}", 2, i) for i in range(2)]
    for proc in procs:
        _wait(proc)
    return dict(np.load(out))


@pytest.mark.parametrize("agent", ["ppo", "dqn"])
def test_population_sharded_over_4_devices_equals_unsharded(one_process, agent):
    r = one_process
    assert int(r[f"{agent}/sharded_devices"]) == 4
    for metric in ("env_steps", "episode_return", "episode_length", "updates"):
        if f"{agent}/plain/{metric}" in r:
            np.testing.assert_array_equal(r[f"{agent}/sharded/{metric}"], r[f"{agent}/plain/{metric}"], err_msg=metric)
    # Members never communicate; the per-device programs may still round a matmul differently
    # from the 4-member batch (seen: 6e-8 for DQN), so parameters are compared to float rounding.
    np.testing.assert_allclose(r[f"{agent}/sharded/params"], r[f"{agent}/plain/params"], rtol=1e-5, atol=1e-6)


def test_env_batch_sharded_run_equals_unsharded(one_process):
    r = one_process
    assert int(r["env_batch/observation_shards"]) == 4
    np.testing.assert_array_equal(r["env_batch/sharded/env_steps"], r["env_batch/plain/env_steps"])
    np.testing.assert_array_equal(r["env_batch/sharded/episode_return"], r["env_batch/plain/episode_return"])
    # Gradients are averaged across devices by XLA's all-reduce: equal up to summation order.
    np.testing.assert_allclose(r["env_batch/sharded/total_loss"], r["env_batch/plain/total_loss"], rtol=1e-5)


def test_populations_of_one_and_two_members_per_device(one_process):
    # PPO's 8 members run two per device, DQN's 4 one per device (both compared with the
    # unsharded run above); the one-process worker would time out if two devices' programs
    # deadlocked.
    r = one_process
    assert r["ppo/sharded/episode_return"].shape[0] == r["ppo/sharded/params"].shape[0] == 8
    assert r["dqn/sharded/episode_return"].shape[0] == r["dqn/sharded/params"].shape[0] == 4


def test_pbt_sharded_over_4_devices_equals_unsharded(one_process):
    r = one_process
    assert int(r["pbt/population_shards"]) == 4
    keys = [k for k in r if k.startswith("pbt/plain/")]
    assert len(keys) >= 20 and "pbt/plain/state/population/agent_state/params/params/policy_head/Dense_0/kernel" in keys
    for key in keys:  # the final state, every metric and the lineage, bit for bit
        np.testing.assert_array_equal(r[key.replace("/plain/", "/population/")], r[key], err_msg=key)
    # Exploit happened in each of the 3 selects, and some member took the state of a parent held
    # by another device (members 2d and 2d + 1 train on device d).
    parents, members = r["pbt/plain/lineage/parent"], np.arange(8)
    assert parents.shape == (4, 8) and np.all(np.any(parents[:3] != members, axis=1))
    assert np.any(parents[:3] // 2 != members // 2)
    np.testing.assert_array_equal(parents[3], members)


def test_uneven_population_is_refused(one_process):
    assert "3 members" in str(one_process["uneven_population_error"])


def test_two_processes_on_loopback_equal_one_process_with_4_devices(one_process, two_processes):
    keys = [k for k in two_processes if "/sharded/" in k]
    assert len(keys) >= 14
    for key in keys:
        np.testing.assert_array_equal(two_processes[key], one_process[key], err_msg=key)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(num_processes=2, process_id=0), "need a coordinator"),
        (dict(coordinator="localhost", num_processes=2, process_id=0), "HOST:PORT"),
        (dict(coordinator="localhost:1234", num_processes=0, process_id=0), "num_processes"),
        (dict(coordinator="localhost:1234", num_processes=2, process_id=2), "process_id"),
    ],
)
def test_initialize_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        distributed.initialize(**kwargs)


CLI_ARGS = ["ppo", "--env", "CartPole-v1", "--total-timesteps", "1024", "--num-envs", "4", "--rollout-length", "32",
            "--num-epochs", "1", "--num-minibatches", "2", "--hidden-sizes", "16", "--num-seeds", "4", "--no-progress",
            "--num-chunks", "2"]


def _cli(run_dir, devices, *extra, resume=False, chunk_sleep=0.0):
    flags = f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count={devices}".strip()
    env = dict(os.environ, XLA_FLAGS=flags, JAX_PLATFORMS="cpu",
               **{driver.DEBUG_CHUNK_SLEEP_ENV: str(chunk_sleep)})
    args = ["--resume", str(run_dir), "--no-progress"] if resume else [*CLI_ARGS, "--run-dir", str(run_dir)]
    return subprocess.Popen([sys.executable, "-m", "jaxrl", "train", *args, *map(str, extra)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _two_process_cli(run_dir, *extra, **kwargs):
    with socket.socket() as s:  # a free port for the coordinator
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return [_cli(run_dir, 2, "--coordinator", f"127.0.0.1:{port}", "--num-processes", 2, "--process-id", i, *extra,
                 **kwargs) for i in range(2)]


def test_two_processes_killed_after_a_checkpoint_resume_to_the_uninterrupted_files_and_state(tmp_path):
    """The command line across two processes writes what one process with 4 devices writes: both
    processes SIGKILLed with rows past checkpoint 4 in metrics.csv, both restarted with --resume,
    the files and final state are those of an uninterrupted one-process run."""
    every = ["--checkpoint-every", 4, "--num-chunks", 4]  # 8 iterations: chunks of 2, checkpoints at 4 and 8
    reference = _cli(tmp_path / "one", 4, *every)
    run_dir, csv = tmp_path / "two", tmp_path / "two" / "metrics.csv"
    procs = _two_process_cli(run_dir, *every, chunk_sleep=1.0)  # sleeps after each chunk: the kill lands mid-run
    deadline = time.monotonic() + 300
    try:
        while not ((run_dir / "checkpoints" / "4").is_dir() and csv.is_file() and csv.read_text().count("\n") > 24):
            assert all(p.poll() is None for p in procs), "the run ended before it could be killed"
            assert time.monotonic() < deadline, "no checkpoint within 300 s"
            time.sleep(0.01)
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGKILL)
        for proc in procs:
            proc.communicate(timeout=60)
    checkpoints = checkpoint.Checkpointer(str(run_dir / "checkpoints"), read_only=True)
    assert checkpoints.steps() == [4]  # and metrics.csv has rows of iterations 5 and 6, cut on resume
    for proc in _two_process_cli(run_dir, resume=True):
        _wait(proc)
    _wait(reference)
    assert (tmp_path / "one" / "metrics.csv").read_text().count("\n") == 1 + 4 * 8  # header, 4 seeds x 8 rows
    assert (run_dir / "metrics.csv").read_bytes() == (tmp_path / "one" / "metrics.csv").read_bytes()
    train = ppo.make_train(ppo.Config(env="CartPole-v1", total_timesteps=1024, num_envs=4, rollout_length=32,
                                      num_epochs=1, num_minibatches=2, hidden_sizes=(16,)))
    target = jax.eval_shape(jax.vmap(train.init, in_axes=(0, None)), driver.population_keys(0, 4), None)
    final = checkpoints.restore(target, 8)[0]  # verifies the checksums of the 4 members' shards of every leaf
    assert_trees_equal(final, checkpoint.Checkpointer(str(tmp_path / "one" / "checkpoints"), read_only=True)
                       .restore(target, 8)[0])
    assert int(final.iteration[0]) == 8
    record_path = run_dir / "checkpoints" / "8" / "record" / "metadata"
    record = json.loads(record_path.read_text())
    assert all(len(leaf["shard_crc32"]) == 4 for leaf in record["leaves"])
    next(leaf for leaf in record["leaves"] if leaf["path"] == ".iteration")["shard_crc32"]["2:3"] ^= 1
    record_path.write_text(json.dumps(record))
    with pytest.raises(checkpoint.CheckpointError, match=r"leaf .iteration region \[2:3\] does not match the checksum"):
        checkpoints.restore(target, 8)
