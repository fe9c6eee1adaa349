"""MPO: the E-step's temperature dual and the M-step's decoupled KL losses by hand, the learned
Lagrange multipliers, errors, and learning: a point steered home (tests/steer_home.py) in `make test`,
Pendulum-v1 in `make check`."""

import math

import distrax
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import steer_home

from jaxrl import losses
from jaxrl.agents import builder, evaluate_policy, load_policy, mpo, save_policy


def _log_normal(x, mean, std):
    return -0.5 * ((x - mean) / std) ** 2 - math.log(std) - 0.5 * math.log(2 * math.pi)


def test_temperature_dual_and_weights_by_hand():
    q = jnp.array([[1.0, 2.0], [2.0, 0.0], [3.0, 1.0]])  # [N=3 samples, B=2 states]
    eta, epsilon = 2.0, 0.1
    loss, weights = losses.mpo.temperature_loss_and_weights(q, jnp.float32(eta), epsilon)
    columns = [[1.0, 2.0, 3.0], [2.0, 0.0, 1.0]]
    log_mean_exp = [math.log(sum(math.exp(x / eta) for x in c) / 3) for c in columns]
    np.testing.assert_allclose(loss, eta * epsilon + eta * sum(log_mean_exp) / 2, rtol=1e-6)
    for b, c in enumerate(columns):
        z = sum(math.exp(x / eta) for x in c)
        np.testing.assert_allclose(weights[:, b], [math.exp(x / eta) / z for x in c], rtol=1e-6)
    # g'(eta) = epsilon + mean_s [log mean_j exp(Q/eta) - sum_j w_j Q_j / eta]: the dual's gradient.
    grad = jax.grad(lambda t: losses.mpo.temperature_loss_and_weights(q, t, epsilon)[0])(jnp.float32(eta))
    expected = epsilon + sum(lme - sum(w * x for w, x in zip(np.asarray(weights[:, b]), c)) / eta
                             for b, (lme, c) in enumerate(zip(log_mean_exp, columns))) / 2
    np.testing.assert_allclose(grad, expected, rtol=1e-5)
    # The weights carry no gradient to the temperature: the M-step fits them as constants.
    assert float(jax.grad(lambda t: jnp.sum(losses.mpo.temperature_loss_and_weights(q, t, epsilon)[1] * q))(
        jnp.float32(eta))) == 0.0


def test_decoupled_m_step_and_dual_losses_by_hand():
    actions = jnp.array([[[0.5]], [[-1.0]]])  # [N=2, B=1, A=1]
    weights = jnp.array([[0.75], [0.25]])
    mean, std, target_mean, target_std = (jnp.array([[v]]) for v in (0.2, 0.5, 0.0, 1.0))

    def m_step(mean, std, alpha_mean, alpha_std):
        return losses.mpo.decoupled_m_step(actions, weights, mean, std, target_mean, target_std, alpha_mean, alpha_std,
                                           0.01, 0.5)

    out = m_step(mean, std, jnp.array([3.0]), jnp.array([5.0]))
    # The mean is fitted with the target's std, the std with the target's mean.
    np.testing.assert_allclose(out.mean_loss, -(0.75 * _log_normal(0.5, 0.2, 1.0) + 0.25 * _log_normal(-1.0, 0.2, 1.0)),
                               rtol=1e-6)
    np.testing.assert_allclose(out.std_loss, -(0.75 * _log_normal(0.5, 0.0, 0.5) + 0.25 * _log_normal(-1.0, 0.0, 0.5)),
                               rtol=1e-6)
    # KL(N(0, 1) || N(0.2, 1)) = 0.2^2 / 2; KL(N(0, 1) || N(0, 0.5)) = log 0.5 + 1 / (2 * 0.25) - 1/2.
    kl_mean, kl_std = 0.02, math.log(0.5) + 2.0 - 0.5
    np.testing.assert_allclose(out.kl_mean, [kl_mean], rtol=1e-5)
    np.testing.assert_allclose(out.kl_std, [kl_std], rtol=1e-6)
    np.testing.assert_allclose(out.penalty, 3.0 * kl_mean + 5.0 * kl_std, rtol=1e-5)
    np.testing.assert_allclose(out.dual_loss, 3.0 * (0.01 - kl_mean) + 5.0 * (0.5 - kl_std), rtol=1e-5)
    # The multipliers learn from the dual loss only: d/d alpha = epsilon - KL, so a KL above its bound
    # (the mean's here) makes descent raise its alpha, one below it lowers alpha.
    grads = jax.grad(lambda a: m_step(mean, std, a[0], a[1]).dual_loss)((jnp.array([3.0]), jnp.array([5.0])))
    np.testing.assert_allclose(grads[0], [0.01 - kl_mean], rtol=1e-5)
    np.testing.assert_allclose(grads[1], [0.5 - kl_std], rtol=1e-5)
    assert float(jax.grad(lambda a: m_step(mean, std, a, jnp.array([5.0])).penalty)(jnp.array([3.0]))[0]) == 0.0
    # ...and the policy from the penalty and the fit only (the dual loss holds the KLs fixed).
    assert float(jax.grad(lambda m: m_step(m, std, jnp.array([3.0]), jnp.array([5.0])).dual_loss)(mean)[0, 0]) == 0.0
    # The closed-form KL agrees with distrax's.
    keys = jax.random.split(jax.random.key(0), 4)
    mp, mq = jax.random.normal(keys[0], (5, 3)), jax.random.normal(keys[1], (5, 3))
    sp, sq = jnp.exp(jax.random.normal(keys[2], (5, 3))), jnp.exp(jax.random.normal(keys[3], (5, 3)))
    np.testing.assert_allclose(losses.mpo.gaussian_kl(mp, sp, mq, sq),
                               distrax.Normal(mp, sp).kl_divergence(distrax.Normal(mq, sq)), rtol=1e-5, atol=1e-6)


def test_dual_variables_are_learned_parameters_of_the_agent_state():
    config = mpo.Config(total_timesteps=400, learning_starts=200, steps_per_iteration=200, batch_size=32,
                        hidden_sizes=(16,))
    train = mpo.make_train(config)
    state = jax.jit(train.init)(jax.random.key(0))
    duals = state.agent_state.duals
    np.testing.assert_array_equal(duals.log_alpha_mean, [10.0])  # Pendulum's one action dimension
    state, metrics = jax.jit(lambda s: train.run(s, 2))(state)
    moved = state.agent_state.duals
    # Adam's first steps move each parameter by about the dual learning rate (1e-2 per update).
    assert float(jnp.abs(moved.log_temperature - duals.log_temperature)) > 0.5
    assert float(jnp.abs(moved.log_alpha_mean - duals.log_alpha_mean)[0]) > 0.5
    np.testing.assert_allclose(metrics["temperature"][-1], jax.nn.softplus(moved.log_temperature), rtol=0.2)
    assert np.all(np.isfinite(np.asarray(metrics["critic_loss"])))


def test_config_errors_name_the_field():
    with pytest.raises(ValueError, match=r"^mpo.Config.action_samples must be an int >= 1, got 0"):
        mpo.Config(action_samples=0)
    with pytest.raises(ValueError, match=r"^mpo.Config.epsilon_mean must be > 0, got -0.1"):
        mpo.Config(epsilon_mean=-0.1)
    with pytest.raises(ValueError, match=r"^mpo.Config.env: MPO needs continuous actions, but CartPole-v1"):
        mpo.make_train(mpo.Config(env="CartPole-v1"))


# ---- learning -----------------------------------------------------------------------------------

# MPO's learning test in `make test` is the short task of tests/steer_home.py (its docstring says
# why), with 8 action samples per state; learning Pendulum-v1 (the longer evidence, ~130 s of worker
# time on a slow 2-core host) runs in `make check`.
STEER_HOME = mpo.Config(**steer_home.ONLINE, action_samples=8)


@pytest.mark.slow
def test_mpo_steers_a_point_home_and_its_saved_policy_plays_the_mean(tmp_path):
    out, loaded = steer_home.learn_and_play(mpo, STEER_HOME, tmp_path)  # member 0's policy, saved and reloaded
    policy = mpo.make_policy(STEER_HOME, out.state, member=0)
    observation = jax.random.uniform(jax.random.key(1), (16, 1), minval=-1.0, maxval=1.0)
    spec = builder.make_env(STEER_HOME).spec()
    actor, _ = builder.flat_actor_critic(spec, *mpo.make_networks(spec, STEER_HOME.hidden_sizes, STEER_HOME.activation,
                                                                  STEER_HOME.init_std))
    mean, _ = actor.apply(out.state.agent_state.actor_params[0], observation)
    np.testing.assert_array_equal(loaded(observation), policy(observation))
    np.testing.assert_allclose(policy(observation), np.clip(mean, -1, 1), rtol=1e-6)


# The continuous agents' Pendulum setting (tests/test_continuous_agents.py) with batches of 64 and 8
# action samples per state (Acme's 20 cost twice the time; observed finals -126, -122, -100, -118).
LEARNING = mpo.Config(hidden_sizes=(64, 64), batch_size=64, action_samples=8, learning_starts=1000,
                      steps_per_iteration=1000, total_timesteps=20_000)


@pytest.mark.check
def test_mpo_solves_pendulum_and_its_saved_policy_plays_it(tmp_path):
    train = mpo.make_train(LEARNING)
    keys = jax.random.split(jax.random.key(0), 4)
    out = jax.jit(jax.vmap(train))(keys)
    returns = np.asarray(out.metrics["episode_return"])
    # Random play scores about -1200; a swung-up, balanced pendulum about -150.
    assert returns[:, 0].mean() < -1000, returns[:, 0]
    assert returns[:, -1].mean() >= -250, returns[:, -1]
    loaded = load_policy(save_policy(str(tmp_path / "mpo"), mpo.make_policy(LEARNING, out.state, member=0)))
    assert float(evaluate_policy(loaded, 10)) >= -300
