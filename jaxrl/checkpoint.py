"""Checkpoints of a whole `TrainState` (or a population of them) with orbax.

A checkpoint holds every leaf of the state: agent state, environment state, observation, replay
buffer, PRNG keys, counters and hyperparameters, plus a small JSON record of the run's progress.
Typed PRNG keys are stored as their raw `key_data` and re-wrapped on restore with the target's
implementation, so a restored state is bit-for-bit the saved one, dtypes and weak types included.

    checkpoints = Checkpointer(f"{run_dir}/checkpoints", max_to_keep=3)
    checkpoints.save(iteration, state, {"iteration": iteration})
    target = jax.eval_shape(init, keys, hparams)  # shapes only: no training work to restore
    step, state, progress = checkpoints.restore_latest(target)

Atomicity comes from orbax: a step is written into `<step>.orbax-checkpoint-tmp`, and renamed to
`<step>` only once every file is written (tensorstore fsyncs them), so a process killed while
saving leaves a temporary directory that is never listed as a step. On top of that every leaf's
CRC32 is recorded at save time and checked at restore, so a finished step whose files were later
truncated, deleted or altered is reported as corrupted (naming the step directory and the leaf)
instead of restored with wrong numbers; `restore_latest` then falls back to the previous step.

In a multi-process `jax.distributed` run every process calls the same methods at the same
points: each writes and reads the shards of its own devices (the target's shardings say which),
process 0 alone renames and deletes directories, and a step that any process cannot read is
skipped by all of them, so they never resume from different steps. An array that no process
holds whole gets a checksum per region held by a device, verified by whichever process holds it.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import tempfile
import zlib
from typing import Any, Callable, Mapping, Self

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp
from etils import epath
from jax.experimental import multihost_utils

from jaxrl.types import PyTree

_STATE, _RECORD = "state", "record"
_TMP_SUFFIX = ".orbax-checkpoint-tmp"
_CORRUPT_SUFFIX = ".corrupt"
FORMAT_VERSION = 1

log = logging.getLogger(__name__)


class CheckpointError(RuntimeError):
    """No checkpoint to restore, or one that is partial, corrupted or from a different run."""


class StructureMismatch(CheckpointError):
    """The checkpoint reads fine but holds a state of other shapes (another agent or config)."""


def _is_key(x: Any) -> bool:
    return jnp.issubdtype(x.dtype, jax.dtypes.prng_key)


def _leaf_names(tree: PyTree) -> tuple[list[str], list[Any], Any]:
    """Leaves of `tree` with readable paths (`.agent_state.params...`) and its treedef."""
    with_paths, treedef = jax.tree_util.tree_flatten_with_path(tree)
    return [jax.tree_util.keystr(p) for p, _ in with_paths], [x for _, x in with_paths], treedef


def _key_impls(abstract_leaves: list[Any]) -> list[str | None]:
    """The PRNG implementation name of each key leaf (None for other leaves), read by tracing."""
    found: list[str | None] = []

    def record(*leaves):
        found.extend(str(jax.random.key_impl(x)) if _is_key(x) else None for x in leaves)
        return ()

    jax.eval_shape(record, *abstract_leaves)
    return found


def _crc32(x: np.ndarray) -> int:
    return zlib.crc32(np.ascontiguousarray(x).reshape(-1).view(np.uint8))


class Checkpointer:
    """Saves and restores states under `directory`, one subdirectory per step, keeping the last
    `max_to_keep` (None keeps all). Saves are asynchronous: `save` returns once the arrays are
    copied off the device and the files are written in the background; `wait()` or `close()`
    blocks until the last save is on disk.
    """

    def __init__(self, directory: str, max_to_keep: int | None = 3, *, read_only: bool = False):
        if max_to_keep is not None and max_to_keep < 1:
            raise ValueError(f"max_to_keep must be >= 1 or None, got {max_to_keep}")
        self.directory = os.path.abspath(directory)
        self.read_only = read_only
        # `read_only` is enforced here: orbax's own read-only mode only logs warnings.
        options = ocp.CheckpointManagerOptions(
            max_to_keep=None if read_only else max_to_keep, create=not read_only, enable_async_checkpointing=True
        )
        self._manager = ocp.CheckpointManager(self.directory, options=options, item_names=(_STATE, _RECORD))

    # -- listing ---------------------------------------------------------------------------

    def steps(self) -> list[int]:
        """The finished (renamed) steps, oldest first."""
        self._manager.reload()
        return sorted(self._manager.all_steps())

    def step_dir(self, step: int) -> str:
        return os.path.join(self.directory, str(step))

    def partial_saves(self) -> list[str]:
        """Temporary directories left by saves that never finished (e.g. a killed process)."""
        if not os.path.isdir(self.directory):
            return []
        return sorted(os.path.join(self.directory, n) for n in os.listdir(self.directory) if _TMP_SUFFIX in n)

    def remove_partial_saves(self) -> list[str]:
        """Deletes the leftover temporary directories (never a finished step); returns them."""
        partial = self.partial_saves()
        _sync_processes("jaxrl.checkpoint.remove_partial_saves.listed")  # all listed before any deletes
        if jax.process_index() == 0:
            for path in partial:
                shutil.rmtree(path)
        _sync_processes("jaxrl.checkpoint.remove_partial_saves.removed")
        return partial

    def quarantine(self, step: int) -> str:
        """Renames a bad step directory to `<step>.corrupt` (kept for inspection, no longer a
        step), so a run resumed from an earlier step can save that step again."""
        source = self.step_dir(step)
        target = source + _CORRUPT_SUFFIX
        n = 1
        while os.path.exists(target):
            n += 1
            target = f"{source}{_CORRUPT_SUFFIX}{n}"
        _sync_processes("jaxrl.checkpoint.quarantine.named")  # all chose the name before it is taken
        if jax.process_index() == 0:
            os.rename(source, target)
        _sync_processes("jaxrl.checkpoint.quarantine.renamed")
        self._manager.reload()
        return target

    # -- save ------------------------------------------------------------------------------

    def save(self, step: int, state: PyTree, progress: Mapping[str, Any] | None = None) -> None:
        """Starts saving `state` (and the JSON-able `progress`) as `step` (an int >= 0)."""
        if self.read_only:
            raise CheckpointError(f"{self.directory} was opened read-only")
        if not isinstance(step, (int, np.integer)) or step < 0:
            raise ValueError(f"step must be a non-negative int, got {step!r}")
        names, leaves, _ = _leaf_names(state)
        impls = [str(jax.random.key_impl(x)) if _is_key(x) else None for x in leaves]
        stored = [jax.random.key_data(x) if impl else x for x, impl in zip(leaves, impls)]
        shard_crcs = _shard_checksums(stored)
        record = {
            "format": FORMAT_VERSION,
            "step": int(step),
            "progress": dict(progress or {}),
            "leaves": [
                {
                    "path": name,
                    "shape": list(np.shape(x)),
                    "dtype": str(x.dtype),
                    "key_impl": impl,
                    "weak_type": bool(getattr(x, "weak_type", False)),
                    # Where this process holds the whole array; else one per region a device holds.
                    "crc32": _crc32(np.asarray(s)) if getattr(s, "is_fully_addressable", True) else None,
                    **({} if regions is None else {"shard_crc32": regions}),
                }
                for name, x, s, impl, regions in zip(names, leaves, stored, impls, shard_crcs)
            ],
        }
        arrays = {f"{i:05d}": s for i, s in enumerate(stored)}
        self._manager.save(
            int(step),
            args=ocp.args.Composite(**{_STATE: ocp.args.StandardSave(arrays), _RECORD: ocp.args.JsonSave(record)}),
            force=True,
        )

    def wait(self) -> None:
        """Blocks until every started save is finished (renamed into place)."""
        self._manager.wait_until_finished()

    def close(self) -> None:
        self._manager.wait_until_finished()
        self._manager.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- restore ---------------------------------------------------------------------------

    def progress(self, step: int | None = None) -> dict:
        """The progress record saved with `step` (default: the latest), without reading the arrays:
        what a reader needs to build the target of `restore` (e.g. a saved policy's config)."""
        step = self._finished_step(step)
        record = self._read_record(step)
        if not isinstance(record, dict) or record.get("format") != FORMAT_VERSION or "progress" not in record:
            raise CheckpointError(f"checkpoint {self.step_dir(step)} has no valid record (format {FORMAT_VERSION} "
                                  f"expected)")
        return record["progress"]

    def _finished_step(self, step: int | None) -> int:
        steps = self.steps()
        if step is None:
            if not steps:
                raise CheckpointError(self._no_checkpoint_message())
            return steps[-1]
        if step not in steps:
            raise CheckpointError(f"no finished checkpoint for step {step} in {self.directory} (steps: {steps})")
        return step

    def _read_record(self, step: int) -> Any:
        try:
            return self._manager.restore(step, args=ocp.args.Composite(**{_RECORD: ocp.args.JsonRestore()}))[_RECORD]
        except Exception as error:  # any failure to read means a bad checkpoint
            raise CheckpointError(f"checkpoint {self.step_dir(step)} is corrupted or incomplete: cannot read its "
                                  f"record ({type(error).__name__}: {_first_line(error)})") from error

    def restore(self, target: PyTree, step: int | None = None) -> tuple[PyTree, dict]:
        """The state saved at `step` (default: the latest), shaped like `target`, and its progress.

        `target` gives the structure, shapes, dtypes (and shardings, where its leaves carry one):
        an abstract state from `jax.eval_shape` is enough. Raises `CheckpointError` naming the
        step directory if the step is missing, partial, corrupted or holds a different state.
        """
        step = self._finished_step(step)
        where = self.step_dir(step)
        names, abstract, treedef = _leaf_names(target)
        impls = _key_impls(abstract)
        record = self._read_record(step)
        self._check_record(where, record, names, abstract, impls)
        stored_target = {
            f"{i:05d}": _storage_struct(x, impl) for i, (x, impl) in enumerate(zip(abstract, impls))
        }
        # Through the item's handler rather than the manager: the manager's restore ends at a
        # barrier that a process whose read failed would never reach, leaving the others waiting.
        handler = ocp.StandardCheckpointHandler()
        local_error = None
        hook = _ignore_late_read_callbacks()
        try:
            arrays = handler.restore(epath.Path(where) / _STATE, args=ocp.args.StandardRestore(stored_target))
        except Exception as error:
            # The hook stays for good: reads still in flight report into the closed loop after we
            # return, possibly while a later restore is already running.
            hook.keep = True
            _silence_unretrieved_read_errors()
            local_error = CheckpointError(f"checkpoint {where} is corrupted or incomplete: cannot read its arrays "
                                          f"({type(error).__name__}: {_first_line(error)})")
            local_error.__cause__ = error
        else:
            if sys.unraisablehook is hook and not hook.keep:  # no read of any restore is left to report
                sys.unraisablehook = hook.previous
            for i, (name, entry) in enumerate(zip(names, record["leaves"])):
                damaged = _damaged_part(arrays[f"{i:05d}"], entry)
                if damaged is not None:
                    local_error = CheckpointError(f"checkpoint {where} is corrupted: leaf {name}{damaged} does not "
                                                  f"match the checksum recorded when it was saved")
                    break
        finally:
            handler.close()
        failed = _failed_processes(local_error is not None)
        if local_error is not None:
            raise local_error
        if failed:
            raise CheckpointError(f"checkpoint {where} is corrupted or incomplete: process(es) {failed} of this "
                                  f"run could not read it intact")
        leaves = []
        for i, (x, impl) in enumerate(zip(abstract, impls)):
            value = arrays[f"{i:05d}"]
            if impl:
                value = jax.random.wrap_key_data(value, impl=impl)
            elif getattr(x, "weak_type", False):
                value = _as_weak(value)
            leaves.append(value)
        return jax.tree.unflatten(treedef, leaves), record["progress"]

    def restore_latest(
        self, target: PyTree, on_skip: Callable[[int, CheckpointError], None] | None = None
    ) -> tuple[int, PyTree, dict]:
        """The newest checkpoint that restores cleanly: (step, state, progress).

        Bad steps (corrupted, incomplete, a record altered to another structure) are skipped, newest
        first, each reported to `on_skip` (default: a logged warning); raises `CheckpointError`
        listing them if none is usable, or `StructureMismatch` if every step holds another state.
        """
        steps = self.steps()
        if not steps:
            raise CheckpointError(self._no_checkpoint_message())
        skipped: list[tuple[int, CheckpointError]] = []
        for step in reversed(steps):
            try:
                state, progress = self.restore(target, step)
            except CheckpointError as error:
                skipped.append((step, error))
                continue
            for bad, error in skipped:
                (on_skip or _warn_skip)(bad, error)
            return step, state, progress
        # Every step holding another state is another run's directory (another agent, config or
        # population size), not damage: its newest step's mismatch says so. A mismatch in some
        # steps only is an altered record, skipped like any other damage.
        if all(isinstance(error, StructureMismatch) for _, error in skipped):
            raise skipped[0][1]
        for bad, error in skipped:
            (on_skip or _warn_skip)(bad, error)
        raise CheckpointError("no usable checkpoint in " + self.directory + ":\n  "
                              + "\n  ".join(str(error) for _, error in skipped))

    def _no_checkpoint_message(self) -> str:
        partial = self.partial_saves()
        extra = f" (only unfinished saves: {', '.join(os.path.basename(p) for p in partial)})" if partial else ""
        return f"no checkpoint in {self.directory}{extra}"

    @staticmethod
    def _check_record(where: str, record: Any, names, abstract, impls) -> None:
        if not isinstance(record, dict) or record.get("format") != FORMAT_VERSION or "leaves" not in record:
            raise CheckpointError(f"checkpoint {where} has no valid record (format {FORMAT_VERSION} expected)")
        saved = [(e["path"], tuple(e["shape"]), e["dtype"]) for e in record["leaves"]]
        wanted = [(n, tuple(x.shape), str(x.dtype)) for n, x in zip(names, abstract)]
        if saved != wanted:
            diff = [f"{w[0]}: saved {s[1:]} wanted {w[1:]}" for s, w in zip(saved, wanted) if s != w][:5]
            if len(saved) != len(wanted):
                diff.insert(0, f"{len(saved)} leaves saved, {len(wanted)} wanted")
            raise StructureMismatch(f"checkpoint {where} holds a different state than the one asked for (another "
                                    f"agent, config or population size?): " + "; ".join(diff))
        for entry, impl in zip(record["leaves"], impls):
            if entry["key_impl"] != impl:
                raise StructureMismatch(f"checkpoint {where}: leaf {entry['path']} holds {entry['key_impl']} keys, "
                                        f"wanted {impl}")


def write_directory(directory: str, write: Callable[[str], None], *, overwrite: bool = False) -> str:
    """Calls `write(staging)` on a new directory beside `directory`, then renames it to `directory`,
    so that `directory` appears complete or not at all (a saved policy, a dataset). An existing
    `directory` raises FileExistsError unless `overwrite`, which swaps the new one in by renames and
    then deletes the old. A failed `write` leaves nothing behind. Returns the absolute path."""
    directory = os.path.abspath(directory)
    if os.path.exists(directory) and not overwrite:
        raise FileExistsError(f"{directory} exists; pass overwrite=True to replace it")
    parent = os.path.dirname(directory)
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=f".{os.path.basename(directory)}.saving-", dir=parent)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(staging, 0o777 & ~umask)  # mkdtemp's 0o700 would make the saved directory private
    try:
        write(staging)
        if os.path.exists(directory):
            old = tempfile.mkdtemp(prefix=f".{os.path.basename(directory)}.old-", dir=parent)
            os.rename(directory, os.path.join(old, "replaced"))
            os.rename(staging, directory)
            shutil.rmtree(old)
        else:
            os.rename(staging, directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return directory


def _region(index: tuple[slice, ...], shape: tuple[int, ...]) -> str:
    """A shard's part of its array as "start:stop" per axis (its key among a leaf's checksums)."""
    return ",".join("{}:{}".format(*s.indices(n)[:2]) for s, n in zip(index, shape))


def _shard_checksums(stored: list[Any]) -> list[dict[str, int] | None]:
    """For each array that no process holds whole (shards of a multi-process run), the CRC32 of
    every region a device holds, {region: crc}; None for the others. Each region's checksum is
    taken by the process holding its first replica and gathered to all, in one collective."""
    slots, local = [], []
    for i, x in enumerate(stored):
        if getattr(x, "is_fully_addressable", True):
            continue
        own = {_region(shard.index, x.shape): _crc32(np.asarray(shard.data))
               for shard in x.addressable_shards if shard.replica_id == 0}
        for region in sorted({_region(index, x.shape) for index in x.sharding.devices_indices_map(x.shape).values()}):
            slots.append((i, region))
            local.append(own.get(region, 0))
    result: list[dict[str, int] | None] = [None] * len(stored)
    if slots:
        gathered = np.reshape(multihost_utils.process_allgather(np.asarray(local, np.uint32)), (-1, len(local)))
        for (i, region), crc in zip(slots, gathered.max(axis=0)):  # one process holds each, the others send 0
            result[i] = {**(result[i] or {}), region: int(crc)}
    return result


def _damaged_part(value: jax.Array, entry: dict) -> str | None:
    """None if every checksum in `entry` that this process can verify matches `value`; else ""
    (the whole array) or " region R" (the shard that differs). A recorded region is verified by
    any process holding a shard that contains it, whatever the layout it was restored to."""
    if entry["crc32"] is not None and getattr(value, "is_fully_addressable", True):
        return None if _crc32(np.asarray(value)) == entry["crc32"] else ""
    for region, crc in entry.get("shard_crc32", {}).items():
        bounds = [tuple(map(int, axis.split(":"))) for axis in region.split(",")] if region else []
        for shard in value.addressable_shards:
            starts = [s.indices(n)[0] for s, n in zip(shard.index, value.shape)]
            stops = [s.indices(n)[1] for s, n in zip(shard.index, value.shape)]
            if all(a <= lo and hi <= b for (lo, hi), a, b in zip(bounds, starts, stops)):
                part = np.asarray(shard.data)[tuple(slice(lo - a, hi - a) for (lo, hi), a in zip(bounds, starts))]
                if _crc32(part) != crc:
                    return f" region [{region}]"
                break
    return None


def _sync_processes(name: str) -> None:
    """A barrier across the processes of a multi-process run (nothing in a single process)."""
    if jax.process_count() > 1:
        multihost_utils.sync_global_devices(name)


def _failed_processes(failed_here: bool) -> list[int]:
    """The processes for which `failed_here` is true, the same list on every process."""
    if jax.process_count() == 1:
        return [0] if failed_here else []
    flags = multihost_utils.process_allgather(np.asarray([failed_here], np.int32))
    return [int(i) for i in np.flatnonzero(np.reshape(flags, (-1,)))]


def _storage_struct(x: Any, impl: str | None) -> jax.ShapeDtypeStruct:
    """How a target leaf is stored: key leaves as their key data, with a sharding to restore to.

    A key leaf's sharding splits its key data the same way (the trailing key-data axis is not
    split), which `eval_shape(key_data)` would drop. A leaf without one goes whole to this
    process's first device: `jax.devices()[0]` belongs to process 0 in a multi-process run."""
    sharding = getattr(x, "sharding", None)
    if impl:
        x = jax.eval_shape(jax.random.key_data, x)
    if sharding is None:
        sharding = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
    return jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=sharding)


def _as_weak(x: jax.Array) -> jax.Array:
    """`x` as a weakly-typed array, as the state's own leaf was (e.g. a counter started from a
    Python int), so compiled chunks see exactly the avals of an uninterrupted run."""
    try:
        from jax._src.lax import lax as lax_internal  # no public API sets weak_type

        return lax_internal._convert_element_type(x, np.dtype(x.dtype), weak_type=True)
    except (ImportError, AttributeError, TypeError):  # a JAX without it: values are still exact
        return x


class _UnretrievedReadErrors(logging.Filter):
    """Drops asyncio's "exception was never retrieved" reports of tensorstore reads that failed
    alongside the one already reported as a `CheckpointError` (pages of tensorstore specs)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not ("exception was never retrieved" in message and "tensorstore" in message
                    and "OCDBT database" in message)


def _silence_unretrieved_read_errors() -> None:
    asyncio_log = logging.getLogger("asyncio")
    if not any(isinstance(f, _UnretrievedReadErrors) for f in asyncio_log.filters):
        asyncio_log.addFilter(_UnretrievedReadErrors())


class _LateReadCallbacks:
    """A `sys.unraisablehook` that drops the "Event loop is closed" errors of tensorstore reads
    that finish after a failed restore, and passes everything else to the hook it wraps.

    When one read of a damaged step fails, orbax closes its event loop with the step's other reads
    still running; each of them then calls `loop.call_soon_threadsafe` from a tensorstore thread
    and raises into `sys.unraisablehook`: about 130 tracebacks on stderr for one bad step, none
    of which says more than the `CheckpointError` already does. Worse, printing them runs
    `ast.parse` (3.11's caret anchors) on those threads, and CPython 3.11 keeps the AST
    builder's depth counter in interpreter-wide state (python/cpython#106905), so a parse on the
    main thread at the same moment (tyro reading docstrings when a resume starts) failed with
    "AST constructor recursion depth mismatch".
    """

    def __init__(self, previous: Callable[[Any], Any]):
        self.previous = previous
        self.keep = False  # set once a restore failed: its late reports may come at any time

    def __call__(self, unraisable: Any) -> None:
        error = unraisable.exc_value
        if isinstance(error, RuntimeError) and str(error) == "Event loop is closed" and any(
                frame.f_code.co_name == "call_soon_threadsafe" for frame, _ in _tb_frames(error.__traceback__)):
            return
        self.previous(unraisable)


def _tb_frames(tb: Any):
    while tb is not None:
        yield tb.tb_frame, tb.tb_lineno
        tb = tb.tb_next


def _ignore_late_read_callbacks() -> _LateReadCallbacks:
    """Installs `_LateReadCallbacks` (once) around the current `sys.unraisablehook`."""
    if not isinstance(sys.unraisablehook, _LateReadCallbacks):
        sys.unraisablehook = _LateReadCallbacks(sys.unraisablehook)
    return sys.unraisablehook


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    line = text[0] if text else ""
    return line if len(line) <= 300 else line[:300] + "..."


def _warn_skip(step: int, error: CheckpointError) -> None:
    log.warning("skipping checkpoint %d: %s", step, error)
