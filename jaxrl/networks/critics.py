"""Networks of the off-policy continuous-control agents (DDPG, TD3, SAC, D4PG): Q(s, a) critics, an
ensemble of them evaluated as one batched network, a deterministic tanh actor, and networks whose
parameters are one flat vector."""

from __future__ import annotations

from typing import Any, Callable, NamedTuple, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from jaxrl.networks import initializers
from jaxrl.networks.torsos import MLP, flatten_observation
from jaxrl.types import Array, PRNGKey

# A small last layer starts the actor near a = 0, away from tanh's flat tails.
_ACTOR_INIT = initializers.orthogonal(0.01)


class ContinuousQ(nn.Module):
    """Q(s, a) of a continuous action: an MLP on the concatenated [observation, action].

    `__call__(observation [..., O], action [..., A])` returns Q-values [...], or with `num_atoms`
    the logits [..., num_atoms] of a categorical return distribution (D4PG, Barth-Maron et al.
    2018, arXiv:1804.08617).
    """

    hidden_sizes: Sequence[int] = (256, 256)
    activation: str = "relu"
    num_atoms: int | None = None
    observation_ndim: int = 1

    @nn.compact
    def __call__(self, observation: Array, action: Array) -> Array:
        x = jnp.concatenate([flatten_observation(observation, self.observation_ndim), action], axis=-1)
        x = MLP(self.hidden_sizes, self.activation)(x)
        out = nn.Dense(1 if self.num_atoms is None else self.num_atoms)(x)
        return out[..., 0] if self.num_atoms is None else out


class CriticEnsemble(nn.Module):
    """`num_critics` independent `ContinuousQ`s run as one batched network: [num_critics, ...].

    Twin critics (TD3, Fujimoto et al. 2018; SAC, Haarnoja et al. 2018) take the minimum over the
    leading axis. One batched matmul per layer instead of one per critic keeps the op count down.
    """

    num_critics: int = 2
    hidden_sizes: Sequence[int] = (256, 256)
    activation: str = "relu"
    num_atoms: int | None = None
    observation_ndim: int = 1

    @nn.compact
    def __call__(self, observation: Array, action: Array) -> Array:
        ensemble = nn.vmap(
            ContinuousQ,
            variable_axes={"params": 0},
            split_rngs={"params": True},
            in_axes=None,
            out_axes=0,
            axis_size=self.num_critics,
        )
        critics = ensemble(self.hidden_sizes, self.activation, self.num_atoms, self.observation_ndim, name="critics")
        return critics(observation, action)


def ensemble_member(ensemble: CriticEnsemble) -> ContinuousQ:
    """One member of `ensemble` as a module of its own, for `ensemble_member_params`."""
    return ContinuousQ(ensemble.hidden_sizes, ensemble.activation, ensemble.num_atoms, ensemble.observation_ndim)


def ensemble_member_params(variables: Any, index: int) -> Any:
    """The variables of member `index` of a `CriticEnsemble`'s `variables`, for `ensemble_member`.

    Evaluating one member alone (TD3's actor follows the first critic only) costs half the
    FLOPs of evaluating the ensemble and discarding the rest.
    """
    return {"params": jax.tree.map(lambda x: x[index], variables["params"]["critics"])}


class DeterministicActor(nn.Module):
    """A deterministic policy a = tanh(MLP(s)) in [-1, 1]^A (Lillicrap et al. 2016, arXiv:1509.02971);
    `jaxrl.envs.make_batched` maps [-1, 1] onto the environment's action box."""

    action_size: int
    hidden_sizes: Sequence[int] = (256, 256)
    activation: str = "relu"
    observation_ndim: int = 1

    @nn.compact
    def __call__(self, observation: Array) -> Array:
        x = MLP(self.hidden_sizes, self.activation)(flatten_observation(observation, self.observation_ndim))
        return jnp.tanh(nn.Dense(self.action_size, kernel_init=_ACTOR_INIT)(x))


class FlatNetwork(NamedTuple):
    """A flax module whose parameters are one flat float32 vector.

    An optimiser step, a Polyak average or a select on such a vector is one fused op instead of
    one per layer, which is most of a small network's update cost on CPU.

    init: key -> parameter vector [P].
    apply: (parameter vector, *inputs) -> the module's output.
    unravel: parameter vector -> the module's parameter pytree.
    """

    init: Callable[[PRNGKey], Array]
    apply: Callable[..., Any]
    unravel: Callable[[Array], Any]


def flat_network(module: nn.Module, *example_inputs: Array) -> FlatNetwork:
    """`module` with flat parameters; `example_inputs` fix the parameter shapes (batch axis free)."""
    shapes = jax.eval_shape(module.init, jax.random.key(0), *example_inputs)
    _, unravel = ravel_pytree(jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shapes))

    def init(key: PRNGKey) -> Array:
        return ravel_pytree(module.init(key, *example_inputs))[0]

    def apply(params: Array, *inputs: Array) -> Any:
        return module.apply(unravel(params), *inputs)

    return FlatNetwork(init=init, apply=apply, unravel=unravel)
