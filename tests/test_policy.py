"""Policies taken away from a run: make_policy, the training observation statistics, save/load
(also in a fresh process), the stateful API, and evaluate_run over a run directory's seeds."""

import os
import shutil
import subprocess
import sys
import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from test_kit import TINY, counting

import jaxrl.agents
from jaxrl import checkpoint, driver, envs
from jaxrl.agents import builder, ppo
from jaxrl.agents.policy import Policy, StatefulPolicy, acting_leaves, evaluate_policy, load_policy, save_policy
from jaxrl.loops.evaluate import make_evaluate
from jaxrl.types import Agent

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# A tiny PPO population of 2 seeds with normalised observations, written by the driver with checkpoints.
TINY_PPO = ppo.Config(**{**TINY["ppo"], "normalize_observations": True, "eval_episodes": 4})


@pytest.fixture(scope="module")
def cartpole_run(tmp_path_factory):
    """PPO at its defaults (500k steps of CartPole-v1), one seed, checkpointed at the end."""
    config = ppo.Config()
    train = ppo.make_train(config)
    run_dir = str(tmp_path_factory.mktemp("cartpole") / "run")
    out = driver.train_to_dir("ppo", train, run_dir, num_seeds=1, num_chunks=1,
                              checkpoint_every=train.num_iterations, progress=False)
    return config, run_dir, out.state


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    train = ppo.make_train(TINY_PPO)
    run_dir = str(tmp_path_factory.mktemp("tiny") / "run")
    out = driver.train_to_dir("ppo", train, run_dir, num_seeds=2, num_chunks=2, checkpoint_every=2, progress=False)
    return train, run_dir, out.state


def member(state, i):
    return jax.tree.map(lambda x: x[i], state)


def by_hand(state, observation):
    """`observation` normalised with the training statistics of `state`'s env state, in numpy."""
    stats = state.env_state.stats
    wrapper = envs.NormalizeObservation  # its defaults are those of the training stack
    clip, eps = wrapper.clip, wrapper.epsilon
    out = (np.asarray(observation, np.float64) - np.asarray(stats.mean)) / np.sqrt(np.asarray(stats.var) + eps)
    return np.clip(out, -clip, clip).astype(np.float32)


def observations(n, seed=0):
    return jax.random.normal(jax.random.key(seed), (n, 4)) * jnp.array([1.0, 1.0, 0.1, 1.0])


# ---- (a) a trained policy solves CartPole, also after save/load in a fresh process ---------------


@pytest.mark.slow
def test_trained_ppo_policy_solves_cartpole_and_survives_save_load_in_a_fresh_process(cartpole_run, tmp_path):
    config, run_dir, state = cartpole_run
    policy = jaxrl.agents.get("ppo").make_policy(config, state, member=0)
    mean = float(evaluate_policy(policy, 10))
    assert mean >= 475, mean
    path = save_policy(str(tmp_path / "policy"), policy)
    code = ("import sys\nfrom jaxrl.agents import evaluate_policy, load_policy\n"
            "print(repr(float(evaluate_policy(load_policy(sys.argv[1]), 10))))")
    env = {**os.environ, "PYTHONPATH": REPO + os.pathsep + os.environ.get("PYTHONPATH", "")}
    result = subprocess.run([sys.executable, "-c", code, path], cwd=REPO, env=env, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert float(result.stdout.strip().splitlines()[-1]) == mean
    # The saved policy holds the actor only: no optimiser state and no critic, far fewer bytes
    # than the run's checkpoint of the whole training state.
    kept = checkpoint.Checkpointer(path, read_only=True).progress()["agent_state_leaves"]
    assert kept and all("actor_torso" in p or "policy_head" in p for p in kept), kept

    def size(directory):
        return sum(os.path.getsize(os.path.join(root, f)) for root, _, files in os.walk(directory) for f in files)

    assert size(path) < 0.5 * size(os.path.join(run_dir, "checkpoints")), (size(path), size(run_dir))


# ---- (b) one observation or a batch, (c) sampling with a key ---------------------------------------


def test_one_observation_and_a_batch_give_the_same_actions(tiny_run):
    _, _, state = tiny_run
    policy = ppo.make_policy(TINY_PPO, state, member=0)
    batch = observations(16)
    actions = policy(batch)
    assert actions.shape == (16,) and actions.dtype == jnp.int32
    np.testing.assert_array_equal([policy(o) for o in batch], actions)
    assert policy(batch[0]).shape == ()
    # A policy is a pytree: an argument of jitted and vmapped functions.
    np.testing.assert_array_equal(jax.jit(lambda p, o: p(o))(policy, batch), actions)
    np.testing.assert_array_equal(jax.vmap(policy)(batch), actions)
    with pytest.raises(ValueError, match=r"observations must have shape \(4,\) \(one\) or \(batch, \*\(4,\)\), "
                                         r"got \(3, 5\)"):
        policy(jnp.zeros((3, 5)))


def test_a_key_samples_reproducibly_and_differs_from_greedy_sometimes(tiny_run):
    _, _, state = tiny_run
    policy = ppo.make_policy(TINY_PPO, state, member=0)
    batch = observations(64)
    greedy = np.asarray(policy(batch))
    sampled = [np.asarray(policy(batch, jax.random.key(k))) for k in range(3)]
    assert any((s != greedy).any() for s in sampled)  # a barely trained policy is far from greedy
    assert (sampled[0] != sampled[1]).any()
    np.testing.assert_array_equal(policy(batch, jax.random.key(0)), sampled[0])
    np.testing.assert_array_equal(policy(batch[3], jax.random.key(5)), policy(batch[3], jax.random.key(5)))


# ---- (d) members of a population ---------------------------------------------------------------


def test_member_picks_that_member_of_a_population(tiny_run):
    _, _, state = tiny_run
    agent = ppo.make_agent(TINY_PPO, builder.make_env(TINY_PPO).spec())
    batch = observations(64)
    actions = []
    for i in range(2):
        policy = ppo.make_policy(TINY_PPO, state, member=i)
        mine = member(state, i)
        expected, _, _ = agent.act(mine.agent_state, None, by_hand(mine, batch), jax.random.key(0), mine.hparams, True)
        actions.append(np.asarray(policy(batch)))
        np.testing.assert_array_equal(actions[-1], expected)
        for got, want in zip(jax.tree.leaves(policy.hparams), jax.tree.leaves(mine.hparams)):
            np.testing.assert_array_equal(got, want)
        assert int(policy.env_steps) == int(mine.env_steps) == 512
    assert (actions[0] != actions[1]).any()  # the seeds' parameters differ
    with pytest.raises(ValueError, match=r"population of 2 members; pass member=i \(0 <= i < 2\)"):
        ppo.make_policy(TINY_PPO, state)
    with pytest.raises(ValueError, match=r"member must be an int in \[0, 2\), got 2"):
        ppo.make_policy(TINY_PPO, state, member=2)
    with pytest.raises(ValueError, match="member=0, but the state is a single run's"):
        ppo.make_policy(TINY_PPO, member(state, 0), member=0)
    with pytest.raises(ValueError, match=r"state.agent_state.*has shape"):
        ppo.make_policy(ppo.Config(**{**TINY["ppo"], "normalize_observations": True, "hidden_sizes": (8,)}),
                        state, member=0)
    with pytest.raises(TypeError, match=r"the agent 'dqn' takes a jaxrl.agents.dqn.config.Config, got a "
                                        r"jaxrl.agents.ppo.config.Config"):
        jaxrl.agents.make_policy(TINY_PPO, state, member=0, agent="dqn")


def test_every_agent_module_exposes_make_policy():
    for name in jaxrl.agents.names()[:11]:
        assert jaxrl.agents.get(name).make_policy is jaxrl.agents.make_policy


# ---- (f) observation normalisation with the training statistics ---------------------------------


def test_policy_normalises_raw_observations_with_the_training_statistics(tiny_run):
    _, _, state = tiny_run
    mine = member(state, 1)
    policy = ppo.make_policy(TINY_PPO, state, member=1)
    np.testing.assert_array_equal(policy.normalization.mean, mine.env_state.stats.mean)
    assert float(mine.env_state.stats.count) > 512  # statistics of the whole run, not fresh ones
    agent = ppo.make_agent(TINY_PPO, builder.make_env(TINY_PPO).spec())
    batch = observations(64, seed=1) * 3.0
    expected, _, _ = agent.act(mine.agent_state, None, by_hand(mine, batch), None, mine.hparams, True)
    np.testing.assert_array_equal(policy(batch), expected)


def test_evaluation_acts_on_observations_normalised_with_the_training_statistics(tiny_run):
    train, _, state = tiny_run
    mine = member(state, 0)
    seen = []

    def act(agent_state, actor_state, observation, key, hparams, eval=False, env_steps=None):
        jax.debug.callback(lambda o: seen.append(np.asarray(o)), observation)
        return jnp.zeros(observation.shape[:1], jnp.int32), actor_state, {}

    eval_env = builder.make_eval_env(TINY_PPO, 3)
    training_env = builder.make_env(TINY_PPO)
    evaluate = make_evaluate(eval_env, Agent(None, act, None), normalize_observation=envs.training_normalizer(
        training_env))
    key = jax.random.key(7)
    jax.block_until_ready(jax.jit(evaluate)(mine, key))
    _, first = eval_env.reset(jax.random.split(key)[0])  # evaluate's reset key
    np.testing.assert_allclose(seen[0], by_hand(mine, first.observation), rtol=1e-6, atol=1e-6)
    # The agent's own Train.evaluate does the same: it equals its policy's greedy episodes.
    ret = jax.jit(train.evaluate)(mine, key)
    policy = ppo.make_policy(TINY_PPO, state, member=0)
    assert float(ret) == float(evaluate_policy(policy, TINY_PPO.eval_episodes, key))
    with pytest.raises(ValueError, match="the evaluation env normalises observations with fresh statistics"):
        make_evaluate(training_env, Agent(None, act, None))


# ---- (e) stateful policies ---------------------------------------------------------------------


def counting_ppo_agent(config, spec):
    return counting(ppo.make_agent(config, spec))


COUNTING_PPO = types.SimpleNamespace(Config=ppo.Config, make_agent=counting_ppo_agent, make_train=ppo.make_train)


def test_a_stateful_agent_gives_a_policy_that_threads_its_actor_state(tiny_run, tmp_path, monkeypatch):
    monkeypatch.setattr(jaxrl.agents.registry, "_REGISTERED", {"counting_ppo": COUNTING_PPO})
    _, _, state = tiny_run
    policy = jaxrl.agents.make_policy(TINY_PPO, state, member=0, agent=COUNTING_PPO)
    plain = ppo.make_policy(TINY_PPO, state, member=0)
    assert isinstance(policy, StatefulPolicy) and not isinstance(plain, StatefulPolicy)
    assert policy.name == "counting_ppo"
    batch = observations(3)
    actor_state = policy.initial_state(3)
    np.testing.assert_array_equal(actor_state["steps"], [0, 0, 0])
    for _ in range(2):
        action, actor_state = policy(batch, actor_state)
        np.testing.assert_array_equal(action, plain(batch))
    np.testing.assert_array_equal(actor_state["steps"], [2, 2, 2])
    actor_state = policy.reset(actor_state, jnp.array([False, True, False]))
    np.testing.assert_array_equal(actor_state["steps"], [2, 0, 2])
    # One observation goes with a state of batch 1; a key samples as for a stateless policy.
    action, one = policy(batch[0], policy.initial_state(), jax.random.key(1))
    assert action.shape == () and int(one["steps"][0]) == 1
    assert action == plain(batch[0], jax.random.key(1))
    np.testing.assert_array_equal(policy.reset(one, True)["steps"], [0])
    # Evaluation threads the state too, and the saved policy is stateful again.
    assert float(evaluate_policy(policy, 4)) == float(evaluate_policy(plain, 4))
    loaded = load_policy(save_policy(str(tmp_path / "counting"), policy))
    assert isinstance(loaded, StatefulPolicy)
    np.testing.assert_array_equal(loaded(batch, loaded.initial_state(3))[0], plain(batch))
    with pytest.raises(ValueError, match="batch_size must be an int >= 1, got 0"):
        policy.initial_state(0)


# ---- save / load -------------------------------------------------------------------------------


def test_save_and_load_keep_what_acting_needs(tiny_run, tmp_path):
    _, _, state = tiny_run
    policy = ppo.make_policy(TINY_PPO, state, member=1)
    path = save_policy(str(tmp_path / "ppo"), policy)
    assert sorted(os.listdir(tmp_path)) == ["ppo"]  # no staging directory left behind
    loaded = load_policy(path)
    assert isinstance(loaded, Policy) and loaded.config == TINY_PPO and loaded.name == "ppo"
    batch = observations(32) * 2.0
    np.testing.assert_array_equal(loaded(batch), policy(batch))
    np.testing.assert_array_equal(loaded(batch, jax.random.key(3)), policy(batch, jax.random.key(3)))
    np.testing.assert_array_equal(loaded.normalization.var, policy.normalization.var)
    kept = checkpoint.Checkpointer(path, read_only=True).progress()["agent_state_leaves"]
    assert all("opt_state" not in p and "critic" not in p and "value_head" not in p for p in kept), kept
    # Unread leaves come back as zeros: the optimiser's moments, the critic.
    assert not np.any(np.asarray(loaded.agent_state.opt_state.mu["params"]["critic_torso"]["Dense_0"]["kernel"]))
    with pytest.raises(FileExistsError, match="exists; pass overwrite=True"):
        save_policy(path, policy)
    other = ppo.make_policy(TINY_PPO, state, member=0)
    save_policy(path, other, overwrite=True)
    np.testing.assert_array_equal(load_policy(path)(batch), other(batch))
    with pytest.raises(checkpoint.CheckpointError, match="no saved policy at"):
        load_policy(str(tmp_path / "nothing"))


def test_an_unregistered_agent_cannot_be_saved(tiny_run, tmp_path):
    _, _, state = tiny_run
    policy = jaxrl.agents.make_policy(TINY_PPO, state, member=0, agent=COUNTING_PPO)
    assert policy.name is None
    with pytest.raises(ValueError, match=r"register it with jaxrl.agents.register\(name, agent\)"):
        save_policy(str(tmp_path / "p"), policy)


@pytest.mark.parametrize("name", ["dqn", "td3"])
def test_dqn_and_td3_round_trip_with_identical_actions(name, tmp_path):
    module = jaxrl.agents.get(name)
    config = module.Config(**TINY[name])
    # A state straight from init: the round trip does not depend on training.
    state = jax.jit(module.make_train(config).init)(jax.random.key(0))
    policy = module.make_policy(config, state)
    loaded = load_policy(save_policy(str(tmp_path / name), policy))
    dim = policy.observation_shape[0]
    batch = jax.random.normal(jax.random.key(1), (16, dim))
    np.testing.assert_array_equal(loaded(batch), policy(batch))
    np.testing.assert_array_equal(loaded(batch, jax.random.key(2)), policy(batch, jax.random.key(2)))
    # Only the online network acting reads: no target network, critic or optimiser state.
    paths = [jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_flatten_with_path(policy.agent_state)[0]]
    kept = [p for p, used in zip(paths, acting_leaves(policy)) if used]
    assert kept == ([".params"] if name == "dqn" else [".actor_params"])
    assert kept == checkpoint.Checkpointer(str(tmp_path / name), read_only=True).progress()["agent_state_leaves"]


# ---- (g) evaluate_run over a run directory -------------------------------------------------------


def test_evaluate_run_plays_every_seed_of_the_latest_checkpoint(tiny_run, tmp_path):
    _, run_dir, state = tiny_run
    returns = driver.evaluate_run(run_dir, episodes=5)
    assert returns.shape == (2,)
    for i in range(2):
        policy = ppo.make_policy(TINY_PPO, state, member=i)
        assert returns[i] == float(evaluate_policy(policy, 5))
    with pytest.raises(checkpoint.CheckpointError, match="has no config.json"):
        driver.evaluate_run(os.path.dirname(run_dir))
    shutil.copy(os.path.join(run_dir, "config.json"), tmp_path)  # a run trained without checkpoints
    with pytest.raises(checkpoint.CheckpointError, match="has no checkpoints: train it with --checkpoint-every N"):
        driver.evaluate_run(str(tmp_path))


def test_evaluate_command_prints_each_seed_and_the_mean(tiny_run, capsys):
    from experiments import evaluate
    from jaxrl import cli

    _, run_dir, _ = tiny_run
    returns = driver.evaluate_run(run_dir, episodes=5)
    want = [f"seed 0: {returns[0]:.2f}", f"seed 1: {returns[1]:.2f}",
            f"mean: {returns.mean():.2f} over 2 seed(s), 5 greedy episodes each"]
    assert cli.main(["evaluate", run_dir, "--episodes", "5"]) is None
    assert capsys.readouterr().out.strip().splitlines() == want
    np.testing.assert_array_equal(evaluate.main([run_dir, "--episodes", "5"]), returns)  # the alias
    assert capsys.readouterr().out.strip().splitlines() == want
    with pytest.raises(SystemExit, match="error: --episodes must be >= 1, got 0"):
        cli.main(["evaluate", run_dir, "--episodes", "0"])


def test_a_policy_prints_briefly(tiny_run):
    _, _, state = tiny_run
    assert repr(ppo.make_policy(TINY_PPO, state, member=0)) == (
        "Policy(agent='ppo', env='CartPole-v1', observation_shape=(4,), normalized=True)")
    stateful = jaxrl.agents.make_policy(TINY_PPO, state, member=0, agent=COUNTING_PPO)
    assert repr(stateful).startswith("StatefulPolicy(agent=None, ")
