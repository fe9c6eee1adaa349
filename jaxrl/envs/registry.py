"""`make(name)`: one entry point for gymnax, brax and user-registered environments."""

from __future__ import annotations

import difflib
from typing import Any, Callable

import jax

from jaxrl.envs import wrappers
from jaxrl.envs.base import Environment, check_episode_length
from jaxrl.types import Box

_BRAX_PREFIX = "brax/"
_registry: dict[str, Callable[..., Environment]] = {}
# jaxrl's own variants of gymnax envs: name -> (gymnax id, which observation entries are kept).
# MaskedCartPole-v1 hides both velocities (cart and pole), so acting well needs memory.
VARIANTS = {"MaskedCartPole-v1": ("CartPole-v1", (True, False, True, False))}


def register(name: str, factory: Callable[..., Environment]) -> None:
    """Registers a custom environment: `make(name, **kwargs)` then returns `factory(**kwargs)`.

    The factory returns any object with `spec()`, `reset(key)` and `step(state, action, key)`
    (see `jaxrl.envs.Environment`); every agent can then train on it by name.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"environment name must be a non-empty string, got {name!r}")
    if name in _registry or name in VARIANTS or name in _gymnax_names() or name.startswith(_BRAX_PREFIX):
        raise ValueError(f"environment {name!r} is already registered (built-in names cannot be replaced)")
    from jaxrl.envs.host import HOST_PREFIXES

    if name.startswith(HOST_PREFIXES):  # agents send these names to the host loop, never to `make`
        raise ValueError(f"environment name {name!r} starts with {name.split('/')[0]}/, which names host-side "
                         f"environments; register it under another name")
    if not callable(factory):
        raise TypeError(f"factory for {name!r} must be callable, got {factory!r}")
    _registry[name] = factory


def _gymnax_names() -> list[str]:
    import gymnax

    return list(gymnax.registered_envs)


def known_names() -> list[str]:
    """All names `make` accepts (brax names listed with their `brax/` prefix)."""
    from jaxrl.envs.brax import brax_names

    return sorted(_registry) + _gymnax_names() + list(VARIANTS) + [_BRAX_PREFIX + n for n in brax_names()]


def _unknown(name: str) -> ValueError:
    names = known_names()
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
    if not close:  # case-insensitive second chance, e.g. "cartpole"
        lowered = {n.lower(): n for n in names}
        close = [lowered[n] for n in difflib.get_close_matches(name.lower(), list(lowered), n=3, cutoff=0.5)]
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return ValueError(f"unknown environment {name!r}.{hint} Known environments: {', '.join(names)}")


def make(name: str, *, episode_length: int | None = None, **kwargs: Any) -> Environment:
    """Makes one (unbatched, non-resetting) environment by name.

    Args:
      name: a registered name, a gymnax id ("CartPole-v1", "Pendulum-v1", ...),
        "brax/<env>" ("brax/ant", "brax/inverted_pendulum", ...) or one of jaxrl's own variants
        ("MaskedCartPole-v1": CartPole-v1 without its velocities in the observation).
      episode_length: time limit; gymnax keeps its own (e.g. 500 for CartPole-v1) unless this
        overrides it, brax defaults to 1000, registered envs get a `TimeLimit` if it is set.
      **kwargs: passed to the environment's factory (gymnax: env params fields).

    Raises:
      ValueError: for an unknown name, listing close matches.
    """
    check_episode_length(episode_length)
    if name in _registry:
        env = check_environment(name, _registry[name](**kwargs))
        return env if episode_length is None else wrappers.TimeLimit(env, episode_length)
    if name in VARIANTS:
        base, keep = VARIANTS[name]
        return wrappers.MaskObservation(make(base, episode_length=episode_length, **kwargs), keep, name)
    if name.startswith(_BRAX_PREFIX):
        from jaxrl.envs.brax import brax_names, make_brax

        short = name[len(_BRAX_PREFIX):]
        if short not in brax_names():
            raise _unknown(name)
        env = make_brax(short, **kwargs)
        return wrappers.TimeLimit(env, 1000 if episode_length is None else episode_length)
    if name in _gymnax_names():
        from jaxrl.envs.gymnax import make_gymnax

        if episode_length is not None:
            kwargs = {**kwargs, "max_steps_in_episode": episode_length}
        return make_gymnax(name, **kwargs)
    raise _unknown(name)


def check_environment(name: str, env: Any) -> Environment:
    """`env`, a registered factory's environment, after checking what the agents rely on, by
    tracing (no computation): its three methods, a `Box` of observations, and observations of the
    spec's shape from `reset` and `step`. TypeError or ValueError naming `name` otherwise, before
    any agent builds its networks (which would fail deep inside flax)."""
    missing = [m for m in ("spec", "reset", "step") if not callable(getattr(env, m, None))]
    if missing:
        raise TypeError(f"environment {name!r}: its factory returned a {type(env).__name__} without "
                        f"{', '.join(f'{m}()' for m in missing)}; an environment has spec(), reset(key) and "
                        f"step(state, action, key) (jaxrl.envs.Environment)")
    spec = env.spec()
    if not isinstance(spec.observation, Box):
        raise ValueError(f"environment {name!r}: observations must be a Box (arrays of floats), its spec has "
                         f"{spec.observation}; one-hot a discrete observation inside the env")
    state, first = jax.eval_shape(env.reset, jax.random.key(0))
    if isinstance(spec.action, Box):
        action = jax.ShapeDtypeStruct(tuple(spec.action.shape), spec.action.dtype)
    else:
        action = jax.ShapeDtypeStruct((), spec.action.dtype)
    _, after = jax.eval_shape(env.step, state, action, jax.random.key(0))
    for method, timestep in (("reset", first), ("step", after)):
        shape = tuple(timestep.observation.shape)
        if shape != tuple(spec.observation.shape):
            raise ValueError(f"environment {name!r}: {method} returns observations of shape {shape}, its spec "
                             f"declares {tuple(spec.observation.shape)}")
    return env


def make_batched(
    name: str,
    num_envs: int,
    *,
    episode_length: int | None = None,
    normalize_observations: bool = False,
    **kwargs: Any,
) -> Environment:
    """The environment a training loop steps: `make(name)`, with continuous bounded actions
    rescaled to [-1, 1] (agents then act on one scale everywhere), then `wrappers.batched`."""
    env = make(name, episode_length=episode_length, **kwargs)
    action = env.spec().action
    if isinstance(action, Box) and action.bounded:
        env = wrappers.RescaleAction(env)
    return wrappers.batched(env, num_envs, normalize_observations=normalize_observations)
