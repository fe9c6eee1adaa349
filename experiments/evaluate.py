"""`python -m experiments.evaluate RUN_DIR [--episodes N]`: greedy returns of a run's policies.

For every seed of the run directory's latest checkpoint, the seed's policy plays N greedy episodes
(`jaxrl.driver.evaluate_run`); prints each seed's mean return, then their mean.
"""

import argparse
import sys

from jaxrl import checkpoint, driver


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m experiments.evaluate", description="Greedy returns of a run's policies, per seed.")
    parser.add_argument("run_dir", help="a run directory written with checkpoints (jaxrl train --checkpoint-every)")
    parser.add_argument("--episodes", type=int, default=10, help="greedy episodes per seed, one per env")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.episodes < 1:
        parser.error(f"--episodes must be >= 1, got {args.episodes}")
    try:
        returns = driver.evaluate_run(args.run_dir, episodes=args.episodes)
    except checkpoint.CheckpointError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for seed, value in enumerate(returns):
        print(f"seed {seed}: {value:.2f}")
    print(f"mean: {returns.mean():.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
