"""DQfD's program: DQN's agent (`dqn.make_agent`) with the large-margin loss on the batch's
demonstration rows, on the off-policy loop with demonstrations mixed into its replay
(`builder.demonstrations_train`, prioritized or uniform as the config says)."""

from __future__ import annotations

from jaxrl import datasets, losses
from jaxrl.agents import builder
from jaxrl.agents.dqfd.config import Config, HParams
from jaxrl.agents.dqn import learning as dqn_learning
from jaxrl.loops import off_policy
from jaxrl.loops.common import Train
from jaxrl.types import Agent, Array, EnvSpec, Metrics, Transition


def margin_loss(q: Array, batch: off_policy.ReplayBatch, hparams: HParams) -> tuple[Array, Metrics]:
    """`margin_weight` times the large-margin loss over the batch's demonstration rows."""
    t = batch.transitions
    loss = losses.large_margin_loss(q, t.action, hparams.margin, t.extras[datasets.DEMONSTRATION])
    return hparams.margin_weight * loss, {"margin_loss": loss}


def make_agent(config: Config, spec: EnvSpec) -> Agent:
    """DQfD's `Agent` bundle for an environment `spec`: DQN's, with the margin loss."""
    return dqn_learning.make_agent(config, spec, auxiliary=margin_loss)


def make_train(config: Config, demonstrations: Transition | None = None) -> Train:
    """DQfD's training program on `demonstrations` (a `Transition` of rows), or on the directory
    `config.demonstrations` if None: `train(key, hparams=None) -> TrainOutput`."""
    return builder.demonstrations_train(config, Config, make_agent, demonstrations,
                                        make_buffer=dqn_learning.make_buffer)
