"""IMPALA's configuration: static `Config` (shapes, control flow) and traced `HParams` (numbers)."""

from __future__ import annotations

import dataclasses

import flax.struct

from jaxrl.agents.config import NON_NEGATIVE, POSITIVE, UNIT, EpochsConfig, TorsoConfig, at_least
from jaxrl.types import Array


@flax.struct.dataclass
class HParams:
    """IMPALA's numeric hyperparameters: scalar arrays, so `jax.vmap` sweeps them in one compile."""

    learning_rate: Array
    max_grad_norm: Array
    gamma: Array
    vtrace_lambda: Array
    clip_rho: Array
    clip_pg_rho: Array
    ent_coef: Array
    vf_coef: Array


@dataclasses.dataclass(frozen=True)
class Config(EpochsConfig, TorsoConfig):
    """IMPALA (Espeholt et al. 2018, "IMPALA: Scalable Distributed Deep-RL with Importance Weighted
    Actor-Learner Architectures", arXiv:1802.01561): an actor-critic learner that corrects for
    actors acting with older parameters by V-trace targets and importance-weighted policy gradients.

    Here the actors and the learner are one compiled program; `policy_lag` N makes the actors act
    with the parameters of N learner iterations before (kept in the actor state), as distributed
    actors would, so the off-policy correction does real work. Defaults are CartPole-v1 settings
    (16 envs, unrolls of 16, one pass of four gradient steps per rollout, each on four envs'
    whole unrolls); the paper's were Atari's and DMLab's. More epochs replay each batch of unrolls,
    which V-trace corrects for as it does for the lag.
    Fields named like `HParams` fields are the defaults of `hparams()`, which `train(key, hparams)`
    may override.
    """

    agent = "impala"
    HParams = HParams
    actions = "discrete"
    defaults = dict(num_envs=16, learning_rate=1e-3, rollout_length=16, num_epochs=1)

    policy_lag: int = 0
    """Learner iterations by which the actors' parameters trail the learner's (0: on-policy)."""
    vtrace_lambda: float = 1.0
    """lambda of V-trace's traces c_t = lambda * min(1, pi/mu) (1: the paper's)."""
    clip_rho: float = 1.0
    """rho-bar: clip of the importance ratios in the value targets."""
    clip_pg_rho: float = 1.0
    """Clip of the importance ratios weighting the policy gradient."""
    ent_coef: float = 0.01
    """Weight of the entropy bonus."""
    vf_coef: float = 0.5
    """Weight of the value (baseline) loss."""

    ranges = dict(policy_lag=at_least(0), vtrace_lambda=UNIT, clip_rho=POSITIVE, clip_pg_rho=POSITIVE,
                  ent_coef=NON_NEGATIVE, vf_coef=NON_NEGATIVE)

    def check(self) -> None:
        super().check()
        self.require(self.num_envs % self.num_minibatches == 0, "num_minibatches",
                     f"must divide num_envs = {self.num_envs} (each minibatch holds whole env unrolls)")
