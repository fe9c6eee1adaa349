"""A dense layer whose weight gradient XLA:CPU computes as a plain (non-transposed) matmul.

`y = x @ kernel + bias` has the weight gradient `x^T @ g`, a dot that contracts the batch axis
of both operands. XLA folds any transpose we write into the dot's dimension numbers, and
XLA:CPU sends that transposed-operand form to a generic Eigen kernel that, at RL sizes
(64-128 wide, 128-row minibatches, vmapped over seeds), runs 1.5-3x slower than the
plain-layout matmul the forward pass gets (measured in `experiments/benchmarks/`). For heads
with one or two outputs the gap is larger still.

`dense` therefore materialises the transpose of the narrower operand (x for a first layer on
4-d observations, g for a 2-logit head) behind `lax.optimization_barrier`, which XLA cannot
fold, and computes the weight gradient as a row-major matmul; where x is the transposed one,
the bias gradient comes out of the same matmul against an appended row of ones.

A layer with few inputs (at most `FEW_INPUTS`: a first layer on CartPole's 4-d observations)
is also slow as a matmul on XLA:CPU: a K=4 dot over [8 seeds, 128, 4] ran ~4x slower than the
same sum written as 4 broadcast multiply-adds along the output axis, which XLA fuses into one
vectorised loop (experiments/benchmarks/README.md). So `dense` computes those layers that way.
Values equal `x @ kernel + bias` up to float summation order (exactly, for wider layers), and so
do its gradients.

A weight-gradient matmul whose materialised operand has exactly three rows (a first layer on 2-d
observations, 2 inputs + the ones row; a 3-logit head) gets a fourth row of zeros, and its fourth
output row is dropped. PPO's whole program on MountainCar-v0 (both cases) ran 25-35% faster on two
cores with the zero row at 200k env steps per seed, 2-4% at 500k and 1M; Acrobot-v1's (3 logits)
~7% at 200k, 1-3% at 500k; on one core both forms ran alike. So the 3-row matmuls trigger a
two-core slowdown of XLA:CPU's runtime that something else (varying with the run's length) can
trigger too; it was not found. MountainCarContinuous-v0 (the same 3-row first layer) and other
row counts padded to even (1, 2, 5, 7) did not gain; no program measured was slower
(experiments/benchmarks/README.md). A zero row adds nothing to the other rows' sums: every
program compared gave the same bits with and without it.

`dense` is a `jax.custom_vjp`: reverse mode only (`jax.grad`, `jax.vjp`, under `vmap`/`jit`);
forward-mode differentiation through it (`jax.jvp`, `jax.jacfwd`) raises.

The `Dense` module uses `dense` only where `jaxrl.tricks` turns the CPU tricks on (by default: in
programs compiled for CPU) and computes flax's `nn.Dense` arithmetic elsewhere: the slow
transposed-operand matmul is XLA:CPU's, and on GPU or TPU the barrier's effect is unmeasured.
Both paths hold the same parameters, so params move freely between them. By default both paths
are traced, so forward-mode differentiation through `Dense` needs `cpu_tricks(False)`. PPO's
networks and PQN's Q-network use it; the MLP torso and `QHead` take it with `row_major_grads=True`.
"""

from __future__ import annotations

from typing import Any, Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxrl import tricks
from jaxrl.types import Array


def _as_matrix(x: Array) -> Array:
    return jnp.reshape(x, (-1, x.shape[-1]))


# Layers with at most this many inputs compute `x @ kernel` as multiply-adds, not a matmul.
FEW_INPUTS = 8


@jax.custom_vjp
def dense(x: Array, kernel: Array, bias: Array) -> Array:
    """`x @ kernel + bias` over x's last axis ([..., in] -> [..., out])."""
    num_in = kernel.shape[0]
    if num_in > FEW_INPUTS:
        return jnp.dot(x, kernel) + bias
    # sum_i x[..., i] * kernel[i], each term a broadcast over the output axis: one fused loop.
    y = x[..., 0:1] * kernel[0]
    for i in range(1, num_in):
        y = y + x[..., i:i + 1] * kernel[i]
    return y + bias


def _with_fourth_row(a: Array) -> Array:
    """`a` [M, N] with a row of zeros appended where M is 3 (the module docstring says why)."""
    if a.shape[0] != 3:
        return a
    return jnp.concatenate([a, jnp.zeros((1,) + a.shape[1:], a.dtype)], axis=0)


def _dense_fwd(x, kernel, bias):
    return dense(x, kernel, bias), (x, kernel)


def _dense_bwd(residuals, g):
    x, kernel = residuals
    x2, g2 = _as_matrix(x), _as_matrix(g)
    num_in, num_out = kernel.shape
    x_grad = jnp.dot(g, kernel.T)
    if num_in <= num_out:
        # [in + 1, N] @ [N, out], the transposed operand materialised behind the barrier. The
        # bias gradient sum(g) rides in the same matmul, against an appended row of ones: one
        # kernel instead of a matmul and a separate reduction over the wide g.
        x_t = jnp.concatenate([x2, jnp.ones((x2.shape[0], 1), x2.dtype)], axis=1).T
        grads = jnp.dot(jax.lax.optimization_barrier(_with_fourth_row(x_t)), g2)
        return x_grad, grads[:num_in], grads[num_in]
    # ([out, N] @ [N, in])^T: the narrow g is the one transposed, then the small result.
    g_t = jax.lax.optimization_barrier(_with_fourth_row(g2.T))
    kernel_grad = jax.lax.optimization_barrier(jnp.dot(g_t, x2))[:num_out].T
    return x_grad, kernel_grad, jnp.sum(g2, axis=0)


dense.defvjp(_dense_fwd, _dense_bwd)


def plain_dense(x: Array, kernel: Array, bias: Array) -> Array:
    """`x @ kernel + bias` as `flax.linen.Dense` computes it, with autodiff's own gradients."""
    y = jax.lax.dot_general(x, kernel, (((x.ndim - 1,), (0,)), ((), ())))
    return y + jnp.reshape(bias, (1,) * (y.ndim - 1) + (-1,))


class Dense(nn.Module):
    """`flax.linen.Dense` (same parameter names, shapes and initialisers) computed by `dense`
    where the CPU tricks are on and by `plain_dense` elsewhere (`jaxrl.tricks`), so swapping it
    in leaves parameter trees and checkpoints unchanged."""

    features: int
    kernel_init: Callable[..., Any] = nn.initializers.lecun_normal()
    bias_init: Callable[..., Any] = nn.initializers.zeros_init()

    @nn.compact
    def __call__(self, x: Array) -> Array:
        kernel = self.param("kernel", self.kernel_init, (jnp.shape(x)[-1], self.features), jnp.float32)
        bias = self.param("bias", self.bias_init, (self.features,), jnp.float32)
        x = jnp.asarray(x, jnp.float32)
        return tricks.by_platform(x, kernel, bias, cpu=dense, default=plain_dense)
