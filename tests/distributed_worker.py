"""Run by tests/test_distributed.py in subprocesses (XLA_FLAGS must be set before JAX starts).

    python tests/distributed_worker.py OUT.npz DEVICES [COORDINATOR NUM_PROCESSES PROCESS_ID]

With one process it trains a tiny PPO population of 8 seeds (two members per device) and a DQN one
of 4 (one per device), unsharded (jit(vmap)) and sharded over the 4 local devices, a PBT run of 8
PPO members sharded (jaxrl.pbt.shard) and unsharded, and one PPO run with its env batch sharded;
with a coordinator it joins a multi-process run and trains the sharded populations only. Process 0
saves every result (gathered to the host) to OUT.npz.
"""

import os
import sys

out_path, devices = sys.argv[1], int(sys.argv[2])
os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count={devices}"
os.environ["JAX_PLATFORMS"] = "cpu"

import jax  # noqa: E402
import numpy as np  # noqa: E402

from jaxrl import distributed, driver, pbt, sweep  # noqa: E402
from jaxrl.agents import dqn, ppo  # noqa: E402

multi = len(sys.argv) > 3
if multi:
    distributed.initialize(sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
assert jax.device_count() == 4, jax.devices()

# One 16-wide hidden layer: sharding is under test, not learning, and a smaller network compiles
# faster (compiling is most of this worker's time).
PPO = ppo.Config(env="CartPole-v1", num_envs=4, rollout_length=32, total_timesteps=4 * 128, num_epochs=1,
                 num_minibatches=2, hidden_sizes=(16,))
DQN = dqn.Config(num_envs=10, total_timesteps=600, steps_per_iteration=200, buffer_size=300, batch_size=16,
                 learning_starts=200, target_update_every=100, hidden_sizes=(16,))
results = {}
# PPO with two members per device: each device's program initialises a batch of networks. (With a
# batched LAPACK QR in the orthogonal init, this deadlocked XLA:CPU's thread pool.)
for name, config, make_train, members in [("ppo", PPO, ppo.make_train, 8), ("dqn", DQN, dqn.make_train, 4)]:
    train = make_train(config)
    keys = driver.population_keys(0, members)
    hparams = distributed.stack_hparams(config.hparams(), members)
    output = distributed.population_train(train)(keys, hparams)
    results[f"{name}/sharded_devices"] = np.array(len(output.state.iteration.sharding.device_set))
    sharded = distributed.gather(output)
    for metric, values in sharded.metrics.items():
        results[f"{name}/sharded/{metric}"] = values
    results[f"{name}/sharded/params"] = np.concatenate(
        [np.reshape(x, (members, -1)) for x in jax.tree.leaves(sharded.state.agent_state)], axis=1)
    if not multi:
        plain = jax.jit(jax.vmap(train))(keys, hparams)
        for metric, values in plain.metrics.items():
            results[f"{name}/plain/{metric}"] = np.asarray(values)
        results[f"{name}/plain/params"] = np.concatenate(
            [np.reshape(np.asarray(x), (members, -1)) for x in jax.tree.leaves(plain.state.agent_state)], axis=1)
if not multi:
    # One PPO run with its 4 envs split over the 4 devices, against the same run unsharded.
    train = ppo.make_train(PPO)
    init, run = distributed.shard_env_batch(train)
    state = init(jax.random.key(1))
    results["env_batch/observation_shards"] = np.array(len(state.observation.sharding.device_set))
    state, metrics = run(state, train.num_iterations)
    plain = jax.jit(train)(jax.random.key(1))
    for metric in ("env_steps", "episode_return", "total_loss"):
        results[f"env_batch/sharded/{metric}"] = np.asarray(metrics[metric])
        results[f"env_batch/plain/{metric}"] = np.asarray(plain.metrics[metric])
    # PBT over the 4 devices (`pbt.run` with a mesh: `pbt.shard`), two members per device, against
    # the same run unsharded: a generation per iteration, so three selects, in which members take
    # the state of parents that other devices hold.
    options = dict(num_seeds=2, ready_every=1, perturb=("learning_rate",))
    settings = sweep.grid(learning_rate=[1e-4, 3e-4, 1e-3, 3e-3])
    sharded = pbt.run(train, settings, mesh=distributed.make_mesh(), **options).output
    results["pbt/population_shards"] = np.array(len(sharded.state.population.iteration.sharding.device_set))
    plain = pbt.run(train, settings, **options).output
    for side, output in [("population", sharded), ("plain", plain)]:
        tree = distributed.gather(output._asdict())  # {"state", "metrics", "lineage"}
        for path, leaf in jax.tree_util.tree_leaves_with_path(tree):
            results[f"pbt/{side}/{jax.tree_util.keystr(path, simple=True, separator='/')}"] = leaf
    # A population that does not split over the devices is refused before compiling.
    try:
        distributed.population_train(train)(driver.population_keys(0, 3), distributed.stack_hparams(PPO.hparams(), 3))
    except ValueError as error:
        results["uneven_population_error"] = np.array(str(error))
if jax.process_index() == 0:
    np.savez(out_path, **results)
print("done", jax.process_index(), flush=True)
