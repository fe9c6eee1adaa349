"""Recall a cue: the short learning task of the memory agents (recurrent PPO, R2D2) in `make test`.

The first observation of an episode shows a cue, -1 or +1 at random (beside a flag 1 that marks
the first step); every later observation is zeros. Each of the episode's 10 steps pays 1 when the
action (0 or 1) names the cue ((cue + 1) / 2), and the episode ends (terminates) after the tenth.

Memory is the only way past half: a policy without one sees the same zeros after either cue, so
from the second step on its greedy action is right after one cue and wrong after the other. Its
greedy return is 10 after one cue and 1 after the other, 5.5 over random cues (`MEMORYLESS_RETURN`);
a policy that remembers scores 10 every episode. Learning it takes ~16,000-40,000 env steps and a
few seconds once compiled, against 48,000-500,000 steps of velocity-masked CartPole, whose tests
(the longer learning evidence, against feed-forward agents trained alike) run in `make check`.
"""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
from helpers import register_once

from jaxrl import types

NAME = "RecallCue-v0"
LENGTH = 10
MEMORYLESS_RETURN = 5.5  # the best a policy without memory can expect; remembering scores LENGTH


@dataclasses.dataclass(frozen=True)
class RecallCue:
    length: int = LENGTH

    def spec(self) -> types.EnvSpec:
        return types.EnvSpec(name=NAME, observation=types.Box(-1.0, 1.0, (2,)), action=types.Discrete(2),
                             max_episode_steps=self.length)

    def reset(self, key):
        cue = jax.random.bernoulli(key).astype(jnp.int32)
        return (cue, jnp.int32(0)), types.restart(jnp.stack([2.0 * cue - 1.0, 1.0]))

    def step(self, state, action, key):
        cue, t = state[0], state[1] + 1
        reward = (action == cue).astype(jnp.float32)
        return (cue, t), types.transition(jnp.zeros(2), reward, t >= self.length, False)


register_once(NAME, RecallCue)


def assert_remembered(out, greedy) -> None:
    """A vmapped run (`out`) started at a memoryless policy's level and ended remembering: every
    seed's greedy return (`greedy` [seeds], over enough episodes that luck in the cues cannot lift a
    memoryless policy there) is within one step of LENGTH."""
    first = np.asarray(out.metrics["episode_return"][:, 0])
    assert np.all(first < MEMORYLESS_RETURN + 1), first
    assert np.all(np.asarray(greedy) >= LENGTH - 1), greedy
