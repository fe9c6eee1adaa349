"""The agent kit and one folder per agent, each with config.py, networks.py and learning.py.

`jaxrl.agents.get(name)` returns an agent by name and `jaxrl.agents.names()` lists them.
`make_policy`, `save_policy` and `load_policy` (jaxrl/agents/policy.py) take a trained agent away
from its run; every agent module re-exports `make_policy`.
"""

from jaxrl.agents.policy import Policy, StatefulPolicy, evaluate_policy, load_policy, make_policy, save_policy
from jaxrl.agents.registry import get, name_of, names, register

__all__ = ["Policy", "StatefulPolicy", "evaluate_policy", "get", "load_policy", "make_policy", "name_of", "names",
           "register", "save_policy"]
