"""Network building blocks: the vmap-safe orthogonal initialiser, and `Dense` on both of its paths."""

import functools

import jax
import numpy as np
import pytest
from helpers import assert_trees_equal

from jaxrl.networks import initializers


@pytest.mark.parametrize("shape, scale", [((4, 64), np.sqrt(2.0)), ((64, 64), 1.0), ((64, 2), 0.01), ((3, 5, 7), 2.0)])
def test_orthogonal_draws_what_jax_draws(shape, scale):
    key = jax.random.key(3)
    ours = initializers.orthogonal(scale)(key, shape)
    np.testing.assert_array_equal(ours, jax.nn.initializers.orthogonal(scale)(key, shape))
    flat = np.reshape(np.asarray(ours, np.float64), (-1, shape[-1])) / scale
    small = min(flat.shape)
    gram = flat.T @ flat if flat.shape[0] >= flat.shape[1] else flat @ flat.T
    np.testing.assert_allclose(gram, np.eye(small), atol=1e-5)


def test_orthogonal_under_nested_vmap_equals_one_draw_per_key():
    keys = jax.random.split(jax.random.key(0), (2, 3))
    batched = jax.jit(jax.vmap(jax.vmap(lambda k: initializers.orthogonal(1.0)(k, (8, 4)))))(keys)
    for i in range(2):
        for j in range(3):
            np.testing.assert_array_equal(batched[i, j], jax.nn.initializers.orthogonal(1.0)(keys[i, j], (8, 4)))


def test_vmapped_orthogonal_runs_one_qr_per_matrix():
    # A batched LAPACK QR splits its batch over XLA:CPU's thread pool, which deadlocked two
    # devices' programs sharing that pool (tests/test_distributed.py runs that case).
    keys = jax.random.split(jax.random.key(0), 4)
    text = jax.jit(jax.vmap(lambda k: initializers.orthogonal(1.0)(k, (64, 64)))).lower(keys).as_text()
    qr_calls = [line for line in text.splitlines() if "geqrf" in line and "custom_call" in line]
    assert qr_calls
    assert all('num_batch_dims = "0"' in line for line in qr_calls), qr_calls


# --- dense: flax.linen.Dense's values and gradients, with row-major weight-gradient matmuls ---


def _flax_and_ours(features, x):
    import flax.linen as nn

    from jaxrl.networks.dense import Dense

    ref, ours = nn.Dense(features), Dense(features)
    params = ref.init(jax.random.key(1), x)
    # Non-zero bias so a dropped bias term would show.
    params = jax.tree.map(lambda p: p + 0.1, params)
    return ref, ours, params


# The CPU tricks forced on, forced off, and chosen by platform (on here: this is a CPU).
TRICKS = pytest.mark.parametrize("tricks_on", [True, False, None], ids=["tricks-on", "tricks-off", "by-platform"])


@TRICKS
@pytest.mark.parametrize("in_size, out_size, lead",
                         [(4, 64, (128,)), (64, 64, (8, 16)), (64, 2, (128,)), (64, 1, (3,)),
                          (2, 64, (128,)), (64, 3, (4, 32))])
def test_dense_matches_flax_dense_values_and_gradients(in_size, out_size, lead, tricks_on):
    import jax.numpy as jnp

    from jaxrl import tricks
    from jaxrl.networks.dense import FEW_INPUTS

    x = jax.random.normal(jax.random.key(0), lead + (in_size,))
    ref, ours, params = _flax_and_ours(out_size, x)
    cotangent = jax.random.normal(jax.random.key(2), lead + (out_size,))

    def loss(module):
        return lambda p, x: jnp.sum(jnp.tanh(module.apply(p, x)) * cotangent)

    # Same arithmetic, checked bit for bit on XLA:CPU. XLA:GPU picks each program's matmul
    # algorithm by autotuning, so two programs (jit and eager here) may sum the same f32 products
    # in different orders: there the same arithmetic is checked to f32 rounding.
    if jax.default_backend() == "cpu":
        same_arithmetic = np.testing.assert_array_equal
    else:
        same_arithmetic = functools.partial(np.testing.assert_allclose, rtol=1e-5, atol=1e-6)
    want = jax.jit(jax.grad(loss(ref), argnums=(0, 1)))(params, x)
    with tricks.cpu_tricks(tricks_on):
        # The same parameter tree on every path, so params trained on one load on the other.
        assert_trees_equal(ours.init(jax.random.key(1), x), ref.init(jax.random.key(1), x))
        if tricks_on is False or in_size > FEW_INPUTS:
            same_arithmetic(ours.apply(params, x), ref.apply(params, x))
            same_arithmetic(jax.jit(ours.apply)(params, x), ref.apply(params, x))
        else:
            # A layer with few inputs sums its multiply-adds in another order than the matmul.
            np.testing.assert_allclose(jax.jit(ours.apply)(params, x), ref.apply(params, x), rtol=1e-6, atol=1e-6)
        got = jax.jit(jax.grad(loss(ours), argnums=(0, 1)))(params, x)
    for g, w in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
        assert g.shape == w.shape
        if tricks_on is False:
            # Off, `Dense` is flax's arithmetic, gradients and all.
            same_arithmetic(g, w)
        else:
            np.testing.assert_allclose(g, w, rtol=2e-5, atol=2e-5)


def _exported_grad(platform, tricks_on):
    import jax.numpy as jnp

    from jaxrl import tricks

    x = jax.random.normal(jax.random.key(0), (128, 64))
    _, ours, params = _flax_and_ours(2, x)
    with tricks.cpu_tricks(tricks_on):
        grad = jax.jit(jax.grad(lambda p: jnp.sum(jnp.tanh(ours.apply(p, x)))))
        return jax.export.export(grad, platforms=[platform])(params).mlir_module()


@pytest.mark.parametrize("platform, tricks_on, barrier", [
    ("cpu", None, True), ("cuda", None, False), ("tpu", None, False),
    ("cuda", True, True), ("cpu", False, False),
])
def test_dense_path_follows_the_platform_compiled_for(platform, tricks_on, barrier):
    # By default the row-major weight gradient (behind its optimization barrier) is compiled for
    # CPU only; the override forces either path whatever the platform.
    assert ("optimization_barrier" in _exported_grad(platform, tricks_on)) == barrier


def test_dense_gradients_under_vmap_match_per_member_gradients():
    import jax.numpy as jnp

    x = jax.random.normal(jax.random.key(0), (3, 32, 64))
    _, ours, params = _flax_and_ours(64, x[0])
    stacked = jax.tree.map(lambda p: jnp.stack([p, 2 * p, -p]), params)
    grad = jax.grad(lambda p, x: jnp.sum(ours.apply(p, x) ** 2))
    batched = jax.jit(jax.vmap(grad))(stacked, x)
    for i in range(3):
        single = grad(jax.tree.map(lambda p: p[i], stacked), x[i])
        for b, s in zip(jax.tree.leaves(batched), jax.tree.leaves(single)):
            np.testing.assert_allclose(b[i], s, rtol=2e-5, atol=2e-5)


def test_dense_weight_gradient_is_a_row_major_matmul():
    # The point of `dense`: XLA must not fold the transpose back into a transposed-operand dot
    # (contracting the row axis of both operands), the slow form on CPU.
    import jax.numpy as jnp

    # Compiled for the CPU also on a machine with an accelerator, where the plain path runs.
    with jax.default_device(jax.devices("cpu")[0]):
        x = jax.random.normal(jax.random.key(0), (128, 64))
        _, ours, params = _flax_and_ours(64, x)
        grad = jax.jit(jax.grad(lambda p: jnp.sum(jnp.tanh(ours.apply(p, x)))))
        hlo = grad.lower(params).compile().as_text()
    dots = [line for line in hlo.splitlines() if " dot(" in line and "f32[65,64]" in line.split("=", 1)[1][:20]]
    assert dots, "no [in + 1, out] weight-gradient matmul in the compiled program"
    assert all("lhs_contracting_dims={1}" in line and "rhs_contracting_dims={0}" in line for line in dots), dots


@pytest.mark.parametrize("in_size, out_size", [(2, 64), (64, 3)], ids=["2-inputs", "3-outputs"])
def test_dense_three_row_weight_gradient_runs_as_a_four_row_matmul(in_size, out_size):
    # A 3-row materialised operand (2 inputs + the ones row; 3 outputs) gets a zero fourth row on
    # XLA:CPU, where 3-row matmuls slowed whole PPO programs (networks/dense.py). The dropped row
    # must stay dropped: gradients the shapes of the parameters, equal to the plain matmul's.
    import jax.numpy as jnp

    from jaxrl.networks.dense import dense, plain_dense

    x = jax.random.normal(jax.random.key(0), (8, 128, in_size))
    kernel = jax.random.normal(jax.random.key(1), (8, in_size, out_size))
    bias = jax.random.normal(jax.random.key(2), (8, out_size))
    cotangent = jax.random.normal(jax.random.key(3), (8, 128, out_size))

    def grads(layer):
        loss = lambda k, b: jnp.sum(jnp.tanh(jax.vmap(layer)(x, k, b)) * cotangent)  # noqa: E731
        return jax.jit(jax.grad(loss, argnums=(0, 1)))

    with jax.default_device(jax.devices("cpu")[0]):
        ours = grads(dense)
        hlo = ours.lower(kernel, bias).compile().as_text()
        got, want = ours(kernel, bias), grads(plain_dense)(kernel, bias)
    assert [g.shape for g in got] == [kernel.shape, bias.shape]
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=2e-5, atol=2e-5)
    # Both cases' weight-gradient matmul is [8 members, 4 rows, 64] (for 3 outputs, before its transpose).
    dots = [line for line in hlo.splitlines()
            if "f32[8,4,64]" in line.split("=", 1)[-1][:16] and ("dot(" in line or "fusion(" in line)]
    assert dots, f"no 4-row weight-gradient matmul in the compiled program for a ({in_size}, {out_size}) layer"


@pytest.mark.parametrize("dueling", [False, True], ids=["plain", "dueling"])
def test_q_head_with_row_major_grads_is_flax_heads_function_with_a_row_major_weight_gradient(dueling):
    # PQN's Q head (`row_major_grads=True`): the same parameter tree, values and gradients as the
    # `nn.Dense` head, and on XLA:CPU the 2-wide head's weight gradient as [A, N] @ [N, in], not
    # the transposed-operand dot over the rows that XLA:CPU runs slowly.
    import jax.numpy as jnp

    from jaxrl.networks import QHead

    ref, ours = QHead(2, dueling), QHead(2, dueling, row_major_grads=True)
    # Compiled for the CPU also on a machine with an accelerator, where the plain path runs.
    with jax.default_device(jax.devices("cpu")[0]):
        x = jax.random.normal(jax.random.key(0), (128, 64))
        params = jax.tree.map(lambda p: p + 0.1, ref.init(jax.random.key(1), x))
        assert_trees_equal(ours.init(jax.random.key(1), x), ref.init(jax.random.key(1), x))
        np.testing.assert_array_equal(jax.jit(ours.apply)(params, x), jax.jit(ref.apply)(params, x))
        grads = {}
        for name, head in (("ref", ref), ("ours", ours)):
            # One compile per head: its gradients and its program's dots.
            grad = jax.jit(jax.grad(lambda p, head=head: jnp.sum(jnp.tanh(head.apply(p, x))))).lower(params).compile()
            grads[name] = grad(params)
            results = [line.split("=", 1)[1].split("{")[0].strip() for line in grad.as_text().splitlines()
                       if " dot(" in line]
            # [in, A]: the kernel's own layout, the transposed-operand dot; [A, in]: row-major.
            assert ("f32[64,2]" in results) == (name == "ref"), results
            assert ("f32[2,64]" in results) == (name == "ours"), results
    for g, w in zip(jax.tree.leaves(grads["ours"]), jax.tree.leaves(grads["ref"])):
        np.testing.assert_allclose(g, w, rtol=2e-5, atol=2e-5)


# --- policy heads: greedy action, log-probability and entropy against hand computations ---------
#
# Each head gets fixed parameters on identity-like features, so its distribution's parameters are
# known numbers; expected values come from the textbook formulas in numpy, not from distrax.

_LOG_2PI = np.log(2.0 * np.pi)


def _head_params(kernel, bias, log_std=None):
    params = {"Dense_0": {"kernel": np.asarray(kernel, np.float32), "bias": np.asarray(bias, np.float32)}}
    if log_std is not None:
        params["log_std"] = np.asarray(log_std, np.float32)
    return {"params": params}


def test_categorical_head_greedy_log_prob_and_entropy_by_hand():
    import jax.numpy as jnp

    from jaxrl import networks

    head = networks.CategoricalHead(3)
    # Row 0 has logits [0, log 2, 0] + 0.5 -> p = [1/4, 1/2, 1/4]; row 1 has [log 3, 0, 0] + 0.5
    # -> p = [3/5, 1/5, 1/5]. The common 0.5 shows the logits are normalised.
    variables = _head_params([[0.0, np.log(2.0), 0.0], [np.log(3.0), 0.0, 0.0]], [0.5, 0.5, 0.5])
    policy = head.apply(variables, jnp.eye(2))
    assert isinstance(policy, networks.CategoricalPolicy)
    np.testing.assert_array_equal(policy.greedy_action(), [1, 0])
    assert policy.greedy_action().dtype == jnp.int32
    np.testing.assert_allclose(policy.log_prob(jnp.array([0, 2])), [np.log(1 / 4), np.log(1 / 5)], rtol=1e-6)
    want_entropy = [1.5 * np.log(2.0), -(0.6 * np.log(0.6) + 0.4 * np.log(0.2))]
    np.testing.assert_allclose(policy.entropy(), want_entropy, rtol=1e-6)
    # Samples follow p, and sample_and_log_prob pairs each with its own log-probability.
    actions, log_probs = policy.sample_and_log_prob(jax.random.key(0))
    np.testing.assert_allclose(log_probs, policy.log_prob(actions), rtol=1e-6)
    many = jax.vmap(policy.sample)(jax.random.split(jax.random.key(1), 20_000))
    np.testing.assert_allclose(np.mean(many[:, 0][:, None] == np.arange(3), 0), [0.25, 0.5, 0.25], atol=0.015)
    np.testing.assert_allclose(np.mean(many[:, 1][:, None] == np.arange(3), 0), [0.6, 0.2, 0.2], atol=0.015)


def test_policy_head_picks_the_head_for_the_action_space():
    from jaxrl import networks

    assert networks.policy_head(True, 3) == networks.CategoricalHead(3)
    assert networks.policy_head(False, 2, "gaussian", -0.5) == networks.GaussianHead(2, "none", -0.5)
    assert networks.policy_head(False, 2, "tanh_gaussian") == networks.GaussianHead(2, "tanh", 0.0)
    assert networks.policy_head(False, 2, bounded=False) == networks.GaussianHead(2, "none", 0.0, bounded=False)


@pytest.mark.parametrize("agent", ["ppo", "bc"])
def test_actors_clip_the_greedy_action_exactly_where_the_action_box_is_bounded(agent):
    import jax.numpy as jnp

    from jaxrl import types
    from jaxrl.agents.bc.networks import make_network as bc_network
    from jaxrl.agents.ppo.networks import make_network as ppo_network
    from jaxrl.agents.recurrent_ppo import Config as RecurrentConfig
    from jaxrl.agents.recurrent_ppo.networks import make_network as recurrent_network

    def greedy(box):
        """The greedy action of the network for `box`, its Gaussian head's bias set to 3."""
        spec = types.EnvSpec("E", types.Box(-np.inf, np.inf, (3,)), box)
        net = ppo_network(spec, (8,), "tanh", None, None) if agent == "ppo" else bc_network(spec, (8,), "relu", "nll")
        call = net.policy if agent == "ppo" else net.__call__
        params = net.init(jax.random.key(0), jnp.zeros((1, 3)), method=call)
        params = jax.tree_util.tree_map_with_path(
            lambda path, x: jnp.full_like(x, 3.0) if any(head in jax.tree_util.keystr(path) for head in (
                "GaussianHead", "policy_head")) and "bias" in jax.tree_util.keystr(path) else x, params)
        return np.asarray(net.apply(params, jnp.zeros((1, 3)), method=call).greedy_action())

    np.testing.assert_allclose(greedy(types.Box(-2.0, 2.0, (2,))), [[1.0, 1.0]])  # rescaled onto [-2, 2] by the env
    np.testing.assert_allclose(greedy(types.Box(-np.inf, np.inf, (2,))), [[3.0, 3.0]])
    # A box unbounded on any side is not rescaled (`envs.make_batched`), so not clipped.
    assert recurrent_network(types.EnvSpec("E", types.Box(-np.inf, np.inf, (3,)), types.Box(
        np.array([-1.0, -np.inf]), np.array([1.0, 5.0]), (2,))), RecurrentConfig()).action_bounded is False


# Features x = [[1, 0], [0, 1], [2, 1]] through kernel K and bias b give the means; log std
# [log 0.5, log 2] (std 0.5 and 2) sums to 0, so the Gaussian's entropy is 2 (1 + log 2 pi) / 2.
_FEATURES = np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 1.0]], np.float32)
_KERNEL = np.array([[0.5, -2.0], [0.25, 1.0]], np.float32)
_BIAS = np.array([0.1, -0.2], np.float32)
_STD = np.array([0.5, 2.0])
_MEAN = _FEATURES.astype(np.float64) @ _KERNEL + _BIAS  # [[0.6, -2.2], [0.35, 0.8], [1.35, -3.2]]


def _gaussian_log_density(x, mean, std):
    return np.sum(-0.5 * ((x - mean) / std) ** 2 - np.log(std) - 0.5 * _LOG_2PI, axis=-1)


def _gaussian_policy(squash):
    from jaxrl import networks

    head = networks.GaussianHead(2, squash)
    variables = _head_params(_KERNEL, _BIAS, np.log(_STD))
    return head, variables, head.apply(variables, _FEATURES)


def test_gaussian_head_greedy_log_prob_and_entropy_by_hand():
    import jax.numpy as jnp

    from jaxrl import networks

    head, variables, policy = _gaussian_policy("none")
    assert isinstance(policy, networks.GaussianPolicy)
    np.testing.assert_allclose(policy.mean, _MEAN, rtol=1e-6)
    # Greedy: the mean, clipped to the [-1, 1] box the environment clips samples to.
    np.testing.assert_allclose(policy.greedy_action(), [[0.6, -1.0], [0.35, 0.8], [1.0, -1.0]], rtol=1e-6)
    # On an unbounded action box nothing clips the samples in training, so nothing clips the greedy
    # action either (it was clipped to [-1, 1], a policy other than the one trained).
    unbounded = networks.GaussianHead(2, "none", bounded=False).apply(variables, _FEATURES)
    np.testing.assert_allclose(unbounded.greedy_action(), _MEAN, rtol=1e-6)
    action = np.array([[0.0, 0.0], [1.0, -1.0], [-0.5, 2.5]], np.float32)
    np.testing.assert_allclose(policy.log_prob(action), _gaussian_log_density(action, _MEAN, _STD), rtol=1e-5)
    np.testing.assert_allclose(policy.entropy(), [1.0 + _LOG_2PI] * 3, rtol=1e-6)
    # d entropy / d log_std_i = 1 for every state; d log_prob / d log_std_i = z_i^2 - 1.

    def apply_with_log_std(log_std, fn):
        v = {"params": {**variables["params"], "log_std": log_std}}
        return jnp.sum(fn(head.apply(v, _FEATURES)))

    log_std = jnp.log(jnp.asarray(_STD, jnp.float32))
    np.testing.assert_allclose(jax.grad(apply_with_log_std)(log_std, lambda p: p.entropy()), [3.0, 3.0], rtol=1e-6)
    z = (action - _MEAN) / _STD
    np.testing.assert_allclose(jax.grad(apply_with_log_std)(log_std, lambda p: p.log_prob(action)),
                               np.sum(z**2 - 1.0, axis=0), rtol=1e-5)
    # Samples: mean + std * N(0, 1), paired with their own log-probabilities.
    sample, log_prob = policy.sample_and_log_prob(jax.random.key(0))
    np.testing.assert_allclose(log_prob, _gaussian_log_density(sample, _MEAN, _STD), rtol=1e-5)
    np.testing.assert_array_equal(policy.sample(jax.random.key(0)), sample)
    many = np.asarray(jax.vmap(policy.sample)(jax.random.split(jax.random.key(1), 20_000)))
    np.testing.assert_allclose(many.mean(0), _MEAN, atol=0.05)
    np.testing.assert_allclose(many.std(0), np.broadcast_to(_STD, _MEAN.shape), rtol=0.03)


def test_tanh_gaussian_head_greedy_log_prob_and_entropy_by_hand():
    from jaxrl import networks

    _, _, policy = _gaussian_policy("tanh")
    assert isinstance(policy, networks.TanhGaussianPolicy)
    np.testing.assert_allclose(policy.greedy_action(), np.tanh(_MEAN), rtol=1e-6)
    # Change of variables: log pi(a) = log N(atanh a; mu, sigma) - sum log(1 - a^2).
    action = np.array([[0.0, 0.5], [-0.9, 0.99], [0.3, -0.999]], np.float32)
    want = _gaussian_log_density(np.arctanh(action.astype(np.float64)), _MEAN, _STD) - np.sum(
        np.log(1.0 - action.astype(np.float64) ** 2), -1)
    np.testing.assert_allclose(policy.log_prob(action), want, rtol=1e-4)
    # An action at the bound (tanh saturated in float32) is read at the edge 1 - 1e-6: finite.
    edge = np.float64(np.float32(networks.TANH_EDGE))
    at_bound = policy.log_prob(np.array([[1.0, -1.0]] * 3, np.float32))
    x = np.array([edge, -edge])
    want = _gaussian_log_density(np.arctanh(x), _MEAN, _STD) - np.sum(np.log(1.0 - x**2))
    np.testing.assert_allclose(at_bound, want, rtol=2e-3)
    # Entropy: the pre-squash Gaussian's, the documented proxy.
    np.testing.assert_allclose(policy.entropy(), [1.0 + _LOG_2PI] * 3, rtol=1e-6)
    # Samples lie in (-1, 1), each paired with its log-probability by the same formula.
    sample, log_prob = policy.sample_and_log_prob(jax.random.key(0))
    assert np.all(np.abs(sample) < 1.0)
    s = np.asarray(sample, np.float64)
    want = _gaussian_log_density(np.arctanh(s), _MEAN, _STD) - np.sum(np.log(1.0 - s**2), -1)
    np.testing.assert_allclose(log_prob, want, rtol=1e-3)
    np.testing.assert_allclose(policy.sample(jax.random.key(0)), sample, rtol=1e-6)


def test_policies_carry_the_equivalent_distrax_distribution():
    import jax.numpy as jnp

    from jaxrl import networks

    action = np.array([[0.1, -0.4], [0.5, 0.2], [-0.3, 0.9]], np.float32)
    for squash in ("none", "tanh"):
        _, _, policy = _gaussian_policy(squash)
        np.testing.assert_allclose(policy.distribution.log_prob(action), policy.log_prob(action), rtol=1e-5)
    categorical = networks.CategoricalPolicy.from_logits(jnp.array([[0.0, 1.0, 2.0]]))
    np.testing.assert_allclose(categorical.distribution.entropy(), categorical.entropy(), rtol=1e-6)
    # The categorical scores without distrax, bit for bit as distrax does (-inf outside range(A)),
    # and draws distrax's actions.
    logits = jax.random.normal(jax.random.key(3), (2, 5, 4)) * 3.0
    categorical = networks.CategoricalPolicy.from_logits(logits)
    for seed in range(4):
        key = jax.random.key(seed)
        np.testing.assert_array_equal(categorical.sample(key), categorical.distribution.sample(seed=key))
        assert categorical.sample(key).dtype == jnp.int32
    actions = jnp.array([[0, 1, 2, 3, -1], [3, 2, 1, 0, 4]])
    np.testing.assert_array_equal(categorical.log_prob(actions), categorical.distribution.log_prob(actions))
    assert np.isneginf(categorical.log_prob(actions)[0, 4]) and np.isneginf(categorical.log_prob(actions)[1, 4])
    # Policies are pytrees: they cross jit and vmap boundaries.
    _, _, policy = _gaussian_policy("none")
    np.testing.assert_allclose(jax.jit(lambda p: p)(policy).mean, policy.mean)


def test_repeat_policy_is_the_policy_of_the_repeated_states_with_the_same_draws():
    # CRR and CQL score several sampled actions per state from one pass of the policy network.
    import jax.numpy as jnp

    from jaxrl import networks
    from jaxrl.agents.sac.networks import TanhGaussianActor

    observation = jax.random.normal(jax.random.key(0), (5, 3))
    sac_actor = TanhGaussianActor(2, (8,), "relu")  # state-dependent log_std [B, A]
    heads = [networks.GaussianHead(2, "none", -0.5), networks.GaussianHead(2, "tanh"),  # log_std [A]
             networks.CategoricalHead(4), sac_actor]
    for head in heads:
        variables = head.init(jax.random.key(1), observation)
        repeated = networks.repeat_policy(head.apply(variables, observation), 3)
        direct = head.apply(variables, jnp.repeat(observation, 3, axis=0))
        assert type(repeated) is type(direct), head
        for got, want in zip(jax.tree.leaves(repeated), jax.tree.leaves(direct)):
            assert got.shape == want.shape, head
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
        key = jax.random.key(2)
        sample, log_prob = repeated.sample_and_log_prob(key)
        want_sample, want_log_prob = direct.sample_and_log_prob(key)
        assert sample.shape[0] == 15
        np.testing.assert_allclose(sample, want_sample, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(log_prob, want_log_prob, rtol=1e-5, atol=1e-6)
        # Rows 3i, 3i + 1, 3i + 2 hold state i's policy.
        np.testing.assert_array_equal(repeated.greedy_action()[3:6], head.apply(variables, observation)
                                      .greedy_action()[1][None].repeat(3, 0))


def test_gaussian_head_rejects_an_unknown_squash():
    import jax.numpy as jnp

    from jaxrl import networks

    with pytest.raises(ValueError, match="squash"):
        networks.GaussianHead(2, "sigmoid").init(jax.random.key(0), jnp.ones((1, 2)))


def test_deterministic_actor_greedy_action_by_hand():
    # DDPG's / TD3's actor a = tanh(W2 relu(W1 x + b1) + b2) is its own greedy action. A point mass
    # has no density or (differential) entropy, so it answers neither; exploration noise is the
    # agent's (agents/continuous_off_policy.py).
    import jax.numpy as jnp

    from jaxrl import networks

    actor = networks.DeterministicActor(2, hidden_sizes=(3,))
    w1 = np.array([[1.0, -1.0, 0.5], [0.0, 2.0, -1.0]], np.float32)
    b1 = np.array([0.1, 0.0, -0.2], np.float32)
    w2 = np.array([[1.0, 0.0], [-0.5, 1.0], [2.0, -3.0]], np.float32)
    b2 = np.array([0.0, 0.3], np.float32)
    variables = {"params": {"MLP_0": {"Dense_0": {"kernel": w1, "bias": b1}}, "Dense_0": {"kernel": w2, "bias": b2}}}
    assert jax.tree.structure(variables) == jax.tree.structure(actor.init(jax.random.key(0), jnp.ones((1, 2))))
    x = np.array([[1.0, 0.5], [-2.0, 1.0], [0.0, 0.0]], np.float32)
    want = np.tanh(np.maximum(x @ w1 + b1, 0.0) @ w2 + b2)
    np.testing.assert_allclose(actor.apply(variables, x), want, rtol=1e-6)
    assert not np.allclose(want[0], want[1])
