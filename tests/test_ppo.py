"""PPO: config checks, the train API contract, chunking and vmap guarantees, learning."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import assert_trees_equal

from jaxrl.agents import builder, ppo

SMALL = ppo.Config(env="CartPole-v1", num_envs=4, rollout_length=32, total_timesteps=8 * 128,
                   num_epochs=2, num_minibatches=2)


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


@pytest.mark.slow
def test_ppo_solves_cartpole_over_four_vmapped_seeds():
    config = ppo.Config(env="CartPole-v1", num_envs=4, rollout_length=128, total_timesteps=500_000,
                        num_epochs=4, num_minibatches=4)
    outs = jax.jit(jax.vmap(ppo.make_train(config)))(jax.random.split(jax.random.key(42), 4))
    final = np.asarray(outs.metrics["episode_return"][:, -1])
    assert final.mean() >= 475, final


@pytest.mark.slow
def test_continuous_ppo_improves_on_pendulum():
    config = ppo.Config(env="Pendulum-v1", num_envs=8, rollout_length=256, total_timesteps=120_000,
                        num_epochs=10, num_minibatches=8, learning_rate=1e-3, gamma=0.9, ent_coef=0.0,
                        normalize_observations=True, clip_value_loss=False)
    outs = jax.jit(jax.vmap(ppo.make_train(config)))(jax.random.split(jax.random.key(0), 2))
    returns = np.asarray(outs.metrics["episode_return"])
    start, end = returns[:, :3].mean(), returns[:, -5:].mean()
    # A random policy scores about -1200 per episode; a swinging-up policy better than -600.
    assert start < -1000, start
    assert end > -600, end
