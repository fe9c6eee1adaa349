"""Recurrent cores: the state resets exactly where an episode starts, per env, inside the scan,
and acting one step at a time equals unrolling the sequence."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl import networks

T, B, F, H = 7, 3, 5, 8


@pytest.fixture(scope="module", params=networks.CORES)
def core(request):
    core = networks.RecurrentCore(request.param, H)
    inputs = jax.random.normal(jax.random.key(0), (T, B, F))
    params = core.init(jax.random.key(1), core.initial_carry(B), inputs, jnp.zeros((T, B), bool))
    unroll = jax.jit(lambda carry, x, r: core.apply(params, carry, x, r))
    return core, unroll, inputs


def test_the_state_is_zeroed_exactly_where_an_episode_starts_per_env(core):
    core, unroll, inputs = core
    # A nonzero starting state, so that a reset has something to clear.
    start = jax.tree.map(lambda c: jnp.full_like(c, 0.3), core.initial_carry(B))
    resets = np.zeros((T, B), bool)
    resets[3, 0] = resets[5, 2] = True  # env 0 starts an episode at t = 3, env 2 at t = 5
    carry, out = unroll(start, inputs, jnp.asarray(resets))
    _, no_reset = unroll(start, inputs, jnp.zeros((T, B), bool))
    zero = core.initial_carry(1)

    def alone(b, t0, t1, carry):
        """Env b's inputs t0..t1-1 on their own, from `carry` (a [1, H] state)."""
        return unroll(carry, inputs[t0:t1, b:b + 1], jnp.zeros((t1 - t0, 1), bool))

    row = lambda c, b: jax.tree.map(lambda x: x[b:b + 1], c)  # noqa: E731
    # Before its reset each env runs as if nothing happened; from its reset on, as a fresh episode.
    np.testing.assert_allclose(out[:3, 0], no_reset[:3, 0], rtol=1e-6, atol=1e-6)
    fresh_carry, fresh = alone(0, 3, T, zero)
    np.testing.assert_allclose(out[3:, 0], fresh[:, 0], rtol=1e-6, atol=1e-6)
    assert not np.allclose(out[3:, 0], no_reset[3:, 0], atol=1e-3)  # the reset changed something
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6), row(carry, 0), fresh_carry)
    # Env 1 never resets: unaffected by the others' resets. Env 2 resets at t = 5 only.
    np.testing.assert_allclose(out[:, 1], no_reset[:, 1], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(out[:5, 2], no_reset[:5, 2], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(out[5:, 2], alone(2, 5, T, zero)[1][:, 0], rtol=1e-6, atol=1e-6)
    # A reset at the very first step ignores the state handed in.
    _, first = unroll(start, inputs, jnp.ones((T, B), bool).at[1:].set(False))
    _, from_zero = unroll(core.initial_carry(B), inputs, jnp.zeros((T, B), bool))
    np.testing.assert_allclose(first, from_zero, rtol=1e-6, atol=1e-6)


def test_acting_step_by_step_equals_unrolling_the_sequence(core):
    core, unroll, inputs = core
    resets = jnp.zeros((T, B), bool).at[4, 1].set(True)
    carry_all, out_all = unroll(core.initial_carry(B), inputs, resets)
    carry = core.initial_carry(B)
    outs = []
    for t in range(T):
        carry, out = unroll(carry, inputs[t:t + 1], resets[t:t + 1])
        outs.append(out[0])
    np.testing.assert_allclose(np.stack(outs), out_all, rtol=1e-6, atol=1e-6)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6), carry, carry_all)
    assert out_all.shape == (T, B, H)


def test_cores_reject_unknown_kinds_and_unbatched_inputs():
    with pytest.raises(ValueError, match=r"recurrent core must be one of \('lstm', 'gru'\), got 'rnn'"):
        networks.initial_carry("rnn", 4, (2,))
    core = networks.RecurrentCore("gru", 4)
    with pytest.raises(ValueError, match=r"RecurrentCore takes inputs \[T, B, F\] and resets \[T, B\]"):
        core.init(jax.random.key(0), core.initial_carry(2), jnp.zeros((2, 3)), jnp.zeros((2,), bool))
    carry = networks.reset_carry((jnp.ones((3, 2)), 2 * jnp.ones((3, 2))), jnp.array([False, True, False]))
    np.testing.assert_array_equal(carry[0], [[1, 1], [0, 0], [1, 1]])
    np.testing.assert_array_equal(carry[1], [[2, 2], [0, 0], [2, 2]])


@pytest.mark.parametrize("kind", networks.CORES)
def test_cores_compute_flaxs_cell_equations(kind):
    # The fused kernels hold flax's per-gate kernels side by side (GRU: r, z, n; LSTM: i, f, g, o).
    import flax.linen as nn

    core = networks.RecurrentCore(kind, H)
    inputs = jax.random.normal(jax.random.key(4), (T, B, F))
    resets = jnp.zeros((T, B), bool).at[3, 1].set(True)
    params = core.init(jax.random.key(5), core.initial_carry(B), inputs, resets)["params"]
    gates = "rzn" if kind == "gru" else "ifgo"
    split = lambda w: dict(zip(gates, jnp.split(w, len(gates), axis=-1)))  # noqa: E731
    w_in, w_h, bias = split(params["input_kernel"]), split(params["recurrent_kernel"]), split(params["bias"])
    if kind == "gru":
        cell = nn.GRUCell(H)
        flax_params = {f"i{g}": {"kernel": w_in[g], "bias": bias[g]} for g in gates}
        flax_params.update({"hr": {"kernel": w_h["r"]}, "hz": {"kernel": w_h["z"]},
                            "hn": {"kernel": w_h["n"], "bias": params["recurrent_bias"]}})
    else:
        cell = nn.LSTMCell(H)
        flax_params = {f"i{g}": {"kernel": w_in[g]} for g in gates}
        flax_params.update({f"h{g}": {"kernel": w_h[g], "bias": bias[g]} for g in gates})
    carry, expected = core.initial_carry(B), []
    for t in range(T):
        carry = networks.reset_carry(carry, resets[t])
        carry, y = cell.apply({"params": flax_params}, carry, inputs[t])
        expected.append(y)
    final, outputs = core.apply({"params": params}, core.initial_carry(B), inputs, resets)
    np.testing.assert_allclose(outputs, np.stack(expected), rtol=1e-5, atol=1e-6)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6), final, carry)


def test_inactive_steps_keep_the_state_and_states_are_returned_per_step(core):
    core, _, inputs = core
    params = core.init(jax.random.key(1), core.initial_carry(B), inputs, jnp.zeros((T, B), bool))
    resets = jnp.zeros((T, B), bool).at[2, 0].set(True)
    run = lambda *a, **k: core.apply(params, core.initial_carry(B), inputs, resets, *a, **k)  # noqa: E731
    carry, outputs, states = run(states=True)
    assert outputs.shape == (T, B, H)
    leaves = jax.tree.leaves(states)
    assert all(x.shape == (T, B, H) for x in leaves)
    jax.tree.map(lambda s, c: np.testing.assert_array_equal(s[-1], c), states, carry)
    # Steps 0-3 inactive for env 1 only: its state after them is still the initial zeros, and the
    # steps after that run from zeros, as an unroll of steps 4.. alone does.
    active = jnp.ones((T, B), bool).at[:4, 1].set(False)
    _, _, masked = run(active, states=True)
    jax.tree.map(lambda s: np.testing.assert_array_equal(s[:4, 1], 0.0), masked)
    jax.tree.map(lambda s, full: np.testing.assert_array_equal(s[:, 0], full[:, 0]), masked, states)
    alone = core.apply(params, core.initial_carry(1), inputs[4:, 1:2], jnp.zeros((T - 4, 1), bool), states=True)[2]
    jax.tree.map(lambda s, a: np.testing.assert_allclose(s[4:, 1], a[:, 0], rtol=1e-6, atol=1e-6), masked, alone)
