"""One Rejax row of `experiments.baselines --peers rejax`, run by the peer's own Python.

    $PEER experiments/baselines_rejax.py '{"algo": "ppo", "seeds": 8, "settings": {...}}'

`settings` are `rejax.<ALGO>.create` keyword arguments, mapped from a jaxrl row by
`experiments.baselines.rejax_settings`. This file imports only Rejax and JAX: Rejax 0.1.3 pins
gymnax 0.0.9, so it lives in its own virtual environment (`../shared/peers/setup.sh`) and jaxrl is
not installed there.

The seeds train as one `jax.jit(jax.vmap(algo.train))` program, as jaxrl's row does. Rejax
evaluates inside `train` every `eval_freq` steps; here training runs with a no-op evaluation, so
the timed run is training alone (as jaxrl's env steps/s), and each seed's trained policy is then
evaluated once by Rejax's own evaluation (128 episodes of `make_act`: a sample from the PPO and
SAC policies, epsilon 0.005 for DQN and PQN, TD3's deterministic actor). PQN's Q-network widths,
fixed at (64, 64) in Rejax 0.1.3, are a setting here (`hidden_layer_sizes`, see `PQN`), so that the
throughput benchmark times Rejax's PQN at purejaxql's and jaxrl's widths. Prints one JSON line: per-seed
final returns, env steps/s of the timed run, compile and wall seconds. As jaxrl's rows
(`experiments.baselines.timed`, not importable here), the compiled program reruns while its runs
took under `min_timed_s` in all, at most `max_timed_runs` times, and the fastest run is kept.
"""

import importlib.metadata
import json
import sys
import time

import jax
import jax.numpy as jnp
import rejax


class PQN(rejax.PQN):
    """Rejax's PQN with the Q-network's widths as a setting (`hidden_layer_sizes`, default Rejax's
    fixed (64, 64)): its `create_agent` builds the network, then only the widths are replaced."""

    @classmethod
    def create_agent(cls, config, env, env_params):
        widths = tuple(config.pop("hidden_layer_sizes", (64, 64)))
        agent = super().create_agent(config, env, env_params)["agent"]
        return {"agent": agent.clone(hidden_layer_sizes=widths)}


def main(spec: dict) -> dict:
    algo_cls = {"ppo": rejax.PPO, "dqn": rejax.DQN, "sac": rejax.SAC, "td3": rejax.TD3, "pqn": PQN}[spec["algo"]]
    settings = dict(spec["settings"])
    total = int(settings["total_timesteps"])
    # One evaluation "period" spanning the run, and no initial one: train() then steps exactly
    # total_timesteps (rounded up to whole iterations, as Rejax does) and calls the callback once.
    settings.update(eval_freq=total, skip_initial_evaluation=True)
    algo = algo_cls.create(**settings)
    evaluate = algo.eval_callback
    quiet = algo.replace(eval_callback=lambda algo, ts, rng: jnp.zeros(()))
    keys = jax.random.split(jax.random.PRNGKey(spec.get("seed", 0)), spec["seeds"])

    start = time.perf_counter()
    program = jax.jit(jax.vmap(quiet.train)).lower(keys).compile()
    compiled = time.perf_counter()
    times = []
    while not times or (sum(times) < spec.get("min_timed_s", 0.0) and len(times) < spec.get("max_timed_runs", 1)):
        run_start = time.perf_counter()
        train_state, _ = jax.block_until_ready(program(keys))
        times.append(time.perf_counter() - run_start)

    eval_keys = jax.vmap(jax.random.fold_in, in_axes=(0, None))(keys, 1)
    _, returns = jax.jit(jax.vmap(lambda ts, key: evaluate(algo, ts, key)))(train_state, eval_keys)
    finals = [float(x) for x in jnp.mean(returns, axis=-1)]  # [seeds]: mean over the 128 episodes
    env_steps = int(train_state.global_step[0])
    return dict(finals=finals, env_steps=env_steps, seeds=spec["seeds"], compile_s=round(compiled - start, 2),
                wall_s=round(compiled - start + times[0], 2),
                env_steps_per_s=int(env_steps * spec["seeds"] / min(times)),
                rejax=importlib.metadata.version("rejax"), jax=jax.__version__)


if __name__ == "__main__":
    print(json.dumps(main(json.loads(sys.argv[1]))))
