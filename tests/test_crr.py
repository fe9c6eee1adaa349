"""CRR: its advantage filters and losses by hand, and learning: from mostly random rows of a point
steered home (tests/steer_home.py) in `make test`, from Pendulum-v1's medium-replay set far past BC
on the same data in `make check`, its saved policy playing as well."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import steer_home
import offline_data
from offline_data import dataset, normalised

from jaxrl import agents, losses
from jaxrl.agents import crr
from jaxrl.agents.sac.networks import make_networks
from jaxrl.loops.off_policy import ReplayBatch


def test_the_filters_by_hand():
    a = jnp.array([-2.0, 0.0, 0.5, 10.0])
    np.testing.assert_allclose(losses.crr_weights(a, 0.5), [np.exp(-4.0), 1.0, np.e, 20.0], rtol=1e-6)
    np.testing.assert_allclose(losses.crr_weights(a, 0.5, max_weight=5.0)[-1], 5.0)
    np.testing.assert_array_equal(losses.crr_weights(a, 0.5, "binary"), [0.0, 0.0, 1.0, 1.0])
    assert np.all(jax.grad(lambda a: jnp.sum(losses.crr_weights(a, 1.0)))(a) == 0)
    with pytest.raises(ValueError, match="filter must be 'exp' or 'binary', got 'soft'"):
        losses.crr_weights(a, 1.0, "soft")
    with pytest.raises(ValueError, match=r"crr\.Config\.advantage_estimate must be 'mean' or 'max'"):
        crr.Config(advantage_estimate="median")


@pytest.mark.parametrize("estimate", ["mean", "max"])
def test_the_two_losses_by_hand(estimate):
    config = crr.Config(hidden_sizes=(8,), advantage_estimate=estimate, beta=0.5)
    spec = agents.builder.make_eval_env(config).spec()
    agent = crr.make_agent(config, spec)
    hparams = config.hparams()
    state = agent.init(jax.random.key(0), spec, hparams)
    state = state.replace(target_critic_params=state.critic_params * 0.9)
    rows = dataset("Pendulum-v1", "medium-replay")[0]
    batch = ReplayBatch(jax.tree.map(lambda x: x[190:206], rows), jnp.ones(16))  # an episode end inside
    t = batch.transitions
    actor, critic = agents.builder.flat_actor_critic(spec, *make_networks(spec, (8,), "relu"))
    key = jax.random.key(3)
    fns = crr.crr_losses(config, actor, critic, state, batch, key, hparams)
    next_key, value_key = jax.random.split(key)
    next_action = actor.apply(state.actor_params, t.next_observation).sample(seed=next_key)
    next_q = np.min(np.asarray(critic.apply(state.target_critic_params, t.next_observation, next_action)), 0)
    targets = t.reward + 0.99 * t.discount * next_q
    q = np.asarray(critic.apply(state.critic_params, t.observation, t.action))
    np.testing.assert_allclose(fns["critic"](state.critic_params)[0], np.sum(np.mean((q - targets) ** 2 / 2, 1)),
                               rtol=1e-5)
    # V(s): 4 policy actions per state, Q the min over the twins, their mean (or max).
    sampled = actor.apply(state.actor_params, np.repeat(t.observation, 4, 0)).sample(seed=value_key)
    q_sampled = np.min(np.asarray(critic.apply(state.critic_params, np.repeat(t.observation, 4, 0), sampled)), 0)
    value = getattr(np, estimate)(q_sampled.reshape(16, 4), axis=1)
    weights = np.minimum(np.exp((np.min(q, 0) - value) / 0.5), 20.0)
    log_prob = np.asarray(actor.apply(state.actor_params, t.observation).log_prob(t.action))
    np.testing.assert_allclose(fns["actor"](state.actor_params)[0], -np.mean(weights * log_prob), rtol=1e-5)


# CRR's learning test in `make test` is the short one: rows of tests/steer_home.py's task
# whose actions are mostly random (returns -10 on average), 8,000 updates of (32, 32) networks. The
# Pendulum-v1 medium-replay test below (the longer evidence, beside BC's scores on the same rows) runs
# in `make check`.
@pytest.mark.slow
def test_crr_picks_the_good_actions_out_of_mostly_random_rows_and_its_saved_policy_plays(tmp_path):
    steer_home.learn_and_play(crr, crr.Config(**steer_home.OFFLINE), tmp_path, steer_home.mixed_rows(), 3)


@pytest.mark.check
def test_crr_on_medium_replay_reaches_060_far_past_bc(tmp_path):
    rows, _ = dataset("Pendulum-v1", "medium-replay")
    config = crr.Config(num_updates=8000, updates_per_iteration=4000, hidden_sizes=(64, 64))
    out = jax.jit(jax.vmap(crr.make_train(config, rows)))(jax.random.split(jax.random.key(0), 4))
    scores = normalised("Pendulum-v1", out.metrics["episode_return"][:, -1])
    bc_scores = offline_data.bc_scores("Pendulum-v1", "medium-replay")
    assert np.all(scores >= 0.6) and np.mean(scores) >= np.mean(bc_scores) + 0.3, (scores, bc_scores)
    policy = agents.load_policy(agents.save_policy(str(tmp_path / "crr"), crr.make_policy(config, out.state, member=3)))
    assert normalised("Pendulum-v1", agents.evaluate_policy(policy, 10)) >= 0.6
