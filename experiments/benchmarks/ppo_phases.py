"""Where PPO's time goes at a given seed count: the rollout and the update timed apart, beside the
env ceilings, the whole program and Rejax, with variants of the update's parts.

    python -m experiments.benchmarks.ppo_phases [--seeds 64 1024] [--peer-python PY] [--quick]

Work: accelerator.py's PPO (PureJaxRL's CartPole settings: 4 envs x 128 steps, 4 epochs x 4
minibatches, 100k env steps per seed). Every program is `jax.jit(jax.vmap(fn))` over the seeds'
keys, compiled once and run 3 times (the fastest kept), as accelerator.py times them:

  raw-ceiling       gymnax CartPole stepped by a 64-64 tanh policy, no learning (throughput.py)
  stack-ceiling     the same through jaxrl's env stack (AutoReset, EpisodeStatistics)
  stack-no-barrier  the same with AutoReset's `optimization_barrier` on the observation removed
  rollout           jaxrl's rollouts alone (`loops.on_policy.rollout`: act, env step, Transition),
                    the agent's parameters fixed, as many as a run has iterations
  update            PPO's update alone, as many times as a run has iterations, on one stored
                    rollout (values, GAE, shuffles, 16 minibatch steps), in the loop's population
                    chunks (`tricks.population_chunks`, as `loops.on_policy.learner` runs it)
  update-plain-values   the update with V(s'_t) from one critic call over all T * N successors
                    instead of `trajectory_values`' loop over truncated steps
  update-sort-perms     the update with `jax.random.permutation` shuffles instead of the Feistel ones
  full              the whole training program (`ppo.make_train`), every output returned
  full-f32-matmuls  the same at `jax.default_matmul_precision("highest")` (a GPU's default for f32
                    matmuls is TF32 on Ampere and later)
  rejax             Rejax's PPO on the same work (with --peer-python)

Figures are env steps per second of the run's work (100k per seed); the update rows count the
env steps their updates would have consumed, so rollout and update combine as 1 / (1/a + 1/b).
The variants are diagnostics (what a part costs), not options jaxrl offers.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
from typing import Any, Callable, Iterator

import jax
import jax.numpy as jnp

from experiments.baselines import rejax_settings
from experiments.benchmarks import accelerator, throughput
from jaxrl import tricks
from jaxrl.agents import builder, ppo
from jaxrl.agents.ppo import learning as ppo_learning
from jaxrl.loops import on_policy, shuffle

STEPS = 100_000


def config(steps: int) -> ppo.Config:
    """accelerator.py's PPO work at `steps` env steps per seed."""
    return dataclasses.replace(accelerator.configs("ppo"), total_timesteps=steps)


def _start(cfg: ppo.Config, key):
    env, agent = builder.build_agent(cfg, ppo.Config, ppo_learning.make_agent)
    hparams = cfg.hparams()
    env_key, agent_key, key = jax.random.split(key, 3)
    env_state, timestep = env.reset(env_key)
    agent_state = agent.init(agent_key, env.spec(), hparams)
    actor_state = agent.init_actor(agent_state, cfg.num_envs)
    return env, agent, hparams, env_state, timestep.observation, agent_state, actor_state, key


def rollout_only(cfg: ppo.Config) -> Callable:
    def run(key):
        env, agent, hparams, env_state, observation, agent_state, actor_state, key = _start(cfg, key)

        def body(carry, k):
            actor_state, env_state, observation = carry
            actor_state, env_state, observation, trajectory, _ = on_policy.rollout(
                env, agent, agent_state, actor_state, env_state, observation, k, cfg.rollout_length, hparams)
            # Rewards, observations and log-probabilities all reach the output: an env whose reward
            # is constant (MountainCar-v0's -1) would otherwise let XLA drop the whole rollout.
            out = trajectory.reward.sum() + trajectory.observation.sum() + trajectory.extras["log_prob"].sum()
            return (actor_state, env_state, observation), out

        _, rewards = jax.lax.scan(body, (actor_state, env_state, observation),
                                  jax.random.split(key, cfg.num_iterations))
        return rewards.sum()

    return run


def update_only(cfg: ppo.Config) -> Callable:
    def run(key):
        env, agent, hparams, env_state, observation, agent_state, actor_state, key = _start(cfg, key)
        rollout_key, key = jax.random.split(key)
        *_, trajectory, _ = on_policy.rollout(env, agent, agent_state, actor_state, env_state, observation,
                                              rollout_key, cfg.rollout_length, hparams)
        # Wrapped as the loop's learner wraps it (`loops.on_policy.learner`): on CPU a population
        # runs its update in chunks, and a population of one without its batch axis.
        update = tricks.population_chunks(agent.update, on_policy.POPULATION_CHUNK)

        def body(state, k):
            state, metrics = update(state, trajectory, k, hparams)
            return state, metrics["total_loss"]

        _, losses = jax.lax.scan(body, agent_state, jax.random.split(key, cfg.num_iterations))
        return losses.sum()

    return run


def _plain_values(value_fn, observation, next_observation, last, discount, values=None):
    """V(s_t) and V(s'_t) from one critic call over [s; s'] (2 * T * N rows), no loop."""
    del last, discount, values
    rollout_length, num_envs = jax.tree.leaves(observation)[0].shape[:2]
    size = rollout_length * num_envs
    flat = lambda x: jnp.reshape(x, (size,) + x.shape[2:])  # noqa: E731
    rows = jax.tree.map(lambda o, n: jnp.concatenate([flat(o), flat(n)]), observation, next_observation)
    all_values = value_fn(rows)
    return (all_values[:size].reshape(rollout_length, num_envs),
            all_values[size:].reshape(rollout_length, num_envs))


def _sort_permutations(key, num, size):
    return jax.vmap(lambda k: jax.random.permutation(k, size))(jax.random.split(key, num)).astype(jnp.int32)


@contextlib.contextmanager
def patched(obj: Any, name: str, value: Any) -> Iterator[None]:
    """`obj.name = value` while a program is traced (a diagnostic variant), restored after."""
    old = getattr(obj, name)
    setattr(obj, name, value)
    try:
        yield
    finally:
        setattr(obj, name, old)


def programs(cfg: ppo.Config) -> dict[str, tuple[Callable, Callable[[], Any]]]:
    """name -> (fn of a key, the context it is traced in)."""
    none = contextlib.nullcontext
    train = ppo.make_train(cfg)
    return {
        "raw-ceiling": (throughput.raw_ceiling(4, steps=cfg.total_timesteps), none),
        "stack-ceiling": (throughput.stack_ceiling(4, cfg.total_timesteps), none),
        "stack-no-barrier": (throughput.stack_ceiling(4, cfg.total_timesteps),
                             lambda: patched(jax.lax, "optimization_barrier", lambda x: x)),
        "rollout": (rollout_only(cfg), none),
        "update": (update_only(cfg), none),
        "update-plain-values": (update_only(cfg), lambda: patched(ppo_learning, "trajectory_values", _plain_values)),
        "update-sort-perms": (update_only(cfg),
                              lambda: patched(shuffle, "random_permutations", _sort_permutations)),
        "full": (throughput.whole(train), none),
        "full-f32-matmuls": (throughput.whole(train),
                             lambda: jax.default_matmul_precision("highest")),
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[64, 1024])
    parser.add_argument("--peer-python", default=None, help="a Python with Rejax 0.1.3 (../shared/peers/setup.sh)")
    parser.add_argument("--only", nargs="+", default=None, help="these programs only")
    parser.add_argument("--out", default=None, help="also append every JSON line to this file")
    parser.add_argument("--quick", action="store_true", help="20k steps per seed: checks the script on a CPU")
    args = parser.parse_args(argv)
    steps = 20_480 if args.quick else STEPS
    cfg = config(steps)
    print(json.dumps(dict(jax=jax.__version__, devices=[str(d) for d in jax.devices()])), flush=True)

    def save(row: dict) -> None:
        if args.out:
            with open(args.out, "a") as f:
                f.write(json.dumps(row) + "\n")

    table = []
    for seeds in args.seeds:
        rows = {}
        for name, (fn, context) in programs(cfg).items():
            if args.only and name not in args.only:
                continue
            try:
                with context():  # a variant's patch, active while its program is traced
                    row = accelerator.time_program(name, fn, seeds, steps)
                row.pop("final_return")  # a sum of rewards or losses here, not a return
            except Exception as error:  # one failed program must not cost the other figures
                print(json.dumps(dict(who=name, seeds=seeds, failed=repr(error)[-800:])), flush=True)
                continue
            rows[name] = row
            print(json.dumps(row), flush=True)
            save(row)
        if args.peer_python and (not args.only or "rejax" in args.only):
            algo, settings = rejax_settings(cfg)
            row = throughput.rejax_run(args.peer_python, algo, settings, seeds, "rejax")  # prints its rows
            if row is not None:
                rows["rejax"] = row
                save(row)
        table.append((seeds, rows))
    print("\nenv steps/s (share of full)")
    for seeds, rows in table:
        full = rows.get("full", {}).get("env_steps_per_s")
        for name, row in rows.items():
            share = f"{row['env_steps_per_s'] / full:6.2f}x" if full else ""
            print(f"{seeds:6d} {name:22s} {row['env_steps_per_s']:>14,d} {share}")


if __name__ == "__main__":
    main()
