"""TD3+BC: its normalised lambda and actor objective by hand, and learning: from mostly
random rows of a point steered home (tests/steer_home.py) in `make test`, from Pendulum-v1's
medium-replay set (mostly the expert trainer's random warm-up) better than BC on the same data in
`make check`."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import steer_home
import offline_data
from offline_data import dataset, normalised

from jaxrl import agents, losses
from jaxrl.agents import td3_bc
from jaxrl.agents.ddpg.learning import deterministic_update
from jaxrl.loops.off_policy import ReplayBatch


def test_lambda_and_the_actor_objective_by_hand(monkeypatch):
    q = jnp.array([-2.0, 4.0, -6.0])
    np.testing.assert_allclose(losses.td3_bc_lambda(q, 2.5), 2.5 / 4.0)
    # lambda is a constant of the gradient: d/dq of lambda * mean(q) is lambda / 3 per element.
    grad = jax.grad(lambda q: losses.td3_bc_lambda(q, 2.5) * jnp.mean(q))(q)
    np.testing.assert_allclose(grad, np.full(3, 2.5 / 4.0 / 3))
    np.testing.assert_allclose(losses.behaviour_cloning_mse(jnp.array([[0.5, -1.0]]), jnp.array([[0.0, 1.0]])),
                               (0.25 + 4.0) / 2)
    # The actor's gradient in TD3+BC's update is that of -lambda * mean Q(s, mu(s)) + mean (mu(s) - a)^2.
    config = td3_bc.Config(hidden_sizes=(8,))
    rows = dataset("Pendulum-v1", "medium-replay")[0]
    spec = agents.builder.make_eval_env(config).spec()
    agent = td3_bc.make_agent(config, spec)
    hparams = config.hparams()
    state = agent.init(jax.random.key(0), spec, hparams)
    batch = ReplayBatch(jax.tree.map(lambda x: x[:16], rows), jnp.ones(16))
    actor, critic, first_q = td3_bc.learning.td3_networks(config, spec)
    observation, action = batch.transitions.observation, batch.transitions.action

    def objective(actor_params):
        mu = actor.apply(actor_params, observation)
        q = first_q(state.critic_params, observation, mu)
        return -losses.td3_bc_lambda(q, hparams.alpha) * jnp.mean(q) + jnp.mean(jnp.square(mu - action))

    expected = jax.grad(objective)(state.actor_params)
    captured = {}

    def capture(state, critic_grads, actor_grads, hparams):
        captured["actor_grads"] = actor_grads
        return state

    monkeypatch.setattr("jaxrl.agents.ddpg.learning.deterministic_step", capture)
    _, metrics = deterministic_update(state, actor, observation, lambda p: jnp.zeros(()), first_q, hparams,
                                      behaviour=(action, hparams.alpha))
    np.testing.assert_allclose(captured["actor_grads"], expected, rtol=1e-5, atol=1e-7)
    q = first_q(state.critic_params, observation, actor.apply(state.actor_params, observation))
    np.testing.assert_allclose(metrics["bc_lambda"], 2.5 / np.mean(np.abs(q)), rtol=1e-6)


# TD3+BC's learning test in `make test` is the short one: rows of tests/steer_home.py's task
# whose actions are mostly random (returns -10 on average), 8,000 updates of (32, 32) networks. The
# Pendulum-v1 medium-replay test below (the longer evidence, beside BC's scores on the same rows) runs
# in `make check`.
@pytest.mark.slow
def test_td3_bc_picks_the_good_actions_out_of_mostly_random_rows_and_its_saved_policy_plays(tmp_path):
    steer_home.learn_and_play(td3_bc, td3_bc.Config(**steer_home.OFFLINE), tmp_path, steer_home.mixed_rows(), 0)


@pytest.mark.check
def test_td3_bc_on_medium_replay_beats_bc_and_reaches_060(tmp_path):
    rows, _ = dataset("Pendulum-v1", "medium-replay")
    keys = jax.random.split(jax.random.key(0), 4)
    # 10,000 updates: 0.95-1.05 here (the baselines row, 8 seeds at 20,000, holds from 8,000 on).
    config = td3_bc.Config(env="Pendulum-v1", num_updates=10_000, updates_per_iteration=5_000, hidden_sizes=(64, 64))
    # alpha 40, not the paper's 2.5: this set is mostly random warm-up actions, which the BC term
    # at 2.5 holds the actor to (observed: 0.4-0.7 at 2.5 and 10; 1.0 at 40 and 160).
    hparams = jax.tree.map(lambda x: jnp.broadcast_to(x, (4,)), config.hparams().replace(alpha=jnp.float32(40.0)))
    out = jax.jit(jax.vmap(td3_bc.make_train(config, rows)))(keys, hparams)
    scores = normalised("Pendulum-v1", out.metrics["episode_return"][:, -1])
    bc_scores = offline_data.bc_scores("Pendulum-v1", "medium-replay")
    assert np.all(scores >= 0.6) and np.mean(scores) >= np.mean(bc_scores) + 0.3, (scores, bc_scores)
    policy = agents.load_policy(agents.save_policy(str(tmp_path / "td3_bc"),
                                                   td3_bc.make_policy(config, out.state, member=0)))
    assert normalised("Pendulum-v1", agents.evaluate_policy(policy, 10)) >= 0.6
