"""`python -m experiments.evaluate RUN_DIR [--episodes N]`: an alias of `jaxrl evaluate` (jaxrl/cli.py)."""

import sys

from jaxrl import cli


def main(argv: list[str] | None = None):
    return cli.evaluate_main(sys.argv[1:] if argv is None else argv, prog="python -m experiments.evaluate")


if __name__ == "__main__":
    main()
