"""jaxrl's on-disk dataset format: transitions in episode order, one `.npy` file per field, and a
JSON record with the shapes, the source and a SHA-256 of every file.

A dataset directory holds

    dataset.json            {"format": 1, "env": ..., "kind": ..., "num_transitions": N,
                             "num_episodes": E, "episode_returns": [...], "source": {...},
                             "files": {field: {"shape", "dtype", "bytes", "sha256"}}}
    observation.npy         [N, *observation_shape]  the observation acted on (raw: never normalised)
    action.npy              [N, *action_shape]       the action taken, as jaxrl's env stack takes
                                                     it: an index, or a point of [-1, 1]^d that
                                                     `envs.make_batched` rescales onto the env's box
    reward.npy              [N] float32
    next_observation.npy    [N, *observation_shape]  the true successor (also where an episode ends)
    terminated.npy          [N] bool                 the episode ended in a terminal state
    truncated.npy           [N] bool                 the episode was cut short (time limit, or the
                                                     end of the collection), so a learner bootstraps

Rows are whole episodes one after another: episode i is the rows up to and including its
i-th row with `terminated | truncated`, and the last row always ends an episode. In memory a
dataset is a `Transition` with a leading axis of N (`discount = 1 - terminated`, `last =
terminated | truncated`, as the loops' transitions), so it samples like a replay buffer
(`datasets.as_replay`) and stacks with others of equal size under `jax.vmap`.

`save` writes into a temporary directory beside the target and renames it once every file is
flushed, so a dataset appears whole or not at all; `load` checks every file's size and SHA-256
against the record and names the file that is truncated or altered.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
from typing import Any

import jax
import numpy as np

from jaxrl import checkpoint
from jaxrl.types import Transition

FORMAT_VERSION = 1
RECORD = "dataset.json"
FIELDS = ("observation", "action", "reward", "next_observation", "terminated", "truncated")


class DatasetError(RuntimeError):
    """A dataset directory that is missing, incomplete, corrupted or inconsistent."""


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """What a dataset's record says besides its arrays.

    Attributes:
      env: the environment name (`jaxrl.make`) the transitions come from.
      kind: how it was collected ("random", "medium", "expert", "medium-replay", or a user's word).
      num_transitions, num_episodes: its size.
      episode_returns: the undiscounted return of every episode, in order.
      source: free-form JSON about the collection (policy, noise, seed, episode_length...).
    """

    env: str
    kind: str
    num_transitions: int
    num_episodes: int
    episode_returns: tuple[float, ...]
    source: dict

    @property
    def mean_return(self) -> float:
        return float(np.mean(self.episode_returns)) if self.episode_returns else float("nan")


def episode_ends(last: np.ndarray) -> np.ndarray:
    """The row index of every episode's last step."""
    return np.flatnonzero(np.asarray(last))


def episode_returns(reward: np.ndarray, last: np.ndarray) -> np.ndarray:
    """The undiscounted return of every episode, from rows in episode order (float64 sums)."""
    ends = episode_ends(last)
    sums = np.cumsum(np.asarray(reward, np.float64))[ends]
    return np.diff(np.concatenate([[0.0], sums]))


def check_transitions(transitions: Transition) -> int:
    """N, after checking that `transitions` is a dataset: every field with a leading axis of N,
    rewards, discounts and ends of shape [N], ends where the discount is 0, and the last row
    ending an episode. ValueError naming the field otherwise."""
    if not isinstance(transitions, Transition):
        raise TypeError(f"a dataset is a jaxrl.types.Transition of arrays, got {type(transitions).__name__}")
    size = np.shape(transitions.reward)
    if len(size) != 1 or size[0] < 1:
        raise ValueError(f"dataset: reward must have shape [N] with N >= 1, got {size}")
    n = size[0]
    for name in ("discount", "last"):
        if np.shape(getattr(transitions, name)) != (n,):
            raise ValueError(f"dataset: {name} must have shape [{n}] like reward, got "
                             f"{np.shape(getattr(transitions, name))}")
    for name in ("observation", "action", "next_observation"):
        shape = np.shape(getattr(transitions, name))
        if not shape or shape[0] != n:
            raise ValueError(f"dataset: {name} must have a leading axis of {n} like reward, got shape {shape}")
    if np.shape(transitions.observation) != np.shape(transitions.next_observation):
        raise ValueError(f"dataset: next_observation's shape {np.shape(transitions.next_observation)} differs from "
                         f"observation's {np.shape(transitions.observation)}")
    discount, last = np.asarray(transitions.discount), np.asarray(transitions.last, bool)
    if not np.all((discount == 0) | (discount == 1)):
        raise ValueError("dataset: discount must be 0 (terminated) or 1 at every row")
    if np.any((discount == 0) & ~last):
        raise ValueError("dataset: a row with discount 0 (terminated) must also be last")
    if not last[-1]:
        raise ValueError("dataset: the last row must end an episode (mark the cut as truncated: last with discount 1)")
    return n


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()


def save(directory: str, transitions: Transition, *, env: str, kind: str, source: dict | None = None,
         overwrite: bool = False) -> str:
    """Writes `transitions` (a `Transition` of [N] rows in episode order, see the module
    docstring) into `directory`, atomically; returns its absolute path."""
    n = check_transitions(transitions)
    host = jax.tree.map(np.asarray, transitions)
    terminated = host.discount == 0
    last = host.last.astype(bool)
    arrays = {"observation": host.observation, "action": host.action, "reward": host.reward.astype(np.float32),
              "next_observation": host.next_observation, "terminated": terminated, "truncated": last & ~terminated}
    returns = episode_returns(arrays["reward"], last)
    record: dict[str, Any] = {"format": FORMAT_VERSION, "env": env, "kind": kind, "num_transitions": n,
                              "num_episodes": int(len(returns)), "episode_returns": [float(r) for r in returns],
                              "source": dict(source or {}), "files": {}}

    def write(staging: str) -> None:
        for name in FIELDS:
            data = _npy_bytes(arrays[name])
            with open(os.path.join(staging, f"{name}.npy"), "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            record["files"][name] = {"shape": list(arrays[name].shape), "dtype": arrays[name].dtype.str,
                                     "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        with open(os.path.join(staging, RECORD), "w") as f:
            json.dump(record, f, indent=1)
            f.flush()
            os.fsync(f.fileno())

    return checkpoint.write_directory(directory, write, overwrite=overwrite)


def _record(directory: str) -> dict:
    path = os.path.join(directory, RECORD)
    if not os.path.isdir(directory):
        raise DatasetError(f"no dataset at {directory}")
    if not os.path.isfile(path):
        raise DatasetError(f"{directory} is not a jaxrl dataset: it has no {RECORD}")
    try:
        with open(path) as f:
            record = json.load(f)
    except json.JSONDecodeError as error:
        raise DatasetError(f"{path} is not valid JSON ({error}): the dataset's record is damaged") from None
    if not isinstance(record, dict) or record.get("format") != FORMAT_VERSION:
        raise DatasetError(f"{path}: not a jaxrl dataset of format {FORMAT_VERSION}")
    missing = [name for name in FIELDS if name not in record.get("files", {})]
    if missing:
        raise DatasetError(f"{path} lists no files for {missing}")
    return record


def read_info(directory: str) -> DatasetInfo:
    """The record of the dataset in `directory`, without reading its arrays."""
    record = _record(os.path.abspath(directory))
    return DatasetInfo(env=record["env"], kind=record["kind"], num_transitions=int(record["num_transitions"]),
                       num_episodes=int(record["num_episodes"]),
                       episode_returns=tuple(float(r) for r in record["episode_returns"]), source=record["source"])


def layout(directory: str) -> dict:
    """The shapes and dtypes of the arrays of the dataset in `directory`, from its record: what
    `placeholder` needs to stand in for the rows without reading them."""
    files = _record(os.path.abspath(directory))["files"]
    return {name: {"shape": list(files[name]["shape"]), "dtype": files[name]["dtype"]} for name in FIELDS}


def placeholder(arrays: dict) -> Transition:
    """Rows of zeros shaped as `load` returns a dataset of this `layout`: a program that restores
    its state from a checkpoint (the rows in it) is built on them without the dataset's directory."""
    zeros = {name: np.zeros(arrays[name]["shape"], np.dtype(arrays[name]["dtype"])) for name in FIELDS}
    n = zeros["reward"].shape[0]
    last = np.arange(n) == n - 1  # a dataset's last row ends an episode (`check_transitions`)
    return Transition(observation=zeros["observation"], action=zeros["action"], reward=zeros["reward"],
                      discount=np.ones(n, np.float32), last=last, next_observation=zeros["next_observation"],
                      extras={})


def check_actions(transitions: Transition, spec: Any) -> None:
    """That the dataset's actions lie in the action space of `spec` (the training stack's, whose
    continuous actions are [-1, 1]): indices in [0, n), or points of [-1, 1]^d. ValueError naming
    the range found otherwise (1-based labels, torques on the env's own scale)."""
    action = np.asarray(transitions.action)
    low, high = action.min(), action.max()
    if spec.discrete_actions:
        if low < 0 or high >= spec.action.num_values:
            raise ValueError(f"dataset: {spec.name} has {spec.action.num_values} discrete actions, indices 0 to "
                             f"{spec.action.num_values - 1}, but the dataset's actions run from {low} to {high}")
    elif low < -1.0 - 1e-6 or high > 1.0 + 1e-6:
        raise ValueError(f"dataset: continuous actions are stored on the [-1, 1] scale of {spec.name}'s action box "
                         f"(docs/datasets.md), but the dataset's run from {low:g} to {high:g}; rescale them from the "
                         f"box's bounds")


def load(directory: str) -> Transition:
    """The dataset in `directory` as a `Transition` of NumPy arrays with a leading axis of N
    (`jax.device_put` it, or hand it to `datasets.as_replay`). Raises `DatasetError` naming the
    file if one is missing, truncated or altered since it was saved."""
    directory = os.path.abspath(directory)
    record = _record(directory)
    arrays = {}
    for name in FIELDS:
        entry = record["files"][name]
        path = os.path.join(directory, f"{name}.npy")
        if not os.path.isfile(path):
            raise DatasetError(f"{path} is missing")
        with open(path, "rb") as f:
            data = f.read()
        if len(data) != entry["bytes"]:
            raise DatasetError(f"{path} is truncated or damaged: {len(data)} bytes, the record says "
                               f"{entry['bytes']}")
        if hashlib.sha256(data).hexdigest() != entry["sha256"]:
            raise DatasetError(f"{path} is corrupted: its SHA-256 differs from the one recorded when it was saved")
        array = np.load(io.BytesIO(data), allow_pickle=False)
        if list(array.shape) != entry["shape"] or array.dtype.str != entry["dtype"]:
            raise DatasetError(f"{path} holds {array.dtype.str} {list(array.shape)}, the record says "
                               f"{entry['dtype']} {entry['shape']}")
        arrays[name] = array
    n = int(record["num_transitions"])
    if arrays["reward"].shape != (n,):
        raise DatasetError(f"{directory}: reward.npy has {arrays['reward'].shape[0]} rows, the record says {n}")
    terminated, truncated = arrays["terminated"].astype(bool), arrays["truncated"].astype(bool)
    transitions = Transition(observation=arrays["observation"], action=arrays["action"], reward=arrays["reward"],
                             discount=np.where(terminated, 0.0, 1.0).astype(np.float32),
                             last=terminated | truncated, next_observation=arrays["next_observation"], extras={})
    try:
        check_transitions(transitions)
    except ValueError as error:
        raise DatasetError(f"{directory}: {error}") from None
    return transitions


__all__ = ["FIELDS", "FORMAT_VERSION", "DatasetError", "DatasetInfo", "check_actions", "check_transitions",
           "episode_ends", "episode_returns", "layout", "load", "placeholder", "read_info", "save"]
