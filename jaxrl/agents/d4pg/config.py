"""D4PG's configuration: static `Config` (shapes, control flow) and traced `HParams` (numbers)."""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp

from jaxrl.agents.config import FINITE, POSITIVE, at_least
from jaxrl.agents.ddpg import config as ddpg_config
from jaxrl.agents.ddpg.config import HParams


@dataclasses.dataclass(frozen=True)
class Config(ddpg_config.Config):
    """Distributed Distributional DDPG (Barth-Maron et al. 2018, arXiv:1804.08617), without the
    distribution over actor processes: DDPG whose critic is a categorical return distribution over
    `num_atoms` atoms evenly spaced on [v_min, v_max] (C51, Bellemare et al. 2017), learned on
    `n_step`-step returns by cross-entropy to the projected target; the actor follows the
    deterministic policy gradient of the distribution's mean. Polyak target copies and Gaussian
    exploration noise, as in the paper's experiments.

    Defaults: the paper's 51 atoms, 5-step returns, exploration noise 0.3 and actor learning rate
    1e-4, Acme's dqda clipping at norm 1, batch 256, two layers of 256, tau 0.005, and for
    Pendulum-v1 a support [-1000, 0] that covers its discounted returns (rewards lie in
    [-16.3, 0]), a critic learning rate of 3e-3 (1e-3 and the paper's 1e-4 learn too slowly on a
    short budget), a short warm-up and budget.
    """

    agent = "d4pg"
    HParams = HParams
    defaults = dict(n_step=5, critic_learning_rate=3e-3, exploration_noise=0.3)

    num_atoms: int = 51
    """Atoms of the critic's categorical return distribution."""
    v_min: float = -1000.0
    """The lowest atom."""
    v_max: float = 0.0
    """The highest atom."""
    dqda_clipping: float | None = 1.0
    """Norm the action gradient dQ/da is clipped to in the actor's update (None: no clipping)."""

    ranges = dict(num_atoms=at_least(2), v_min=FINITE, v_max=FINITE, dqda_clipping=POSITIVE.or_none())

    def check(self) -> None:
        super().check()
        self.require(self.v_max > self.v_min, "v_max", f"must be > v_min={self.v_min}")

    @property
    def atoms(self) -> jnp.ndarray:
        """The critic's support: `num_atoms` values evenly spaced on [v_min, v_max]."""
        return jnp.linspace(self.v_min, self.v_max, self.num_atoms, dtype=jnp.float32)
