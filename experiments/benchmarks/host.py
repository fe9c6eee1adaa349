"""Host-side environments: jaxrl's host loop (PPO on envpool's CartPole-v1) as a share of envpool's
own stepping, beside jaxrl's compiled PPO on gymnax's CartPole-v1 at the same settings.

    python -m experiments.benchmarks.host [--num-envs 8] [--iterations 60] [--repeats 3]

In one process, interleaved `--repeats` times and reported as the fastest of each:
  envpool-random   envpool CartPole-v1 itself (`envpool.make_gymnasium`, sync mode), `--num-envs`
                   envs, stepped with uniformly random NumPy actions: envpool's own stepping;
  adapter-random   the same through jaxrl's adapter (`jaxrl.envs.host.EnvpoolEnv`: same-step
                   resets, episode statistics), as training steps it, no agent;
  host-ppo         jaxrl PPO at its defaults with `--num-envs` envs (128-step rollouts, 4 epochs x
                   4 minibatches) on envpool/CartPole-v1, `--iterations` iterations after one
                   compiling iteration (its `env_steps` over its wall time);
  host-ppo-overlap the same with `host_overlap=True`: the next rollout is collected while the
                   learner updates, the actors act with parameters one update old;
  host-ppo-act     the host loop's acting alone: rollouts without updates (how much of host-ppo
                   the learner costs);
  compiled-ppo     jaxrl PPO, same config, on gymnax CartPole-v1 as one compiled program (one
                   chunk of `--iterations` iterations, after a compiling call).
Prints one JSON line per measurement and the shares.
"""

from __future__ import annotations

import argparse
import json
import time

import jax
import numpy as np

from jaxrl.agents import ppo
from jaxrl.envs.host import make_host


def random_stepping(env, num_envs: int, steps: int) -> float:
    """Env steps/s of `env.step` (after its reset) under uniformly random NumPy actions."""
    rng = np.random.default_rng(0)
    actions = rng.integers(0, 2, (steps, num_envs)).astype(np.int32)
    start = time.perf_counter()
    for action in actions:
        env.step(action)
    elapsed = time.perf_counter() - start
    env.close()
    return steps * num_envs / elapsed


def envpool_random(num_envs: int, steps: int) -> float:
    """Env steps/s of envpool's own CartPole-v1 under uniformly random NumPy actions."""
    import envpool

    env = envpool.make_gymnasium("CartPole-v1", num_envs=num_envs, seed=0)
    env.reset()
    return random_stepping(env, num_envs, steps)


def adapter_random(num_envs: int, steps: int) -> float:
    """Env steps/s of jaxrl's envpool adapter under uniformly random NumPy actions."""
    env = make_host("envpool/CartPole-v1", num_envs)
    env.reset(0)
    return random_stepping(env, num_envs, steps)


def host_ppo(num_envs: int, iterations: int, overlap: bool = False) -> float:
    """Env steps/s of jaxrl's host-loop PPO on envpool CartPole-v1 (after a compiling iteration)."""
    train = ppo.make_train(ppo.Config(env="envpool/CartPole-v1", num_envs=num_envs, host_overlap=overlap,
                                      total_timesteps=num_envs * 128 * (iterations + 1)))
    state = train.init_population(jax.random.split(jax.random.key(0), 1))
    state, _ = train.run_population(state, 1)
    jax.block_until_ready(state)
    start = time.perf_counter()
    state, metrics = train.run_population(state, iterations)
    jax.block_until_ready(state)
    elapsed = time.perf_counter() - start
    train.close()
    return iterations * train.steps_per_iteration / elapsed


def host_acting(num_envs: int, iterations: int) -> float:
    """Env steps/s of the host loop's rollouts alone (no update)."""
    train = ppo.make_train(ppo.Config(env="envpool/CartPole-v1", num_envs=num_envs,
                                      total_timesteps=num_envs * 128 * (iterations + 1)))
    state = train.init_population(jax.random.split(jax.random.key(0), 1))
    members = 1

    def rollouts(n):
        actor_state, observation = state.actor_state, state.observation
        for i in range(n):
            key = jax.random.split(jax.random.key(i), 1)
            actor_state, observation, transitions, _ = train._rollout(
                state.agent_state, actor_state, observation, key, state.hparams, state.env_steps, members)
        jax.block_until_ready(transitions)

    rollouts(1)
    start = time.perf_counter()
    rollouts(iterations)
    elapsed = time.perf_counter() - start
    train.close()
    return iterations * train.steps_per_iteration / elapsed


def compiled_ppo(num_envs: int, iterations: int) -> float:
    """Env steps/s of jaxrl's compiled PPO on gymnax CartPole-v1 at the same config."""
    train = ppo.make_train(ppo.Config(env="CartPole-v1", num_envs=num_envs,
                                      total_timesteps=num_envs * 128 * iterations))
    init = jax.jit(train.init)
    run = jax.jit(train.run, static_argnums=1)
    state = init(jax.random.key(0))
    jax.block_until_ready(run(state, iterations))
    start = time.perf_counter()
    jax.block_until_ready(run(state, iterations))
    elapsed = time.perf_counter() - start
    return iterations * train.steps_per_iteration / elapsed


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num-envs", type=int, default=8)
    parser.add_argument("--iterations", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    runs = {
        "envpool-random": lambda: envpool_random(args.num_envs, args.iterations * 128),
        "adapter-random": lambda: adapter_random(args.num_envs, args.iterations * 128),
        "host-ppo": lambda: host_ppo(args.num_envs, args.iterations),
        "host-ppo-overlap": lambda: host_ppo(args.num_envs, args.iterations, overlap=True),
        "host-ppo-act": lambda: host_acting(args.num_envs, args.iterations),
        "compiled-ppo": lambda: compiled_ppo(args.num_envs, args.iterations),
    }
    best: dict[str, float] = {}
    for repeat in range(args.repeats):
        for name, fn in runs.items():
            rate = fn()
            print(json.dumps({"name": name, "repeat": repeat, "num_envs": args.num_envs, "steps_per_s": round(rate)}),
                  flush=True)
            best[name] = max(best.get(name, 0.0), rate)
    ceiling = best["envpool-random"]
    print(f"\n{'':18s}{'env steps/s':>14s}{'/ envpool random':>18s}{'/ compiled PPO':>16s}")
    for name, rate in best.items():
        print(f"{name:18s}{rate:14,.0f}{rate / ceiling:18.3f}{rate / best['compiled-ppo']:16.3f}")


if __name__ == "__main__":
    main()
