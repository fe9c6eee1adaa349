"""Weight initialisers that stay safe when a whole population is initialised under `vmap`.

`orthogonal` draws the same matrices as `jax.nn.initializers.orthogonal` (Saxe et al. 2014,
arXiv:1312.6120: a Gaussian matrix, its QR factorisation, Q with the signs of R's diagonal),
bit for bit. The difference is how a batch of QR factorisations runs. Under `vmap`, XLA:CPU's
LAPACK QR kernel splits its batch over the intra-op thread pool and blocks until the pieces
finish; when two devices of one host (`--xla_force_host_platform_device_count`) each run such a
kernel on that pool's threads, both wait for pieces no free thread can run and the process
deadlocks (jax 0.10.2, 2 cores: `distributed.population_train` of 4 PPO seeds on 2 devices hung
every time). Here a batch of QRs runs one matrix after another (`lax.map`), inside whichever
thread runs the program: initialisation is a one-off, so the parallel split bought nothing.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jax.custom_batching import custom_vmap

from jaxrl.types import Array, PRNGKey


@custom_vmap
def sequential_qr(matrix: Array) -> tuple[Array, Array]:
    """`jnp.linalg.qr(matrix)` (reduced) of one [M, N] matrix; batched, one matrix at a time."""
    q, r = jnp.linalg.qr(matrix)
    return q, r


@sequential_qr.def_vmap
def _sequential_qr_vmap(axis_size: int, in_batched: list[bool], matrix: Array):
    del axis_size
    (batched,) = in_batched
    if not batched:
        return sequential_qr(matrix), (False, False)
    # lax.map's body sees one matrix; an outer vmap batches it again and lands back here.
    return jax.lax.map(sequential_qr, matrix), (True, True)


def orthogonal(scale: float = 1.0):
    """An initialiser of [..., fan_out] kernels with orthonormal rows or columns, times `scale`.

    Same draws as `jax.nn.initializers.orthogonal(scale)` (column axis -1).
    """

    def init(key: PRNGKey, shape: tuple[int, ...], dtype=jnp.float32) -> Array:
        if len(shape) < 2:
            raise ValueError(f"orthogonal initialisation needs a kernel of rank >= 2, got shape {shape}")
        rows, cols = math.prod(shape) // shape[-1], shape[-1]
        gaussian = jax.random.normal(key, (max(rows, cols), min(rows, cols)), dtype)
        q, r = sequential_qr(gaussian)
        q = q * jnp.sign(jnp.diagonal(r))[None, :]
        if rows < cols:
            q = q.T
        return jnp.asarray(scale, dtype) * jnp.reshape(q, shape)

    return init
