"""Offline data: jaxrl's on-disk dataset format (`save`, `load`, `read_info`), datasets collected
from rollouts of a policy or of random actions (`collect`), and a dataset in device memory behind
the replay contract (`as_replay`); Minari's datasets to and from jaxrl's rows (`to_minari`,
`from_minari`). See `jaxrl.datasets.format` for the format."""

from jaxrl.datasets.collect import check_options, collect, first_episodes, rollout
from jaxrl.datasets.format import (
    FIELDS,
    FORMAT_VERSION,
    DatasetError,
    DatasetInfo,
    check_actions,
    check_transitions,
    episode_ends,
    episode_returns,
    layout,
    load,
    placeholder,
    read_info,
    save,
)
from jaxrl.datasets.minari_format import from_minari, to_minari
from jaxrl.datasets.sampler import (DEMONSTRATION, DemonstrationsState, as_replay, replay_state, with_demonstrations,
                                    with_next_actions)

__all__ = ["DEMONSTRATION", "DemonstrationsState", "FIELDS", "FORMAT_VERSION", "DatasetError", "DatasetInfo",
           "as_replay", "check_actions", "check_options", "check_transitions", "collect", "episode_ends",
           "episode_returns", "first_episodes", "from_minari", "layout", "load", "placeholder", "read_info",
           "replay_state", "rollout", "save", "to_minari", "with_demonstrations", "with_next_actions"]
