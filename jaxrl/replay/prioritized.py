"""Proportional prioritized replay over a sum-tree (Schaul et al. 2016, arXiv:1511.05952).

Item i is sampled with probability P(i) = p_i^alpha / sum_k p_k^alpha, where p_i is its
priority (|TD error| + epsilon, set by the learner through `update_priorities`; new items enter
at the largest priority seen so far, so that new experience is soon replayed). The bias that
non-uniform sampling adds to the expected update is corrected by importance weights
w_i = (N P(i))^-beta, normalised by their largest value over the buffer so that they only ever
scale updates down.

The sum-tree is one flat array in the usual heap layout: node 1 is the root, node n has
children 2n and 2n + 1, and the L leaves (capacity rounded up to a power of two) are nodes
L..2L-1, leaf L + i holding p_i^alpha for stored item i and 0 for empty or padding rows. A
second tree of the same shape keeps minima (of the positive leaves), which gives the largest
importance weight in O(1).
"""

from __future__ import annotations

import numbers
from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp

from jaxrl.replay import base
from jaxrl.types import Array, PRNGKey, PyTree


class PrioritizedState(NamedTuple):
    """State of a prioritized buffer.

    Attributes:
      data: the item pytree with a leading capacity axis.
      insert_position: int32, the row the next item is written to.
      size: int32, the number of rows holding items; saturates at capacity.
      sum_tree: float32 [2L], node sums in heap layout; leaf L + i is p_i^alpha (node 0 unused).
      min_tree: float32 [2L], node minima over positive leaves (+inf where there are none).
      max_priority: float32, the largest priority (after |.| + epsilon) ever set, initially 1;
        new items enter with it.
    """

    data: PyTree
    insert_position: Array
    size: Array
    sum_tree: Array
    min_tree: Array
    max_priority: Array


def prioritized(
    capacity: int,
    batch_size: int,
    alpha: float = 0.6,
    beta: float = 0.4,
    epsilon: float = 1e-6,
    min_size: int | None = None,
) -> base.ReplayBuffer:
    """A circular buffer sampled in proportion to priority^alpha (Schaul et al. 2016).

    `sample(state, key, beta=None)` draws a stratified batch: [0, total priority) is cut into
    `batch_size` equal segments and one item is drawn from each, which lowers the variance
    of the batch's make-up against independent draws (as in the paper's Appendix B.2.1). The
    batch is therefore ordered by segment, i.e. by position in the buffer; shuffle it if the
    order matters to you. `beta` may be passed per call (e.g. annealed towards 1, possibly
    traced); it defaults to the constructor's.

    Importance weights are w_i = (N P(i))^-beta / max_j (N P(j))^-beta, with N the number of
    stored items and the maximum over all stored items (not only over the batch), i.e. over
    the item with the smallest probability. N and the total cancel, so this is computed as
    (p_i^alpha / min_j p_j^alpha)^-beta from the two trees.

    `update_priorities(state, indices, priorities)` sets p_i = |priority_i| + epsilon for the
    `indices` that `sample` returned. Indices outside the stored items are ignored. If an
    index appears more than once, one of its priorities is kept (which one is unspecified);
    the trees stay consistent either way. A NaN or infinite priority (a diverged TD error) is
    ignored like such an index: that item keeps its previous priority, because one NaN leaf
    would make the root's total NaN and every later sample draw garbage rows. The learner's
    `nonfinite` metric (loops.common.nonfinite_flag) is what reports the divergence.

    Args:
      capacity: the number of items kept.
      batch_size: the number of items `sample` returns.
      alpha: how strongly priorities shape sampling; 0 is uniform.
      beta: the importance-weight exponent in [0, 1]; 1 fully corrects the bias.
      epsilon: added to |priority| so that no item's probability becomes 0.
      min_size: `can_sample` is true once at least this many items are stored (default:
        `batch_size`).

    Raises:
      ValueError: naming the argument, if an argument is out of range.
    """
    capacity = base.check_int("capacity", capacity, 1)
    batch_size = base.check_int("batch_size", batch_size, 1)
    alpha = base.check_float("alpha", alpha, 0.0)
    default_beta = base.check_float("beta", beta, 0.0, 1.0)
    epsilon = base.check_float("epsilon", epsilon, 0.0)
    min_size = base.check_min_size(min_size, batch_size, capacity)
    num_leaves = 1 << (capacity - 1).bit_length()

    def init(example_item: PyTree) -> PrioritizedState:
        return PrioritizedState(
            data=base.storage_like(example_item, (capacity,)),
            insert_position=jnp.zeros((), jnp.int32),
            size=jnp.zeros((), jnp.int32),
            sum_tree=jnp.zeros((2 * num_leaves,), jnp.float32),
            min_tree=jnp.full((2 * num_leaves,), jnp.inf, jnp.float32),
            max_priority=jnp.ones((), jnp.float32),
        )

    def add(state: PrioritizedState, items: PyTree) -> PrioritizedState:
        items, (num_items,) = base.check_items(state.data, items)
        base.check_batch_fits(num_items, capacity)
        data, rows = base.write_circular(state.data, items, state.insert_position)
        values = jnp.full((num_items,), state.max_priority**alpha, jnp.float32)
        sum_tree, min_tree = set_leaves(state.sum_tree, state.min_tree, rows, values)
        return state._replace(
            data=data,
            insert_position=(state.insert_position + num_items) % capacity,
            size=jnp.minimum(state.size + num_items, capacity),
            sum_tree=sum_tree,
            min_tree=min_tree,
        )

    def sample(
        state: PrioritizedState, key: PRNGKey, beta: Array | float | None = None
    ) -> tuple[PyTree, base.SampleInfo]:
        if beta is None:
            beta = default_beta
        elif isinstance(beta, numbers.Real):
            beta = base.check_float("beta", beta, 0.0, 1.0)
        total = state.sum_tree[1]
        offsets = jax.random.uniform(key, (batch_size,), jnp.float32)
        targets = (jnp.arange(batch_size, dtype=jnp.float32) + offsets) * (total / batch_size)
        indices = find_leaves(state.sum_tree, targets)
        ratios = state.sum_tree[num_leaves + indices] / state.min_tree[1]  # P(i) / min_j P(j)
        # An empty buffer gives 0 / inf: weights of one rather than inf, which would turn a
        # loss masked by `can_sample` into NaN.
        weights = jnp.where(ratios > 0, ratios ** -jnp.asarray(beta, jnp.float32), 1.0)
        return base.gather(state.data, indices), base.SampleInfo(indices, weights)

    def can_sample(state: PrioritizedState) -> Array:
        return state.size >= min_size

    def update_priorities(state: PrioritizedState, indices: Array, priorities: Array) -> PrioritizedState:
        chex.assert_rank([indices, priorities], 1)
        chex.assert_equal_shape([indices, priorities])
        indices = jnp.asarray(indices, jnp.int32)
        priorities = jnp.abs(jnp.asarray(priorities, jnp.float32)) + epsilon
        valid = (indices >= 0) & (indices < state.size) & jnp.isfinite(priorities)
        sum_tree, min_tree = set_leaves(state.sum_tree, state.min_tree, indices, priorities**alpha, valid)
        max_priority = jnp.maximum(state.max_priority, jnp.max(jnp.where(valid, priorities, 0.0)))
        return state._replace(sum_tree=sum_tree, min_tree=min_tree, max_priority=max_priority)

    return base.ReplayBuffer(
        init=init, add=add, sample=sample, can_sample=can_sample, update_priorities=update_priorities
    )


def set_leaves(
    sum_tree: Array, min_tree: Array, rows: Array, values: Array, valid: Array | None = None
) -> tuple[Array, Array]:
    """Sets leaves `rows` to `values` (where `valid`) and recomputes their ancestors.

    The ancestors are recomputed level by level from the level below, touching only the B
    nodes per level above the written leaves: O(B log L) gathers and scatters for a batch of
    B leaves, against O(L) adds (and a pass over both whole trees) for rebuilding every level
    with reshape-sums. `add` writes a few items per env step and a learner step updates
    B ~ 32-512 priorities: at L = 2^20 (capacity 1M) and B = 256 that is ~5k node updates
    instead of ~1M; at L = 2^14 (capacity 10k) ~3.6k instead of ~16k, where the rebuild's
    denser ops roughly even out its extra work. So the cost stays flat as capacity grows,
    which the rebuild's does not (counted, not timed). Recomputing a node as the sum of its
    children (rather than adding the change in a leaf to each ancestor) makes a batch with
    shared ancestors or repeated rows correct: every write to a node in one level writes the
    same value, read from the already-final level below; and rounding never accumulates.

    Args:
      sum_tree, min_tree: the trees, [2L].
      rows: int32 [B], item rows (leaf = L + row).
      values: float32 [B], the new leaf values (priority^alpha).
      valid: bool [B] or None; rows where it is False are left alone.
    """
    chex.assert_equal_shape([sum_tree, min_tree])
    chex.assert_equal_shape([rows, values])
    num_leaves = sum_tree.shape[0] // 2
    leaves = num_leaves + rows
    if valid is None:
        sum_tree = sum_tree.at[leaves].set(values)
    else:
        # Masked rows write out of bounds (dropped) and then refresh the ancestors of leaf 0,
        # which is idempotent; this keeps the shapes static.
        sum_tree = sum_tree.at[jnp.where(valid, leaves, 2 * num_leaves)].set(values, mode="drop")
        leaves = jnp.where(valid, leaves, num_leaves)
    # With repeated rows, which write won is unspecified; read it back so that both trees agree.
    written = sum_tree[leaves]
    min_tree = min_tree.at[leaves].set(jnp.where(written > 0, written, jnp.inf))

    def refresh_parents(_, carry):
        sum_tree, min_tree, nodes = carry
        nodes = nodes // 2
        left, right = 2 * nodes, 2 * nodes + 1
        sum_tree = sum_tree.at[nodes].set(sum_tree[left] + sum_tree[right])
        min_tree = min_tree.at[nodes].set(jnp.minimum(min_tree[left], min_tree[right]))
        return sum_tree, min_tree, nodes

    # A loop, not a Python unroll: keeps the compiled program the same size for any capacity.
    depth = num_leaves.bit_length() - 1
    sum_tree, min_tree, _ = jax.lax.fori_loop(0, depth, refresh_parents, (sum_tree, min_tree, leaves))
    return sum_tree, min_tree


def find_leaves(sum_tree: Array, targets: Array) -> Array:
    """The rows whose cumulative-sum interval contains each target in [0, total): int32 [B].

    Descends from the root, all targets at once, one level per loop step: go right, less the
    left child's sum, when the target is at least that sum.
    """
    num_leaves = sum_tree.shape[0] // 2
    chex.assert_rank(targets, 1)

    def descend(_, carry):
        nodes, targets = carry
        left = sum_tree[2 * nodes]
        # Rounding can leave a target just above a subtree's sum; never step into an empty
        # subtree (padding, unfilled rows), so a zero-priority leaf is never returned.
        go_right = (targets >= left) & (sum_tree[2 * nodes + 1] > 0)
        targets = jnp.where(go_right, targets - left, targets)
        return 2 * nodes + go_right.astype(jnp.int32), targets

    depth = num_leaves.bit_length() - 1
    roots = jnp.ones(targets.shape, jnp.int32)
    nodes, _ = jax.lax.fori_loop(0, depth, descend, (roots, targets))
    return nodes - num_leaves
