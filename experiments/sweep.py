"""`python -m experiments.sweep AGENT [flags]`: an alias of `jaxrl sweep` (jaxrl/cli.py)."""

import sys

from jaxrl import cli


def main(argv: list[str] | None = None):
    return cli.sweep_main(sys.argv[1:] if argv is None else argv, prog="python -m experiments.sweep")


if __name__ == "__main__":
    main()
