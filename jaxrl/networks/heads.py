"""Heads: map torso features to policies, values or Q-values.

A policy head returns a policy object (`CategoricalPolicy`, `GaussianPolicy`,
`TanhGaussianPolicy`): a pytree of the distribution's parameters that answers what an agent asks
of it -- a sample with its log-probability, the log-probability of a given action, the greedy
action and an entropy -- so that no agent has to inspect distribution classes. Each also carries
the equivalent distrax distribution (`.distribution`) for the rest of distrax's API.

The policy and value heads use `networks.dense.Dense`: `nn.Dense`'s parameters and values, with
the weight gradient of their 1- or 2-wide output computed as a row-major matmul where the CPU
tricks are on (`jaxrl.tricks`; by default in programs compiled for CPU).
"""

from __future__ import annotations

import math
from typing import Protocol

import distrax
import flax.linen as nn
import flax.struct
import jax
import jax.numpy as jnp

from jaxrl.networks import initializers
from jaxrl.networks.dense import Dense
from jaxrl.types import Array, PRNGKey

# Small final-layer init keeps the initial policy close to uniform (Andrychowicz et al. 2021).
_POLICY_INIT = initializers.orthogonal(0.01)
_VALUE_INIT = initializers.orthogonal(1.0)

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)
# Actions of a tanh-squashed policy are clipped this far inside (-1, 1) before atanh, so the
# log-probability of an action where tanh saturated to +-1 in float32 stays finite.
TANH_EDGE = 1.0 - 1e-6


class Policy(Protocol):
    """What an agent asks of a stochastic policy over a batch of states [...]."""

    def sample(self, seed: PRNGKey) -> Array: ...

    def sample_and_log_prob(self, seed: PRNGKey) -> tuple[Array, Array]: ...

    def log_prob(self, action: Array) -> Array: ...

    def greedy_action(self) -> Array: ...

    def entropy(self) -> Array: ...

    @property
    def distribution(self) -> distrax.Distribution: ...


@flax.struct.dataclass
class CategoricalPolicy:
    """A categorical policy over the last axis of its logits [..., A]; actions are int32 [...].

    It holds one `distrax.Categorical`, which normalises the logits once, when it is built:
    sampling, log-probabilities and entropy share that work and its gradient.
    """

    distribution: distrax.Categorical

    @classmethod
    def from_logits(cls, logits: Array) -> CategoricalPolicy:
        return cls(distrax.Categorical(logits=logits))

    @property
    def logits(self) -> Array:
        """The normalised logits, log p(a) [..., A]."""
        return self.distribution.logits

    def sample(self, seed: PRNGKey) -> Array:
        # distrax's own draw. Drawing with `jax.random.categorical` directly (the same bits,
        # without distrax's softmax validity check) saved ~1 us per rollout step but let two
        # differently compiled PPO programs (fast and plain keys) round their parameters
        # differently in the last bit; not worth it (experiments/benchmarks/README.md).
        return self.distribution.sample(seed=seed)

    def sample_and_log_prob(self, seed: PRNGKey) -> tuple[Array, Array]:
        action = self.sample(seed)
        return action, self.log_prob(action)

    def log_prob(self, action: Array) -> Array:
        """log p(action); -inf for an action outside range(A), as distrax gives."""
        logits = self.logits
        num_actions = logits.shape[-1]
        index = jnp.clip(action, 0, num_actions - 1).astype(jnp.int32)
        log_prob = jnp.take_along_axis(logits, index[..., None], axis=-1)[..., 0]
        return jnp.where((action >= 0) & (action < num_actions), log_prob, -jnp.inf)

    def greedy_action(self) -> Array:
        """The most probable action (the first of ties)."""
        return jnp.argmax(self.logits, axis=-1).astype(jnp.int32)

    def entropy(self) -> Array:
        """-sum_a p(a) log p(a), in nats."""
        return self.distribution.entropy()


def _gaussian_log_prob(noise: Array, log_std: Array) -> Array:
    """log N(mean + std * noise; mean, diag(std^2)), summed over the last (action) axis."""
    return jnp.sum(-0.5 * jnp.square(noise) - log_std - _HALF_LOG_2PI, axis=-1)


def _gaussian_entropy(mean: Array, log_std: Array) -> Array:
    """sum_i (log std_i + (1 + log 2 pi) / 2), broadcast over the batch of `mean`."""
    return jnp.sum(jnp.broadcast_to(log_std, mean.shape) + (0.5 + _HALF_LOG_2PI), axis=-1)


def _tanh_log_det_jacobian(x: Array) -> Array:
    """sum_i log(1 - tanh(x_i)^2) = sum_i 2 (log 2 - x_i - softplus(-2 x_i)), stable where tanh saturates."""
    return jnp.sum(2.0 * (math.log(2.0) - x - jax.nn.softplus(-2.0 * x)), axis=-1)


@flax.struct.dataclass
class GaussianPolicy:
    """N(mean, diag(exp(log_std)^2)) over actions [..., A], whose samples the environment clips to
    [-1, 1] (the "clipped Gaussian" of PPO's continuous control, Schulman et al. 2017).

    `log_std` broadcasts against `mean` (state-independent [A] or per state [..., A]).
    """

    mean: Array
    log_std: Array
    # Whether the env's action box is bounded (then rescaled from [-1, 1], where samples are
    # clipped): the greedy action is clipped alike; on an unbounded box nothing clips the samples.
    bounded: bool = flax.struct.field(pytree_node=False, default=True)

    @property
    def distribution(self) -> distrax.MultivariateNormalDiag:
        return distrax.MultivariateNormalDiag(self.mean, jnp.broadcast_to(jnp.exp(self.log_std), self.mean.shape))

    def _noise(self, seed: PRNGKey) -> Array:
        return jax.random.normal(seed, self.mean.shape, self.mean.dtype)

    def sample(self, seed: PRNGKey) -> Array:
        return self.mean + jnp.exp(self.log_std) * self._noise(seed)

    def sample_and_log_prob(self, seed: PRNGKey) -> tuple[Array, Array]:
        noise = self._noise(seed)
        return self.mean + jnp.exp(self.log_std) * noise, _gaussian_log_prob(noise, self.log_std)

    def log_prob(self, action: Array) -> Array:
        return _gaussian_log_prob((action - self.mean) * jnp.exp(-self.log_std), self.log_std)

    def greedy_action(self) -> Array:
        """The mean, clipped to the [-1, 1] action box as the environment clips it (an unbounded
        box: the mean as it is)."""
        return jnp.clip(self.mean, -1.0, 1.0) if self.bounded else self.mean

    def entropy(self) -> Array:
        """The closed form sum_i (log std_i + (1 + log 2 pi) / 2); its gradient w.r.t. log_std is 1."""
        return _gaussian_entropy(self.mean, self.log_std)


@flax.struct.dataclass
class TanhGaussianPolicy:
    """tanh(x), x ~ N(mean, diag(exp(log_std)^2)): actions in (-1, 1)^A (Haarnoja et al. 2018).

    `mean` and `log_std` are the pre-squash Gaussian's. Log-probabilities of the policy's own
    samples use the stable log-Jacobian at the pre-squash sample x, never atanh of the action.
    """

    mean: Array
    log_std: Array

    @property
    def distribution(self) -> distrax.Transformed:
        base = distrax.MultivariateNormalDiag(self.mean, jnp.broadcast_to(jnp.exp(self.log_std), self.mean.shape))
        return distrax.Transformed(base, distrax.Block(distrax.Tanh(), ndims=1))

    def _pre_squash_sample(self, seed: PRNGKey) -> tuple[Array, Array]:
        noise = jax.random.normal(seed, self.mean.shape, self.mean.dtype)
        return self.mean + jnp.exp(self.log_std) * noise, noise

    def sample(self, seed: PRNGKey) -> Array:
        return jnp.tanh(self._pre_squash_sample(seed)[0])

    def sample_and_log_prob(self, seed: PRNGKey) -> tuple[Array, Array]:
        x, noise = self._pre_squash_sample(seed)
        return jnp.tanh(x), _gaussian_log_prob(noise, self.log_std) - _tanh_log_det_jacobian(x)

    def log_prob(self, action: Array) -> Array:
        """log pi(a) = log N(x) - sum log(1 - tanh(x)^2), x = atanh(a clipped to +-TANH_EDGE)."""
        x = jnp.arctanh(jnp.clip(action, -TANH_EDGE, TANH_EDGE))
        noise = (x - self.mean) * jnp.exp(-self.log_std)
        return _gaussian_log_prob(noise, self.log_std) - _tanh_log_det_jacobian(x)

    def greedy_action(self) -> Array:
        """tanh of the pre-squash mean (the squashed distribution's median, not its mode)."""
        return jnp.tanh(self.mean)

    def entropy(self) -> Array:
        """The pre-squash Gaussian's entropy, the usual proxy: the tanh-Gaussian's has no closed form.

        It exceeds the true entropy by E[sum_i log(1 / (1 - tanh(x_i)^2))] >= 0.
        """
        return _gaussian_entropy(self.mean, self.log_std)


class CategoricalHead(nn.Module):
    """Logits over `num_actions` discrete actions, as a `CategoricalPolicy`."""

    num_actions: int

    @nn.compact
    def __call__(self, x: jax.Array) -> CategoricalPolicy:
        return CategoricalPolicy.from_logits(Dense(self.num_actions, kernel_init=_POLICY_INIT)(x))


class GaussianHead(nn.Module):
    """A diagonal Gaussian policy with a state-independent, learned log standard deviation.

    `squash="tanh"` returns a `TanhGaussianPolicy` (samples in (-1, 1)); `squash="none"` a
    `GaussianPolicy`, whose samples the environment clips (`bounded`: the env's action box is).
    """

    action_dim: int
    squash: str = "none"
    init_log_std: float = 0.0
    bounded: bool = True

    @nn.compact
    def __call__(self, x: jax.Array) -> GaussianPolicy | TanhGaussianPolicy:
        if self.squash not in ("tanh", "none"):
            raise ValueError(f"GaussianHead.squash must be 'tanh' or 'none', got {self.squash!r}")
        mean = Dense(self.action_dim, kernel_init=_POLICY_INIT)(x)
        log_std = self.param("log_std", nn.initializers.constant(self.init_log_std), (self.action_dim,))
        if self.squash == "tanh":
            return TanhGaussianPolicy(mean, log_std)
        return GaussianPolicy(mean, log_std, bounded=self.bounded)


def repeat_policy(policy: Policy, num: int) -> Policy:
    """The policy of each state repeated `num` times along the batch axis: the policy the network
    gives for `jnp.repeat(observation, num, axis=0)`, from one pass over the states.

    Per-state leaves ([B, ...], two or more axes) are repeated; a state-independent `log_std` ([A])
    is kept. Samples drawn from it with a key are those drawn from the repeated states' policy with
    that key, since a sample's noise has the repeated mean's shape [B * num, A]. For estimates
    that score several sampled actions per state (CRR's V(s), CQL's penalty): the policy network
    runs over B rows instead of B * num.
    """
    return jax.tree.map(lambda x: jnp.repeat(x, num, axis=0) if x.ndim > 1 else x, policy)


def policy_head(discrete: bool, action_size: int, continuous_policy: str = "gaussian",
                init_log_std: float = 0.0, bounded: bool = True) -> CategoricalHead | GaussianHead:
    """The policy head of an actor-critic (PPO's): a `CategoricalHead` over `action_size` actions
    if `discrete`, else a `GaussianHead` of `action_size` dimensions, tanh-squashed if
    `continuous_policy` is "tanh_gaussian" and clipped by the environment if it is "gaussian"
    (`bounded`: whether the env's action box is, and so clips)."""
    if discrete:
        return CategoricalHead(action_size)
    squash = "tanh" if continuous_policy == "tanh_gaussian" else "none"
    return GaussianHead(action_size, squash, init_log_std, bounded)


class ValueHead(nn.Module):
    """A scalar state value V(s)."""

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        return jnp.squeeze(Dense(1, kernel_init=_VALUE_INIT)(x), -1)


class QHead(nn.Module):
    """Action values Q(s, .) [..., A], or C51 logits [..., A, num_atoms] (Bellemare et al. 2017).

    `dueling=True` splits the head into a state value and advantages, Q = V + A - mean_a A
    (Wang et al. 2016, arXiv:1511.06581); with atoms this is done per atom on the logits.

    `row_major_grads=True` computes the layers with `networks.dense.Dense` (the policy and value
    heads' layer) instead of `nn.Dense`: the same parameters, and where the CPU tricks are on a
    row-major weight gradient. XLA:CPU runs a narrow head's transposed weight-gradient dot slowly
    (PQN's 2-wide head over 8 seeds' 256-wide features: ~0.4 ms of a ~4 ms minibatch step,
    experiments/benchmarks/README.md).
    """

    num_actions: int
    dueling: bool = False
    num_atoms: int | None = None
    row_major_grads: bool = False

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        atoms = 1 if self.num_atoms is None else self.num_atoms
        shape = x.shape[:-1] + (self.num_actions, atoms)
        layer = Dense if self.row_major_grads else nn.Dense
        advantages = layer(self.num_actions * atoms, kernel_init=_VALUE_INIT)(x).reshape(shape)
        if self.dueling:
            value = layer(atoms, kernel_init=_VALUE_INIT)(x)[..., None, :]
            advantages = value + advantages - jnp.mean(advantages, axis=-2, keepdims=True)
        return advantages[..., 0] if self.num_atoms is None else advantages
