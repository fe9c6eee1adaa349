"""`python -m experiments.collect --env ENV --kind random|medium|expert|medium-replay --out DIR`:
a jaxrl dataset (`jaxrl.datasets`) of whole episodes in ENV.

    python -m experiments.collect --env CartPole-v1 --kind expert --out data/cartpole-expert
    python -m experiments.collect --env Pendulum-v1 --kind medium --out data/pendulum-medium --episodes 50
    python -m experiments.collect --env Pendulum-v1 --kind expert --policy runs/sac-Pendulum-v1 --out d

`random` plays uniformly random actions. `expert` and `medium` play a policy's sampled actions
(its greedy ones with `--greedy`; with `--epsilon` / `--noise` if given): `--policy` a saved
policy (`jaxrl.agents.save_policy`) or a run directory with checkpoints (its seed 0); without
`--policy` the expert trainer of ENV
(`TRAINERS`: its agent and settings) trains one, evaluating its greedy policy every few
iterations: `medium` is the first policy whose greedy return reaches the env's medium mark (about
half of the way from random to expert, D4RL's "medium", Fu et al. 2020), `expert` the final one.
`medium-replay` is the trainer's whole replay buffer at the moment it reached medium (everything
its actors played until then, warm-up included): its own rows, not rollouts, so `--episodes` does
not apply. `--save-policies DIR` keeps the trained medium and expert policies (DIR/medium,
DIR/expert) for later collections.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from typing import Any

import jax
import numpy as np
import tyro

from jaxrl import agents, datasets, driver
from jaxrl.types import Transition

KINDS = ("random", "medium", "expert", "medium-replay")


@dataclasses.dataclass(frozen=True)
class Trainer:
    """How `collect` trains its own policies for an env: the agent, its config fields, the greedy
    return that counts as medium, and how many iterations pass between evaluations."""

    agent: str
    config: dict
    medium_return: float
    eval_every: int


# Off-policy trainers, so that `medium-replay` has a buffer; buffers large enough to keep every
# step up to medium. CartPole: DQN at the baselines table's settings; Pendulum: SAC with the
# (64, 64) networks of the continuous agents' tests.
TRAINERS = {
    "CartPole-v1": Trainer("dqn", dict(env="CartPole-v1", tau=0.1, target_update_every=50, buffer_size=500_000),
                           medium_return=250.0, eval_every=5),
    "Pendulum-v1": Trainer("sac", dict(env="Pendulum-v1", hidden_sizes=(64, 64), total_timesteps=20_000,
                                       buffer_size=20_000, learning_starts=5_000, steps_per_iteration=200),
                           medium_return=-700.0,
                           eval_every=1),
}


@dataclasses.dataclass(frozen=True)
class Args:
    """Collect a jaxrl dataset of whole episodes."""

    env: str
    """Environment name (jaxrl.make)."""
    kind: str
    """random, medium, expert or medium-replay."""
    out: str
    """Directory to write the dataset into (must not exist unless --overwrite)."""
    policy: str | None = None
    """A saved policy or a run directory to play (expert / medium); default: train one."""
    episodes: int = 100
    """Episodes to collect (one per env of a batch)."""
    epsilon: float = 0.0
    """Probability of a uniformly random action at each step."""
    noise: float = 0.0
    """Std of Gaussian noise on continuous actions in [-1, 1]."""
    greedy: bool = False
    """Play the policy's greedy actions instead of the ones it samples (as D4RL, the default samples
    them: a stochastic policy's data covers more actions, which the offline critics need)."""
    seed: int = 0
    """Seed of the training (without --policy) and of the collection."""
    save_policies: str | None = None
    """Directory to keep the trained medium and expert policies in (DIR/medium, DIR/expert)."""
    overwrite: bool = False
    """Replace --out (and --save-policies' policies) if they exist."""


def replay_rows(buffer_state: Any, num_envs: int) -> Transition:
    """The rows of a uniform replay buffer that never wrapped (`replay.UniformState` of an
    off-policy run, one member), as whole episodes: each env's steps in time order (the loop writes
    every period's steps time-major, so row r is env r % num_envs), its unfinished last episode
    kept as a truncation."""
    size = int(buffer_state.size)
    if not 0 < size < buffer_state.data.reward.shape[0] or int(buffer_state.insert_position) != size:
        raise ValueError("replay_rows: the buffer is full (it may have wrapped around) or empty; give the trainer "
                         "a larger buffer")
    data = jax.tree.map(lambda x: np.asarray(x)[:size], buffer_state.data)
    data = data._replace(extras={})
    streams = []
    for env in range(num_envs):
        stream = jax.tree.map(lambda x: x[env::num_envs], data)
        last = np.asarray(stream.last, bool).copy()
        last[-1] = True  # the episode the buffer cut is a truncation (discount stays 1)
        streams.append(stream._replace(last=last))
    return jax.tree.map(lambda *xs: np.concatenate(xs), *streams)


def train_policies(env: str, seed: int) -> tuple[agents.Policy, agents.Policy, Transition]:
    """The trainer of `env` run once: its medium policy, its expert (final) policy, and the
    medium-replay rows."""
    if env not in TRAINERS:
        raise SystemExit(f"collect: no expert trainer for {env}; pass --policy (known: {', '.join(TRAINERS)})")
    trainer = TRAINERS[env]
    module = agents.get(trainer.agent)
    config = module.Config(**trainer.config)
    train = module.make_train(config)
    state = jax.jit(train.init)(jax.random.key(seed))
    run = jax.jit(lambda s: train.run(s, trainer.eval_every))
    medium = medium_rows = None
    done = 0
    while done < train.num_iterations:
        state, _ = run(state)
        done += trainer.eval_every
        policy = module.make_policy(config, state)
        greedy = float(agents.evaluate_policy(policy, 10))
        print(f"  {trainer.agent} {env}: iteration {done}/{train.num_iterations}, greedy return {greedy:.1f}",
              file=sys.stderr)
        if medium is None and greedy >= trainer.medium_return:
            medium, medium_rows = policy, replay_rows(state.buffer_state.replay, config.num_envs)
    if medium is None:
        raise SystemExit(f"collect: the {trainer.agent} trainer never reached {env}'s medium return "
                         f"{trainer.medium_return}; try another --seed")
    return medium, module.make_policy(config, state), medium_rows


def main(argv: list[str] | None = None) -> str:
    args = tyro.cli(Args, args=sys.argv[1:] if argv is None else argv, prog="python -m experiments.collect")
    if args.kind not in KINDS:
        raise SystemExit(f"collect: --kind must be one of {', '.join(KINDS)}, got {args.kind!r}")
    # Checked before collecting: training the expert alone takes minutes, and a save refused at the
    # end would throw that work away.
    outputs = [args.out] + ([os.path.join(args.save_policies, name) for name in ("medium", "expert")]
                            if args.save_policies and args.policy is None and args.kind != "random" else [])
    taken = [path for path in outputs if os.path.exists(path)]
    if taken and not args.overwrite:
        raise SystemExit(f"collect: {', '.join(taken)} {'exists' if len(taken) == 1 else 'exist'}; pass --overwrite "
                         f"to replace")
    # Options a kind does not use are refused rather than ignored (and recorded as if applied).
    defaults = Args(env=args.env, kind=args.kind, out=args.out)
    unused = {"random": ("policy", "epsilon", "noise", "greedy"),
              "medium-replay": ("policy", "episodes", "epsilon", "noise", "greedy")}.get(args.kind, ())
    given = [f"--{name}" for name in unused if getattr(args, name) != getattr(defaults, name)]
    if given:
        what = ("plays uniformly random actions" if args.kind == "random"
                else "is the trainer's replay buffer up to its medium policy")
        raise SystemExit(f"collect: --kind {args.kind} {what}; {', '.join(given)} {'does' if len(given) == 1 else 'do'}"
                         f" not apply to it")
    try:
        datasets.check_options(args.env, args.episodes, args.epsilon, args.noise)
    except ValueError as error:
        raise SystemExit(str(error)) from None
    key = jax.random.key(args.seed)
    source: dict[str, Any] = dict(seed=args.seed)
    if args.kind != "medium-replay":
        source.update(episodes=args.episodes)
    if args.kind not in ("random", "medium-replay"):
        source.update(epsilon=args.epsilon, noise=args.noise, sampled=not args.greedy)
    if args.kind == "random":
        transitions, _ = datasets.collect(args.env, None, episodes=args.episodes, key=key)
    elif args.policy is not None:
        if os.path.exists(os.path.join(args.policy, "config.json")):
            policy = driver.run_policy(args.policy)
        else:
            policy = agents.load_policy(args.policy)
        if policy.config.env != args.env:
            raise SystemExit(f"collect: the policy in {args.policy} plays {policy.config.env}, not {args.env}")
        source["policy"] = os.path.abspath(args.policy)
        transitions, _ = datasets.collect(args.env, policy, episodes=args.episodes, key=key, epsilon=args.epsilon,
                                          noise=args.noise, sample=not args.greedy,
                                          episode_length=policy.config.episode_length)
    else:
        medium, expert, medium_rows = train_policies(args.env, args.seed)
        if args.save_policies:
            for name, policy in (("medium", medium), ("expert", expert)):
                agents.save_policy(os.path.join(args.save_policies, name), policy, overwrite=args.overwrite)
        source["trainer"] = dataclasses.asdict(TRAINERS[args.env])
        if args.kind == "medium-replay":
            transitions = medium_rows
        else:
            policy = medium if args.kind == "medium" else expert
            transitions, _ = datasets.collect(args.env, policy, episodes=args.episodes, key=key,
                                              epsilon=args.epsilon, noise=args.noise, sample=not args.greedy)
    path = datasets.save(args.out, transitions, env=args.env, kind=args.kind, source=source, overwrite=args.overwrite)
    info = datasets.read_info(path)
    print(f"{path}: {info.num_episodes} episodes, {info.num_transitions} transitions, mean return "
          f"{info.mean_return:.1f}")
    return path


if __name__ == "__main__":
    main()
