"""Pure-JAX replay buffers: uniform, prioritized, sequence; n-step transitions and sequence items.

Each buffer is a `ReplayBuffer`, a NamedTuple of pure functions over a pytree state (in the
spirit of optax's `GradientTransformation`):

    buf = replay.prioritized(capacity=1000, batch_size=256, alpha=0.6, beta=0.4)
    state = buf.init(example_item)          # any pytree, no batch axis
    state = buf.add(state, items)           # the same pytree with a leading batch axis
    batch, info = buf.sample(state, key)    # info.indices, info.weights (importance weights)
    state = buf.update_priorities(state, info.indices, new_priorities)

`sequence_adder` cuts a batched env's steps into overlapping sequences, each one item of any of
these buffers (R2D2's prioritized sequence replay).

All functions jit, and vmap over a population (a state with a leading population axis).
"""

from jaxrl.replay import n_step
from jaxrl.replay.base import ReplayBuffer, SampleInfo
from jaxrl.replay.prioritized import PrioritizedState, prioritized
from jaxrl.replay.sequence import SequenceState, sequence
from jaxrl.replay.sequence_adder import Sequence, SequenceAdder, SequenceAdderState, sequence_adder
from jaxrl.replay.uniform import UniformState, uniform

__all__ = [
    "PrioritizedState",
    "ReplayBuffer",
    "SampleInfo",
    "Sequence",
    "SequenceAdder",
    "SequenceAdderState",
    "SequenceState",
    "UniformState",
    "n_step",
    "prioritized",
    "sequence",
    "sequence_adder",
    "uniform",
]
