"""One folder per agent, each with config.py, networks.py and learning.py."""
