"""PBT's overhead: env steps/s of a PBT run against the same population as a plain sweep.

    python -m experiments.benchmarks.pbt [--members 8] [--steps 102400] [--ready-every 10] [--repeats 5]
                                         [--processes 3]

The work: jaxrl PPO on CartPole-v1 at PureJaxRL's defaults (4 envs x 128 steps, 4 epochs x 4
minibatches, the config of `throughput.py`), a population of `--members` (learning rates 1e-4,
3e-4, 1e-3, 3e-3, `--members` / 4 seeds each), `--steps` env steps per member. Two programs on
the same keys and hparams, each compiled and run once, then timed `--repeats` times, the two
interleaved (sweep, PBT, sweep, PBT, ...) so that a slow spell of the machine hits both:
  sweep   `jax.jit(jax.vmap(train))(keys, hparams)`, as `jaxrl.sweep.run` runs a population;
  pbt     `jax.jit(PBTTrain(train, ready_every, perturb=("learning_rate",)))(keys, hparams, key)`,
          as `jaxrl.pbt.run` runs it: the same iterations, in generations of `--ready-every`,
          each followed by the select step (fitness, exploit's copy of the agent state, explore).
Each process prints one JSON line per timed call, then each program's env steps/s (members x
steps / median seconds) and PBT / sweep, the ratio of the medians (and the median of the rounds'
ratios).

Under XLA's default flags one compiled program's speed is bimodal from one process to the next and
steady within one (`throughput.py`'s docstring; seen here: the sweep at 270k env steps/s in one
process, 385k in the next), and each of the two programs draws its mode apart, so one process's
ratio can be off by that much. So the measurement runs in `--processes` fresh processes (0: in
this one only), and the summary gives each process's figures, the ratio of the fastest PBT process
to the fastest sweep process (each program at its good mode), and the median of the processes'
ratios.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time

import jax
import numpy as np

from jaxrl import pbt, sweep
from jaxrl.agents import ppo

LEARNING_RATES = (1e-4, 3e-4, 1e-3, 3e-3)


def programs(members: int, steps: int, ready_every: int):
    """(sweep, pbt, train): the population's two programs, each a no-argument call returning its output."""
    if members % len(LEARNING_RATES):
        raise SystemExit(f"--members must be a multiple of {len(LEARNING_RATES)}")
    config = ppo.Config(env="CartPole-v1", num_envs=4, rollout_length=128, total_timesteps=steps, num_epochs=4,
                        num_minibatches=4)
    train = ppo.make_train(config)
    keys, hparams = sweep.population(train.default_hparams, sweep.grid(learning_rate=list(LEARNING_RATES)),
                                     members // len(LEARNING_RATES))
    pbt_train = pbt.PBTTrain(train, ready_every=ready_every, perturb=("learning_rate",))
    plain = jax.jit(jax.vmap(train))
    population = jax.jit(pbt_train)
    key = jax.random.key(0)
    return (lambda: plain(keys, hparams)), (lambda: population(keys, hparams, key)), train


def timed_call(program) -> tuple[float, object]:
    start = time.perf_counter()
    out = jax.block_until_ready(program())
    return time.perf_counter() - start, out


def measure(args: argparse.Namespace) -> dict[str, float]:
    """Both programs timed in this process (see the module's docstring); returns the summary."""
    plain, population, train = programs(args.members, args.steps, args.ready_every)
    work = args.members * train.num_iterations * train.steps_per_iteration  # env steps per call
    print(f"{platform.node()} {jax.devices()[0].platform} ({jax.device_count()} devices), PPO CartPole-v1, "
          f"{args.members} members x {work // args.members} env steps, PBT ready every {args.ready_every} "
          f"of {train.num_iterations} iterations", flush=True)
    seconds: dict[str, list[float]] = {"sweep": [], "pbt": []}
    for name, program in (("sweep", plain), ("pbt", population)):
        first, out = timed_call(program)
        print(json.dumps({"program": name, "call": "compile+run", "seconds": round(first, 3)}), flush=True)
    parents = np.asarray(out.lineage["parent"])
    assert np.any(parents[:-1] != np.arange(args.members)), "PBT never exploited: not the work meant"
    for repeat in range(args.repeats):
        for name, program in (("sweep", plain), ("pbt", population)):
            elapsed, _ = timed_call(program)
            seconds[name].append(elapsed)
            print(json.dumps({"program": name, "repeat": repeat, "seconds": round(elapsed, 3),
                              "env_steps_per_s": round(work / elapsed)}), flush=True)
    median = {name: float(np.median(times)) for name, times in seconds.items()}
    return {"sweep_env_steps_per_s": work / median["sweep"], "pbt_env_steps_per_s": work / median["pbt"],
            "pbt_over_sweep": median["sweep"] / median["pbt"],
            "median_round_ratio": float(np.median(np.asarray(seconds["sweep"]) / np.asarray(seconds["pbt"])))}


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(prog="python -m experiments.benchmarks.pbt", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=8)
    parser.add_argument("--steps", type=int, default=102_400, help="env steps per member")
    parser.add_argument("--ready-every", type=int, default=10, help="iterations per PBT generation")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls of each program per process")
    parser.add_argument("--processes", type=int, default=3, help="fresh processes to measure in (0: this one)")
    args = parser.parse_args(argv)
    if args.processes == 0:
        summary = measure(args)
        print(json.dumps({"summary": summary}), flush=True)
        return summary
    command = [sys.executable, "-m", "experiments.benchmarks.pbt", "--members", str(args.members), "--steps",
               str(args.steps), "--ready-every", str(args.ready_every), "--repeats", str(args.repeats),
               "--processes", "0"]
    runs = []
    for process in range(args.processes):
        lines = subprocess.run(command, check=True, capture_output=True, text=True).stdout.splitlines()
        for line in lines[:-1]:
            print(f"process {process}: {line}", flush=True)
        runs.append(json.loads(lines[-1])["summary"])
    print("| process | sweep env steps/s | PBT env steps/s | PBT / sweep (median of rounds) |")
    print("| --- | ---: | ---: | ---: |")
    for process, run in enumerate(runs):
        print(f"| {process} | {run['sweep_env_steps_per_s']:,.0f} | {run['pbt_env_steps_per_s']:,.0f} | "
              f"{run['pbt_over_sweep']:.3f} ({run['median_round_ratio']:.3f}) |")
    fastest = {name: max(run[f"{name}_env_steps_per_s"] for run in runs) for name in ("sweep", "pbt")}
    summary = {"sweep_env_steps_per_s": fastest["sweep"], "pbt_env_steps_per_s": fastest["pbt"],
               "pbt_over_sweep": fastest["pbt"] / fastest["sweep"],
               "median_process_ratio": float(np.median([run["pbt_over_sweep"] for run in runs]))}
    print(f"fastest process of each: sweep {fastest['sweep']:,.0f}, PBT {fastest['pbt']:,.0f} env steps/s, "
          f"PBT / sweep {summary['pbt_over_sweep']:.3f}; median of the processes' ratios "
          f"{summary['median_process_ratio']:.3f}")
    return summary


if __name__ == "__main__":
    main()
