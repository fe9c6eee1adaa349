"""flax.linen torsos and heads; heads return distrax distributions."""

from jaxrl.networks.heads import CategoricalHead, GaussianHead, QHead, ValueHead
from jaxrl.networks.torsos import ACTIVATIONS, MLP, activation_fn, flatten_observation

__all__ = [
    "ACTIVATIONS",
    "CategoricalHead",
    "GaussianHead",
    "MLP",
    "QHead",
    "ValueHead",
    "activation_fn",
    "flatten_observation",
]
