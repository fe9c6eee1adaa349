"""A stride-1 2-D convolution that XLA:CPU computes as one matmul over image patches (im2col).

XLA:CPU runs the small convolutions of MinAtar-sized torsos (3x3 kernels over 10x10x4 images, 16
filters) through a generic convolution kernel that is very slow at RL sizes, above all for the
weight gradient, a convolution whose window is the whole feature map: a forward and weight-gradient
pass over 128 images (and a dense layer after it) took 5.6-7.5 ms, against 0.12-0.19 ms for the
same arithmetic written as a matmul of the [N * H' * W', k * k * C] patch matrix with the kernel
reshaped to [k * k * C, F] (experiments/benchmarks/README.md). The patches are k * k shifted
slices of the (padded) images, concatenated along the channel axis; the matmul is
`networks.dense.dense`, so its weight gradient is a row-major matmul too.

`Conv` holds `flax.linen.Conv`'s parameters (`kernel` [k, k, C, F], `bias` [F]) and computes the
patch matmul only where `jaxrl.tricks` turns the CPU tricks on (by default: programs compiled for
CPU); elsewhere it is `lax.conv_general_dilated`, as `nn.Conv` computes it, since GPUs and TPUs
have fast convolutions of their own. Both paths give the same values up to float summation order.
As with `networks.dense.Dense`, both paths are traced by default, so forward-mode differentiation
(`jax.jvp`) through `Conv` needs `cpu_tricks(False)`; reverse mode works on both.
"""

from __future__ import annotations

from typing import Any, Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxrl import tricks
from jaxrl.networks.dense import dense
from jaxrl.types import Array

PADDINGS = ("SAME", "VALID")


def image_patches(images: Array, kernel_size: int, padding: str) -> Array:
    """[N, H, W, C] images -> [N, H', W', k * k * C] patches of a stride-1 k x k convolution, each
    patch ordered (kernel row, kernel column, channel) as a [k, k, C, F] kernel reshapes to
    [k * k * C, F]. "SAME" pads as `lax.conv_general_dilated` does ((k - 1) // 2 before, the rest
    after), "VALID" does not pad."""
    k = kernel_size
    if padding == "SAME":
        before = (k - 1) // 2
        images = jnp.pad(images, ((0, 0), (before, k - 1 - before), (before, k - 1 - before), (0, 0)))
    height, width = images.shape[1] - k + 1, images.shape[2] - k + 1
    return jnp.concatenate([images[:, i:i + height, j:j + width, :] for i in range(k) for j in range(k)], axis=-1)


def conv_as_matmul(images: Array, kernel: Array, bias: Array, padding: str) -> Array:
    """The convolution of [N, H, W, C] images with a [k, k, C, F] kernel as one patch matmul."""
    k, _, channels, features = kernel.shape
    patches = image_patches(images, k, padding)
    out = dense(jnp.reshape(patches, (-1, k * k * channels)), jnp.reshape(kernel, (k * k * channels, features)), bias)
    return jnp.reshape(out, patches.shape[:-1] + (features,))


def plain_conv(images: Array, kernel: Array, bias: Array, padding: str) -> Array:
    """The convolution as `flax.linen.Conv` computes it (one `lax.conv_general_dilated`)."""
    out = jax.lax.conv_general_dilated(images, kernel, (1, 1), padding, dimension_numbers=("NHWC", "HWIO", "NHWC"))
    return out + bias


class Conv(nn.Module):
    """`flax.linen.Conv(features, (k, k), padding=...)` at stride 1 on [N, H, W, C] images (same
    parameter names, shapes and initialisers), computed by `conv_as_matmul` where the CPU tricks
    are on and by `plain_conv` elsewhere (`jaxrl.tricks`): parameters move freely between them."""

    features: int
    kernel_size: int = 3
    padding: str = "SAME"
    kernel_init: Callable[..., Any] = nn.initializers.lecun_normal()
    bias_init: Callable[..., Any] = nn.initializers.zeros_init()

    @nn.compact
    def __call__(self, images: Array) -> Array:
        if self.padding not in PADDINGS:
            raise ValueError(f"Conv padding must be one of {PADDINGS}, got {self.padding!r}")
        if images.ndim != 4:
            raise ValueError(f"Conv takes images [N, H, W, C], got shape {images.shape}")
        k = self.kernel_size
        kernel = self.param("kernel", self.kernel_init, (k, k, images.shape[-1], self.features), jnp.float32)
        bias = self.param("bias", self.bias_init, (self.features,), jnp.float32)
        images = jnp.asarray(images, jnp.float32)
        return tricks.by_platform(images, kernel, bias, cpu=lambda *a: conv_as_matmul(*a, self.padding),
                                  default=lambda *a: plain_conv(*a, self.padding))
