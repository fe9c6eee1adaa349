"""PPO: config checks, the train API contract, chunking and vmap guarantees, learning."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import assert_trees_equal

from jaxrl.agents import builder, ppo

SMALL = ppo.Config(env="CartPole-v1", num_envs=4, rollout_length=32, total_timesteps=8 * 128,
                   num_epochs=2, num_minibatches=2, hidden_sizes=(16,))


@pytest.fixture(scope="module")
def small_train():
    return ppo.make_train(SMALL)


@pytest.fixture(scope="module")
def small_out(small_train):
    return jax.jit(small_train)(jax.random.key(0))


@pytest.mark.parametrize(
    "kwargs, field",
    [
        (dict(num_minibatches=3), "num_minibatches"),
        (dict(learning_rate=-1e-3), "learning_rate"),
        (dict(gamma=1.5), "gamma"),
        (dict(gae_lambda=-0.1), "gae_lambda"),
        (dict(clip_eps=0.0), "clip_eps"),
        (dict(ent_coef=-0.01), "ent_coef"),
        (dict(max_grad_norm=float("nan")), "max_grad_norm"),
        (dict(num_envs=0), "num_envs"),
        (dict(total_timesteps=100), "total_timesteps"),
        (dict(activation="sigmoidal"), "activation"),
        (dict(hidden_sizes=()), "hidden_sizes"),
    ],
)
def test_bad_config_raises_naming_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field):
        ppo.Config(**kwargs)


def test_continuous_option_on_discrete_env_raises_before_tracing():
    for kwargs, field in [(dict(continuous_policy="tanh_gaussian"), "continuous_policy"),
                          (dict(init_log_std=-0.5), "init_log_std")]:
        with pytest.raises(ValueError, match=f"{field}.*discrete"):
            ppo.make_train(ppo.Config(env="CartPole-v1", **kwargs))


def test_unknown_env_raises_with_suggestion():
    with pytest.raises(ValueError, match="CartPole-v1"):
        ppo.make_train(ppo.Config(env="CartPole-v2"))


def test_wrong_hparams_type_raises(small_train):
    with pytest.raises(TypeError, match="HParams"):
        small_train.init(jax.random.key(0), {"learning_rate": 1e-3})


def test_hparams_are_arrays_with_config_defaults():
    hp = SMALL.hparams()
    assert isinstance(hp, ppo.HParams)
    for name in ("learning_rate", "gamma", "gae_lambda", "clip_eps", "ent_coef", "vf_coef", "max_grad_norm"):
        value = getattr(hp, name)
        assert value.shape == () and value.dtype == jnp.float32
        np.testing.assert_allclose(value, getattr(SMALL, name), rtol=1e-7)


def test_metrics_shapes_and_values(small_out):
    metrics = small_out.metrics
    n = SMALL.num_iterations
    assert n == 8
    for name in ("env_steps", "episode_return", "episode_length", "total_loss", "policy_loss", "value_loss",
                 "entropy", "approx_kl"):
        assert metrics[name].shape == (n,), name
        assert np.all(np.isfinite(metrics[name])), name
    np.testing.assert_array_equal(metrics["env_steps"], 128 * np.arange(1, n + 1))
    # CartPole pays 1 per step, so a finished episode's return equals its length.
    np.testing.assert_allclose(metrics["episode_return"], metrics["episode_length"])
    assert metrics["episode_return"][-1] > 5
    assert int(small_out.state.iteration) == n and int(small_out.state.env_steps) == n * 128
    # Entropy of a near-uniform 2-action policy starts near log 2.
    assert 0.6 < metrics["entropy"][0] <= np.log(2) + 1e-6


def test_chunked_run_is_bit_identical_to_one_call(small_train, small_out):
    run = jax.jit(small_train.run, static_argnums=1)
    state = jax.jit(small_train.init)(jax.random.key(0))
    state, first = run(state, 3)
    state, second = run(state, 5)
    assert_trees_equal(small_out.state, state)
    assert_trees_equal(small_out.metrics, jax.tree.map(lambda a, b: jnp.concatenate([a, b]), first, second))


def test_vmapped_seeds_and_hparams_match_single_runs(small_train):
    keys = jax.random.split(jax.random.key(7), 2)
    rates = jnp.array([3e-4, 3e-3])
    hparams = jax.vmap(lambda lr: SMALL.hparams().replace(learning_rate=lr))(rates)
    outs = jax.jit(jax.vmap(small_train))(keys, hparams)
    assert outs.metrics["episode_return"].shape == (2, SMALL.num_iterations)
    single = jax.jit(small_train)
    for i in range(2):
        out = single(keys[i], SMALL.hparams().replace(learning_rate=rates[i]))
        # Batched matmuls round differently from unbatched ones (~1e-7), so params agree to
        # float tolerance; the sampled trajectories, and hence episode statistics, agree exactly.
        np.testing.assert_array_equal(out.metrics["episode_return"], outs.metrics["episode_return"][i])
        np.testing.assert_array_equal(out.metrics["env_steps"], outs.metrics["env_steps"][i])
        jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b[i], rtol=1e-4, atol=1e-5),
                     out.state.agent_state.params, outs.state.agent_state.params)
    # Different learning rates really do give different runs.
    assert not np.allclose(outs.metrics["total_loss"][0], outs.metrics["total_loss"][1])


def test_default_hparams_equal_config_hparams(small_train, small_out):
    out = jax.jit(small_train)(jax.random.key(0), SMALL.hparams())
    assert_trees_equal(small_out.metrics, out.metrics)


def test_act_eval_is_greedy(small_train, small_out):
    spec = builder.make_env(SMALL).spec()
    agent = ppo.make_agent(SMALL, spec)
    network = ppo.make_network(spec, SMALL.hidden_sizes, SMALL.activation, None, None)
    observation = jnp.array([[0.0, 0.0, 0.1, 0.0], [0.0, 0.0, -0.1, 0.0]])
    params = small_out.state.agent_state
    logits = network.apply(params.params, observation, method=ppo.ActorCritic.policy).logits
    action, actor_state, _ = agent.act(params, None, observation, jax.random.key(0), SMALL.hparams(), True)
    assert actor_state is None
    np.testing.assert_array_equal(action, jnp.argmax(logits, axis=-1))


# --- continuous actions: greedy action, entropy bonus -------------------------------------------

PENDULUM = ppo.Config(env="Pendulum-v1", num_envs=4, rollout_length=32, total_timesteps=4 * 128,
                      num_epochs=2, num_minibatches=2)
_GAUSSIAN_ENTROPY_1D = 0.5 * (1.0 + np.log(2.0 * np.pi))  # of N(mu, 1): 1.4189...


@pytest.fixture(scope="module")
def pendulum_train():
    return ppo.make_train(PENDULUM)


@pytest.fixture(scope="module")
def pendulum_outs(pendulum_train):
    """Two short runs from the same key: without entropy bonus, and with ent_coef = 1."""
    hparams = jax.vmap(lambda c: PENDULUM.hparams().replace(ent_coef=c))(jnp.array([0.0, 1.0]))
    return jax.jit(jax.vmap(pendulum_train, in_axes=(None, 0)))(jax.random.key(0), hparams)


def _numpy_policy_mean(params, observation):
    """The actor's mean by hand: tanh MLP torso (64, 64), then the linear head."""
    p = jax.tree.map(lambda x: np.asarray(x, np.float64), params["params"])
    h = np.asarray(observation, np.float64)
    for layer in ("Dense_0", "Dense_1"):
        h = np.tanh(h @ p["actor_torso"][layer]["kernel"] + p["actor_torso"][layer]["bias"])
    return h @ p["policy_head"]["Dense_0"]["kernel"] + p["policy_head"]["Dense_0"]["bias"]


@pytest.mark.parametrize("continuous_policy", ["gaussian", "tanh_gaussian"])
def test_continuous_act_eval_is_the_clipped_or_squashed_mean(continuous_policy):
    config = dataclasses.replace(PENDULUM, continuous_policy=continuous_policy)
    spec = builder.make_env(config).spec()
    agent = ppo.make_agent(config, spec)
    state = agent.init(jax.random.key(0), spec, config.hparams())
    # A larger head than at init, so that some means fall outside the [-1, 1] action box.
    head = state.params["params"]["policy_head"]["Dense_0"]
    head = {"kernel": head["kernel"] * 300.0, "bias": head["bias"] + 0.2}
    params = {"params": {**state.params["params"], "policy_head": {**state.params["params"]["policy_head"],
                                                                   "Dense_0": head}}}
    state = state.replace(params=params)
    observation = jax.random.normal(jax.random.key(1), (32, 3)) * 2.0
    mean = _numpy_policy_mean(params, observation)
    assert np.any(np.abs(mean) > 1.0) and np.any(np.abs(mean) < 0.9), mean
    want = np.clip(mean, -1.0, 1.0) if continuous_policy == "gaussian" else np.tanh(mean)
    act = jax.jit(agent.act, static_argnums=5)
    greedy, _, extras = act(state, None, observation, jax.random.key(2), config.hparams(), True)
    assert greedy.shape == (32, 1) and extras == {}
    np.testing.assert_allclose(greedy, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(act(state, None, observation, jax.random.key(3), config.hparams(), True)[0], greedy)
    assert len(np.unique(np.asarray(greedy))) > 10


@pytest.mark.parametrize("continuous_policy", ["gaussian", "tanh_gaussian"])
def test_entropy_bonus_gradient_raises_log_std_by_ent_coef_per_dimension(continuous_policy):
    # A 3-d action box; with zero advantages the surrogate has no gradient, and the value loss
    # none w.r.t. the actor, so d loss / d log_std_i = -ent_coef * d mean(sum_j log_std_j) / d log_std_i
    # = -ent_coef (the pre-squash entropy for the tanh-Gaussian).
    from jaxrl.types import Box, EnvSpec

    config = dataclasses.replace(PENDULUM, continuous_policy=continuous_policy, init_log_std=-0.5)
    spec = EnvSpec("three-d", Box(-np.inf, np.inf, (4,)), Box(-1.0, 1.0, (3,)))
    agent = ppo.make_agent(config, spec)
    network = ppo.make_network(spec, config.hidden_sizes, config.activation, config.continuous_policy,
                               config.init_log_std)
    state = agent.init(jax.random.key(0), spec, config.hparams())
    observation = jax.random.normal(jax.random.key(1), (8, 4))
    action, _, extras = agent.act(state, None, observation, jax.random.key(2), config.hparams())
    batch = ppo.learning.Minibatch(observation=observation, action=action, log_prob=extras["log_prob"],
                                   value=jnp.zeros(8), advantage=jnp.zeros(8), target=jnp.ones(8))
    for ent_coef in (0.05, 0.0):
        hparams = config.hparams().replace(ent_coef=jnp.float32(ent_coef))
        grads, metrics = jax.grad(lambda p: ppo.ppo_loss(config, network, p, batch, hparams), has_aux=True)(
            state.params)
        np.testing.assert_allclose(grads["params"]["policy_head"]["log_std"], [-ent_coef] * 3, atol=1e-7)
        np.testing.assert_allclose(metrics["entropy"], 3 * (-0.5 + _GAUSSIAN_ENTROPY_1D), rtol=1e-6)


def test_continuous_training_moves_the_reported_entropy(pendulum_outs):
    entropy = np.asarray(pendulum_outs.metrics["entropy"])
    log_std = np.asarray(pendulum_outs.state.agent_state.params["params"]["policy_head"]["log_std"], np.float64)
    assert entropy.shape == (2, PENDULUM.num_iterations) and np.all(np.isfinite(entropy))
    for run in range(2):
        # log_std starts at 0: the first update's entropy is N(mu, 1)'s, plus its few steps' drift.
        np.testing.assert_allclose(entropy[run, 0], _GAUSSIAN_ENTROPY_1D, atol=2e-3)
        assert np.ptp(entropy[run]) > 1e-5, entropy[run]
        assert np.all(log_std[run] != 0.0)
        # The last update's mean entropy is within its 4 Adam steps of lr <= 2.5e-4 of the final
        # policy's closed form log_std + (1 + log 2 pi) / 2.
        np.testing.assert_allclose(entropy[run, -1], log_std[run].sum() + _GAUSSIAN_ENTROPY_1D, atol=2e-3)
    # A large entropy bonus outweighs the surrogate's pull on log_std: the entropy rises every update.
    assert np.all(np.diff(entropy[1]) > 0), entropy[1]
    assert log_std[1, 0] > 0.0 and entropy[1, -1] > entropy[0, -1]


# PPO's CartPole learning in `make test` is tests/test_policy.py's (one seed at the defaults, solved
# greedily, saved, and played in a fresh process), beside continuous PPO on Pendulum below; the four
# vmapped seeds at 500k steps (the longer evidence, ~60 s of worker time on a slow 2-core host) run
# in `make check`.
@pytest.mark.check
def test_ppo_solves_cartpole_over_four_vmapped_seeds():
    config = ppo.Config(env="CartPole-v1", num_envs=4, rollout_length=128, total_timesteps=500_000,
                        num_epochs=4, num_minibatches=4)
    outs = jax.jit(jax.vmap(ppo.make_train(config)))(jax.random.split(jax.random.key(42), 4))
    final = np.asarray(outs.metrics["episode_return"][:, -1])
    assert final.mean() >= 475, final


@pytest.fixture(scope="module", params=[True, False], ids=["normalized", "raw"])
def pendulum_learning(request):
    """Two seeds of continuous PPO on Pendulum-v1, with and without observation normalisation."""
    config = ppo.Config(env="Pendulum-v1", num_envs=8, rollout_length=256, total_timesteps=120_000,
                        num_epochs=10, num_minibatches=8, learning_rate=1e-3, gamma=0.9, ent_coef=0.0,
                        normalize_observations=request.param, clip_value_loss=False, eval_episodes=50)
    train = ppo.make_train(config)
    return train, jax.jit(jax.vmap(train))(jax.random.split(jax.random.key(0), 2))


@pytest.mark.slow
def test_continuous_ppo_improves_on_pendulum(pendulum_learning):
    _, outs = pendulum_learning
    returns = np.asarray(outs.metrics["episode_return"])
    start, end = returns[:, :3].mean(), returns[:, -5:].mean()
    # A random policy scores about -1200 per episode; a swinging-up policy better than -600.
    assert start < -1000, start
    assert end > -600, end


@pytest.mark.slow
def test_continuous_ppo_greedy_evaluation_swings_up_about_as_well_as_training(pendulum_learning):
    train, outs = pendulum_learning
    # With normalize_observations the evaluation envs normalise with the training statistics in
    # the state (with fresh statistics of their own this run scored about -1050 against -357).
    # The greedy action (the Gaussian's clipped mean) over 50 fresh episodes per seed swings the
    # pendulum up (> -600; a random policy scores about -1200) and does about as well as the
    # sampled actions of the last 5 training iterations: within 200. Not "at least as well", as
    # this test once asserted against the last iteration alone: over 8 sets of 2 keys per fixture
    # greedy was the better on 9 of 16 and short by at most 38, and under jax 0.11's arithmetic
    # short by 110 (-449 against -339); a GPU's drew a set where it was short too (lab notes,
    # 2026-12-04). A greedy action broken as PPO's once was (0 everywhere) fails both bars.
    evaluate = jax.jit(jax.vmap(train.evaluate))
    greedy = np.asarray(evaluate(outs.state, jax.random.split(jax.random.key(1), 2)))
    training = np.asarray(outs.metrics["episode_return"])[:, -5:].mean(axis=1)
    assert greedy.shape == (2,) and np.all(np.isfinite(greedy))
    assert greedy.mean() > -600, (greedy, training)
    assert greedy.mean() >= training.mean() - 200, (greedy, training)
