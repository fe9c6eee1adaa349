"""`python -m experiments.pbt AGENT [flags]`: an alias of `jaxrl pbt` (jaxrl/cli.py)."""

import sys

from jaxrl import cli


def main(argv: list[str] | None = None):
    return cli.pbt_main(sys.argv[1:] if argv is None else argv, prog="python -m experiments.pbt")


if __name__ == "__main__":
    main()
