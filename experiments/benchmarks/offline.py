"""Speed of the offline learners, as ratios to references timed in the same run.

    python -m experiments.benchmarks.offline [--learners bc td3_bc cql iql crr] [--updates 5000]

For each learner, on a dataset of 50 random Pendulum-v1 episodes (10,000 rows; speed does not
depend on the data), batches of 256, (256, 256) networks, as the median of 3 runs after one
compile+run:
  learner     the agent's offline program: `--updates` gradient steps in one iteration, then the
              loop's greedy evaluation (one episode of 200 steps, `eval_episodes=1`);
  reference   its own networks' bare steps: one forward and backward pass of every network the
              learner trains (the same flat-parameter modules), on one fixed batch of the same size,
              and one `jaxrl.optim.adam` step each, `--updates` times in one `lax.scan`; no
              sampling, targets or second passes. The ratio learner / reference is the share of
              the bare networks' speed the learner keeps (target networks, next-state passes and
              sampling are the difference; CQL's penalty scores 30 more actions per state, CRR's
              value estimate 4).
Each learner and its reference are timed in `--processes` fresh processes (3), each side
represented by its fastest: under XLA:CPU one compiled program's speed is bimodal from one process
to the next and steady within one (TD3+BC's learner ran 399 or 657-722 updates/s and its
reference 577-596 or 856-880 in consecutive processes, so one process's ratio ranged from 0.45 to
1.21). `--processes 0` times everything in this process.
Then the population: BC with 4 seeds x 2 datasets of equal size as one vmapped program, against
the same 8 runs one after another (one compiled single-run program, called 8 times), in this process.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from typing import Any

import jax
import jax.numpy as jnp

from experiments.benchmarks.throughput import process_rows, timed
from jaxrl import agents, datasets, networks, optim
from jaxrl.agents import builder

ENV = "Pendulum-v1"
BATCH = 256
WIDTHS = (256, 256)


def learner_program(name: str, rows: Any, updates: int):
    module = agents.get(name)
    config = module.Config(env=ENV, num_updates=updates, updates_per_iteration=updates, batch_size=BATCH,
                           hidden_sizes=WIDTHS, eval_episodes=1)
    train = module.make_train(config, rows)
    state = jax.jit(train.init)(jax.random.key(0))
    # The whole final agent state out, so that nothing the updates compute is dead code.
    run = jax.jit(lambda s: train.run(s, 1)[0].agent_state)
    return run, state


def trained_networks(name: str, spec: Any) -> list[networks.FlatNetwork]:
    """The flat-parameter networks `name` trains, with example inputs' shapes from `spec`."""
    observation = jnp.zeros((1,) + spec.observation.shape, jnp.float32)
    if name == "bc":
        from jaxrl.agents import bc

        return [networks.flat_network(bc.make_network(spec, WIDTHS, "relu", "mse"), observation)]
    if name == "td3_bc":
        from jaxrl.agents.td3.networks import make_networks

        return list(builder.flat_actor_critic(spec, *make_networks(spec, WIDTHS, "relu")))
    if name in ("cql", "crr"):  # SAC's tanh-Gaussian policy and twin critics
        from jaxrl.agents.sac.networks import make_networks

        return list(builder.flat_actor_critic(spec, *make_networks(spec, WIDTHS, "relu")))
    if name == "iql":
        from jaxrl.agents import iql

        actor, critic, value = iql.make_networks(spec, WIDTHS, "relu")
        return [*builder.flat_actor_critic(spec, actor, critic), networks.flat_network(value, observation)]
    raise SystemExit(f"no reference networks for {name}")


def reference_program(name: str, rows: Any, updates: int):
    spec = builder.make_eval_env(agents.get(name).Config(env=ENV)).spec()
    nets = trained_networks(name, spec)
    batch = jax.tree.map(lambda x: jnp.asarray(x[:BATCH]), rows)
    adam = optim.adam(3e-4)
    keys = jax.random.split(jax.random.key(0), len(nets))
    params = [net.init(k) for net, k in zip(nets, keys)]
    state = (params, [adam.init(p) for p in params])

    def outputs(net, p):
        try:
            out = net.apply(p, batch.observation)
        except TypeError:  # a critic: Q(s, a)
            out = net.apply(p, batch.observation, batch.action)
        return sum(jnp.sum(x) for x in jax.tree.leaves(out))

    def step(state, _):
        params, opt_states = state
        grads = jax.grad(lambda ps: sum(outputs(net, p) for net, p in zip(nets, ps)))(params)
        new = [optim.step(adam, p, g, s) for p, g, s in zip(params, grads, opt_states)]
        return ([p for p, _ in new], [s for _, s in new]), None

    run = jax.jit(lambda s: jax.lax.scan(step, s, None, length=updates)[0])
    return run, state


def population(rows: Any, updates: int) -> tuple[float, float]:
    """(seconds for BC's 4 seeds x 2 datasets as one program, seconds for the 8 runs one by one)."""
    from jaxrl.agents import bc

    config = bc.Config(env=ENV, num_updates=updates, updates_per_iteration=updates, batch_size=BATCH,
                       hidden_sizes=WIDTHS, eval_episodes=1)
    train = bc.make_train(config, rows)
    other = rows._replace(reward=rows.reward[::-1].copy())  # a second dataset of the same size
    stacked = jax.tree.map(lambda a, b: jnp.stack([a, a, a, a, b, b, b, b]), rows, other)
    keys = jax.random.split(jax.random.key(0), 8)
    together = jax.jit(jax.vmap(lambda k, d: train(k, dataset=d).state.agent_state))
    _, joint, _ = timed(together, keys, stacked)
    single = jax.jit(lambda k, d: train(k, dataset=d).state.agent_state)
    one = [rows] * 4 + [other] * 4
    jax.block_until_ready(single(keys[0], rows))  # compile once

    def eight():
        return [jax.block_until_ready(single(keys[i], one[i])) for i in range(8)]

    _, separate, _ = timed(eight)
    return joint, separate


def speeds(name: str, rows: Any, updates: int) -> dict[str, float]:
    """The learner's updates/s and its reference's steps/s, timed in this process."""
    run, state = learner_program(name, rows, updates)
    _, learner, _ = timed(run, state)
    run, state = reference_program(name, rows, updates)
    _, reference, _ = timed(run, state)
    return dict(learner=updates / learner, reference=updates / reference)


def fastest_of_processes(name: str, updates: int, processes: int) -> dict[str, Any]:
    """`speeds` in `processes` fresh processes; each side's fastest, and every process's figures."""
    command = [sys.executable, "-m", "experiments.benchmarks.offline", "--learners", name, "--updates", str(updates),
               "--json"]
    runs = process_rows(command, processes, name)
    if len(runs) < processes:
        raise SystemExit(f"{name}: {processes - len(runs)} of {processes} processes failed (above)")
    return dict(learner=max(r["learner"] for r in runs), reference=max(r["reference"] for r in runs), runs=runs)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m experiments.benchmarks.offline", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--learners", nargs="+", default=["bc", "td3_bc", "cql", "iql", "crr"])
    parser.add_argument("--updates", type=int, default=5_000)
    parser.add_argument("--processes", type=int, default=3,
                        help="fresh processes per learner, each side its fastest (0: this process only)")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)  # one process's figures
    args = parser.parse_args(argv)
    if args.processes < 0:
        parser.error(f"--processes must be >= 0, got {args.processes}")
    rows, _ = datasets.collect(ENV, None, episodes=50, key=jax.random.key(0))
    if args.json:
        for name in args.learners:
            print(json.dumps(dict(name=name, **speeds(name, rows, args.updates))), flush=True)
        return
    where = f"fastest of {args.processes} processes" if args.processes else "this process"
    print(f"{platform.node()} {jax.devices()[0].platform}, {len(rows.reward)} rows, batch {BATCH}, "
          f"widths {WIDTHS}, {args.updates} updates, {where}")
    print("| learner | learner updates/s | bare networks steps/s | learner / bare |")
    print("| --- | ---: | ---: | ---: |")
    for name in args.learners:
        if args.processes:
            result = fastest_of_processes(name, args.updates, args.processes)
            each = ", ".join(f"{r['learner']:,.0f}/{r['reference']:,.0f}" for r in result["runs"])
            print(f"  ({name}, each process's learner/reference: {each})", file=sys.stderr)
        else:
            result = speeds(name, rows, args.updates)
        print(f"| {name} | {result['learner']:,.0f} | {result['reference']:,.0f} | "
              f"{result['learner'] / result['reference']:.2f} |", flush=True)
    joint, separate = population(rows, args.updates)
    print(f"BC, 4 seeds x 2 datasets: one program {joint:.2f} s, 8 separate runs {separate:.2f} s "
          f"({separate / joint:.2f}x)")


if __name__ == "__main__":
    main()
