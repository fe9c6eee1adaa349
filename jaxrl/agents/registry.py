"""Agents by name: the one table that the command line, sweeps and baselines read.

An agent is a module (or any object) with a `Config` class and `make_train(config)`; the built-in
ones also have `make_policy`. `get("ppo")` imports jaxrl's own agents lazily, so looking one up
does not import the others.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

# Built-in agents: name -> module path, in the order the command line lists them.
_BUILTIN = {
    "ppo": "jaxrl.agents.ppo",
    "dqn": "jaxrl.agents.dqn",
    "ddpg": "jaxrl.agents.ddpg",
    "td3": "jaxrl.agents.td3",
    "sac": "jaxrl.agents.sac",
    "d4pg": "jaxrl.agents.d4pg",
    "pqn": "jaxrl.agents.pqn",
    "recurrent_ppo": "jaxrl.agents.recurrent_ppo",
    "impala": "jaxrl.agents.impala",
    "r2d2": "jaxrl.agents.r2d2",
    "mpo": "jaxrl.agents.mpo",
    "bc": "jaxrl.agents.bc",
    "td3_bc": "jaxrl.agents.td3_bc",
    "cql": "jaxrl.agents.cql",
    "iql": "jaxrl.agents.iql",
    "crr": "jaxrl.agents.crr",
    "bve": "jaxrl.agents.bve",
    "ail": "jaxrl.agents.ail",
    "sqil": "jaxrl.agents.sqil",
    "pwil": "jaxrl.agents.pwil",
    "sacfd": "jaxrl.agents.sacfd",
    "td3fd": "jaxrl.agents.td3fd",
    "dqfd": "jaxrl.agents.dqfd",
}
_REGISTERED: dict[str, Any] = {}


def names() -> list[str]:
    """Every agent's name: the built-in ones, then those added with `register`."""
    return [*_BUILTIN, *(n for n in _REGISTERED if n not in _BUILTIN)]


def get(name: str) -> ModuleType | Any:
    """The agent registered as `name` (e.g. `get("ppo").make_train(get("ppo").Config())`).

    Raises ValueError naming the known agents for an unknown name.
    """
    if name in _REGISTERED:
        return _REGISTERED[name]
    if name in _BUILTIN:
        return importlib.import_module(_BUILTIN[name])
    raise ValueError(f"unknown agent {name!r}; known agents: {', '.join(names())}")


def name_of(agent: Any) -> str | None:
    """The name `agent` (a module or object) is registered under, or None: a registered one first,
    then a built-in one, found by module name without importing the others."""
    for name, registered in _REGISTERED.items():
        if registered is agent:
            return name
    module = getattr(agent, "__name__", None)
    for name, path in _BUILTIN.items():
        if path == module and name not in _REGISTERED:
            return name
    return None


def register(name: str, agent: Any) -> None:
    """Adds an agent under `name`: an object (or module) with `Config` and `make_train(config)`.

    A registered agent appears in `names()`, in `get`, and so on the command line. Registering a
    built-in name replaces it.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"an agent's name must be a non-empty string, got {name!r}")
    missing = [attr for attr in ("Config", "make_train") if not hasattr(agent, attr)]
    if missing:
        raise TypeError(f"agent {name!r} lacks {missing}: an agent needs a Config class and make_train(config)")
    _REGISTERED[name] = agent


__all__ = ["get", "name_of", "names", "register"]
