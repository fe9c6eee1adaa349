"""Networks of the off-policy continuous-control agents (DDPG, TD3, SAC, D4PG): Q(s, a) critics, an
ensemble of them evaluated as one batched network, a deterministic tanh actor, and networks whose
parameters are one flat vector."""

from __future__ import annotations

from typing import Any, Callable, NamedTuple, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from jax.custom_batching import custom_vmap
from jax.flatten_util import ravel_pytree

from jaxrl import tricks
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


def _gradient_written_in_place(sizes: Sequence[int]) -> Callable[..., Array]:
    """The flat gradient from its leaves' flat gradients [..., n_i], each written into the vector
    [..., sum(n_i)] by its own `dynamic_update_slice`: the CPU path of `flat_network`'s backward
    pass.

    The plain transpose of unravelling is one concatenation, and XLA:CPU fuses the leaves'
    producers into it (the last layer's bias gradient, a reduction, among them) as one loop that
    evaluates every operand on every vector of the output under masks. Its masked loads reach far
    past the small operands' buffers, and how slow that runs depends on where the buffers lie:
    on an AVX2 EPYC host the same compiled IQL update took 6 ms in some calls and 12.5 ms in most,
    nearly half of it in that loop (SAC's 5.4 and 12 ms, TD3's 4.5 and 6-7.5 ms at (256, 256);
    experiments/benchmarks/README.md). Each in-place update is a loop over its own leaf only. The
    starts pass through an optimization barrier so that XLA's simplifier cannot fold the chain of
    updates of a zero vector back into the concatenation. Under `vmap` the updates write the
    batched vector along its last axis (a `custom_vmap` rule): JAX's own batching rule would turn
    each into a scatter, which made vmapped TD3 updates slower than the concatenation."""
    starts = [int(s) for s in np.concatenate([[0], np.cumsum(sizes)[:-1]])]
    total = int(sum(sizes))

    # The starts are an argument, not a constant of the function: `custom_vmap` requires its
    # function's captured constants to be unbatched, which the batching of a `lax.cond` whose
    # branch holds the function does not promise.
    @custom_vmap
    def write(offsets: Array, *leaves: Array) -> Array:
        lead = leaves[0].shape[:-1]
        flat = jnp.zeros(lead + (total,), leaves[0].dtype)
        for i, leaf in enumerate(leaves):
            flat = jax.lax.dynamic_update_slice(flat, leaf, (0,) * len(lead) + (offsets[i],))
        return flat

    @write.def_vmap
    def batched(axis_size: int, in_batched: Sequence[bool], offsets: Array, *leaves: Array) -> tuple[Array, bool]:
        if in_batched[0]:
            # The same constant starts for every member (a `lax.cond` under `vmap` may batch the
            # constants its branches capture).
            offsets = offsets[0]
        leaves = tricks.broadcast_unbatched(axis_size, in_batched[1:], leaves)
        # `write` again, so that an enclosing `vmap` takes this rule too.
        return write(offsets, *leaves), True

    def written(*leaves: Array) -> Array:
        offsets = jax.lax.optimization_barrier(jnp.array(starts, jnp.int32))
        return write(offsets, *leaves)

    return written


def flat_network(module: nn.Module, *example_inputs: Array) -> FlatNetwork:
    """`module` with flat parameters; `example_inputs` fix the parameter shapes (batch axis free).

    The gradient with respect to the vector is the same on every path; where the CPU tricks are
    on (`jaxrl.cpu_tricks`) it is assembled leaf by leaf in place rather than concatenated
    (`_gradient_written_in_place`). Reverse mode only: forward-mode differentiation (`jax.jvp`)
    through `apply` or `unravel` raises, as through `networks.Dense`."""
    shapes = jax.eval_shape(module.init, jax.random.key(0), *example_inputs)
    flat, unravel_leaves = ravel_pytree(jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shapes))
    sizes = [int(np.prod(s.shape)) for s in jax.tree.leaves(shapes)]
    written = _gradient_written_in_place(sizes)

    def concatenated(*leaves: Array) -> Array:
        return jnp.concatenate(leaves)

    @jax.custom_vjp
    def unravel(params: Array) -> Any:
        return unravel_leaves(params)

    def unravel_forward(params: Array) -> tuple[Any, None]:
        return unravel_leaves(params), None

    def unravel_backward(_: None, cotangent: Any) -> tuple[Array]:
        # Leaves in `ravel_pytree`'s order: the cotangent has the parameter tree's structure.
        leaves = [jnp.ravel(leaf).astype(flat.dtype) for leaf in jax.tree.leaves(cotangent)]
        return (tricks.by_platform(*leaves, cpu=written, default=concatenated),)

    unravel.defvjp(unravel_forward, unravel_backward)

    def init(key: PRNGKey) -> Array:
        return ravel_pytree(module.init(key, *example_inputs))[0]

    def apply(params: Array, *inputs: Array) -> Any:
        return module.apply(unravel(params), *inputs)

    return FlatNetwork(init=init, apply=apply, unravel=unravel)
