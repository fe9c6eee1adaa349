"""A point to steer home: the short learning task of the continuous-action agents in `make test`.

A point starts somewhere in [-1, 1]; each step the action, a force in [-1, 1], moves it by a tenth
of the force, and the reward is minus its distance to the origin. Episodes are truncated after 50
steps and never terminate, so the learners bootstrap through every episode's end (a time limit). Uniformly
random forces score about -30; steering straight home and staying there about -1.4 (`home`).

Why this task and not Pendulum-v1: learning it takes a few thousand updates of (32, 32) networks
(compiling the program is most of a test's time), against 10,000-20,000 updates of (64, 64)
networks to swing a pendulum up. It still needs what every continuous agent relies on: a critic
that learns the value of a force in a state, bootstrapped through time limits, and a policy whose
greedy action follows that critic's sign in each state (a constant action cannot score well from
starts on both sides). The Pendulum-v1 learning tests (longer learning evidence) run in `make
check` and in the baselines table.

No termination on purpose: rewards that are positive everywhere (SQIL's and PWIL's imitation
rewards) make an agent avoid ending its episode, so on a version of this task that terminated at
home those two would learn to stay away from it (seen: returns near -100). That is the algorithms'
known survival bias (AIL's absorbing states are its remedy), not what their tests are for.
"""

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from helpers import register_once

from jaxrl import agents, datasets, types
from jaxrl.agents.config import OfflineConfig

NAME = "SteerHome-v0"
RANDOM_RETURN = -30.0  # uniformly random forces (measured: -24 to -37 per 4-seed mean)
GOOD_RETURN = -5.0  # every learning test's bar for each seed; `home` scores -1.4


@dataclasses.dataclass(frozen=True)
class SteerHome:
    max_steps: int = 50

    def spec(self) -> types.EnvSpec:
        return types.EnvSpec(name=NAME, observation=types.Box(-np.inf, np.inf, (1,)),
                             action=types.Box(-1.0, 1.0, (1,)), max_episode_steps=self.max_steps)

    def reset(self, key):
        position = jax.random.uniform(key, (1,), minval=-1.0, maxval=1.0)
        return (position, jnp.int32(0)), types.restart(position)

    def step(self, state, action, key):
        position, t = state[0] + 0.1 * jnp.clip(action, -1.0, 1.0), state[1] + 1
        return (position, t), types.transition(position, -jnp.abs(position[0]), False, t >= self.max_steps)


register_once(NAME, SteerHome)

# The online agents' setting: 15 iterations of 500 env steps after 500 random ones, one update per step.
ONLINE = dict(env=NAME, total_timesteps=8000, learning_starts=500, steps_per_iteration=500, batch_size=64,
              hidden_sizes=(32, 32))
# The offline agents' setting over `mixed_rows()`: 8,000 updates in two iterations.
OFFLINE = dict(env=NAME, num_updates=8000, updates_per_iteration=4000, hidden_sizes=(32, 32))
KEYS = jax.random.split(jax.random.key(0), 4)


def home(observation, key):
    """The demonstrator: the force that lands the point on the origin, clipped to [-1, 1]."""
    return jnp.clip(-10.0 * observation, -1.0, 1.0)


@functools.lru_cache(maxsize=None)
def demonstrations(episodes: int = 10):
    """`episodes` episodes of `home`: (rows, returns), returns about -1.4."""
    return datasets.collect(NAME, home, episodes=episodes, key=jax.random.key(0))


@functools.lru_cache(maxsize=None)
def mixed_rows():
    """40 episodes of `home` with each action replaced by a uniformly random one with probability
    0.7 (returns -10 on average, -39 at worst): rows whose best actions an offline agent must pick out."""
    rows, returns = datasets.collect(NAME, home, episodes=40, key=jax.random.key(1), epsilon=0.7)
    assert -12 < returns.mean() < -8, returns
    return rows


def assert_learned(out, evaluate, online: bool = True) -> np.ndarray:
    """Every seed of a vmapped run (`out`) learned: its greedy policy (`evaluate`, the train
    function's) scores GOOD_RETURN or more, and its last iteration's returns are at least a third
    of the way from random play to home; an online run's first iteration is random play. Returns
    the greedy returns [seeds]."""
    returns = np.asarray(out.metrics["episode_return"])
    if online:
        assert returns[:, 0].mean() < RANDOM_RETURN + 10, returns[:, 0]
    assert np.all(returns[:, -1] >= RANDOM_RETURN / 3), returns
    greedy = np.asarray(jax.jit(jax.vmap(evaluate))(out.state, jax.random.split(jax.random.key(1), len(returns))))
    assert np.all(greedy >= GOOD_RETURN), (returns[:, -1], greedy)
    return greedy


def learn_and_play(module, config, directory, data=None, member: int = 0):
    """`module`'s agent trained by `config` over KEYS (on `data`, an offline agent's rows or an
    agent's demonstrations, when given) and checked by `assert_learned`; then member `member`'s
    policy saved under `directory`, reloaded and checked to play as well. Returns the run's output
    and the reloaded policy."""
    train = module.make_train(config) if data is None else module.make_train(config, data)
    out = jax.jit(jax.vmap(train))(KEYS)
    assert_learned(out, train.evaluate, online=not isinstance(config, OfflineConfig))
    policy = agents.load_policy(agents.save_policy(str(directory / config.agent),
                                                   module.make_policy(config, out.state, member)))
    assert policy.name == config.agent and agents.evaluate_policy(policy, 10) >= GOOD_RETURN
    return out, policy
