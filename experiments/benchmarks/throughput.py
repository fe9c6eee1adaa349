"""Throughput of jaxrl's training programs, as ratios to the env+policy ceiling of the same run.

    python -m experiments.benchmarks.throughput [--seeds 1 8] [--peer-python PATH]

For each seed count it times, in this process, after one compile+run and as the median of 3:
  ceiling        gymnax CartPole-v1, 4 envs, stepped by a 64-64 tanh MLP policy, one lax.scan,
                 no learning (the same work as ../shared/peers/peer.py's ceiling);
  ceiling-fastkey the same with `jaxrl.prng.fast_key` keys (identical random bits, hashed in
                 fused kernels, as jaxrl's loops draw them);
  ceiling-stack  the same through jaxrl's env stack (auto-reset, episode statistics), fast keys;
  ppo            jaxrl PPO at PureJaxRL's CartPole defaults (4 envs x 128 steps, 4 epochs x 4
                 minibatches), the config of the foundation issue.
With `--work dqn` (1 seed only; the default runs both) it times against the 10-env ceiling:
  ceiling        the same as above with 10 envs;
  dqn            jaxrl Double DQN at PureJaxRL's CartPole defaults (10 envs, buffer 10k, batch
                 128, one update per 10 env steps, target copy every 500), the off-policy issue's;
  sac            jaxrl SAC at its defaults on Pendulum-v1 (steps/s only; no peer times it).
With `--work recurrent_ppo` (--seeds, --recurrent-steps per seed: 200k) against the 4-env ceiling:
  recurrent_ppo  jaxrl recurrent PPO at its defaults, PureJaxRL ppo_rnn's CartPole-v1 settings
                 (4 envs x 128 steps, 4 epochs x 4 minibatches of whole sequences, GRU 128);
  purejaxrl-ppo-rnn  with --purejaxrl CHECKOUT (a clone of luchris429/purejaxrl), ppo_rnn.py on
                 the same work, run by experiments/benchmarks/purejaxrl_rnn.py (patched in memory
                 for the current stack, never copied).
With `--work pqn` (--seeds) against the ceiling of the same env and env count (the MinAtar ceiling's
policy reads the flattened image):
  pqn-cartpole   jaxrl PQN at its defaults, purejaxql's CartPole-v1 settings (32 envs x 64 steps,
                 4 epochs x 16 minibatches, 256-256 LayerNorm MLP), 102,400 env steps per seed;
  pqn-minatar    on Breakout-MinAtar at purejaxql's MinAtar settings with the conv torso (128 envs x
                 32 steps, 2 epochs x 32 minibatches), 65,536 env steps per seed;
  pqn-minatar-mlp the same with the MLP torso on the flattened image (one 128-wide layer);
  purejaxql      with --purejaxql CHECKOUT (a clone of mttga/purejaxql), its pqn_gymnax.py and
                 pqn_minatar.py on the CartPole and conv work (experiments/benchmarks/purejaxql_pqn.py);
  rejax          with --peer-python, Rejax's PQN on the CartPole and MLP MinAtar work (Rejax has no
                 conv torso), through experiments/baselines_rejax.py.
With `--work impala` (--seeds) against the 16-env ceiling:
  impala         jaxrl IMPALA at its defaults on CartPole-v1 (16 envs x 16 steps, 4 gradient
                 steps per iteration), policy lag 0 and 4 (steps/s only; no peer times it).
With `--work ppo-sweep` it runs the population sweep: jaxrl PPO at the same config but 100k env
steps per seed, `jax.jit(jax.vmap(train))` over 1 / 8 / 32 / 128 seeds (`--sweep-seeds`), each
point the fastest of `--sweep-processes` (3) fresh processes, each timing its second call (the
first compiles); with --peer-python, Rejax's PPO on the same work beside it (peer.py run with 100k
steps). It prints every point's steps/s, jaxrl / Rejax, and each seed count's steps/s as a share
of the 32-seed figure (128 seeds vs 32 is the population-scaling figure).
With --peer-python (a venv made by ../shared/peers/setup.sh) it also runs Rejax's PPO and DQN on
the same work in a subprocess, so every ratio comes from one run on one machine.
Prints one JSON line per measurement and a summary table.

Every jaxrl training program is timed whole (`whole`): `train(key)` with its final state and every
metric, as users run it and as the peers' scripts time theirs (Rejax's `train` state, purejaxql's
and PureJaxRL's output dicts). Until 2026-12-05 they timed the last iteration's return alone, which
let XLA drop the learner's metrics and the final state: a faster program than the one compared.

Every ceiling, jaxrl's PPO and DQN and each peer is also timed in --processes fresh processes
(4 by default) and represented by its fastest: under XLA's default flags one compiled program's
speed is bimodal from one process to the next and steady within one (the ceiling ~2x apart,
8-seed PPO ~1.3x), so a single process can flatter or hurt any share. Every share is of the
fastest ceiling seen; jaxrl against a peer compares the fastest process of each.

Everything runs under this process's XLA_FLAGS (XLA's defaults unless you set some), which the
peers' subprocess inherits; the first line printed names them. Shares of the ceiling depend on
them: with XLA's defaults the 1-seed ceiling is bimodal from one process to the next (~420k or
~900k steps/s here), while with `XLA_FLAGS=--xla_cpu_enable_concurrency_optimized_scheduler=false`
it is steadily ~1.07M; README.md's Speed section gives figures under both.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from typing import Any, Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

import jaxrl
from jaxrl.agents import dqn, impala, ppo, pqn, recurrent_ppo

STEPS = 500_000
NUM_ENVS = 4


def timed(fn, *args, repeats: int = 3) -> tuple[float, float, Any]:
    """(compile + first run seconds, median of `repeats` further runs, the last run's output).
    Also the peer runners' clock (purejaxrl_rnn.py, purejaxql_pqn.py), so every side is timed alike."""
    start = time.perf_counter()
    out = jax.block_until_ready(fn(*args))
    first = time.perf_counter() - start
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = jax.block_until_ready(fn(*args))
        runs.append(time.perf_counter() - start)
    return first, sorted(runs)[len(runs) // 2], out


def policy_net(num_actions: int = 2):
    return nn.Sequential([nn.Dense(64), nn.tanh, nn.Dense(64), nn.tanh, nn.Dense(num_actions)])


def raw_ceiling(num_envs: int, fast_keys: bool = False, env_name: str = "CartPole-v1", steps: int | None = None):
    """The ceiling; `fast_keys` runs the same scan on `jaxrl.prng.fast_key` keys (the same random
    bits, hashed unrolled, as jaxrl's loops do), to show how much of a share that alone buys.
    Other envs (`env_name`) feed the policy their flattened observation; `steps` per seed (500k)."""
    import gymnax

    steps = STEPS if steps is None else steps
    env, params = gymnax.make(env_name)
    net = policy_net(env.action_space(params).n)
    net_params = net.init(jax.random.key(0), jnp.zeros(env.observation_space(params).shape).ravel())
    step = jax.vmap(env.step, in_axes=(0, 0, 0, None))

    def run(key):
        if fast_keys:
            key = jaxrl.prng.fast_key(key)
        obs, state = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(key, num_envs), params)

        def body(carry, k):
            obs, state = carry
            action = jax.random.categorical(k, net.apply(net_params, obs.reshape(num_envs, -1)))
            out = step(jax.random.split(k, num_envs), state, action, params)
            return (out[0], out[1]), out[2].sum()

        _, rewards = jax.lax.scan(body, (obs, state), jax.random.split(key, steps // num_envs))
        return rewards.sum()

    return run


def stack_ceiling(num_envs: int, steps: int | None = None):
    """The ceiling's scan through jaxrl's env stack (`envs.make_batched`), `steps` per seed (500k)."""
    steps = STEPS if steps is None else steps
    env = jaxrl.envs.make_batched("CartPole-v1", num_envs)
    net = policy_net()
    net_params = net.init(jax.random.key(0), jnp.zeros(4))

    def run(key):
        # Reset on the plain key and step on fast keys, as jaxrl's loops do. (jax 0.11.2's XLA:CPU
        # did not finish compiling this scan when the initial state came from a fast-key reset.)
        state, timestep = env.reset(key)
        key = jaxrl.prng.fast_key(key)

        def body(carry, k):
            state, obs = carry
            act_key, env_key = jax.random.split(k)
            action = jax.random.categorical(act_key, net.apply(net_params, obs))
            state, timestep = env.step(state, action, env_key)
            return (state, timestep.observation), timestep.reward.sum()

        _, rewards = jax.lax.scan(body, (state, timestep.observation), jax.random.split(key, steps // num_envs))
        return rewards.sum()

    return run


def whole(train: Callable) -> Callable:
    """`train` timed as users run it and as the peers' scripts time theirs: `train(key)` with every
    output (the final state and each iteration's metrics). A program that returned one number (the
    last return) would let XLA drop the learner's metrics, the nonfinite flag and the final state;
    on XLA:CPU that ran PPO ~1.35x faster, not the same work (experiments/benchmarks/README.md)."""
    return lambda key: train(key)


def final_return(out: Any) -> float:
    """The mean over seeds of the last iteration's return, from `whole`'s output or a scalar per seed."""
    if hasattr(out, "metrics"):
        return float(jnp.mean(out.metrics["episode_return"][:, -1]))
    return float(jnp.mean(out))


def ppo_train(steps: int = STEPS):
    config = ppo.Config(env="CartPole-v1", num_envs=NUM_ENVS, rollout_length=128, total_timesteps=steps,
                        num_epochs=4, num_minibatches=4)
    train = ppo.make_train(config)
    return whole(train)


def dqn_train():
    config = dqn.Config(env="CartPole-v1", num_envs=10, buffer_size=10_000, batch_size=128, train_every=10,
                        target_update_every=500, total_timesteps=STEPS)
    train = dqn.make_train(config)
    return whole(train)


def sac_train():
    from jaxrl.agents import sac

    config = sac.Config(env="Pendulum-v1")
    train = sac.make_train(config)
    return whole(train), config.total_timesteps


# Env steps per seed of --work recurrent_ppo (--recurrent-steps; fresh processes read it from the
# environment variable the main process sets).
RECURRENT_STEPS_ENV = "JAXRL_BENCH_RECURRENT_STEPS"
RECURRENT_STEPS = int(os.environ.get(RECURRENT_STEPS_ENV, 200_000))
REPO_ROOT = os.path.join(os.path.dirname(__file__), "..", "..")


def recurrent_ppo_train(steps: int | None = None):
    steps = RECURRENT_STEPS if steps is None else steps
    train = recurrent_ppo.make_train(recurrent_ppo.Config(env="CartPole-v1", total_timesteps=steps))
    return whole(train)


def impala_train(policy_lag: int = 0):
    train = impala.make_train(impala.Config(env="CartPole-v1", total_timesteps=STEPS, policy_lag=policy_lag))
    return whole(train)


# PQN's work, as purejaxql's own configs (experiments/benchmarks/purejaxql_pqn.py): jaxrl's PQN
# defaults are its CartPole-v1 settings; on Breakout-MinAtar its MinAtar settings with the conv torso,
# the same network as purejaxql's (unpadded 3x3 conv, 1,024 features, LayerNorm after the conv).
# Rejax has no conv torso, so on MinAtar it is timed beside jaxrl's MLP torso on the flattened image
# ("minatar-mlp": the same settings, one 128-wide LayerNorm layer), never beside the conv.
_MINATAR = dict(hidden_sizes=(128,), num_envs=128, rollout_length=32, num_epochs=2, num_minibatches=32,
                learning_rate=5e-4, td_lambda=0.65, epsilon_end=0.05, exploration_fraction=0.1, reward_scale=1.0)
PQN_WORK = {
    "cartpole": ("CartPole-v1", 32, 102_400, {}),
    "minatar": ("Breakout-MinAtar", 128, 65_536, dict(_MINATAR, torso="conv")),
    "minatar-mlp": ("Breakout-MinAtar", 128, 65_536, dict(_MINATAR, torso="mlp")),
}
# Who does each work's same work: purejaxql's scripts (CartPole MLP, MinAtar conv), Rejax's MLP.
PQN_PEERS = {"cartpole": ("purejaxql", "rejax"), "minatar": ("purejaxql",), "minatar-mlp": ("rejax",)}


def pqn_config(work: str) -> pqn.Config:
    env, _, steps, overrides = PQN_WORK[work]
    return pqn.Config(env=env, total_timesteps=steps, **overrides)


def pqn_train(work: str):
    train = pqn.make_train(pqn_config(work))
    return whole(train)


def purejaxql_pqn(checkout: str, work: str, seeds: int, processes: int = 1) -> dict | None:
    """purejaxql's PQN on `work`, the fastest of `processes` fresh processes."""
    command = [sys.executable, "-m", "experiments.benchmarks.purejaxql_pqn", checkout, work, str(seeds),
               str(PQN_WORK[work][2])]
    return _fastest_process(command, processes, f"purejaxql-pqn-{work}", cwd=REPO_ROOT)


def rejax_pqn_settings(config: pqn.Config) -> dict:
    """`rejax.PQN.create` arguments (with experiments/baselines_rejax.py's `hidden_layer_sizes`) for
    the work of a jaxrl PQN config with the MLP torso."""
    return dict(env=config.env, total_timesteps=config.total_timesteps, num_envs=config.num_envs,
                num_steps=config.rollout_length, num_epochs=config.num_epochs, num_minibatches=config.num_minibatches,
                learning_rate=config.learning_rate, max_grad_norm=config.max_grad_norm, gamma=config.gamma,
                td_lambda=config.td_lambda, eps_start=config.epsilon_start, eps_end=config.epsilon_end,
                exploration_fraction=config.exploration_fraction, hidden_layer_sizes=list(config.hidden_sizes))


def rejax_run(python: str, algo: str, settings: dict, seeds: int, who: str, processes: int = 1) -> dict | None:
    """Rejax's `algo` with `rejax.<ALGO>.create(**settings)` (experiments/baselines_rejax.py in the
    peer's Python), the fastest of `processes` fresh processes, each the fastest of 3 timed runs
    (jaxrl's rows: the median)."""
    spec = dict(algo=algo, seeds=seeds, settings=settings, max_timed_runs=3, min_timed_s=float("inf"))
    command = [python, os.path.join(REPO_ROOT, "experiments", "baselines_rejax.py"), json.dumps(spec)]

    def as_row(row: dict) -> dict:  # baselines_rejax.py's line, in the fields the tables read
        return dict(who=who, seeds=seeds, compile_plus_run_s=row["wall_s"], env_steps_per_s=row["env_steps_per_s"],
                    final_return=round(sum(row["finals"]) / seeds, 1))

    return _fastest_process(command, processes, who, cwd=REPO_ROOT, convert=as_row)


def rejax_pqn(python: str, work: str, seeds: int, processes: int = 1) -> dict | None:
    """Rejax's PQN on `work`, as `rejax_run` times it."""
    return rejax_run(python, "pqn", rejax_pqn_settings(pqn_config(work)), seeds, f"rejax-pqn-{work}", processes)


def purejaxrl_rnn(checkout: str, seeds: int, processes: int = 1) -> dict | None:
    """PureJaxRL's ppo_rnn.py on recurrent_ppo's work, the fastest of `processes` fresh processes."""
    command = [sys.executable, "-m", "experiments.benchmarks.purejaxrl_rnn", checkout, str(seeds), str(RECURRENT_STEPS)]
    return _fastest_process(command, processes, "purejaxrl-ppo-rnn", cwd=REPO_ROOT)


def measure(name: str, fn, seeds: int, steps: int = STEPS, repeats: int = 3) -> dict:
    keys = jax.random.split(jax.random.key(0), seeds)
    first, median, _ = timed(jax.jit(jax.vmap(fn)), keys, repeats=repeats)
    row = dict(who=name, seeds=seeds, compile_plus_run_s=round(first, 2), run_s_median=round(median, 3),
               env_steps_per_s=round(steps * seeds / median), jax=jax.__version__)
    print(json.dumps(row), flush=True)
    return row


def _best_of(rows: list[dict], who: str) -> dict | None:
    if not rows:
        return None
    best = dict(max(rows, key=lambda row: row["env_steps_per_s"]), who=who,
                all_env_steps_per_s=[row["env_steps_per_s"] for row in rows])
    print(json.dumps(best), flush=True)
    return best


PEER_SCRIPT = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "peers", "peer.py")
PEER_STEPS_LINE = "STEPS = 500_000\n"


def peer(python: str, who: str, seeds: int, *extra: str, processes: int = 1, steps: int | None = None) -> dict | None:
    """The peer's fastest of `processes` runs, each in its own fresh process.

    `steps` (env steps per seed) other than peer.py's fixed 500k runs peer.py's own source with
    only its STEPS line changed, so the peer's configuration stays defined in one place."""
    script = os.path.abspath(PEER_SCRIPT)
    command = [python, script, who, str(seeds), *extra]
    if steps is not None:
        with open(script) as f:
            source = f.read()
        if PEER_STEPS_LINE not in source:
            raise SystemExit(f"{script} no longer has the line {PEER_STEPS_LINE!r} that --work ppo-sweep rewrites")
        source = source.replace(PEER_STEPS_LINE, f"STEPS = {int(steps)}\n", 1)
        command = [python, "-c", source, who, str(seeds), *extra]
    return _fastest_process(command, processes, who)


def process_rows(command: list[str], processes: int, who: str, cwd: str | None = None,
                 on_row: Callable[[dict], dict] | None = None) -> list[dict]:
    """Runs `command` (a script printing one JSON line per measurement) in `processes` fresh
    processes, one after another; the last JSON line of each that succeeded, passed through
    `on_row` as soon as its process ends, if given (to convert or print it: a long run shows its
    figures as they come). A failed process is reported on stderr, under `who`, and left out."""
    rows = []
    for _ in range(processes):
        result = subprocess.run(command, capture_output=True, text=True, check=False, cwd=cwd)
        lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
        if result.returncode != 0 or not lines:
            print(f"{who} failed: {result.stderr[-2000:]}", file=sys.stderr)
            continue
        row = json.loads(lines[-1])
        rows.append(on_row(row) if on_row else row)
    return rows


def _fastest_process(command: list[str], processes: int, who: str, cwd: str | None = None,
                     convert: Callable[[dict], dict] | None = None) -> dict | None:
    """`process_rows` in `processes` fresh processes, at least one, printing each one's row
    (through `convert`, if given) as it ends; the fastest of them."""

    def shown(row: dict) -> dict:
        row = convert(row) if convert else row
        print(json.dumps(row), flush=True)
        return row

    rows = process_rows(command, max(processes, 1), who, cwd, on_row=shown)
    return _best_of(rows, f"{who}-best-of-{len(rows)}")


FRESH_WORK = ("ceiling", "ppo", "dqn", "ppo-sweep", "recurrent_ppo", "impala", "impala-lag4", "pqn-cartpole",
              "pqn-minatar", "pqn-minatar-mlp", "ceiling-minatar")
SWEEP_STEPS = 100_000


def fresh(work: str, num_envs: int, seeds: int, processes: int) -> dict | None:
    """The fastest of `processes` fresh processes timing `work` alone.

    Under XLA:CPU's default flags the speed of one compiled program is bimodal from one process
    to the next and steady within one: the ceiling's ~2x apart, 8-seed PPO's ~1.3x (README,
    Speed). Every program is therefore also timed in fresh processes and represented by its
    fastest, so no share is flattered by a slow reference or hurt by a slow draw of our own."""
    command = [sys.executable, "-m", "experiments.benchmarks.throughput", "--only", work, str(num_envs), str(seeds)]
    rows = process_rows(command, processes, work, cwd=REPO_ROOT)
    return _best_of(rows, f"{work}-best-of-{len(rows)}")


def print_table(title: str, summary: list, ceilings: tuple[str, ...], ours: tuple[str, ...],
                theirs: tuple[str, ...]) -> None:
    """Shares are of the fastest of the rows named in `ceilings` (this process's plain ceiling and
    the fresh processes' best); jaxrl's speed against the peers' is the fastest of the rows named
    in `ours` against the fastest of those named in `theirs` (each a peer's fastest process), so
    both sides get the same treatment."""
    print(f"\n{title}\nseeds  work            env steps/s   share of ceiling   compile+run s")
    for seeds, rows in summary:
        ceiling = max(rows[name]["env_steps_per_s"] for name in ceilings if rows.get(name) is not None)
        for name, row in rows.items():
            if row is None:
                continue
            share = row["env_steps_per_s"] / ceiling
            print(f"{seeds:5d}  {name:18s} {row['env_steps_per_s']:12,d}   {share:15.1%}   "
                  f"{row['compile_plus_run_s']:10.2f}")
        best_ours = max((rows[name]["env_steps_per_s"] for name in ours if rows.get(name) is not None), default=None)
        peers = [name for name in theirs if rows.get(name) is not None]
        if peers and best_ours:
            fastest = max(peers, key=lambda name: rows[name]["env_steps_per_s"])
            ratio = best_ours / rows[fastest]["env_steps_per_s"]
            print(f"{seeds:5d}  jaxrl {ours[0]} (fastest) / {fastest} (fastest peer) = {ratio:.2f}x; "
                  f"share of ceiling {best_ours / ceiling:.1%}")


def sweep(seed_counts: list[int], processes: int, peer_python: str | None) -> None:
    """PPO's env steps/s over population sizes, each point the fastest of `processes` fresh
    processes, with Rejax on the same work where `peer_python` is given (its processes
    alternating with jaxrl's)."""
    if processes < 1:
        raise SystemExit(f"--sweep-processes must be >= 1, got {processes}")
    ours, theirs = {}, {}
    for seeds in seed_counts:
        # jaxrl and Rejax alternate, one process each in turn: the machine's speed drifts over
        # minutes (a 32-seed point ran 160k-168k in three processes, then 204k-242k ten minutes
        # later), and each library's fastest should come from the same stretch of time.
        mine, peers = [], []
        for _ in range(processes):
            mine.append(fresh("ppo-sweep", NUM_ENVS, seeds, 1))
            if peer_python:
                peers.append(peer(peer_python, "rejax-ppo", seeds, processes=1, steps=SWEEP_STEPS))
        ours[seeds] = _best_of([r for r in mine if r], f"ppo-sweep-best-of-{processes}")
        theirs[seeds] = _best_of([r for r in peers if r], f"rejax-ppo-best-of-{processes}") if peer_python else None
    print(f"\nPPO population sweep, CartPole-v1, 4 envs, {SWEEP_STEPS:,d} env steps per seed, "
          f"fastest of {processes} fresh processes")
    print("seeds   jaxrl steps/s   vs 32 seeds   rejax steps/s   jaxrl / rejax")
    reference = ours.get(32)
    for seeds in seed_counts:
        row, peer_row = ours[seeds], theirs.get(seeds)
        if row is None:
            print(f"{seeds:5d}   (failed)")
            continue
        vs32 = f"{row['env_steps_per_s'] / reference['env_steps_per_s']:.2f}" if reference else "-"
        peer_speed = f"{peer_row['env_steps_per_s']:,d}" if peer_row else "-"
        ratio = f"{row['env_steps_per_s'] / peer_row['env_steps_per_s']:.2f}x" if peer_row else "-"
        print(f"{seeds:5d}   {row['env_steps_per_s']:13,d}   {vs32:>11s}   {peer_speed:>13s}   {ratio:>13s}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 8],
                        help="seed counts for PPO, recurrent PPO and IMPALA")
    parser.add_argument("--work", nargs="+", default=["ppo", "dqn", "sac"],
                        choices=["ppo", "dqn", "sac", "ppo-sweep", "recurrent_ppo", "impala", "pqn"],
                        help="not in the default: ppo-sweep (PPO at 100k steps per seed over --sweep-seeds), "
                             "recurrent_ppo, impala, pqn")
    parser.add_argument("--purejaxql", default=None, metavar="CHECKOUT",
                        help="a clone of mttga/purejaxql: times its PQN beside --work pqn")
    parser.add_argument("--purejaxrl", default=None, metavar="CHECKOUT",
                        help="a clone of luchris429/purejaxrl: times its ppo_rnn.py beside --work recurrent_ppo")
    parser.add_argument("--recurrent-steps", type=int, default=None,
                        help="env steps per seed of --work recurrent_ppo (200,000; fewer for many seeds)")
    parser.add_argument("--sweep-seeds", type=int, nargs="+", default=[1, 8, 32, 128],
                        help="seed counts of --work ppo-sweep")
    parser.add_argument("--sweep-processes", type=int, default=3,
                        help="fresh processes per point of --work ppo-sweep; each point is their fastest")
    parser.add_argument("--peer-python", default=None, help="python of ../shared/peers/setup.sh's venv")
    parser.add_argument("--processes", "--ceiling-processes", type=int, default=4,
                        help="fresh processes that also time each ceiling, jaxrl's PPO and DQN and each peer; "
                             "every program is represented by its fastest (0: this process only, one peer run)")
    parser.add_argument("--only", nargs=3, metavar=("WORK", "NUM_ENVS", "SEEDS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.recurrent_steps is not None:
        global RECURRENT_STEPS
        RECURRENT_STEPS = args.recurrent_steps
        os.environ[RECURRENT_STEPS_ENV] = str(args.recurrent_steps)  # for the fresh processes
    if args.only:
        work, num_envs, seeds = args.only[0], int(args.only[1]), int(args.only[2])
        if work not in FRESH_WORK:
            raise SystemExit(f"--only WORK must be one of {FRESH_WORK}, got {work!r}")
        if work == "ppo-sweep":  # one timed call after the compiling one: the processes repeat it
            measure("jaxrl-ppo-100k", ppo_train(SWEEP_STEPS), seeds, SWEEP_STEPS, repeats=1)
            return
        if work == "recurrent_ppo":
            measure(work, recurrent_ppo_train(), seeds, RECURRENT_STEPS)
            return
        if work.startswith("pqn-"):
            measure(work, pqn_train(work[4:]), seeds, PQN_WORK[work[4:]][2])
            return
        if work == "ceiling-minatar":
            measure(work, raw_ceiling(num_envs, env_name="Breakout-MinAtar"), seeds)
            return
        fn = {"ceiling": lambda: raw_ceiling(num_envs), "ppo": ppo_train, "dqn": dqn_train, "impala": impala_train,
              "impala-lag4": lambda: impala_train(4)}[work]()
        measure(work, fn, seeds)
        return
    print(json.dumps({"xla_flags": os.environ.get("XLA_FLAGS", ""), "jax": jax.__version__,
                      "devices": [str(d) for d in jax.devices()]}), flush=True)
    if "ppo" in args.work:
        summary = []
        for seeds in args.seeds:
            rows = {"ceiling": measure("ceiling", raw_ceiling(NUM_ENVS), seeds),
                    "ceiling-fastkey": measure("ceiling-fastkey", raw_ceiling(NUM_ENVS, fast_keys=True), seeds),
                    "ceiling-stack": measure("ceiling-stack", stack_ceiling(NUM_ENVS), seeds),
                    "ppo": measure("jaxrl-ppo", ppo_train(), seeds)}
            if args.processes:
                rows["ceiling-fresh"] = fresh("ceiling", NUM_ENVS, seeds, args.processes)
                rows["ppo-fresh"] = fresh("ppo", NUM_ENVS, seeds, args.processes)
            if args.peer_python:
                rows["rejax-ppo"] = peer(args.peer_python, "rejax-ppo", seeds, processes=args.processes)
            summary.append((seeds, rows))
        print_table("PPO, CartPole-v1, 4 envs", summary, ("ceiling", "ceiling-fresh"), ("ppo", "ppo-fresh"),
                    ("rejax-ppo",))
    if "recurrent_ppo" in args.work:
        summary = []
        for seeds in args.seeds:
            rows = {"ceiling": measure("ceiling", raw_ceiling(NUM_ENVS), seeds),
                    "recurrent_ppo": measure("jaxrl-recurrent-ppo", recurrent_ppo_train(), seeds, RECURRENT_STEPS)}
            if args.processes:
                rows["ceiling-fresh"] = fresh("ceiling", NUM_ENVS, seeds, args.processes)
                rows["recurrent_ppo-fresh"] = fresh("recurrent_ppo", NUM_ENVS, seeds, args.processes)
            if args.purejaxrl:
                rows["purejaxrl-ppo-rnn"] = purejaxrl_rnn(args.purejaxrl, seeds, args.processes)
            summary.append((seeds, rows))
        print_table(f"Recurrent PPO, CartPole-v1, 4 envs, {RECURRENT_STEPS:,d} env steps per seed", summary,
                    ("ceiling", "ceiling-fresh"), ("recurrent_ppo", "recurrent_ppo-fresh"), ("purejaxrl-ppo-rnn",))
    if "impala" in args.work:
        summary = []
        for seeds in args.seeds:
            rows = {"ceiling-16": measure("ceiling-16", raw_ceiling(16), seeds),
                    "impala": measure("jaxrl-impala", impala_train(), seeds),
                    "impala-lag4": measure("jaxrl-impala-lag4", impala_train(4), seeds)}
            if args.processes:
                rows["ceiling-16-fresh"] = fresh("ceiling", 16, seeds, args.processes)
                rows["impala-fresh"] = fresh("impala", 16, seeds, args.processes)
                rows["impala-lag4-fresh"] = fresh("impala-lag4", 16, seeds, args.processes)
            summary.append((seeds, rows))
        print_table("IMPALA, CartPole-v1, 16 envs", summary, ("ceiling-16", "ceiling-16-fresh"),
                    ("impala", "impala-fresh"), ())
    if "pqn" in args.work:
        for work in PQN_WORK:
            env, num_envs, steps, _ = PQN_WORK[work]
            summary = []
            for seeds in args.seeds:
                rows = {"ceiling": measure(f"ceiling-{num_envs}", raw_ceiling(num_envs, env_name=env), seeds),
                        "pqn": measure(f"jaxrl-pqn-{work}", pqn_train(work), seeds, steps)}
                if args.processes:
                    rows["ceiling-fresh"] = fresh("ceiling" if work == "cartpole" else "ceiling-minatar", num_envs,
                                                  seeds, args.processes)
                    rows["pqn-fresh"] = fresh(f"pqn-{work}", num_envs, seeds, args.processes)
                if args.purejaxql and "purejaxql" in PQN_PEERS[work]:
                    rows["purejaxql"] = purejaxql_pqn(args.purejaxql, work, seeds, args.processes)
                if args.peer_python and "rejax" in PQN_PEERS[work]:
                    rows["rejax"] = rejax_pqn(args.peer_python, work, seeds, args.processes)
                summary.append((seeds, rows))
            torso = PQN_WORK[work][3].get("torso", "mlp")
            print_table(f"PQN, {env} ({torso} torso), {num_envs} envs, {steps:,d} env steps per seed", summary,
                        ("ceiling", "ceiling-fresh"), ("pqn", "pqn-fresh"), ("purejaxql", "rejax"))
    if "ppo-sweep" in args.work:
        sweep(args.sweep_seeds, args.sweep_processes, args.peer_python)
    if "dqn" in args.work or "sac" in args.work:
        rows = {"ceiling-10": measure("ceiling-10", raw_ceiling(10), 1)}
        if args.processes:
            rows["ceiling-10-fresh"] = fresh("ceiling", 10, 1, args.processes)
        if "dqn" in args.work:
            rows["dqn"] = measure("jaxrl-dqn", dqn_train(), 1)
            if args.processes:
                rows["dqn-fresh"] = fresh("dqn", 10, 1, args.processes)
            if args.peer_python:
                rows["rejax-dqn"] = peer(args.peer_python, "rejax-dqn", 1, processes=args.processes)
        if "sac" in args.work:
            fn, steps = sac_train()
            rows["sac"] = measure("jaxrl-sac", fn, 1, steps)
        print_table("Off-policy (CartPole-v1, 10 envs; SAC on Pendulum-v1)", [(1, rows)],
                    ("ceiling-10", "ceiling-10-fresh"), ("dqn", "dqn-fresh"), ("rejax-dqn",))


if __name__ == "__main__":
    main()
