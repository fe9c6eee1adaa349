"""The one optimiser path every agent takes: Adam with the learning rate inside.

`adam` is Adam (Kingma & Ba 2015, arXiv:1412.6980), optionally after clipping the gradient's
global norm (Pascanu et al. 2013), as `optax.chain(optax.clip_by_global_norm(max_norm),
optax.scale_by_adam(b1, b2, eps), optax.scale(-learning_rate))` computes it, stepping on a
parameter pytree (or a flat vector) leaf by leaf, as an optax `GradientTransformation`.

Why its own arithmetic rather than that chain: jaxrl promises that a population trained in
chunks equals one `jit(vmap(train))` call bit for bit, and that a step's arithmetic does not
depend on whether a hyperparameter or counter is a scalar or a per-member vector. optax computes
the bias corrections as `b ** count` and divides by them, which XLA compiles differently in the
two forms; here they come from running products `b1^t`, `b2^t` (one multiplication per step)
applied as multiplications by their reciprocals, and clipping is one multiplication by a scale.
Stepping leaf by leaf, with no flat vector to slice weights out of, is also faster for PPO's
small networks (experiments/benchmarks/README.md).

The running products drift from `b^t` by at most t/2 ulps (~1e-3 relative after 15k steps,
when b2^t is ~2e-7 and no longer matters); the effect on the step is far below Adam's own eps.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxrl.types import Array


class AdamState(NamedTuple):
    """`count`: steps taken; `b1_power`, `b2_power`: b1^t and b2^t after t steps; `mu`, `nu`: Adam's
    moment estimates."""

    count: Array
    b1_power: Array
    b2_power: Array
    mu: Any
    nu: Any


LearningRate = Array | float | Callable[[Array], Array]


def adam(learning_rate: LearningRate, max_grad_norm: Array | float | None = None, b1: float = 0.9,
         b2: float = 0.999, eps: float = 1e-8) -> optax.GradientTransformation:
    """Adam with the learning rate inside, after optional global-norm clipping: every agent's
    optimiser. `update(grads, state)` returns the step to add (`optax.apply_updates`).

    `learning_rate` is a number, a traced array (a vmapped hyperparameter) or a schedule
    `count -> rate` of the steps taken before this one (PPO's annealing). `max_grad_norm=None`
    skips clipping. The state does not depend on the learning rate or the clipping norm, so the
    same transformation can be rebuilt from each call's hyperparameters.
    """
    schedule = learning_rate if callable(learning_rate) else (lambda count: learning_rate)

    def init(params: Any) -> AdamState:
        zeros = jax.tree.map(jnp.zeros_like, params)
        one = jnp.ones((), jnp.float32)
        return AdamState(count=jnp.zeros((), jnp.int32), b1_power=one, b2_power=one, mu=zeros, nu=zeros)

    def update(grads: Any, state: AdamState, params: Any = None) -> tuple[Any, AdamState]:
        del params
        if max_grad_norm is not None:
            norm = optax.tree.norm(grads)
            scale = jnp.where(norm < max_grad_norm, 1.0, max_grad_norm / norm)
            grads = jax.tree.map(lambda g: g * scale, grads)
        mu = jax.tree.map(lambda m, g: b1 * m + (1.0 - b1) * g, state.mu, grads)
        nu = jax.tree.map(lambda v, g: b2 * v + (1.0 - b2) * jnp.square(g), state.nu, grads)
        b1_power, b2_power = state.b1_power * b1, state.b2_power * b2
        mu_correction, nu_correction = 1.0 / (1.0 - b1_power), 1.0 / (1.0 - b2_power)
        rate = schedule(state.count)
        updates = jax.tree.map(lambda m, v: -rate * ((m * mu_correction) / (jnp.sqrt(v * nu_correction) + eps)),
                               mu, nu)
        return updates, AdamState(count=state.count + 1, b1_power=b1_power, b2_power=b2_power, mu=mu, nu=nu)

    return optax.GradientTransformation(init, update)


def linear_anneal(learning_rate: Array | float, num_decrements: int,
                  steps_per_decrement: int = 1) -> Callable[[Array], Array]:
    """The schedule `count -> learning_rate * (1 - (count // steps_per_decrement) / num_decrements)`
    for `adam`: linear decay to 0 over `num_decrements * steps_per_decrement` steps, held constant
    within each `steps_per_decrement` steps (PPO: once per iteration's update, as PureJaxRL; PQN:
    every gradient step, as purejaxql)."""

    def schedule(count: Array) -> Array:
        done = count if steps_per_decrement == 1 else count // steps_per_decrement
        return learning_rate * (1.0 - done.astype(jnp.float32) / num_decrements)

    return schedule


def step(transformation: optax.GradientTransformation, params: Any, grads: Any,
         state: Any) -> tuple[Any, Any]:
    """`params` after one step of `transformation` on `grads`, and its new state."""
    updates, state = transformation.update(grads, state, params)
    return optax.apply_updates(params, updates), state


def minibatch_steps(grad_fn: Callable[[Any, Any], tuple[Any, Any]], transformation: optax.GradientTransformation,
                    params: Any, state: Any, minibatches: Any) -> tuple[tuple[Any, Any], Any]:
    """One step of `transformation` per minibatch, in a `lax.scan` over the leading axis of
    `minibatches`: `grad_fn(params, minibatch) -> (grads, metrics)`. Returns the final
    `(params, state)` and the metrics stacked per step (the epochs of PPO-style learners)."""

    def minibatch_step(carry, minibatch):
        params, state = carry
        grads, metrics = grad_fn(params, minibatch)
        return step(transformation, params, grads, state), metrics

    return jax.lax.scan(minibatch_step, (params, state), minibatches)
