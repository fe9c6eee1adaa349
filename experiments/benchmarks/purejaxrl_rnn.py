"""Times PureJaxRL's `ppo_rnn.py` (luchris429/purejaxrl) on the work of jaxrl's recurrent PPO row
in the throughput benchmark, for a same-run speed ratio. The peer is run, never copied: its two
files are read from a checkout you fetched, patched in memory where the current stack has moved
on, and imported from a temporary directory.

    python -m experiments.benchmarks.purejaxrl_rnn PUREJAXRL_CHECKOUT [SEEDS=1] [STEPS=500000]

Work: CartPole-v1, 4 envs x 128 steps, 4 epochs x 4 minibatches of whole env sequences, a
128-wide GRU, lr 2.5e-4 annealed (ppo_rnn's own CartPole settings, which recurrent_ppo.Config's
defaults are). Seeds as `jax.jit(jax.vmap(train))`; one compile+run, then 3 timed runs, the
median's env steps/s printed as one JSON line.

Patches (each must find its text, or the script stops saying which): gymnax 1.x's `step` returns
6 values (terminated, truncated; ppo_rnn wants done = either); flax >= 0.8's GRUCell takes its
width as `features` and `initialize_carry(key, (batch, features))`; navix is not imported (unused
on CartPole); `orthogonal` is jaxrl's, which draws the same matrices bit for bit but runs a
population's QR factorisations one after another (jax's batched QR deadlocks XLA:CPU under vmap,
networks/initializers.py), also for the GRU's recurrent kernel.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import tempfile

import jax

from experiments.benchmarks.throughput import timed

PATCHES = {
    "wrappers.py": [
        ("import navix as nx\n", "nx = None  # patched: navix is not used on CartPole\n"),
        ("        obs, state, reward, done, info = self._env.step(key, state, action, params)\n",
         "        obs, state, reward, terminated, truncated, info = self._env.step(key, state, action, params)\n"
         "        done = jnp.logical_or(terminated, truncated)  # patched: gymnax 1.x\n"),
    ],
    "ppo_rnn.py": [
        ("from flax.linen.initializers import constant, orthogonal\n",
         "from flax.linen.initializers import constant\n"
         "from jaxrl.networks.initializers import orthogonal  # patched: same draws, no vmapped-QR deadlock\n"),
        ("new_rnn_state, y = nn.GRUCell()(rnn_state, ins)",
         "new_rnn_state, y = nn.GRUCell(ins.shape[-1], recurrent_kernel_init=orthogonal())(rnn_state, ins)"),
        ("        return nn.GRUCell.initialize_carry(\n            jax.random.PRNGKey(0), (batch_size,), hidden_size\n",
         "        return nn.GRUCell(hidden_size).initialize_carry(\n"
         "            jax.random.PRNGKey(0), (batch_size, hidden_size)\n"),
    ],
}

CONFIG = {"LR": 2.5e-4, "NUM_ENVS": 4, "NUM_STEPS": 128, "UPDATE_EPOCHS": 4, "NUM_MINIBATCHES": 4, "GAMMA": 0.99,
          "GAE_LAMBDA": 0.95, "CLIP_EPS": 0.2, "ENT_COEF": 0.01, "VF_COEF": 0.5, "MAX_GRAD_NORM": 0.5,
          "ENV_NAME": "CartPole-v1", "ANNEAL_LR": True, "DEBUG": False}


def load_ppo_rnn(checkout: str):
    """ppo_rnn's module, from `checkout`/purejaxrl with `PATCHES` applied, in a temporary directory."""
    source_dir = os.path.join(checkout, "purejaxrl")
    target = tempfile.mkdtemp(prefix="purejaxrl_")
    for name, patches in PATCHES.items():
        with open(os.path.join(source_dir, name)) as f:
            text = f.read()
        for old, new in patches:
            if old not in text:
                raise SystemExit(f"{name} of {checkout} no longer has {old!r}; update PATCHES")
            text = text.replace(old, new, 1)
        with open(os.path.join(target, name), "w") as f:
            f.write(text)
    sys.path.insert(0, target)
    return importlib.import_module("ppo_rnn")


def main() -> None:
    checkout = sys.argv[1]
    seeds = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    steps = int(sys.argv[3]) if len(sys.argv) > 3 else 500_000
    ppo_rnn = load_ppo_rnn(checkout)
    train = jax.jit(jax.vmap(ppo_rnn.make_train({**CONFIG, "TOTAL_TIMESTEPS": steps})))
    keys = jax.random.split(jax.random.PRNGKey(0), seeds)
    first, median, _ = timed(train, keys)
    print(json.dumps(dict(who="purejaxrl-ppo-rnn", seeds=seeds, compile_plus_run_s=round(first, 2),
                          run_s_median=round(median, 3), env_steps_per_s=round(steps * seeds / median),
                          jax=jax.__version__)), flush=True)


if __name__ == "__main__":
    main()
