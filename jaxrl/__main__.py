"""`python -m jaxrl {train,sweep} AGENT [flags]`: the `jaxrl` command line (see jaxrl/cli.py)."""

from jaxrl.cli import main

if __name__ == "__main__":
    main(prog="python -m jaxrl")
