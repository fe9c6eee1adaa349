"""PQN's configuration: static `Config` (shapes, control flow) and traced `HParams` (numbers)."""

from __future__ import annotations

import dataclasses

import flax.struct

from jaxrl.agents.config import BOOL, POSITIVE, UNIT, EpochsConfig, EpsilonGreedyConfig, TorsoConfig
from jaxrl.types import Array


@flax.struct.dataclass
class HParams:
    """PQN's numeric hyperparameters: scalar arrays, so `jax.vmap` sweeps them in one compile."""

    learning_rate: Array
    max_grad_norm: Array
    gamma: Array
    td_lambda: Array
    epsilon_start: Array
    epsilon_end: Array
    exploration_fraction: Array
    reward_scale: Array


@dataclasses.dataclass(frozen=True)
class Config(EpochsConfig, EpsilonGreedyConfig, TorsoConfig):
    """Parallelised Q-Network (Gallici et al. 2024, "Simplifying Deep Temporal Difference
    Learning", arXiv:2407.04811): Q-learning from many parallel envs without replay or target
    network, LayerNorm in the Q-network, Q(lambda) targets over each rollout.

    Defaults are purejaxql's CartPole-v1 settings, with Adam (jaxrl's one optimiser) for its RAdam.
    Fields named like `HParams` fields are the defaults of `hparams()`, which `train(key, hparams)`
    may override.
    """

    agent = "pqn"
    HParams = HParams
    actions = "discrete"
    defaults = dict(num_envs=32, hidden_sizes=(256, 256), activation="relu", learning_rate=1e-4, max_grad_norm=10.0,
                    rollout_length=64, num_minibatches=16, epsilon_end=0.2, exploration_fraction=0.2)

    layer_norm: bool = True
    """LayerNorm before each hidden activation (the paper's stabiliser in place of a target network)."""
    td_lambda: float = 0.95
    """lambda of the Q(lambda) targets (0: one-step Q-learning targets)."""
    reward_scale: float = 0.1
    """Rewards are multiplied by this before the targets are formed."""

    ranges = dict(layer_norm=BOOL, td_lambda=UNIT, reward_scale=POSITIVE)
