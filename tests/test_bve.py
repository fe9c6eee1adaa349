"""BVE: the dataset's next actions, the ranking regulariser and the SARSA loss by hand; learning
CartPole-v1 from expert data to 0.9 with the saved policy playing as well; one program over two
datasets, each prepared with its own next actions."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from offline_data import dataset, normalised

from jaxrl import agents, datasets, losses, networks
from jaxrl.agents import bve
from jaxrl.agents.dqn.networks import make_network
from jaxrl.loops.off_policy import ReplayBatch
from jaxrl.types import Transition

CONFIG = bve.Config(env="CartPole-v1", num_updates=2000, updates_per_iteration=500)


def test_next_actions_follow_episodes_and_are_unknown_at_a_cut():
    # Two episodes: one terminated at row 2, one cut by a time limit at row 4.
    rows = Transition(observation=np.zeros((5, 1)), action=np.array([3, 1, 2, 0, 4]), reward=np.ones(5),
                      discount=np.array([1.0, 1.0, 0.0, 1.0, 1.0]), last=np.array([0, 0, 1, 0, 1], bool),
                      next_observation=np.zeros((5, 1)), extras={})
    out = datasets.with_next_actions(rows)
    np.testing.assert_array_equal(out.extras["next_action"][:4], [1, 2, 0, 4])  # row 2's is unused (discount 0)
    np.testing.assert_array_equal(out.extras["next_action_known"], [True, True, True, True, False])


def test_the_ranking_and_sarsa_losses_by_hand():
    q = jnp.array([[1.0, 0.8, -3.0], [0.0, 2.0, 1.0]])
    action = jnp.array([0, 2])
    # Row 0: action 1 is within the margin 0.5 of the data's (by 0.3), action 2 far below it; row 1:
    # action 0 is 0.5 past the margin, action 1 above the data's (by 1.5 with the margin).
    expected = (0.3 ** 2 + 1.5 ** 2) / 2
    np.testing.assert_allclose(losses.ranking_loss(q, action, 0.5), expected, rtol=1e-6)
    rows = dataset("CartPole-v1", "expert", 20)[0]
    spec = agents.builder.make_eval_env(CONFIG).spec()
    network = networks.flat_network(make_network(spec, (8,), "relu", False, None), jnp.zeros((1, 4)))
    params, target_params = network.init(jax.random.key(0)), network.init(jax.random.key(1))
    cut = int(np.flatnonzero(rows.last & (rows.discount > 0))[0])  # an expert episode cut at 500 steps
    prepared = datasets.with_next_actions(rows)
    batch = ReplayBatch(jax.tree.map(lambda x: x[cut - 6:cut + 2], prepared), jnp.ones(8))
    t = batch.transitions
    q = np.asarray(network.apply(params, t.observation))
    next_q = np.asarray(network.apply(target_params, t.next_observation))
    next_action = rows.action[cut - 5:cut + 3]  # each row's successor's action
    targets = t.reward + 0.99 * t.discount * next_q[np.arange(8), next_action]
    td = q[np.arange(8), t.action] - targets
    td[6] = 0.0  # the cut's next action was never taken: out of the loss
    q_data = q[np.arange(8), t.action][:, None]
    ranking = np.mean(np.sum(np.where(np.eye(2)[t.action] == 0, np.maximum(q - q_data + 0.5, 0) ** 2, 0), -1))
    loss, metrics = bve.bve_loss(network, params, target_params, batch, CONFIG.hparams())
    np.testing.assert_allclose(metrics["td_loss"], np.mean(td ** 2 / 2), rtol=1e-5)
    np.testing.assert_allclose(loss, np.mean(td ** 2 / 2) + ranking, rtol=1e-5)


@pytest.mark.slow
def test_bve_on_cartpole_expert_reaches_090_and_its_saved_policy_plays_as_well(tmp_path):
    rows, _ = dataset("CartPole-v1", "expert", 20)
    train = bve.make_train(CONFIG, rows)
    keys = jax.random.split(jax.random.key(0), 4)
    out = jax.jit(jax.vmap(train))(keys)
    scores = normalised("CartPole-v1", out.metrics["episode_return"][:, -1])
    assert np.all(scores >= 0.9), scores
    policy = agents.load_policy(agents.save_policy(str(tmp_path / "bve"), bve.make_policy(CONFIG, out.state, member=1)))
    assert normalised("CartPole-v1", agents.evaluate_policy(policy, 20)) >= 0.9
    # A population over two datasets: each member's rows get their own next actions.
    medium = dataset("CartPole-v1", "medium", 20)[0]
    n = min(len(rows.reward), len(medium.reward))
    sets = [jax.tree.map(lambda x: x[:n], d) for d in (rows, medium)]
    sets = [d._replace(last=np.concatenate([d.last[:-1], [True]])) for d in sets]
    train = bve.make_train(CONFIG, sets[0])
    state = jax.vmap(train.init)(keys[:2], dataset=jax.tree.map(lambda *xs: jnp.stack(xs), *sets))
    for i in range(2):
        expected = datasets.with_next_actions(sets[i]).extras
        for name in ("next_action", "next_action_known"):
            np.testing.assert_array_equal(state.buffer_state.data.extras[name][i], expected[name])
