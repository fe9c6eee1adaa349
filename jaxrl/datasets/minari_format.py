"""Minari's datasets (the Farama Foundation's offline-RL format, HDF5 storage) to and from jaxrl's
rows, so users bring the datasets they already have and take jaxrl's elsewhere.

    dataset = datasets.to_minari(rows, "jaxrl/cartpole-expert-v0", env="CartPole-v1")
    rows, env = datasets.from_minari("jaxrl/cartpole-expert-v0")   # or a MinariDataset

Minari keeps an episode as observations [T + 1] (the last one the final next observation),
actions, rewards, terminations and truncations [T]; jaxrl keeps rows (observation, action,
reward, next_observation, discount = 1 - terminated, last = terminated or truncated). Bounded
continuous actions are stored on the environment's own box in Minari and on [-1, 1] in jaxrl (the
scale jaxrl's env stack takes, `envs.make_batched`): each direction rescales. Datasets live where
Minari puts them (`MINARI_DATASETS_PATH`, by default ~/.minari/datasets). The minari package is an
optional dependency: `pip install 'jaxrl[minari]'`.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

from jaxrl import envs
from jaxrl.datasets.format import check_transitions, episode_ends
from jaxrl.types import Box, EnvSpec, Transition


def _minari() -> Any:
    try:
        import minari
    except ImportError as error:
        raise ImportError("Minari datasets need the minari package with its HDF5 storage: pip install "
                          "'jaxrl[minari]' (or 'minari[hdf5]')") from error
    return minari


def _spaces(spec: EnvSpec) -> tuple[Any, Any]:
    import gymnasium

    observation = gymnasium.spaces.Box(spec.observation.low, spec.observation.high, spec.observation.shape, np.float32)
    if spec.discrete_actions:
        return observation, gymnasium.spaces.Discrete(spec.action.num_values)
    return observation, gymnasium.spaces.Box(spec.action.low, spec.action.high, spec.action.shape, np.float32)


def _rescaled(spec: EnvSpec) -> bool:
    """Whether jaxrl's env stack acts on [-1, 1] for this env (bounded continuous actions)."""
    return isinstance(spec.action, Box) and spec.action.bounded


def to_minari(rows: Transition, dataset_id: str, *, env: str, description: str | None = None) -> Any:
    """Writes `rows` (a `Transition` of [N] rows in episode order, as `datasets.load` gives) as the
    Minari dataset `dataset_id` ("namespace/name-v0") in HDF5, and returns it (a `MinariDataset`).
    `env` is the jaxrl environment the rows come from; where Gymnasium registers the same id, the
    dataset records it, so `dataset.recover_environment()` works."""
    minari = _minari()
    import gymnasium
    from minari.data_collector import EpisodeBuffer

    check_transitions(rows)
    spec = envs.make(env).spec()
    observation_space, action_space = _spaces(spec)
    host = jax.tree.map(np.asarray, rows)
    action = host.action
    if _rescaled(spec):
        low, high = spec.action.low, spec.action.high
        action = low + (np.clip(action, -1.0, 1.0) + 1.0) * 0.5 * (high - low)
    terminated = host.discount == 0
    buffers, start = [], 0
    for index, end in enumerate(episode_ends(host.last)):
        steps = slice(start, end + 1)
        buffers.append(EpisodeBuffer(
            id=index, observations=np.concatenate([host.observation[steps], host.next_observation[end:end + 1]]),
            actions=action[steps], rewards=host.reward[steps].astype(np.float32),
            terminations=terminated[steps], truncations=host.last[steps].astype(bool) & ~terminated[steps]))
        start = end + 1
    try:
        gym_env = gymnasium.spec(env)
    except gymnasium.error.Error:
        gym_env = None
    return minari.create_dataset_from_buffers(
        dataset_id, buffers, env=gym_env, action_space=action_space, observation_space=observation_space,
        algorithm_name="jaxrl", description=description or f"Exported by jaxrl from {env}", data_format="hdf5")


def from_minari(dataset: Any, *, env: str | None = None) -> tuple[Transition, str]:
    """A Minari dataset (a `MinariDataset`, or an id that `minari.load_dataset` finds locally) as
    jaxrl rows, and the jaxrl environment they belong to: `env`, or the Gymnasium id the dataset
    records. ValueError naming the mismatch if the dataset's observations or actions do not fit
    that environment's."""
    minari = _minari()
    if isinstance(dataset, str):
        dataset = minari.load_dataset(dataset)
    name = dataset.spec.dataset_id
    if env is None:
        env_spec = dataset.spec.env_spec
        if env_spec is None:
            raise ValueError(f"from_minari: the Minari dataset {name} records no environment; pass env=, the jaxrl "
                             f"environment its data comes from")
        env = env_spec.id
    spec = envs.make(env).spec()
    observation_space, action_space = dataset.spec.observation_space, dataset.spec.action_space
    want_observation, want_action = _spaces(spec)
    if getattr(observation_space, "shape", None) != want_observation.shape:
        raise ValueError(f"from_minari: {name}'s observation space {observation_space} does not fit {env}'s "
                         f"observations of shape {want_observation.shape}")
    if type(action_space) is not type(want_action) or action_space.shape != want_action.shape or (
            spec.discrete_actions and action_space.n != want_action.n):
        raise ValueError(f"from_minari: {name}'s action space {action_space} does not fit {env}'s {want_action}")
    fields: dict[str, list] = {name: [] for name in Transition._fields if name != "extras"}
    for episode in dataset.iterate_episodes():
        observations = np.asarray(episode.observations, np.float32)
        terminated = np.asarray(episode.terminations, bool)
        last = terminated | np.asarray(episode.truncations, bool)
        last[-1] = True  # an episode stored without an end flag was cut: truncated
        fields["observation"].append(observations[:-1])
        fields["next_observation"].append(observations[1:])
        fields["action"].append(np.asarray(episode.actions))
        fields["reward"].append(np.asarray(episode.rewards, np.float32))
        fields["discount"].append((~terminated).astype(np.float32))
        fields["last"].append(last)
    rows = {key: np.concatenate(value) for key, value in fields.items()}
    if spec.discrete_actions:
        rows["action"] = rows["action"].astype(np.int32)
    else:
        rows["action"] = rows["action"].astype(np.float32)
        if _rescaled(spec):
            low, high = spec.action.low, spec.action.high
            rows["action"] = (2.0 * (rows["action"] - low) / (high - low) - 1.0).astype(np.float32)
    transitions = Transition(**rows, extras={})
    check_transitions(transitions)
    return transitions, env


__all__ = ["from_minari", "to_minari"]
