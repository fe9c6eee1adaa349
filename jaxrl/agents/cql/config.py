"""CQL's configuration: static `Config` (shapes, control flow) and traced `HParams` (numbers)."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import flax.struct

from jaxrl.agents.config import BOOL, NON_NEGATIVE, ActorCriticConfig, OfflineConfig, at_least
from jaxrl.agents.sac import config as sac_config
from jaxrl.agents.sac.config import SoftPolicyConfig
from jaxrl.types import Array


@flax.struct.dataclass
class HParams(sac_config.HParams):
    """CQL's numeric hyperparameters: SAC's and the penalty's weight."""

    min_q_weight: Array


@dataclasses.dataclass(frozen=True)
class Config(SoftPolicyConfig, OfflineConfig, ActorCriticConfig):
    """Conservative Q-Learning (Kumar, Zhou, Tucker & Levine 2020, "Conservative Q-Learning for
    Offline Reinforcement Learning", arXiv:2006.04779), CQL(H): the critics' loss gains
    `min_q_weight * E_s[logsumexp_a Q(s, a) - Q(s, a_data)]`, which lowers Q wherever the dataset
    has no support, so the policy cannot exploit the critic's errors there.

    Continuous actions: SAC's learner (twin critics, tanh-Gaussian policy, learned temperature),
    the logsumexp estimated by importance sampling `num_sampled_actions` actions per state from
    each of three proposals (uniform, pi(.|s), pi(.|s')), and by default no entropy term in the
    critics' target, as in the authors' code. Discrete actions: a Q-network (DQN's) whose
    logsumexp is exact, a double-Q target and Polyak-averaged target network (`tau`); the
    actor's, temperature's and sampling fields are then unused.

    Defaults: the paper's MuJoCo settings (min_q_weight 5, 10 sampled actions, Adam 3e-4, batch
    256, two layers of 256, tau 0.005) on Pendulum-v1, without its Lagrange variant or its
    behaviour-cloning warm-up. jaxrl's TD loss is the squared error halved (`losses.squared_td_loss`)
    where the authors' is not, so the same min_q_weight weighs the penalty twice as much here.
    """

    agent = "cql"
    HParams = HParams
    actions: ClassVar[str | None] = None

    min_q_weight: float = 5.0
    """alpha of the conservative penalty alpha * E[logsumexp Q(s, .) - Q(s, a_data)], per critic."""
    num_sampled_actions: int = 10
    """Continuous actions: actions per state from each of the three proposals of the logsumexp estimate."""
    backup_entropy: bool = False
    """Continuous actions: keep SAC's entropy term in the critics' target (off in the authors' code)."""

    ranges = dict(min_q_weight=NON_NEGATIVE, num_sampled_actions=at_least(1), backup_entropy=BOOL)
