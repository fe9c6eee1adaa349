"""BC's configuration: static `Config` (shapes, control flow) and traced `HParams` (numbers)."""

from __future__ import annotations

import dataclasses
from typing import Literal

import flax.struct

from jaxrl.agents.config import OfflineConfig, OneOf, OptimizerConfig, TorsoConfig
from jaxrl.types import Array, EnvSpec


@flax.struct.dataclass
class HParams:
    """BC's numeric hyperparameters: scalar arrays, so `jax.vmap` sweeps them in one compile."""

    learning_rate: Array
    max_grad_norm: Array


@dataclasses.dataclass(frozen=True)
class Config(OfflineConfig, OptimizerConfig, TorsoConfig):
    """Behaviour cloning (Pomerleau 1991; the supervised baseline of offline RL, e.g. Fu et al. 2020,
    arXiv:2004.07219): a policy fitted to the dataset's actions. Discrete actions: a categorical
    policy by cross-entropy; continuous ones: a deterministic tanh actor by mean squared error
    (`loss="mse"`), or a Gaussian policy by log-likelihood (`loss="nll"`), whose greedy action is its
    mean. Needs `dataset`, collected in `env`.

    Defaults: Adam at 1e-3, batches of 256, two layers of 256 ReLU units (the D4RL baselines' size).
    """

    agent = "bc"
    HParams = HParams
    defaults = dict(learning_rate=1e-3, max_grad_norm=10.0, hidden_sizes=(256, 256), activation="relu")

    loss: Literal["mse", "nll"] = "mse"
    """Continuous actions: "mse" (deterministic actor, squared error) or "nll" (Gaussian policy,
    negative log-likelihood). Discrete actions always use cross-entropy."""

    ranges = dict(loss=OneOf(("mse", "nll")))

    def check_spec(self, spec: EnvSpec) -> None:
        super().check_spec(spec)
        if self.loss == "mse":
            self.require_bounded_actions(spec, "bc.Config.loss='mse' (a deterministic tanh actor)")
