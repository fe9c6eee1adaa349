"""DDPG, TD3, SAC and D4PG: their losses against hand computations, the shared networks, actors and
learner mechanics, config checks, the train contract, and learning: a point steered home (tests/steer_home.py)
in `make test`, Pendulum-v1 in `make check`."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import steer_home
from helpers import assert_trees_equal
from jax.flatten_util import ravel_pytree

from jaxrl import losses, networks, tricks
from jaxrl.agents import builder, d4pg, ddpg, sac, td3
from jaxrl.loops import off_policy
from jaxrl.types import Transition

AGENTS = {"ddpg": ddpg, "td3": td3, "sac": sac, "d4pg": d4pg}

# ---- losses, by hand ------------------------------------------------------------------------


def test_smoothed_target_actions_clip_the_noise_then_the_action():
    next_action = jnp.array([[0.9, -0.2, 0.0, -0.8]])
    key = jax.random.key(3)
    raw = jax.random.normal(key, next_action.shape)
    # Noise of scale 100 exceeds the clip (0.5) whatever its draw: a' = clip(a +- 0.5, -1, 1).
    got = losses.smoothed_target_actions(key, next_action, 100.0, 0.5)
    expected = np.clip(np.asarray(next_action) + 0.5 * np.sign(np.asarray(raw)), -1.0, 1.0)
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    # Small noise passes unclipped: a + 0.01 * eps.
    got = losses.smoothed_target_actions(key, next_action, 0.01, 0.5)
    np.testing.assert_allclose(got, next_action + 0.01 * raw, rtol=1e-6)


def test_clipped_double_q_targets_by_hand():
    reward, discount = jnp.array([1.0, 2.0]), jnp.array([0.9, 0.0])
    next_q = jnp.array([[3.0, 5.0], [4.0, 1.0]])  # [critics, batch]: the minima are 3 and 1
    # TD3: 1 + 0.9 * 3 = 3.7; the second transition terminated: 2.
    np.testing.assert_allclose(losses.clipped_double_q_targets(reward, discount, next_q), [3.7, 2.0], rtol=1e-6)
    # SAC's soft target subtracts alpha * log pi(a'|s'): 1 + 0.9 * (3 - 0.2 * 0.5) = 3.61.
    got = losses.clipped_double_q_targets(reward, discount, next_q, jnp.array([0.5, -1.0]), 0.2)
    np.testing.assert_allclose(got, [3.61, 2.0], rtol=1e-6)


def test_squared_td_loss_sums_critics_and_averages_the_batch():
    q = jnp.array([[1.0, 2.0], [3.0, 0.0]])
    targets = jnp.array([0.0, 1.0])
    # Critic 1: (1 + 1) / 2 / 2 = 0.5; critic 2: (9 + 1) / 2 / 2 = 2.5.
    np.testing.assert_allclose(losses.squared_td_loss(q, targets), 3.0, rtol=1e-6)
    np.testing.assert_allclose(losses.squared_td_loss(q[0], targets), 0.5, rtol=1e-6)
    # The targets get no gradient.
    np.testing.assert_allclose(jax.grad(lambda y: losses.squared_td_loss(q, y))(targets), [0.0, 0.0])


def test_deterministic_policy_gradient_moves_actions_up_the_critic():
    best = jnp.array([[0.3, -0.5], [0.0, 0.0]])

    def q_fn(a):  # Q(s_i, a) = -|a - best_i|^2, dQ/da = -2 (a - best_i)
        return -jnp.sum(jnp.square(a - best), axis=-1)

    action = jnp.array([[0.0, 0.0], [0.5, -0.5]])
    dqda = -2.0 * (action - best)
    loss, q = losses.deterministic_policy_gradient(q_fn, action)
    np.testing.assert_allclose(q, q_fn(action), rtol=1e-6)
    # rlax's loss is |dqda|^2 / 2 summed over action dims, averaged over the batch ...
    np.testing.assert_allclose(loss, np.mean(np.sum(0.5 * np.square(dqda), -1)), rtol=1e-6)
    # ... and its gradient in the action is -dQ/da / B: descent climbs the critic.
    grad = jax.grad(lambda a: losses.deterministic_policy_gradient(q_fn, a)[0])(action)
    np.testing.assert_allclose(grad, -dqda / 2, rtol=1e-6)
    # Clipping bounds dQ/da's norm per item (here 2 * |(-0.3, 0.5)| and 2 * |(0.5, -0.5)| > 0.1).
    grad = jax.grad(lambda a: losses.deterministic_policy_gradient(q_fn, a, dqda_clipping=0.1)[0])(action)
    np.testing.assert_allclose(np.linalg.norm(grad, axis=-1), [0.05, 0.05], rtol=1e-5)


def test_sac_actor_loss_by_hand():
    q, log_prob = jnp.array([1.0, 3.0]), jnp.array([-1.0, 0.5])
    # mean(0.2 * -1 - 1, 0.2 * 0.5 - 3) = mean(-1.2, -2.9) = -2.05.
    np.testing.assert_allclose(losses.sac_actor_loss(q, log_prob, jnp.float32(0.2)), -2.05, rtol=1e-6)


def test_sac_temperature_loss_by_hand_and_its_direction():
    log_temperature = jnp.log(jnp.float32(0.5))
    log_prob = jnp.array([-1.0, 0.0])  # entropy estimate 0.5
    # alpha * mean(-log pi - target) = 0.5 * mean(1 + 1, 0 + 1) = 0.75.
    loss = losses.sac_temperature_loss(log_temperature, log_prob, -1.0)
    np.testing.assert_allclose(loss, 0.75, rtol=1e-6)
    # d/dlog(alpha) = alpha * 1.5 > 0: the entropy (0.5) exceeds the target (-1), alpha falls.
    grad = jax.grad(losses.sac_temperature_loss)(log_temperature, log_prob, -1.0)
    np.testing.assert_allclose(grad, 0.75, rtol=1e-6)
    # Below a target of 2 the gradient turns: alpha rises.
    assert jax.grad(losses.sac_temperature_loss)(log_temperature, log_prob, 2.0) < 0
    # The log-probabilities get no gradient from it.
    np.testing.assert_allclose(jax.grad(losses.sac_temperature_loss, 1)(log_temperature, log_prob, -1.0), [0, 0])


def test_categorical_td_losses_project_the_target_by_hand():
    atoms = jnp.array([0.0, 1.0, 2.0])
    uniform = jnp.zeros(3)
    half_0_half_2 = jnp.array([0.0, -1e9, 0.0])
    all_on_2 = jnp.array([-1e9, -1e9, 0.0])
    logits = jnp.stack([uniform, jnp.array([0.0, 0.0, math.log(2.0)]), uniform])
    next_logits = jnp.stack([half_0_half_2, all_on_2, all_on_2])
    reward = jnp.array([0.5, 5.0, 0.25])
    discount = jnp.array([0.5, 1.0, 0.0])
    got = losses.categorical_td_losses(atoms, logits, reward, discount, next_logits)
    # 1: 0.5 + 0.5 * {0, 2} = {0.5, 1.5}, mass 1/2 each, projects to (1/4, 1/2, 1/4); against
    #    uniform predictions the cross-entropy is log 3.
    # 2: 5 + 2 lies beyond v_max = 2: all mass on atom 2; predictions (1/4, 1/4, 1/2): -log(1/2).
    # 3: terminal, 0.25 projects to (3/4, 1/4, 0); against uniform: log 3.
    np.testing.assert_allclose(got, [math.log(3.0), math.log(2.0), math.log(3.0)], rtol=1e-5)
    # The projected targets themselves: the loss's gradient in the logits is softmax - target.
    grad = jax.grad(lambda lg: jnp.sum(losses.categorical_td_losses(atoms, lg, reward, discount, next_logits)))(logits)
    targets = jax.nn.softmax(logits) - grad
    np.testing.assert_allclose(targets, [[0.25, 0.5, 0.25], [0.0, 0.0, 1.0], [0.75, 0.25, 0.0]], atol=1e-6)


# ---- networks --------------------------------------------------------------------------------


def test_critic_ensemble_members_are_independent_and_can_run_alone():
    ensemble = networks.CriticEnsemble(2, (16, 16))
    observation, action = jnp.ones((5, 3)), jnp.linspace(-1, 1, 5)[:, None]
    variables = ensemble.init(jax.random.key(0), observation, action)
    q = ensemble.apply(variables, observation, action)
    assert q.shape == (2, 5)
    assert not np.allclose(q[0], q[1])  # separately initialised
    member = networks.ensemble_member(ensemble)
    for i in range(2):
        np.testing.assert_allclose(
            member.apply(networks.ensemble_member_params(variables, i), observation, action), q[i], rtol=1e-6)
    # A distributional critic: logits per atom.
    logits = networks.ContinuousQ((16,), num_atoms=7).init_with_output(jax.random.key(0), observation, action)[0]
    assert logits.shape == (5, 7)


def test_flat_network_applies_the_module_to_its_vector():
    actor = networks.DeterministicActor(2, (16, 16))
    observation = jax.random.normal(jax.random.key(1), (4, 3))
    flat = networks.flat_network(actor, jnp.zeros((1, 3)))
    params = flat.init(jax.random.key(0))
    assert params.ndim == 1
    np.testing.assert_allclose(flat.apply(params, observation), actor.apply(flat.unravel(params), observation))
    action = flat.apply(params, observation)
    assert action.shape == (4, 2) and np.all(np.abs(action) <= 1.0)


def test_flat_network_gradient_is_the_trees_on_both_paths_and_the_cpu_path_concatenates_nothing():
    # Twin critics with a 1-wide head: the bias gradients are reductions, which XLA:CPU fused into
    # the plain path's concatenation (networks.critics._gradient_written_in_place).
    module = networks.CriticEnsemble(2, (32, 32))
    observation = jax.random.normal(jax.random.key(1), (16, 3))
    action = jax.random.uniform(jax.random.key(2), (16, 1), minval=-1.0, maxval=1.0)
    flat = networks.flat_network(module, observation[:1], action[:1])
    params = jnp.stack([flat.init(jax.random.key(0)), flat.init(jax.random.key(3))])
    size = params.shape[1]

    def loss(p):
        return jnp.sum(flat.apply(p, observation, action) ** 2 * jnp.arange(1.0, 17.0))

    # The reference: the same loss differentiated with respect to the parameter tree, raveled.
    tree_loss = lambda tree: jnp.sum(module.apply(tree, observation, action) ** 2 * jnp.arange(1.0, 17.0))  # noqa: E731
    expected = [ravel_pytree(jax.grad(tree_loss)(flat.unravel(p)))[0] for p in params]
    grads = {}
    for on in (True, False):
        with tricks.cpu_tricks(on):
            grad = jax.jit(jax.vmap(jax.grad(loss)))  # traced inside the setting
            grads[on] = grad(params)
            compiled = grad.lower(params).compile().as_text()
        concatenations = [line for line in compiled.splitlines() if f"f32[2,{size}]{{1,0}} concatenate(" in line]
        assert bool(concatenations) == (not on), (on, concatenations)
        assert ("dynamic-update-slice" in compiled) == on
    # Pure data movement: the same bits on both paths, and the tree's gradient's values.
    np.testing.assert_array_equal(grads[True], grads[False])
    for member in range(2):
        np.testing.assert_allclose(grads[True][member], expected[member], rtol=1e-6, atol=1e-7)
    # A population of populations (seeds x hyperparameters): the in-place writes stay writes (no
    # scatter, which is what JAX's own batching of them gives) and the bits stay the same.
    scales = jnp.array([1.0, 0.5, 2.0])
    nested = {}
    for on in (True, False):
        with tricks.cpu_tricks(on):
            grad = jax.jit(jax.vmap(jax.vmap(jax.grad(lambda p, c: c * loss(p)), in_axes=(None, 0)), in_axes=(0, None)))
            nested[on] = grad(params, scales)
            assert "scatter" not in grad.lower(params, scales).as_text()
    assert nested[True].shape == (2, 3, size)
    np.testing.assert_array_equal(nested[True], nested[False])
    np.testing.assert_allclose(nested[True][:, 1], 0.5 * grads[True], rtol=1e-6, atol=1e-7)


def test_tanh_gaussian_log_probs_are_exact_and_stay_finite_when_saturated():
    actor = sac.TanhGaussianActor(1, (8,))
    observation = jnp.ones((3, 2))
    variables = actor.init(jax.random.key(0), observation)
    policy = actor.apply(variables, observation)
    action, log_prob = policy.sample_and_log_prob(seed=jax.random.key(1))
    assert np.all(np.abs(action) < 1.0)
    # Change of variables: log N(x; mu, sigma) - log(1 - tanh(x)^2), x = atanh(a).
    x = np.arctanh(np.asarray(action, np.float64))
    mean, std = np.asarray(policy.mean), np.exp(np.asarray(policy.log_std))
    expected = np.sum(-0.5 * ((x - mean) / std) ** 2 - np.log(std) - 0.5 * np.log(2 * np.pi)
                      - np.log(1 - np.tanh(x) ** 2), -1)
    np.testing.assert_allclose(log_prob, expected, rtol=1e-3)
    # A mean far out in the tail: tanh rounds to exactly 1 in float32, the log-prob stays finite.
    params = jax.tree.map(lambda p: p, variables)
    params["params"]["Dense_0"]["bias"] = params["params"]["Dense_0"]["bias"].at[0].set(40.0)
    action, log_prob = actor.apply(params, observation).sample_and_log_prob(seed=jax.random.key(1))
    assert np.all(np.abs(action) == 1.0) and np.all(np.isfinite(log_prob))


# ---- actors and learners ---------------------------------------------------------------------

TINY = dict(hidden_sizes=(16,), batch_size=8)


def _agent(module, **kwargs):
    config = module.Config(**{**TINY, **kwargs})
    spec = builder.make_env(config).spec()
    return config, module.make_agent(config, spec), spec


def _batch(size=8, seed=0):
    k = jax.random.split(jax.random.key(seed), 4)
    transitions = Transition(
        observation=jax.random.normal(k[0], (size, 3)),
        action=jax.random.uniform(k[1], (size, 1), minval=-1.0, maxval=1.0),
        reward=jax.random.normal(k[2], (size,)),
        discount=jnp.where(jnp.arange(size) % 4 == 0, 0.0, 1.0),
        last=jnp.arange(size) % 4 == 0,
        next_observation=jax.random.normal(k[3], (size, 3)),
        extras={},
    )
    return off_policy.ReplayBatch(transitions, jnp.ones((size,)))


@pytest.mark.parametrize("name", list(AGENTS))
def test_act_explores_within_the_unit_box_and_is_deterministic_in_eval(name):
    config, agent, spec = _agent(AGENTS[name])
    state = agent.init(jax.random.key(0), spec, config.hparams())
    observation = jax.random.normal(jax.random.key(1), (64, 3))
    act = jax.jit(agent.act, static_argnums=5)
    hparams = config.hparams()
    greedy_1, _, _ = act(state, None, observation, jax.random.key(2), hparams, True)
    greedy_2, _, _ = act(state, None, observation, jax.random.key(3), hparams, True)
    explore, _, _ = act(state, None, observation, jax.random.key(2), hparams, False)
    assert greedy_1.shape == explore.shape == (64, 1)
    np.testing.assert_array_equal(greedy_1, greedy_2)
    assert not np.allclose(explore, greedy_1)
    assert np.all(np.abs(explore) <= 1.0) and np.all(np.abs(greedy_1) <= 1.0)


def test_ou_noise_step_by_hand_and_its_stationary_statistics():
    noise, key = jnp.array([[0.4], [-0.2]]), jax.random.key(3)
    eps = jax.random.normal(key, (2, 1))
    # n' = (1 - theta) n + scale * sqrt(1 - (1 - theta)^2) eps, theta 0.15, scale 0.5
    expected = 0.85 * noise + 0.5 * math.sqrt(1.0 - 0.85 ** 2) * eps
    np.testing.assert_allclose(ddpg.learning.ou_noise_step(noise, key, 0.5, 0.15), expected, rtol=1e-6)
    # Run long: the stationary std is the scale, the lag-k correlation (1 - theta)^k.
    def step(n, key):
        n = ddpg.learning.ou_noise_step(n, key, 0.5, 0.15)
        return n, n
    _, path = jax.lax.scan(step, jnp.zeros((256, 1)), jax.random.split(jax.random.key(0), 400))
    path = np.asarray(path[100:, :, 0])  # [steps, envs], after the ~1/theta-step ramp from zero
    assert abs(path.std() - 0.5) < 0.02
    lag = lambda k: np.corrcoef(path[:-k].ravel(), path[k:].ravel())[0, 1]  # noqa: E731
    assert abs(lag(1) - 0.85) < 0.02 and abs(lag(5) - 0.85 ** 5) < 0.03


@pytest.mark.parametrize("name", ["ddpg", "td3", "d4pg"])
def test_ou_exploration_carries_its_noise_per_env_and_zeroes_it_where_an_episode_ends(name):
    config, agent, spec = _agent(AGENTS[name], exploration="ou", exploration_noise=0.3)
    state = agent.init(jax.random.key(0), spec, config.hparams())
    hparams = config.hparams()
    observation = jax.random.normal(jax.random.key(1), (4, 3))
    act = jax.jit(agent.act, static_argnums=5)
    noise = agent.init_actor(state, 4)
    np.testing.assert_array_equal(noise, np.zeros((4, 1)))
    greedy, _, _ = act(state, noise, observation, jax.random.key(2), hparams, True)
    action, noise_1, _ = act(state, noise, observation, jax.random.key(2), hparams, False)
    # The first step from zero noise: the noise is the OU step's, the action mu(s) + noise clipped.
    np.testing.assert_allclose(noise_1, ddpg.learning.ou_noise_step(noise, jax.random.key(2), 0.3, config.ou_theta))
    np.testing.assert_allclose(action, np.clip(greedy + noise_1, -1.0, 1.0), rtol=1e-6)
    _, noise_2, _ = act(state, noise_1, observation, jax.random.key(3), hparams, False)
    np.testing.assert_allclose(noise_2, ddpg.learning.ou_noise_step(noise_1, jax.random.key(3), 0.3,
                                                                    config.ou_theta), rtol=1e-6)
    # The greedy action neither reads nor moves the noise.
    greedy_2, kept, _ = act(state, noise_2, observation, jax.random.key(4), hparams, True)
    np.testing.assert_array_equal(greedy_2, greedy)
    np.testing.assert_array_equal(kept, noise_2)
    reset, noise_2 = np.asarray(agent.reset_actor(noise_2, jnp.array([False, True, False, True]))), np.asarray(noise_2)
    np.testing.assert_array_equal(reset[[1, 3]], 0.0)
    np.testing.assert_array_equal(reset[[0, 2]], noise_2[[0, 2]])
    assert np.all(noise_2 != 0.0)
    # Gaussian exploration keeps no actor state.
    _, gaussian, _ = _agent(AGENTS[name])
    assert gaussian.init_actor(state, 4) is None


def test_td3_delays_actor_and_target_updates():
    config, agent, spec = _agent(td3, policy_delay=2)
    state = agent.init(jax.random.key(0), spec, config.hparams())
    update = jax.jit(agent.update)
    every_step = jax.jit(_agent(td3, policy_delay=1)[1].update)
    for step in range(4):
        new, metrics = update(state, _batch(seed=step), jax.random.key(step), config.hparams())
        moved = {f: not np.allclose(getattr(new, f), getattr(state, f))
                 for f in ("critic_params", "actor_params", "target_actor_params", "target_critic_params")}
        actor_step = step % 2 == 0  # the 1st, 3rd... updates move the actor and the targets
        assert moved == {"critic_params": True, "actor_params": actor_step, "target_actor_params": actor_step,
                         "target_critic_params": actor_step}, (step, moved)
        assert set(metrics) == {"critic_loss", "actor_loss", "q_mean"}
        if not actor_step:
            # The critic-only branch: the critic's step and every metric as the full step has them;
            # the actor, its Adam state and the targets bit for bit as they were.
            full, full_metrics = every_step(state, _batch(seed=step), jax.random.key(step), config.hparams())
            np.testing.assert_allclose(new.critic_params, full.critic_params, rtol=1e-6, atol=1e-7)
            for metric in metrics:
                np.testing.assert_allclose(metrics[metric], full_metrics[metric], rtol=1e-6, err_msg=metric)
            assert_trees_equal((new.actor_params, new.actor_opt_state, new.target_actor_params,
                                new.target_critic_params),
                               (state.actor_params, state.actor_opt_state, state.target_actor_params,
                                state.target_critic_params))
        state = new
    assert int(state.num_updates) == 4


@pytest.mark.parametrize("name", ["ddpg", "td3", "sac"])
def test_n_step_agents_bootstrap_with_the_replayed_discount_as_is(name):
    # An n-step transition (the loop's window) already carries gamma^n * prod(discounts); a 1-step
    # one carries the env's discount, which the agent multiplies by gamma. So the update on n-step
    # transitions with discount d equals the 1-step update with discount d / gamma.
    one_config, one_step, spec = _agent(AGENTS[name])
    n_config, n_step, _ = _agent(AGENTS[name], n_step=3)
    gamma = float(one_config.gamma)
    batch = _batch()
    d = jnp.where(batch.transitions.discount > 0, gamma ** 3, 0.0)
    state = one_step.init(jax.random.key(0), spec, one_config.hparams())
    _, n_metrics = jax.jit(n_step.update)(state, batch._replace(transitions=batch.transitions._replace(discount=d)),
                                          jax.random.key(1), n_config.hparams())
    _, one_metrics = jax.jit(one_step.update)(
        state, batch._replace(transitions=batch.transitions._replace(discount=d / gamma)), jax.random.key(1),
        one_config.hparams())
    for metric in one_metrics:
        np.testing.assert_allclose(n_metrics[metric], one_metrics[metric], rtol=1e-5, err_msg=metric)
    # ...and not the 1-step update on discount d (gamma applied twice would be a different target).
    _, wrong = jax.jit(one_step.update)(state, batch._replace(transitions=batch.transitions._replace(discount=d)),
                                        jax.random.key(1), one_config.hparams())
    assert not np.isclose(wrong["critic_loss"], n_metrics["critic_loss"], rtol=1e-5)


def test_polyak_targets_move_by_tau():
    config, agent, spec = _agent(ddpg, tau=0.25)
    state = agent.init(jax.random.key(0), spec, config.hparams())
    new, _ = jax.jit(agent.update)(state, _batch(), jax.random.key(1), config.hparams())
    np.testing.assert_allclose(new.target_critic_params,
                               state.target_critic_params + 0.25 * (new.critic_params - state.target_critic_params),
                               rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(new.target_actor_params,
                               state.target_actor_params + 0.25 * (new.actor_params - state.target_actor_params),
                               rtol=1e-5, atol=1e-7)


def test_sac_temperature_follows_the_target_entropy():
    config, agent, spec = _agent(sac)
    # A target far above any achievable entropy raises alpha; one far below lowers it.
    hparams = jax.tree.map(lambda x: jnp.stack([x, x]), config.hparams())
    hparams = hparams.replace(target_entropy_per_dim=jnp.array([10.0, -10.0]))
    state = jax.vmap(agent.init, in_axes=(None, None, 0))(jax.random.key(0), spec, hparams)
    new, metrics = jax.jit(jax.vmap(agent.update, in_axes=(0, None, None, 0)))(state, _batch(), jax.random.key(1),
                                                                             hparams)
    assert new.log_temperature[0] > state.log_temperature[0]
    assert new.log_temperature[1] < state.log_temperature[1]
    np.testing.assert_allclose(metrics["temperature"], 1.0)  # init_temperature, before the step
    assert set(metrics) == {"critic_loss", "actor_loss", "temperature_loss", "temperature", "entropy", "q_mean"}


# ---- configs ---------------------------------------------------------------------------------

BAD_CONFIGS = [
    ("sac", dict(num_envs=0), "num_envs"),
    ("td3", dict(batch_size=1.5), "batch_size"),
    ("ddpg", dict(learning_starts=-1), "learning_starts"),
    ("d4pg", dict(num_envs=4, learning_starts=1002), "learning_starts"),
    ("sac", dict(learning_starts=20_000), "learning_starts"),
    ("td3", dict(num_envs=4, train_every=6), "train_every"),
    ("ddpg", dict(train_every=300, steps_per_iteration=1000), "steps_per_iteration"),
    ("d4pg", dict(total_timesteps=1500), "total_timesteps"),
    ("sac", dict(batch_size=512, buffer_size=256), "batch_size"),
    ("td3", dict(hidden_sizes=()), "hidden_sizes"),
    ("ddpg", dict(activation="swish!"), "activation"),
    ("d4pg", dict(episode_length=0), "episode_length"),
    ("sac", dict(eval_episodes=0), "eval_episodes"),
    ("td3", dict(actor_learning_rate=0.0), "actor_learning_rate"),
    ("ddpg", dict(critic_learning_rate=float("nan")), "critic_learning_rate"),
    ("d4pg", dict(gamma=1.5), "gamma"),
    ("sac", dict(tau=0.0), "tau"),
    ("sac", dict(temperature_learning_rate=-1e-3), "temperature_learning_rate"),
    ("sac", dict(init_temperature=0.0), "init_temperature"),
    ("sac", dict(target_entropy_per_dim=float("inf")), "target_entropy_per_dim"),
    ("td3", dict(policy_delay=0), "policy_delay"),
    ("td3", dict(target_noise=-0.1), "target_noise"),
    ("td3", dict(target_noise_clip=float("inf")), "target_noise_clip"),
    ("ddpg", dict(exploration_noise=-1.0), "exploration_noise"),
    ("td3", dict(exploration="ornstein"), "exploration"),
    ("d4pg", dict(ou_theta=0.0), "ou_theta"),
    ("d4pg", dict(n_step=0), "n_step"),
    ("d4pg", dict(num_atoms=1), "num_atoms"),
    ("d4pg", dict(v_min=0.0, v_max=-10.0), "v_max"),
    ("d4pg", dict(dqda_clipping=0.0), "dqda_clipping"),
    ("sac", dict(n_step=0), "n_step"),
]


@pytest.mark.parametrize("name,kwargs,field", BAD_CONFIGS)
def test_bad_config_raises_naming_the_field(name, kwargs, field):
    with pytest.raises(ValueError, match=rf"^{name}\.Config\.{field} "):
        AGENTS[name].Config(**kwargs)


@pytest.mark.parametrize("name", list(AGENTS))
def test_discrete_env_is_refused_before_tracing(name):
    module = AGENTS[name]
    with pytest.raises(ValueError, match=r"needs continuous actions, but CartPole-v1 has discrete actions"):
        module.make_train(module.Config(env="CartPole-v1"))
    with pytest.raises(TypeError, match=f"{name}.make_train takes a {name}.Config"):
        module.make_train(object())


def test_env_step_counts_become_the_loop_schedule():
    config = sac.Config(num_envs=4, train_every=2, updates_per_step=1, steps_per_iteration=400, learning_starts=800,
                        total_timesteps=2000)
    # Every step of the 4 envs (4 env steps) is followed by 4 / 2 * 1 = 2 updates.
    assert config.loop_schedule() == dict(
        num_iterations=5, periods_per_iteration=100, period_steps=1, updates_per_period=2, warmup_steps=200)
    config = td3.Config(num_envs=2, train_every=8, updates_per_step=3, steps_per_iteration=400, learning_starts=0,
                        total_timesteps=800)
    # 4 steps of the 2 envs, then 3 updates.
    assert config.loop_schedule() == dict(
        num_iterations=2, periods_per_iteration=50, period_steps=4, updates_per_period=3, warmup_steps=0)


# ---- the train contract ----------------------------------------------------------------------

SMALL = dict(hidden_sizes=(16,), num_envs=2, total_timesteps=400, steps_per_iteration=200, learning_starts=100,
             buffer_size=500, batch_size=16, train_every=2, updates_per_step=2, eval_episodes=2)


@pytest.mark.parametrize("name", list(AGENTS))
def test_one_run_jits_and_its_train_program_evaluates(name):
    module = AGENTS[name]
    extra = dict(n_step=3) if name == "d4pg" else {}
    config = module.Config(**SMALL, **extra)
    train = module.make_train(config)
    out = jax.jit(train)(jax.random.key(0))
    metrics = {k: np.asarray(v) for k, v in out.metrics.items()}
    assert train.steps_per_iteration == 200
    start = 2 * 2 if name == "d4pg" else 0  # an n-step window starts filled with n - 1 steps per env
    np.testing.assert_array_equal(metrics["env_steps"], [start + 200, start + 400])
    # Updates follow the periods that end after the 100 env steps of warm-up, 2 per period of
    # 2 env steps: 100 in the first iteration (104 when it starts 4 steps in), 200 in the second.
    np.testing.assert_array_equal(metrics["updates"], [104 if name == "d4pg" else 100, 200])
    assert {"episode_return", "episode_length", "critic_loss", "actor_loss", "q_mean"} <= set(metrics)
    assert all(np.all(np.isfinite(v)) for v in metrics.values())
    assert np.all(metrics["critic_loss"] > 0)
    ret = jax.jit(train.evaluate)(out.state, jax.random.key(1))
    assert -16.3 * 200 <= float(ret) <= 0.0


def test_ou_exploration_trains_with_its_noise_in_the_train_state():
    # Episodes of 150 steps: the 400th step is 100 steps into the third, so the noise is live.
    config = td3.Config(**SMALL, exploration="ou", exploration_noise=0.5, episode_length=150)
    train = td3.make_train(config)
    out = jax.jit(train)(jax.random.key(0))
    noise = np.asarray(out.state.actor_state)
    assert noise.shape == (2, 1) and np.all(np.isfinite(noise)) and np.all(noise != 0.0)
    assert all(np.all(np.isfinite(np.asarray(v))) for v in out.metrics.values())


# ---- learning on Pendulum-v1 ----------------------------------------------------------------
# Small networks and batches keep the file fast; 4 seeds and one set of hparams per agent run as
# one program, `jax.vmap` over both keys and (identical) stacked hparams.

# ---- learning ---------------------------------------------------------------------------------
# Each agent's learning test in `make test` is the short task of tests/steer_home.py (its docstring
# says why); D4PG's critic support is set to that task's returns (its default, [-1000, 0] in 51 atoms,
# is Pendulum's: one seed of twelve drove the point away with it). The Pendulum-v1 tests further down
# (the longer learning evidence, ~500 s of the suite's worker time on a slow 2-core host) run in
# `make check`.
STEER_HOME = {"sac": {}, "td3": {}, "ddpg": {}, "d4pg": dict(v_min=-100.0)}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(STEER_HOME))
def test_steers_a_point_home_and_its_greedy_policy_does(name):
    config = AGENTS[name].Config(**steer_home.ONLINE, **STEER_HOME[name])
    train = AGENTS[name].make_train(config)
    out = jax.jit(jax.vmap(train))(steer_home.KEYS)
    assert np.all(np.asarray(out.metrics["env_steps"])[:, -1] >= config.total_timesteps)
    steer_home.assert_learned(out, train.evaluate)


NUM_SEEDS = 4
FAST = dict(hidden_sizes=(64, 64), batch_size=128, learning_starts=1000, steps_per_iteration=1000)
LEARNING = {
    "sac": sac.Config(**FAST, total_timesteps=20_000),
    "td3": td3.Config(**FAST, total_timesteps=20_000, actor_learning_rate=1e-3, critic_learning_rate=1e-3),
    "ddpg": ddpg.Config(**FAST, total_timesteps=10_000),
    # 12k, not 10k: over 8 sets of 4 keys D4PG's set means at 10k ran -146 to -592 (seeds that had
    # not swung up yet, at -1,300), at 12k -143 to -409 (experiments/benchmarks/README.md).
    "d4pg": d4pg.Config(**FAST, total_timesteps=12_000),
}


def _learn(name):
    config = LEARNING[name]
    train = AGENTS[name].make_train(config)
    keys = jax.random.split(jax.random.key(0), NUM_SEEDS)
    hparams = jax.tree.map(lambda x: jnp.broadcast_to(x, (NUM_SEEDS,)), config.hparams())
    out = jax.jit(jax.vmap(train))(keys, hparams)
    returns = np.asarray(out.metrics["episode_return"])
    assert returns.shape == (NUM_SEEDS, config.num_iterations)
    assert np.all(np.asarray(out.metrics["env_steps"])[:, -1] >= config.total_timesteps)
    return returns


@pytest.mark.check
@pytest.mark.parametrize("name", ["sac", "td3"])
def test_solves_pendulum_within_20k_steps(name):
    returns = _learn(name)
    # Random play scores about -1200; a swung-up, balanced pendulum about -150.
    assert returns[:, 0].mean() < -1000, returns[:, 0]
    assert returns[:, -1].mean() >= -250, returns[:, -1]


@pytest.mark.check
@pytest.mark.parametrize("name", ["ddpg", "d4pg"])
def test_improves_clearly_on_pendulum_within_12k_steps(name):
    returns = _learn(name)
    assert returns[:, 0].mean() < -1000, returns[:, 0]
    assert returns[:, -1].mean() > -600, returns[:, -1]
