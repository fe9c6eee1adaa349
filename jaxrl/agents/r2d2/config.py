"""R2D2's configuration: static `Config` (shapes, control flow) and traced `HParams` (numbers)."""

from __future__ import annotations

import dataclasses
from typing import Literal

import flax.struct

from jaxrl.agents.config import (BOOL, UNIT, NON_NEGATIVE, POSITIVE, EpsilonGreedyConfig, OneOf, OptimizerConfig,
                                 TargetNetworkConfig, TorsoConfig, at_least)
from jaxrl.networks.recurrent import CORES
from jaxrl.types import Array


@flax.struct.dataclass
class HParams:
    """R2D2's numeric hyperparameters: scalar arrays, so `jax.vmap` sweeps them in one compile."""

    learning_rate: Array
    gamma: Array
    epsilon_start: Array
    epsilon_end: Array
    exploration_fraction: Array
    max_grad_norm: Array
    priority_eta: Array
    tau: Array


@dataclasses.dataclass(frozen=True)
class Config(TargetNetworkConfig, OptimizerConfig, EpsilonGreedyConfig, TorsoConfig):
    """Recurrent Replay Distributed DQN (R2D2, Kapturowski et al. 2019) in one program: a recurrent
    Q-network trained on replayed sequences that start from the core state the actor stored, after
    a burn-in that refreshes it without gradient; double-Q n-step targets under the invertible
    value rescaling h; sequences prioritised by a mixture of their max and mean |TD error|.

    `buffer_size` and `batch_size` count sequences; `train_every` and `target_update_every` count
    env steps summed over the env batch, as in DQN. Every `sequence_period` steps each env emits
    its last `sequence_length` steps as one sequence (R2D2: 80 every 40, burn-in 40). Exploration
    is DQN's linear epsilon schedule, the same for every env (R2D2's actors each keep a fixed
    epsilon instead). Defaults are a small setting for velocity-masked CartPole.
    """

    agent = "r2d2"
    HParams = HParams
    actions = "discrete"
    defaults = dict(env="MaskedCartPole-v1", num_envs=8, total_timesteps=96_000, buffer_size=2_000, batch_size=32,
                    learning_starts=2_000, train_every=80, updates_per_step=4, steps_per_iteration=1_600, n_step=5,
                    hidden_sizes=(32,), activation="relu", normalize_observations=True, learning_rate=1e-3,
                    max_grad_norm=10.0, target_update_every=1_000)

    core: Literal["lstm", "gru"] = "lstm"
    """The recurrent core between the torso and the Q head: an LSTM or a GRU, zeroed where an episode starts."""
    core_size: int = 32
    """Width of the core's state."""
    sequence_length: int = 20
    """Steps per replayed sequence, burn-in included."""
    burn_in: int = 10
    """Steps at the start of each sequence that only refresh the stored core state (no loss, no gradient)."""
    sequence_period: int = 10
    """Steps of an env between the starts of its consecutive sequences (sequence_length - period overlap)."""
    dueling: bool = False
    """Dueling head: Q = V + A - mean(A)."""
    prioritized: bool = True
    """Prioritized sequence replay (proportional, sum-tree) instead of uniform."""
    priority_exponent: float = 0.9
    """Prioritized replay's alpha."""
    importance_exponent: float = 0.6
    """Prioritized replay's beta: the importance-weight correction's exponent."""
    priority_eta: float = 0.9
    """A sequence's priority: eta * max |TD error| + (1 - eta) * mean |TD error| over its trained steps."""
    value_rescaling: bool = True
    """Targets under h(x) = sign(x)(sqrt(|x| + 1) - 1) + eps x, bootstrapping through h^-1."""
    rescaling_epsilon: float = 1e-3
    """The eps of h."""

    ranges = dict(core=OneOf(CORES), core_size=at_least(1), sequence_length=at_least(2), burn_in=at_least(0),
                  sequence_period=at_least(1), dueling=BOOL, prioritized=BOOL, priority_exponent=NON_NEGATIVE,
                  importance_exponent=UNIT, priority_eta=UNIT, value_rescaling=BOOL, rescaling_epsilon=POSITIVE)

    @property
    def loop_n_step(self) -> int:
        """1: R2D2 forms its n-step targets inside replayed sequences; the loop stores single steps."""
        return 1

    replay_item = "sequence"

    @property
    def replay_items_per_period(self) -> int:
        """Sequences each update period writes: one per env every `sequence_period` of its steps."""
        return self.period_env_steps // self.sequence_period

    def replay_items_stored_text(self, stored: int) -> str:
        return f"the {stored} sequences the run stores (total_timesteps / sequence_period)"

    def check_replay_items(self) -> None:
        """The sequences: trained steps in each, whole ones before every round of updates."""
        require = self.require
        require(self.burn_in < self.sequence_length, "burn_in",
                f"must be < sequence_length={self.sequence_length}, so that every sequence has trained steps")
        require(self.sequence_period <= self.sequence_length, "sequence_period",
                f"must be <= sequence_length={self.sequence_length}, or steps between sequences are never replayed")
        # Targets are formed inside a replayed sequence: a longer n would be cut short at every step.
        require(self.n_step <= self.sequence_length - self.burn_in, "n_step",
                f"must be <= the trained steps of a sequence, sequence_length - burn_in = "
                f"{self.sequence_length - self.burn_in}")
        env_steps = self.period_env_steps // self.num_envs
        require(self.period_env_steps % self.num_envs == 0 and env_steps % self.sequence_period == 0, "train_every",
                f"must be a multiple of num_envs * sequence_period = {self.num_envs * self.sequence_period}: each "
                f"round of updates follows whole sequences")
