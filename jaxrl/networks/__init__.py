"""flax.linen torsos (MLPs; LSTM and GRU cores whose state resets per episode) and heads (policy
heads return policy objects that answer sample, log-prob, greedy action and entropy, each
carrying a distrax distribution); Q(s, a) critics and a deterministic actor for continuous
control."""

from jaxrl.networks import initializers
from jaxrl.networks.conv import Conv
from jaxrl.networks.critics import (
    ContinuousQ,
    CriticEnsemble,
    DeterministicActor,
    FlatNetwork,
    ensemble_member,
    ensemble_member_params,
    flat_network,
)
from jaxrl.networks.heads import (
    TANH_EDGE,
    CategoricalHead,
    CategoricalPolicy,
    GaussianHead,
    GaussianPolicy,
    Policy,
    QHead,
    TanhGaussianPolicy,
    ValueHead,
    policy_head,
    repeat_policy,
)
from jaxrl.networks.recurrent import CORES, RecurrentCore, episode_starts, initial_carry, reset_carry
from jaxrl.networks.torsos import (
    ACTIVATIONS,
    MLP,
    TORSOS,
    ConvTorso,
    activation_fn,
    flatten_observation,
    make_torso,
    torso_input,
)

__all__ = [
    "ACTIVATIONS",
    "CORES",
    "MLP",
    "CategoricalHead",
    "Conv",
    "ConvTorso",
    "CategoricalPolicy",
    "ContinuousQ",
    "CriticEnsemble",
    "DeterministicActor",
    "FlatNetwork",
    "GaussianHead",
    "GaussianPolicy",
    "Policy",
    "QHead",
    "RecurrentCore",
    "TANH_EDGE",
    "TORSOS",
    "TanhGaussianPolicy",
    "ValueHead",
    "activation_fn",
    "ensemble_member",
    "ensemble_member_params",
    "episode_starts",
    "flat_network",
    "flatten_observation",
    "initial_carry",
    "initializers",
    "make_torso",
    "policy_head",
    "repeat_policy",
    "reset_carry",
    "torso_input",
]
