"""jaxrl on an accelerator: what the CPU tricks do there, and jaxrl beside Rejax, from 1 to 1,024 seeds.

    python -m experiments.benchmarks.accelerator [--works ppo pqn sac dqn] [--peer-python PY] [--budget-s 300]

`jaxrl.tricks` keeps five XLA:CPU workarounds off on GPU and TPU "until a device measurement says
otherwise"; this is that measurement, and the peer comparison at the seed counts an accelerator is
for. For each work and seed count it compiles `jax.jit(jax.vmap(train))` over the seeds' keys
(compile seconds reported apart), runs it 3 times and keeps the fastest run:
  ceiling       (ppo only) gymnax CartPole-v1, 4 envs, a 64-64 tanh policy, no learning
                (throughput.py's ceiling at the same env steps per seed);
  jaxrl         jaxrl's program as a user gets it (the tricks chosen by platform: off on GPU);
  jaxrl-tricks  the same program with `jaxrl.cpu_tricks(True)`: the CPU paths compiled for the device;
  rejax         with --peer-python, Rejax 0.1.3 on the same work (experiments/baselines_rejax.py in a
                fresh process, fastest of its 3 runs, compile + first run as compile_plus_run_s; settings
                mapped as experiments.baselines maps a row).
Works (env steps per seed): ppo, PureJaxRL's CartPole settings (4 envs x 128 steps, 4 epochs x 4
minibatches; 100k); pqn, purejaxql's CartPole settings (throughput.py's pqn-cartpole; 102,400); sac,
SAC's Pendulum-v1 defaults ((256, 256), batch 256; 20k); dqn, PureJaxRL's CartPole DQN settings
(throughput.py's; 100k). Prints one JSON line per measurement, then a table of env steps/s with
jaxrl / Rejax and tricks / plain. `--budget-s` stops starting new measurements once spent, so a run
on a lent machine ends inside its lease with every figure taken so far printed.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from typing import Any, Callable

import jax

import jaxrl
from experiments.benchmarks import throughput
from jaxrl.agents import dqn, ppo, pqn, sac

# work: (seed counts, env steps per seed)
WORKS = {"ppo": ((1, 64, 1024), 100_000), "pqn": ((1, 64), 102_400), "sac": ((1, 16), 20_000),
         "dqn": ((1, 64), 100_000)}


def configs(work: str) -> Any:
    steps = WORKS[work][1]
    if work == "ppo":
        return ppo.Config(env="CartPole-v1", num_envs=4, rollout_length=128, total_timesteps=steps, num_epochs=4,
                          num_minibatches=4)
    if work == "pqn":
        return dataclasses.replace(throughput.pqn_config("cartpole"), total_timesteps=steps)
    if work == "sac":
        return sac.Config(env="Pendulum-v1", total_timesteps=steps)
    return dqn.Config(env="CartPole-v1", num_envs=10, buffer_size=10_000, batch_size=128, train_every=10,
                      target_update_every=500, total_timesteps=steps)


def train_fn(work: str) -> Callable:
    if work == "ceiling":
        return throughput.raw_ceiling(4, steps=WORKS["ppo"][1])
    agent = {"ppo": ppo, "pqn": pqn, "sac": sac, "dqn": dqn}[work]
    return throughput.whole(agent.make_train(configs(work)))


def time_program(who: str, fn: Callable, seeds: int, steps: int, tricks: bool | None = None) -> dict:
    """Compiles `jax.jit(jax.vmap(fn))` for `seeds` keys under `cpu_tricks(tricks)`, runs it 3 times."""
    keys = jax.random.split(jax.random.key(0), seeds)
    start = time.perf_counter()
    with jaxrl.cpu_tricks(tricks):
        program = jax.jit(jax.vmap(fn)).lower(keys).compile()
    compile_s = time.perf_counter() - start
    runs = []
    for _ in range(3):
        start = time.perf_counter()
        out = jax.block_until_ready(program(keys))
        runs.append(time.perf_counter() - start)
    return dict(who=who, seeds=seeds, compile_s=round(compile_s, 2), run_s=round(min(runs), 4),
                env_steps_per_s=round(steps * seeds / min(runs)), final_return=round(throughput.final_return(out), 1))


def rejax(python: str, work: str, seeds: int) -> dict | None:
    """Rejax's run of `work`, in a fresh process of the peer's Python (`throughput.rejax_run`)."""
    from experiments.baselines import rejax_settings

    if work == "pqn":
        algo, settings = "pqn", throughput.rejax_pqn_settings(configs(work))
    else:
        algo, settings = rejax_settings(configs(work))
    if algo is None:
        print(json.dumps(dict(who="rejax", work=work, skipped=settings)), flush=True)
        return None
    return throughput.rejax_run(python, algo, settings, seeds, "rejax")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--works", nargs="+", default=list(WORKS), choices=list(WORKS))
    parser.add_argument("--peer-python", default=None, help="a Python with Rejax 0.1.3 (../shared/peers/setup.sh)")
    parser.add_argument("--budget-s", type=float, default=float("inf"),
                        help="start no new measurement after this many seconds")
    parser.add_argument("--out", default=None, help="also append every JSON line to this file")
    parser.add_argument("--seeds", type=int, nargs="+", default=None, help="seed counts for every work")
    parser.add_argument("--tricks-max-seeds", type=int, default=None,
                        help="time jaxrl-tricks only up to this seed count (on a GPU they run 3-10x slower)")
    parser.add_argument("--quick", action="store_true",
                        help="1 and 2 seeds, 20k steps each: checks this script on a CPU before a lease")
    args = parser.parse_args(argv)
    if args.quick:
        for work, (_, steps) in list(WORKS.items()):
            WORKS[work] = ((1, 2), max(steps // 10, 20_000))  # DQN starts learning at 10k
    if args.seeds:
        for work, (_, steps) in list(WORKS.items()):
            WORKS[work] = (tuple(args.seeds), steps)
    began = time.perf_counter()
    header = dict(jax=jax.__version__, backend=jax.default_backend(), devices=[str(d) for d in jax.devices()])
    print(json.dumps(header), flush=True)
    table: list[tuple[str, int, dict[str, dict]]] = []
    for work in args.works:
        seed_counts, steps = WORKS[work]
        for seeds in seed_counts:
            rows: dict[str, dict] = {}
            jobs: list[tuple[str, Callable[[], dict | None]]] = [
                ("jaxrl", lambda: time_program("jaxrl", train_fn(work), seeds, steps)),
                ("jaxrl-tricks", lambda: time_program("jaxrl-tricks", train_fn(work), seeds, steps, tricks=True))]
            if args.tricks_max_seeds is not None and seeds > args.tricks_max_seeds:
                jobs = [job for job in jobs if job[0] != "jaxrl-tricks"]
            if work == "ppo":
                jobs.insert(0, ("ceiling", lambda: time_program("ceiling", train_fn("ceiling"), seeds, steps)))
            if args.peer_python:
                jobs.append(("rejax", lambda: rejax(args.peer_python, work, seeds)))
            for name, job in jobs:
                if time.perf_counter() - began > args.budget_s:
                    print(json.dumps(dict(work=work, seeds=seeds, who=name, skipped="over --budget-s")), flush=True)
                    continue
                try:
                    row = job()
                except Exception as error:  # one failed program must not cost the other figures
                    row = None
                    print(json.dumps(dict(work=work, seeds=seeds, who=name, failed=repr(error)[-800:])), flush=True)
                if row is not None:
                    rows[name] = dict(row, work=work)
                    line = json.dumps(rows[name])
                    print(line, flush=True)
                    if args.out:
                        with open(args.out, "a") as f:
                            f.write(line + "\n")
            table.append((work, seeds, rows))
    print(f"\n{header['devices']}, jax {header['jax']}: env steps/s (compile s)")
    print("work   seeds      ceiling        jaxrl   jaxrl-tricks        rejax   jaxrl/rejax   tricks/plain")
    for work, seeds, rows in table:
        def cell(name: str) -> str:
            row = rows.get(name)
            return f"{row['env_steps_per_s']:>12,d}" if row else f"{'-':>12s}"

        def ratio(a: str, b: str) -> str:
            if a in rows and b in rows:
                return f"{rows[a]['env_steps_per_s'] / rows[b]['env_steps_per_s']:.2f}x"
            return "-"

        print(f"{work:5s} {seeds:6d} {cell('ceiling')} {cell('jaxrl')}   {cell('jaxrl-tricks')} {cell('rejax')}"
              f"   {ratio('jaxrl', 'rejax'):>11s}   {ratio('jaxrl-tricks', 'jaxrl'):>12s}")


if __name__ == "__main__":
    main()
