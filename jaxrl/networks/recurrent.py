"""Recurrent cores (LSTM, Hochreiter & Schmidhuber 1997; GRU, Cho et al. 2014) whose state
resets where an episode starts, per env, inside the scan over time.

A core is called on a time-major sequence: `core(carry, inputs [T, B, F], resets [T, B])` ->
`(carry, outputs [T, B, H])`, where `resets[t, b]` says that env b's observation at step t is the
first of a new episode, so its state is zeroed before that step. Acting is the same call with
T = 1, so acting and learning share one set of parameters and one code path. The carry is a
pytree of [B, H] arrays (LSTM: (c, h); GRU: h) that agents keep in their actor state, so a
chunked or checkpointed run carries it across iterations and resumes bit for bit.

Why not flax's cells under `nn.scan`: they run one small matmul per gate per step (GRU: 6). Here
the gates share one input kernel and one recurrent kernel, and the input projection of every
step is one matmul before the scan, so a step inside the (sequential) scan is a single [B, H] x
[H, G*H] matmul plus elementwise work: the scan's steps, not FLOPs, set a small core's cost.
The equations are flax's (`nn.GRUCell`, `nn.LSTMCell`), with the same initialisers per gate.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxrl.networks import initializers
from jaxrl.types import Array

CORES = ("lstm", "gru")
_GATES = {"lstm": 4, "gru": 3}
Carry = Any


def _check_kind(kind: str) -> None:
    if kind not in CORES:
        raise ValueError(f"recurrent core must be one of {CORES}, got {kind!r}")


def initial_carry(kind: str, size: int, batch_shape: tuple[int, ...]) -> Carry:
    """The zero state of `batch_shape` cores: what a new episode starts from."""
    _check_kind(kind)
    zeros = jnp.zeros(batch_shape + (size,), jnp.float32)
    return (zeros, zeros) if kind == "lstm" else zeros


def reset_carry(carry: Carry, reset: Array) -> Carry:
    """`carry` with the rows where `reset` [B] is True set to zero (a new episode starts there)."""
    return jax.tree.map(lambda c: jnp.where(reset[:, None], jnp.zeros_like(c), c), carry)


def episode_starts(last: Array) -> Array:
    """[T, B] flags of the steps whose observation starts an episode inside a time-major sequence:
    those after a LAST step, the `resets` of a core's unroll over stored steps. (At t = 0 a stored
    state is already zero where an episode begins: actors zero it with `reset_carry`.)"""
    return jnp.concatenate([jnp.zeros_like(last[:1]), last[:-1]], axis=0)


def _per_gate(init: Any, gates: int):
    """An initialiser of a [fan_in, gates * H] kernel that initialises each gate's [fan_in, H] block
    on its own (orthogonal recurrent kernels stay orthogonal per gate, as in flax's cells)."""

    def initialize(key, shape, dtype=jnp.float32):
        fan_in, width = shape
        keys = jax.random.split(key, gates)
        return jnp.concatenate([init(k, (fan_in, width // gates), dtype) for k in keys], axis=1)

    return initialize


def _gru_step(h: Array, projected: Array, recurrent_kernel: Array, recurrent_bias: Array) -> Array:
    """One GRU step from the input's projection [B, 3H] (r, z, n order, input biases included)."""
    hr, hz, hn = jnp.split(h @ recurrent_kernel, 3, axis=-1)
    xr, xz, xn = jnp.split(projected, 3, axis=-1)
    r = jax.nn.sigmoid(xr + hr)
    z = jax.nn.sigmoid(xz + hz)
    n = jnp.tanh(xn + r * (hn + recurrent_bias))
    return (1.0 - z) * n + z * h


def _lstm_step(carry: tuple[Array, Array], projected: Array, recurrent_kernel: Array) -> tuple[Array, Array]:
    """One LSTM step from the input's projection [B, 4H] (i, f, g, o order, biases included)."""
    c, h = carry
    i, f, g, o = jnp.split(projected + h @ recurrent_kernel, 4, axis=-1)
    c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
    return c, jax.nn.sigmoid(o) * jnp.tanh(c)


class RecurrentCore(nn.Module):
    """`(carry, inputs [T, B, F], resets [T, B]) -> (carry, outputs [T, B, size])`: an LSTM or GRU
    unrolled over time with `lax.scan`, its state zeroed per env where `resets` marks an episode's
    first step.

    `active` [T, B], if given, marks the steps that advance the state (elsewhere it is kept, e.g.
    burn-in steps from before a rollout began); `states=True` also returns the state after every
    step, [T, B, size] per carry leaf (what a value of the true successor observation needs).
    """

    kind: str = "lstm"
    size: int = 128

    @nn.compact
    def __call__(self, carry: Carry, inputs: Array, resets: Array, active: Array | None = None,
                 states: bool = False) -> tuple[Carry, Array] | tuple[Carry, Array, Carry]:
        _check_kind(self.kind)
        if inputs.ndim != 3 or resets.shape != inputs.shape[:2]:
            raise ValueError(f"RecurrentCore takes inputs [T, B, F] and resets [T, B], got {inputs.shape} and "
                             f"{resets.shape}")
        gates, size = _GATES[self.kind], self.size
        input_kernel = self.param("input_kernel", _per_gate(nn.initializers.lecun_normal(), gates),
                                  (inputs.shape[-1], gates * size))
        # jaxrl's orthogonal, not jax's: batched QRs under vmap can deadlock XLA:CPU (initializers.py).
        recurrent_kernel = self.param("recurrent_kernel", _per_gate(initializers.orthogonal(), gates),
                                      (size, gates * size))
        bias = self.param("bias", nn.initializers.zeros_init(), (gates * size,))
        # flax's GRU adds a bias to the recurrent part of the candidate only (inside r * (...)).
        recurrent_bias = self.param("recurrent_bias", nn.initializers.zeros_init(), (size,)) if self.kind == "gru" \
            else None
        projected = inputs @ input_kernel + bias  # every step's input projection in one matmul

        def step(carry, xs):
            x, reset, on = xs
            before = carry
            carry = reset_carry(carry, reset)
            if self.kind == "gru":
                carry = _gru_step(carry, x, recurrent_kernel, recurrent_bias)
                output = carry
            else:
                carry = _lstm_step(carry, x, recurrent_kernel)
                output = carry[1]
            if on is not None:  # an inactive step leaves the state as it was
                carry = jax.tree.map(lambda n, c: jnp.where(on[:, None], n, c), carry, before)
            return carry, (output, carry)

        carry, (outputs, after) = jax.lax.scan(step, carry, (projected, resets, active))
        return (carry, outputs, after) if states else (carry, outputs)

    def initial_carry(self, batch_size: int) -> Carry:
        return initial_carry(self.kind, self.size, (batch_size,))
