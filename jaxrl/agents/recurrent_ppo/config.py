"""Recurrent PPO's configuration: PPO's fields plus the recurrent core and the training sequences."""

from __future__ import annotations

import dataclasses
from typing import Literal

from jaxrl.agents.config import OneOf, at_least
from jaxrl.agents.ppo.config import Config as PPOConfig
from jaxrl.agents.ppo.config import HParams
from jaxrl.networks.recurrent import CORES


@dataclasses.dataclass(frozen=True)
class Config(PPOConfig):
    """PPO (Schulman et al. 2017) with a recurrent core between an embedding layer and the policy
    and value MLPs, trained on whole env sequences from their stored initial core state.

    Defaults are PureJaxRL's `ppo_rnn.py` (CartPole-v1 settings, a 128-wide GRU after a 128-wide
    ReLU embedding, 128-wide ReLU layers before each head); each minibatch is a set of whole
    sequences (with the defaults, one env's rollout each).
    """

    agent = "recurrent_ppo"
    HParams = HParams
    defaults = dict(hidden_sizes=(128,), activation="relu")

    core: Literal["lstm", "gru"] = "gru"
    """The recurrent core: an LSTM or a GRU, its state zeroed where an episode starts."""
    core_size: int = 128
    """Width of the embedding layer and of the core's state."""
    sequence_length: int | None = None
    """Steps per training sequence (None: the whole rollout); must divide rollout_length."""
    burn_in: int = 0
    """Steps of the env's rollout before each sequence replayed without gradient to refresh the
    stored core state (Kapturowski et al. 2019); 0: start from the stored state."""

    ranges = dict(core=OneOf(CORES), core_size=at_least(1), sequence_length=at_least(1).or_none(),
                  burn_in=at_least(0))

    def check(self) -> None:
        super().check()
        require = self.require
        require(self.rollout_length % self.sequence_steps == 0, "sequence_length",
                f"must divide rollout_length = {self.rollout_length}")
        require(self.num_sequences % self.num_minibatches == 0, "num_minibatches",
                f"must divide the number of sequences num_envs * rollout_length / sequence_length = "
                f"{self.num_sequences} (each minibatch holds whole sequences)")
        require(self.burn_in < self.rollout_length, "burn_in", f"must be < rollout_length = {self.rollout_length}")

    @property
    def sequence_steps(self) -> int:
        """Steps per training sequence."""
        return self.rollout_length if self.sequence_length is None else self.sequence_length

    @property
    def num_sequences(self) -> int:
        return self.num_envs * (self.rollout_length // max(self.sequence_steps, 1))
