"""The agent kit and one folder per agent, each with config.py, networks.py and learning.py.

`jaxrl.agents.get(name)` returns an agent by name and `jaxrl.agents.names()` lists them.
"""

from jaxrl.agents.registry import get, names, register

__all__ = ["get", "names", "register"]
