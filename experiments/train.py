"""`python -m experiments.train AGENT [flags]`: an alias of `jaxrl train` (jaxrl/cli.py)."""

import sys

from jaxrl import cli


def main(argv: list[str] | None = None):
    return cli.train_main(sys.argv[1:] if argv is None else argv, prog="python -m experiments.train")


if __name__ == "__main__":
    main()
