"""Functional environments: the protocol, gymnax and brax adapters, wrappers and `make`."""

from jaxrl.envs.base import Environment, Wrapper
from jaxrl.envs.registry import known_names, make, make_batched, register
from jaxrl.envs.wrappers import (
    AutoReset,
    ClipAction,
    EpisodeStatistics,
    MaskObservation,
    NormalizeObservation,
    RescaleAction,
    TimeLimit,
    VmapEnv,
    batched,
    find_normalization_stats,
    find_wrapper,
    training_normalizer,
)

__all__ = [
    "AutoReset",
    "ClipAction",
    "Environment",
    "EpisodeStatistics",
    "MaskObservation",
    "NormalizeObservation",
    "RescaleAction",
    "TimeLimit",
    "VmapEnv",
    "Wrapper",
    "batched",
    "find_normalization_stats",
    "find_wrapper",
    "known_names",
    "make",
    "make_batched",
    "register",
    "training_normalizer",
]
