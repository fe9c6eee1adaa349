"""Checkpoints: exact save/restore, atomic saves, corrupted and partial checkpoints, and runs
killed with SIGKILL that resume to exactly the files and state of an uninterrupted run."""

import asyncio
import dataclasses
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import assert_trees_equal

from jaxrl import checkpoint, cli, driver
from jaxrl.agents import dqn, ppo

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEEDS = 2

# One 16-wide hidden layer: these tests are of files and states, not of learning, and a smaller
# network compiles faster (the suite's time is mostly XLA compiling).
PPO_CONFIG = ppo.Config(env="CartPole-v1", num_envs=4, rollout_length=32, total_timesteps=2048, num_epochs=1,
                        num_minibatches=2, hidden_sizes=(16,))  # 16 iterations
PPO_ARGS = ["ppo", "--env", "CartPole-v1", "--num-envs", "4", "--rollout-length", "32", "--total-timesteps", "2048",
            "--num-epochs", "1", "--num-minibatches", "2", "--hidden-sizes", "16"]
DQN_CONFIG = dqn.Config(env="CartPole-v1", num_envs=10, total_timesteps=1200, steps_per_iteration=200,
                        learning_starts=400, buffer_size=500, batch_size=32, target_update_every=100,
                        hidden_sizes=(16,))  # 6 iterations
DQN_ARGS = ["dqn", "--env", "CartPole-v1", "--num-envs", "10", "--total-timesteps", "1200", "--steps-per-iteration",
            "200", "--learning-starts", "400", "--buffer-size", "500", "--batch-size", "32", "--target-update-every",
            "100", "--hidden-sizes", "16"]
RUN_ARGS = ["--num-seeds", str(SEEDS), "--no-progress", "--checkpoint-every", "2"]
AGENTS = {"ppo": (PPO_CONFIG, ppo.make_train, PPO_ARGS), "dqn": (DQN_CONFIG, dqn.make_train, DQN_ARGS)}


def abstract_state(train):
    """The population's state shapes, as the driver builds its restore target (no work done)."""
    return jax.eval_shape(jax.vmap(train.init, in_axes=(0, None)), driver.population_keys(0, SEEDS), None)


def restore(run_dir, train, step=None):
    return checkpoint.Checkpointer(os.path.join(run_dir, "checkpoints"), read_only=True).restore(
        abstract_state(train), step)[0]


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def csv_rows(path):
    return max(0, read_bytes(path).count(b"\n") - 1) if os.path.exists(path) else 0


def jaxrl_train(*args, env=None):
    """`python -m jaxrl train ARGS` in a subprocess."""
    return subprocess.run([sys.executable, "-m", "jaxrl", "train", *args], check=False, cwd=ROOT, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300)


def kill_after_first_checkpoint(args, run_dir, step=2, seeds=SEEDS):
    """Starts the CLI, SIGKILLs it once checkpoint `step` is finished and iteration `step + 1`'s
    rows are in metrics.csv (so resuming must cut them), and returns the checkpoint steps left
    behind and the rows written."""
    # The driver sleeps this long after every chunk, so the kill lands mid-run (see driver.py).
    env = dict(os.environ, **{driver.DEBUG_CHUNK_SLEEP_ENV: "0.5"})
    proc = subprocess.Popen([sys.executable, "-m", "jaxrl", "train", *args, "--run-dir", run_dir], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    csv_path, deadline = os.path.join(run_dir, "metrics.csv"), time.monotonic() + 200
    try:
        while not (os.path.isdir(os.path.join(run_dir, "checkpoints", str(step)))
                   and csv_rows(csv_path) >= (step + 1) * seeds):
            assert proc.poll() is None, f"the run ended before it could be killed:\n{proc.stdout.read()}"
            assert time.monotonic() < deadline, "no checkpoint within 200 s"
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    return checkpoint.Checkpointer(os.path.join(run_dir, "checkpoints"), read_only=True).steps(), csv_rows(csv_path)


def uninterrupted_and_resumed(name, tmp_path_factory, repeat_flags):
    """An uninterrupted run (in this process) and the same run killed and resumed (subprocesses):
    with `--resume RUN_DIR` alone, or (`repeat_flags`) with the flags the run was started with."""
    config, make_train, args = AGENTS[name]
    reference = str(tmp_path_factory.mktemp(f"{name}-reference"))
    out = cli.train_main(args + RUN_ARGS + ["--run-dir", reference])
    resumed = str(tmp_path_factory.mktemp(f"{name}-resumed"))
    steps, rows = kill_after_first_checkpoint(args + RUN_ARGS, resumed)
    flags = args + RUN_ARGS + ["--run-dir", resumed] if repeat_flags else ["--no-progress"]
    result = jaxrl_train(*flags, "--resume", resumed)
    assert result.returncode == 0, result.stdout
    return {"name": name, "train": make_train(config), "out": out, "reference": reference, "resumed": resumed,
            "killed_steps": steps, "killed_rows": rows}


@pytest.fixture(scope="module")
def ppo_runs(tmp_path_factory):
    return uninterrupted_and_resumed("ppo", tmp_path_factory, repeat_flags=True)


@pytest.fixture(scope="module")
def dqn_runs(tmp_path_factory):
    return uninterrupted_and_resumed("dqn", tmp_path_factory, repeat_flags=False)


@pytest.fixture(params=["ppo", "dqn"])
def runs(request):
    return request.getfixturevalue(f"{request.param}_runs")


def test_killed_run_resumes_to_the_uninterrupted_files_and_state(runs):
    train = runs["train"]
    total = train.num_iterations
    # Killed mid-run, with metrics rows written past the last checkpoint.
    assert runs["killed_steps"] and runs["killed_steps"][-1] < total
    assert runs["killed_rows"] > runs["killed_steps"][-1] * SEEDS
    assert read_bytes(os.path.join(runs["resumed"], "metrics.csv")) == read_bytes(
        os.path.join(runs["reference"], "metrics.csv"))
    assert csv_rows(os.path.join(runs["reference"], "metrics.csv")) == total * SEEDS
    final = restore(runs["resumed"], train, total)
    assert_trees_equal(final, restore(runs["reference"], train, total))
    assert_trees_equal(final, runs["out"].state)
    with open(os.path.join(runs["resumed"], "config.json")) as f:
        assert json.load(f)["checkpoint_every"] == 2


def test_checkpoints_keep_the_last_k_and_round_trip_exactly(runs):
    """The saved state, PRNG keys and (for DQN) replay buffer come back bit for bit, with their
    dtypes and weak types, into a target built with jax.eval_shape."""
    train, total = runs["train"], runs["train"].num_iterations
    checkpoints = checkpoint.Checkpointer(os.path.join(runs["reference"], "checkpoints"), read_only=True)
    assert checkpoints.steps() == [total - 4, total - 2, total]  # --keep-checkpoints 3 (the default)
    state, progress = checkpoints.restore(abstract_state(train))
    assert progress == {"iteration": total, "num_iterations": total}
    expected = runs["out"].state
    assert_trees_equal(state, expected)
    for x, y in zip(jax.tree.leaves(state), jax.tree.leaves(expected)):
        assert x.dtype == y.dtype and x.shape == y.shape
        assert getattr(x, "weak_type", False) == getattr(y, "weak_type", False)
    assert jnp.issubdtype(state.key.dtype, jax.dtypes.prng_key) and state.key.shape == (SEEDS,)
    assert int(state.iteration[0]) == total
    if runs["name"] == "dqn":
        assert state.buffer_state is not None
        buffer_leaves = jax.tree.leaves(state.buffer_state)
        assert sum(x.size for x in buffer_leaves) > 10_000 and any(np.any(np.asarray(x) != 0) for x in buffer_leaves)


# A bad step's other reads finish after orbax closed its event loop; jaxrl drops their "Event loop
# is closed" reports (pages of tracebacks on a user's stderr), so none may reach pytest's hook.
@pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")
def test_resume_skips_a_corrupted_checkpoint_and_a_partial_save(ppo_runs, tmp_path, capsys):
    """The latest save was cut short (only its temporary directory is left), the one before is
    corrupted: resuming warns, falls back to the one before that, and still ends exactly."""
    runs = ppo_runs
    train, total = runs["train"], runs["train"].num_iterations
    run_dir = str(tmp_path / "run")
    shutil.copytree(runs["resumed"], run_dir)
    checkpoints_dir = os.path.join(run_dir, "checkpoints")
    os.rename(os.path.join(checkpoints_dir, str(total)), os.path.join(checkpoints_dir, f"{total}.orbax-checkpoint-tmp"))
    os.remove(os.path.join(checkpoints_dir, f"{total}.orbax-checkpoint-tmp", "commit_success.txt"))
    bad = total - 2
    for path in glob.glob(os.path.join(checkpoints_dir, str(bad), "state", "d", "*")):
        os.truncate(path, os.path.getsize(path) // 2)
    checkpoints = checkpoint.Checkpointer(checkpoints_dir, read_only=True)
    assert checkpoints.steps() == [total - 4, bad]  # the temporary directory is not a step
    with pytest.raises(checkpoint.CheckpointError, match=f"checkpoint {checkpoints_dir}/{bad} is corrupted"):
        checkpoints.restore(abstract_state(train))

    out = cli.train_main(["--resume", run_dir, "--no-progress"])
    err = capsys.readouterr().err
    assert f"skipping checkpoint {bad}: checkpoint {checkpoints_dir}/{bad} is corrupted" in err
    assert f"{total}.orbax-checkpoint-tmp: a checkpoint save that never finished" in err
    assert set(os.listdir(checkpoints_dir)) == {str(total - 4), str(bad), str(total), f"{bad}.corrupt"}
    reference_csv = read_bytes(os.path.join(runs["reference"], "metrics.csv"))
    assert read_bytes(os.path.join(run_dir, "metrics.csv")) == reference_csv
    assert_trees_equal(out.state, runs["out"].state)
    assert out.metrics["env_steps"].shape == (SEEDS, 4)  # only the iterations run after the checkpoint
    assert_trees_equal(restore(run_dir, train, total), runs["out"].state)


# A bad step's other reads finish after orbax closed its event loop; jaxrl drops their "Event loop
# is closed" reports (pages of tracebacks on a user's stderr), so none may reach pytest's hook.
@pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize("damage", ["truncate", "delete", "flip", "record", "checksum", "shape"])
def test_a_damaged_checkpoint_is_reported_and_the_previous_one_restores(dqn_runs, tmp_path, damage):
    runs = dqn_runs
    train, total = runs["train"], runs["train"].num_iterations
    directory = str(tmp_path / "checkpoints")
    shutil.copytree(os.path.join(runs["reference"], "checkpoints"), directory)
    latest = os.path.join(directory, str(total))
    data = max(glob.glob(os.path.join(latest, "state", "d", "*")), key=os.path.getsize)
    record = os.path.join(latest, "record", "metadata")
    if damage == "truncate":
        os.truncate(data, os.path.getsize(data) - 100)
    elif damage == "delete":
        os.remove(data)
    elif damage == "flip":
        content = bytearray(read_bytes(data))
        content[len(content) // 2] ^= 0xFF
        with open(data, "wb") as f:
            f.write(content)
    elif damage == "record":
        os.remove(record)
    else:  # a checksum that does not match (what silently wrong array contents would look like), or a
        # leaf's recorded shape altered: that step alone then reads as another run's state
        with open(record) as f:
            saved = json.load(f)
        leaf = next(e for e in saved["leaves"] if e["path"].startswith(".hparams"))
        if damage == "checksum":
            leaf["crc32"] ^= 1
        else:
            leaf["shape"] = leaf["shape"] + [2]
        with open(record, "w") as f:
            json.dump(saved, f)
    checkpoints = checkpoint.Checkpointer(directory, read_only=True)
    target = abstract_state(train)
    what = "holds a different state" if damage == "shape" else "is corrupted"
    with pytest.raises(checkpoint.CheckpointError, match=f"checkpoint {latest} {what}") as error:
        checkpoints.restore(target)
    if damage == "checksum":
        assert ".hparams" in str(error.value) and "checksum" in str(error.value)
    skipped = []
    step, state, progress = checkpoints.restore_latest(target, on_skip=lambda s, e: skipped.append(s))
    assert (step, skipped, progress["iteration"]) == (total - 2, [total], total - 2)
    assert int(state.iteration[0]) == total - 2


def test_only_the_late_reads_of_a_failed_restore_are_kept_off_stderr():
    """The unraisable hook installed around a restore drops exactly the errors of reads that
    report into orbax's closed event loop and passes every other unraisable error on."""
    passed_on = []
    hook = checkpoint._LateReadCallbacks(passed_on.append)
    loop = asyncio.new_event_loop()
    loop.close()
    with pytest.raises(RuntimeError, match="Event loop is closed") as late:
        loop.call_soon_threadsafe(print)
    same_text = RuntimeError("Event loop is closed")  # raised elsewhere: not a late read
    other = ValueError("a user's own finaliser failed")
    for error in (late.value, same_text, other):
        hook(types.SimpleNamespace(exc_value=error, exc_type=type(error), object=None))
    assert [u.exc_value for u in passed_on] == [same_text, other]


def test_saves_are_atomic_renames(tmp_path, monkeypatch):
    """A step directory appears only by renaming a finished temporary one: a save cut short
    before its rename leaves no step behind, only a temporary directory."""
    directory = str(tmp_path / "checkpoints")
    rename = os.rename
    renames = []

    def crash_before_step_4(src, dst, *args, **kwargs):
        renames.append((os.path.basename(str(src)), os.path.basename(str(dst))))
        if os.path.basename(str(dst)) == "4":
            raise OSError("simulated crash before the rename")
        return rename(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "rename", crash_before_step_4)
    state = {"params": jnp.arange(6.0).reshape(2, 3), "key": jax.random.key(3)}
    checkpoints = checkpoint.Checkpointer(directory, max_to_keep=2)
    checkpoints.save(2, state, {"iteration": 2})
    checkpoints.wait()
    checkpoints.save(4, state, {"iteration": 4})
    with pytest.raises(OSError, match="simulated crash"):
        checkpoints.wait()
    assert ("2.orbax-checkpoint-tmp", "2") in renames and ("4.orbax-checkpoint-tmp", "4") in renames
    assert checkpoints.steps() == [2]
    assert checkpoints.partial_saves() == [os.path.join(directory, "4.orbax-checkpoint-tmp")]
    assert sorted(os.listdir(os.path.join(directory, "4.orbax-checkpoint-tmp"))) == [
        "_CHECKPOINT_METADATA", "commit_success.txt", "record", "state"]
    monkeypatch.undo()
    target = jax.eval_shape(lambda: state)
    step, restored, _ = checkpoints.restore_latest(target)
    assert step == 2
    assert_trees_equal(restored, state)


def test_round_trip_of_keys_weak_types_and_dtypes(tmp_path):
    state = {
        "keys": jax.random.split(jax.random.key(7), 3),
        "rbg_key": jax.random.key(1, impl="rbg"),
        "raw_key": jax.random.PRNGKey(2),
        "weak_scalar": jnp.asarray(1.5),
        "mask": jnp.array([True, False]),
        "small": jnp.arange(4, dtype=jnp.int8),
        "half": jnp.linspace(0, 1, 5, dtype=jnp.float16),
        "nothing": None,
        "nested": [jnp.full((2, 2), jnp.nan), (jnp.uint32(7),)],
    }
    assert state["weak_scalar"].weak_type
    checkpoints = checkpoint.Checkpointer(str(tmp_path), max_to_keep=1)
    checkpoints.save(1, state)
    checkpoints.save(3, state, {"note": "x"})
    checkpoints.close()
    assert checkpoints.steps() == [3]  # max_to_keep=1
    restored, progress = checkpoint.Checkpointer(str(tmp_path), read_only=True).restore(jax.eval_shape(lambda: state))
    assert progress == {"note": "x"}
    assert_trees_equal(restored, state)
    for x, y in zip(jax.tree.leaves(restored), jax.tree.leaves(state)):
        assert (x.dtype, x.shape, getattr(x, "weak_type", False)) == (y.dtype, y.shape, getattr(y, "weak_type", False))
    assert jax.random.key_impl(restored["rbg_key"]) == jax.random.key_impl(state["rbg_key"])
    with pytest.raises(checkpoint.CheckpointError, match="holds a different state"):
        checkpoint.Checkpointer(str(tmp_path), read_only=True).restore_latest(
            jax.eval_shape(lambda: {**state, "small": jnp.zeros(5, jnp.int8)}))
    with pytest.raises(checkpoint.CheckpointError, match="no checkpoint in"):
        checkpoint.Checkpointer(str(tmp_path / "none"), read_only=True).restore_latest({})


def test_chunks_end_at_every_checkpoint():
    assert driver.chunk_ends(16, 3) == [4, 8, 12, 16]  # as before: chunk_size(16, 3) == 4
    assert driver.chunk_ends(16, 3, checkpoint_every=2) == list(range(2, 17, 2))
    ends = driver.chunk_ends(1000, 50, checkpoint_every=97)
    assert set(range(97, 1000, 97)) <= set(ends) and ends[-1] == 1000
    assert len({b - a for a, b in zip([0] + ends, ends)}) <= 3  # few compiled chunk programs
    for n, chunks, every in [(976, 50, 100), (10, 3, 4), (7, 50, 3)]:
        ends = driver.chunk_ends(n, chunks, every)
        assert set(range(every, n, every)) <= set(ends) and ends == sorted(set(ends)) and ends[-1] == n


def test_cli_rejects_inconsistent_checkpoint_flags(ppo_runs, tmp_path, capsys):
    reference = ppo_runs["reference"]
    no_checkpoints = tmp_path / "no-checkpoints"
    no_checkpoints.mkdir()
    with open(os.path.join(reference, "config.json")) as f:
        stored = json.load(f)
    with open(no_checkpoints / "config.json", "w") as f:
        json.dump({**stored, "checkpoint_every": 0}, f)
    only_partial = tmp_path / "only-partial"
    os.makedirs(only_partial / "checkpoints" / "2.orbax-checkpoint-tmp")
    shutil.copy(os.path.join(reference, "config.json"), only_partial / "config.json")
    cases = [
        (["--resume", str(tmp_path / "missing")], "does not exist"),
        (["--resume", str(tmp_path)], "has no config.json"),
        (["--resume", str(no_checkpoints)], "run without --checkpoint-every"),
        (["--resume", str(only_partial)], "no finished checkpoint"),
        (["--resume", str(only_partial)], "only unfinished saves: 2.orbax-checkpoint-tmp"),
        (["dqn", "--resume", reference], "is a ppo run, not dqn"),
        (["ppo", "--resume", reference, "--num-seeds", "3"], "flags change them: num_seeds: 2 there, 3 here"),
        (["--resume", "--run-dir", reference], "--resume needs a run directory"),
        (["ppo", "--keep-checkpoints", "2"], "--keep-checkpoints needs --checkpoint-every"),
        (["ppo", "--checkpoint-every", "-1"], "--checkpoint-every must be >= 0"),
        (PPO_ARGS + ["--checkpoint-every", "2", "--run-dir", reference], "already holds checkpoints"),
    ]
    for args, message in cases:
        with pytest.raises(SystemExit) as error:
            cli.train_main(args)
        assert message in str(error.value) + capsys.readouterr().err, (args, str(error.value))
    # A run killed in its first save (or whose steps were all moved aside as corrupted) has nothing
    # to resume, and a new run may take its directory: it used to be refused as one that "holds
    # checkpoints". The new run removes the unfinished save and trains as the reference did.
    assert "start the run again, with --overwrite" in str(pytest.raises(SystemExit, cli.train_main,
                                                                        ["--resume", str(only_partial)]).value)
    os.makedirs(only_partial / "checkpoints" / "4.corrupt")
    cli.train_main(PPO_ARGS + RUN_ARGS + ["--run-dir", str(only_partial), "--overwrite"])
    assert "removed" in capsys.readouterr().err
    assert sorted(os.listdir(only_partial / "checkpoints")) == ["12", "14", "16", "4.corrupt"]
    assert read_bytes(only_partial / "metrics.csv") == read_bytes(os.path.join(reference, "metrics.csv"))


def test_resume_refuses_exactly_the_flags_that_change_the_recorded_settings(ppo_runs, tmp_path):
    """ppo_runs resumed with every flag it was started with; flags with other values are each named,
    with both values, and flags that change no result (--tensorboard, --progress) pass."""
    reference = ppo_runs["reference"]
    args = [("4096" if a == "2048" else a) for a in PPO_ARGS]  # --total-timesteps 4096
    assert args != PPO_ARGS
    with pytest.raises(SystemExit) as error:
        cli.train_main(args + ["--gamma", "0.9", "--num-seeds", "3", "--checkpoint-every", "2", "--tensorboard",
                               "--progress", "--run-dir", str(tmp_path), "--resume", reference])
    assert str(error.value) == (
        f"error: --resume continues {reference} with the settings in its config.json, but these flags change them: "
        f"gamma: 0.99 there, 0.9 here; total_timesteps: 2048 there, 4096 here; num_seeds: 2 there, 3 here; "
        f"run_dir: {reference!r} there, {str(tmp_path)!r} here")
    with pytest.raises(SystemExit, match=r"flags change them: checkpoint_every: 2 there, 4 here$"):
        cli.train_main(["--checkpoint-every", "4", "--resume", reference])
    # The Python API names the config fields too (it printed both whole configs).
    with pytest.raises(checkpoint.CheckpointError) as error:
        driver.train_to_dir("ppo", ppo.make_train(dataclasses.replace(PPO_CONFIG, gamma=0.9)), reference,
                            num_seeds=SEEDS, checkpoint_every=2, progress=False, resume=True)
    assert str(error.value) == (f"cannot resume {reference} with other settings than it was started with: "
                                f"config.gamma: 0.99 there, 0.9 here")
