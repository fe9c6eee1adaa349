"""flax.linen torsos and heads (heads return distrax distributions); Q(s, a) critics and a
deterministic actor for continuous control."""

from jaxrl.networks import initializers
from jaxrl.networks.critics import (
    ContinuousQ,
    CriticEnsemble,
    DeterministicActor,
    FlatNetwork,
    ensemble_member,
    ensemble_member_params,
    flat_network,
)
from jaxrl.networks.heads import CategoricalHead, GaussianHead, QHead, ValueHead
from jaxrl.networks.torsos import ACTIVATIONS, MLP, activation_fn, flatten_observation

__all__ = [
    "ACTIVATIONS",
    "MLP",
    "CategoricalHead",
    "ContinuousQ",
    "CriticEnsemble",
    "DeterministicActor",
    "FlatNetwork",
    "GaussianHead",
    "QHead",
    "ValueHead",
    "activation_fn",
    "ensemble_member",
    "ensemble_member_params",
    "flat_network",
    "flatten_observation",
    "initializers",
]
