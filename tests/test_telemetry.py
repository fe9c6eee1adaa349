"""Telemetry: no callback compiled in when off; live io_callback rows and TensorBoard files when on."""

import glob
import os
import struct
import time

import jax
import numpy as np
import pytest
from tensorboardX.proto import event_pb2

from jaxrl import plotting, telemetry
from jaxrl.agents import ppo

CONFIG = ppo.Config(env="CartPole-v1", num_envs=4, rollout_length=32, total_timesteps=4 * 128, num_epochs=1,
                    num_minibatches=2, hidden_sizes=(16,))


@pytest.fixture(scope="module")
def train():
    return ppo.make_train(CONFIG)


def read_scalars(log_dir: str) -> dict[str, list[tuple[int, float]]]:
    """(step, value) per tag from the TFRecord event files tensorboardX wrote into `log_dir`."""
    scalars: dict[str, list[tuple[int, float]]] = {}
    for path in sorted(glob.glob(os.path.join(log_dir, "events.out.tfevents.*"))):
        with open(path, "rb") as f:
            data = f.read()
        pos = 0
        while pos < len(data):  # record: u64 length, u32 crc, payload, u32 crc
            (length,) = struct.unpack("<Q", data[pos:pos + 8])
            event = event_pb2.Event()
            event.ParseFromString(data[pos + 12:pos + 12 + length])
            pos += 12 + length + 4
            for value in event.summary.value:
                scalars.setdefault(value.tag, []).append((event.step, value.simple_value))
    return scalars


def test_telemetry_off_compiles_no_callback(train):
    jaxpr = str(jax.make_jaxpr(jax.vmap(train))(jax.random.split(jax.random.key(0), 2)))
    assert "callback" not in jaxpr


def test_live_callback_writes_every_member_and_iteration(train, tmp_path):
    csv_path, tb_dir = str(tmp_path / "metrics.csv"), str(tmp_path / "tb")
    sinks = telemetry.LiveCallback([telemetry.CSVSink(csv_path, seeds=[0, 1]),
                                    telemetry.TensorBoardSink(tb_dir, seeds=[0, 1])])
    live = train.with_callback(sinks)
    keys = jax.random.split(jax.random.key(0), 2)
    assert "io_callback" in str(jax.make_jaxpr(jax.vmap(live, axis_name="population"))(keys))
    out = jax.jit(jax.vmap(live, axis_name="population"))(keys)
    jax.block_until_ready(out)
    sinks.close()
    # The callback does not change the computation.
    plain = jax.jit(jax.vmap(train))(keys)
    np.testing.assert_array_equal(out.metrics["episode_return"], plain.metrics["episode_return"])
    # CSV: one row per member and iteration, exactly the returned metrics.
    table = plotting.read_metrics(csv_path)
    np.testing.assert_array_equal(table["iteration"], np.tile(np.arange(1, 5), (2, 1)))
    for name in ("env_steps", "episode_return", "total_loss"):
        np.testing.assert_array_equal(table[name], np.asarray(out.metrics[name], np.float64), err_msg=name)
    # TensorBoard: a run per member, each metric against env steps.
    for member in (0, 1):
        scalars = read_scalars(os.path.join(tb_dir, f"seed_{member}"))
        assert "env_steps" not in scalars and {"episode_return", "total_loss", "entropy"} <= set(scalars)
        steps, values = zip(*scalars["episode_return"])
        assert list(steps) == [128, 256, 384, 512]
        np.testing.assert_allclose(values, out.metrics["episode_return"][member], rtol=1e-6)


def test_single_run_callback_reports_member_zero(train):
    rows = []
    out = jax.jit(train.with_callback(lambda m, i, row: rows.append((m, i, float(row["env_steps"])))))(
        jax.random.key(1))
    jax.block_until_ready(out)
    assert rows == [(0, i, 128.0 * i) for i in range(1, 5)]


def test_tensorboard_sink_from_the_chunked_driver(tmp_path):
    sink = telemetry.TensorBoardSink(str(tmp_path), seeds=[3, 4])
    metrics = {"env_steps": np.array([[10, 20], [10, 20]]), "episode_return": np.array([[1.0, 2.0], [3.0, 4.0]]),
               "eval_return": np.array([[np.nan, 5.0], [np.nan, 6.0]])}  # evaluated at the second iteration
    sink.write(metrics, first_iteration=0)
    sink.close()
    scalars = read_scalars(str(tmp_path / "seed_4"))
    assert scalars["episode_return"] == [(10, 3.0), (20, 4.0)]
    assert scalars["eval_return"] == [(20, 6.0)]  # no NaN point where no evaluation ran (nor its warning)


def test_a_resumed_run_purges_the_interrupted_runs_events_from_its_first_step(tmp_path):
    # The interrupted run logged up to step 40, its last checkpoint at 20; the resumed one logs 30
    # and 40 again. Its file opens with a purge at 30, so TensorBoard shows each step once.
    first = telemetry.TensorBoardSink(str(tmp_path), seeds=[0])
    first.write({"env_steps": np.array([[10, 20, 30, 40]]), "episode_return": np.array([[1.0, 2.0, 3.0, 4.0]])}, 0)
    first.close()
    time.sleep(1.1)  # tensorboardX names its files by the second: a resumed run's comes later than that
    resumed = telemetry.TensorBoardSink(str(tmp_path), seeds=[0], resume=True)
    resumed.write({"env_steps": np.array([[30, 40]]), "episode_return": np.array([[5.0, 6.0]])}, 2)
    resumed.close()
    files = sorted(glob.glob(os.path.join(tmp_path, "seed_0", "events.out.tfevents.*")), key=os.path.getmtime)
    assert len(files) == 2
    events = []
    with open(files[1], "rb") as f:
        data, pos = f.read(), 0
    while pos < len(data):
        (length,) = struct.unpack("<Q", data[pos:pos + 8])
        events.append(event_pb2.Event.FromString(data[pos + 12:pos + 12 + length]))
        pos += 12 + length + 4
    starts = [e.step for e in events if e.HasField("session_log") and e.session_log.status == e.session_log.START]
    assert starts == [30]
    assert [(e.step, v.simple_value) for e in events for v in e.summary.value] == [(30, 5.0), (40, 6.0)]


def test_an_offline_run_is_plotted_and_logged_against_learner_steps(tmp_path):
    # Offline programs take no env steps: their x-axis is Train.step_metric, "learner_steps".
    sink = telemetry.TensorBoardSink(str(tmp_path / "tb"), seeds=[0], step_metric="learner_steps")
    metrics = {"learner_steps": np.array([[500, 1000]]), "episode_return": np.array([[-900.0, -300.0]]),
               "loss": np.array([[0.5, 0.25]])}
    sink.write(metrics, first_iteration=0)
    sink.close()
    scalars = read_scalars(str(tmp_path / "tb" / "seed_0"))
    assert scalars["episode_return"] == [(500, -900.0), (1000, -300.0)] and "learner_steps" not in scalars
    csv_path = str(tmp_path / "metrics.csv")
    csv = telemetry.CSVSink(csv_path, seeds=[0])
    csv.write(metrics, first_iteration=0)
    csv.close()
    assert open(csv_path).readline().strip() == "seed,iteration,learner_steps,episode_return,loss"
    plotting.plot_learning_curve(csv_path, str(tmp_path / "curve.png"), step_metric="learner_steps")
    assert os.path.getsize(tmp_path / "curve.png") > 0
    bar = telemetry.ProgressBar(1000, "bc", disable=True, step_metric="learner_steps")
    bar.write(metrics, first_iteration=0)
    bar.close()


@pytest.mark.filterwarnings('ignore:install "ipywidgets" for Jupyter support:UserWarning')  # rich, in the notebook case
def test_progress_outside_a_terminal_is_a_plain_line_per_tenth_of_the_run():
    """A batch job's log gets readable lines as the run goes (a live bar cannot redraw there): one
    each time the run passes another tenth of its steps, none while it stays within one, none
    with the bar disabled, none in a notebook (not a terminal either, but rich's bar shows there)."""
    import io

    from rich.console import Console

    def run(disable, jupyter=False):
        out = io.StringIO()
        console = (Console(file=out, force_jupyter=True) if jupyter
                   else Console(file=out, force_terminal=False, width=40))
        bar = telemetry.ProgressBar(1000, "ppo CartPole-v1", disable=disable, console=console)
        for steps in (50, 150, 160, 350, 1000):  # chunks ending at these counts, 2 seeds, 2 iterations each
            bar.write({"env_steps": np.array([[steps - 10, steps]] * 2),
                       "episode_return": np.array([[0.0, steps / 10], [0.0, steps / 10 + 1]])}, first_iteration=0)
        bar.close()
        return out.getvalue().splitlines()

    lines = run(disable=False)
    assert [line.split(", ")[0] for line in lines] == [
        "ppo CartPole-v1: 150/1,000 env steps (15%)", "ppo CartPole-v1: 350/1,000 env steps (35%)",
        "ppo CartPole-v1: 1,000/1,000 env steps (100%)"]
    assert " return 15.5, " in lines[0] and " return 100.5, " in lines[2] and lines[2].endswith(" elapsed")
    assert " steps/s, " in lines[1]  # one line each, however narrow the console: nothing wrapped or cut
    assert run(disable=True) == []
    assert not any("env steps (" in line for line in run(disable=False, jupyter=True))  # a notebook has rich's bar
