"""Scale through JAX's own runtime: a device mesh, the population sharded over it, one run's
environment batch sharded over it, and `jax.distributed` to join hosts.

Two ways to use many devices, for any agent's `Train` (nothing here knows an agent):

- **Population sharding** (`population_train`): a population of seeds x hyperparameter settings
  is `jax.vmap(train)`; its leading axis is split over the devices of a 1-D mesh, so each
  device trains its own members and no data moves between devices during training.
- **Environment-batch sharding** (`shard_env_batch`): one large run whose env batch is split
  over the devices. The loop is unchanged: `jit` with the env axis of the environment state
  and observation sharded lets XLA's SPMD partitioner (GSPMD, Xu et al. 2021) run each
  device's envs locally and insert the all-reduces that average gradients across devices
  wherever the learner reduces over the batch.

Across hosts the same programs run on the global mesh once `initialize` has joined the
processes (`jax.distributed.initialize`): every process runs the same Python, builds the same
global arrays from its local shards, and JAX's collectives (gloo on CPU, NCCL on GPU, ICI on
TPU) do the rest. There is no launcher, RPC layer or parameter server of our own.
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from jaxrl.loops.common import Train, TrainOutput, TrainState

POPULATION = "population"
DATA = "data"


def initialize(coordinator: str | None = None, num_processes: int | None = None,
               process_id: int | None = None) -> None:
    """Joins this process to a multi-process JAX run (a no-op when `coordinator` is None).

    Call it before anything touches a device. Every process passes the same coordinator
    ("host:port" of process 0) and `num_processes`, and its own `process_id` in
    [0, num_processes). On CPU, cross-process collectives use gloo. On a GPU cluster or TPU pod
    started by SLURM/Open MPI/Cloud TPU, `jax.distributed.initialize()` can detect all three
    by itself; pass them explicitly everywhere else.
    """
    if coordinator is None:
        if num_processes not in (None, 1) or process_id not in (None, 0):
            raise ValueError("num_processes and process_id need a coordinator (HOST:PORT of process 0)")
        return
    if not isinstance(coordinator, str) or ":" not in coordinator:
        raise ValueError(f"coordinator must be 'HOST:PORT' of process 0, got {coordinator!r}")
    if not isinstance(num_processes, int) or num_processes < 1:
        raise ValueError(f"num_processes must be an int >= 1, got {num_processes!r}")
    if not isinstance(process_id, int) or not 0 <= process_id < num_processes:
        raise ValueError(f"process_id must be an int in [0, {num_processes}), got {process_id!r}")
    # Must precede backend initialisation; harmless where the platform is not CPU.
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator, num_processes=num_processes, process_id=process_id)


def make_mesh(axis_name: str = POPULATION, devices: Any = None) -> Mesh:
    """A 1-D mesh over `devices` (default: every device of every process)."""
    devices = jax.devices() if devices is None else list(devices)
    return Mesh(np.asarray(devices), (axis_name,))


def global_array(local: np.ndarray, sharding: NamedSharding) -> jax.Array:
    """A global array from a value every process holds in full: each process contributes
    the slices its own devices own (works on one host and across hosts alike)."""
    local = np.asarray(local)
    return jax.make_array_from_callback(local.shape, sharding, lambda index: local[index])


def stack_hparams(hparams: Any, size: int) -> Any:
    """`hparams` (one setting) repeated `size` times along a new leading axis."""
    return jax.tree.map(lambda x: np.broadcast_to(np.asarray(x), (size,) + np.shape(x)).copy(), hparams)


def population_sharding(mesh: Mesh, num_members: int) -> NamedSharding:
    """The sharding that splits a population's leading axis over `mesh`'s one axis; ValueError
    naming the sizes if `num_members` does not split evenly."""
    if num_members % mesh.size:
        raise ValueError(
            f"the population ({num_members} members) must split evenly over the mesh's {mesh.size} devices; "
            f"use a multiple of {mesh.size} seeds x settings"
        )
    (axis,) = mesh.axis_names
    return NamedSharding(mesh, P(axis))


def place_population(mesh: Mesh, keys: jax.Array, hparams: Any, stacked: bool) -> tuple[jax.Array, Any]:
    """`keys` (as key data) and `hparams` as global arrays on `mesh`: the keys split over it, the
    hparams split too when `stacked` (one setting per member), else replicated."""
    sharded = population_sharding(mesh, len(keys))
    hparams_sharding = sharded if stacked else NamedSharding(mesh, P())
    key_data = global_array(np.asarray(jax.random.key_data(keys)), sharded)
    return key_data, jax.tree.map(lambda x: global_array(np.asarray(x), hparams_sharding), hparams)


def population_train(train: Train, mesh: Mesh | None = None) -> Callable[[Any, Any], TrainOutput]:
    """`jax.jit(jax.vmap(train))` with the population axis sharded over `mesh`'s one axis.

    The returned function takes `(keys, hparams)`: typed PRNG keys [N] and stacked hparams [N]
    (`stack_hparams` for one shared setting); N must be a multiple of the mesh size. Member i
    computes exactly what it computes unsharded (members never communicate). Outputs stay
    sharded: `gather` brings them to every host.
    """
    mesh = make_mesh() if mesh is None else mesh
    (axis,) = mesh.axis_names
    sharded = NamedSharding(mesh, P(axis))

    def run(key_data, hparams):
        keys = jax.random.wrap_key_data(key_data)
        return jax.vmap(train)(keys, hparams)

    compiled = jax.jit(run, in_shardings=(sharded, sharded), out_shardings=sharded)

    def call(keys, hparams) -> TrainOutput:
        size = len(keys)
        population_sharding(mesh, size)  # an uneven population fails here, before the hparams check
        leading = {np.shape(x)[0] if np.ndim(x) else None for x in jax.tree.leaves(hparams)}
        if leading != {size}:
            raise ValueError(f"hparams must be stacked along a leading population axis of {size} "
                             f"(use distributed.stack_hparams for one shared setting)")
        return compiled(*place_population(mesh, keys, hparams, stacked=True))

    return call


def gather(tree: Any) -> Any:
    """Every leaf as a full numpy array on this host, collected from all processes."""
    if jax.process_count() == 1:
        return jax.tree.map(lambda x: np.asarray(jax.random.key_data(x) if _is_key(x) else x), tree)
    tree = jax.tree.map(lambda x: jax.random.key_data(x) if _is_key(x) else x, tree)
    return multihost_utils.process_allgather(tree, tiled=True)


def _is_key(x: Any) -> bool:
    return isinstance(x, jax.Array) and jnp.issubdtype(x.dtype, jax.dtypes.prng_key)


def env_batch_shardings(train: Train, mesh: Mesh, key: Any = None, hparams: Any = None) -> TrainState:
    """Shardings for one run's `TrainState`: the env axis of the environment state and the
    observation split over `mesh`'s axis, everything else (learner, buffer, counters)
    replicated.

    Env-state leaves are recognised by their leading axis of `num_envs`; a wrapper's own
    statistics that happen to have that length would also be split, which only changes
    layout, never results.
    """
    (axis,) = mesh.axis_names
    num_envs = _num_envs(train)
    if num_envs % mesh.size:
        raise ValueError(f"num_envs={num_envs} must be a multiple of the mesh's {mesh.size} devices "
                         f"to shard the environment batch")
    key = jax.random.key(0) if key is None else key
    shapes = jax.eval_shape(train.init, key, hparams)
    replicated = NamedSharding(mesh, P())
    split = NamedSharding(mesh, P(axis))

    def env_leaf(x):
        return split if len(x.shape) >= 1 and x.shape[0] == num_envs else replicated

    sharding = jax.tree.map(lambda _: replicated, shapes)
    return sharding.replace(
        env_state=jax.tree.map(env_leaf, shapes.env_state),
        observation=jax.tree.map(env_leaf, shapes.observation),
    )


def shard_env_batch(train: Train, mesh: Mesh | None = None, hparams: Any = None):
    """`(init, run)` for one run with its environment batch sharded over `mesh` (data parallel).

    `init(key)` and `run(state, num_iterations)` are jitted with the env axis split over the
    devices; the learner's parameters are replicated and XLA averages their gradients across
    devices. Results equal the unsharded run's up to the order of floating-point sums.
    """
    mesh = make_mesh(DATA) if mesh is None else mesh
    shardings = env_batch_shardings(train, mesh, hparams=hparams)
    init = jax.jit(lambda key: train.init(key, hparams), out_shardings=shardings)
    runs: dict[int, Callable] = {}

    def run(state: TrainState, num_iterations: int):
        if num_iterations not in runs:
            runs[num_iterations] = jax.jit(
                lambda s: train.run(s, num_iterations),
                in_shardings=(shardings,),
                out_shardings=(shardings, NamedSharding(mesh, P())),
            )
        return runs[num_iterations](state)

    return init, run


def _num_envs(train: Train) -> int:
    config = train.config
    num_envs = getattr(config, "num_envs", None)
    if not isinstance(num_envs, int):
        raise ValueError("env-batch sharding needs the train program's config to have an int num_envs")
    return num_envs


__all__ = [
    "DATA",
    "POPULATION",
    "env_batch_shardings",
    "gather",
    "global_array",
    "initialize",
    "make_mesh",
    "place_population",
    "population_sharding",
    "population_train",
    "shard_env_batch",
    "stack_hparams",
]
