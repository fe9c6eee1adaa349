"""Behaviour cloning and the offline loop it runs on: the losses by hand, learning from expert data
(normalised scores), the saved policy, chunked == one call, and one program over several datasets."""

import dataclasses
import os
import shutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import chunks_and_one_call
from offline_data import dataset, normalised

from jaxrl import agents, datasets, driver
from jaxrl.agents import bc
from jaxrl.loops.off_policy import ReplayBatch

CARTPOLE = bc.Config(env="CartPole-v1", num_updates=2000, updates_per_iteration=500, hidden_sizes=(64, 64))
PENDULUM = dataclasses.replace(CARTPOLE, env="Pendulum-v1")
KEYS = jax.random.split(jax.random.key(0), 4)


def test_losses_by_hand():
    rows, _ = dataset("CartPole-v1", "expert", 20)
    spec = agents.builder.make_eval_env(CARTPOLE).spec()
    network = bc.make_network(spec, (8,), "relu", "mse")
    params = network.init(jax.random.key(1), jnp.zeros((1, 4)))
    batch = ReplayBatch(jax.tree.map(lambda x: x[:5], rows), jnp.ones(5))
    logits = network.apply(params, batch.transitions.observation).distribution.logits
    log_softmax = logits - np.log(np.sum(np.exp(logits), axis=-1, keepdims=True))
    loss, metrics = bc.bc_loss(network, params, batch)
    np.testing.assert_allclose(loss, -np.mean(log_softmax[np.arange(5), rows.action[:5]]), rtol=1e-6)
    np.testing.assert_allclose(metrics["accuracy"], np.mean(np.argmax(logits, -1) == rows.action[:5]))
    # Continuous actions: squared error summed over action dimensions, or the Gaussian's NLL.
    continuous = dataset("Pendulum-v1", "expert", 20)[0]
    batch = ReplayBatch(jax.tree.map(lambda x: x[:5], continuous), jnp.ones(5))
    spec = agents.builder.make_eval_env(PENDULUM).spec()
    for kind in ("mse", "nll"):
        network = bc.make_network(spec, (8,), "relu", kind)
        params = network.init(jax.random.key(1), jnp.zeros((1, 3)))
        out = network.apply(params, batch.transitions.observation)
        loss, _ = bc.bc_loss(network, params, batch)
        if kind == "mse":
            expected = np.mean(np.sum((np.asarray(out) - continuous.action[:5]) ** 2, -1))
        else:
            mean, std = np.asarray(out.distribution.mean()), np.asarray(out.distribution.stddev())
            z = (continuous.action[:5] - mean) / std
            expected = np.mean(np.sum(0.5 * z ** 2 + np.log(std) + 0.5 * np.log(2 * np.pi), -1))
        np.testing.assert_allclose(loss, expected, rtol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("config", [CARTPOLE, PENDULUM, dataclasses.replace(PENDULUM, loss="nll")],
                         ids=["cartpole", "pendulum-mse", "pendulum-nll"])
def test_bc_on_expert_data_reaches_090_and_its_saved_policy_plays_as_well(config, tmp_path):
    rows, _ = dataset(config.env, "expert", 20)
    train = bc.make_train(config, rows)
    out = jax.jit(jax.vmap(train))(KEYS)
    scores = normalised(config.env, out.metrics["episode_return"][:, -1])
    assert np.all(scores >= 0.9), scores
    np.testing.assert_array_equal(out.metrics["learner_steps"][0], [500, 1000, 1500, 2000])
    # The path a user takes afterwards: the policy, saved and loaded, plays as the program said.
    policy = agents.load_policy(agents.save_policy(str(tmp_path / "bc"), bc.make_policy(config, out.state, member=0)))
    member = jax.tree.map(lambda x: x[0], out.state.agent_state)
    network = bc.make_network(agents.builder.make_eval_env(config).spec(), config.hidden_sizes, config.activation,
                              config.loss)
    greedy = network.apply(member.params, rows.observation[:64])
    if not network.deterministic:
        greedy = greedy.greedy_action()
    np.testing.assert_array_equal(policy(rows.observation[:64]), greedy)
    assert normalised(config.env, agents.evaluate_policy(policy, 20)) >= 0.9


def test_two_chunks_equal_one_call_and_each_dataset_of_a_population_is_its_own_run():
    config = dataclasses.replace(CARTPOLE, num_updates=80, updates_per_iteration=20, batch_size=32, hidden_sizes=(16,),
                                 eval_episodes=2)
    expert, medium = dataset("CartPole-v1", "expert", 20)[0], dataset("CartPole-v1", "medium", 20)[0]
    n = min(len(expert.reward), len(medium.reward))
    # Equal sizes: the longer set's first n rows, its cut episode marked truncated.
    sets = [jax.tree.map(lambda x: x[:n], d) for d in (expert, medium)]
    sets = [d._replace(last=np.concatenate([d.last[:-1], [True]])) for d in sets]
    train = bc.make_train(config, sets[0])
    keys = KEYS[:2]
    one = chunks_and_one_call(train, keys)
    assert not np.all(one.metrics["loss"][:, -1] == one.metrics["loss"][:, 0])
    # A population over two datasets of equal size: member i is the run on dataset i, as in a
    # population (of the same size, so the same program) whose members all learn from dataset i.
    population = jax.jit(jax.vmap(lambda k, d: train(k, dataset=d)))
    both = population(keys, jax.tree.map(lambda *xs: jnp.stack(xs), *sets))
    for i in range(2):
        alone = population(keys, jax.tree.map(lambda x: jnp.stack([x, x]), sets[i]))
        for metric in both.metrics:
            np.testing.assert_array_equal(both.metrics[metric][i], alone.metrics[metric][i], err_msg=metric)
    assert not np.array_equal(both.metrics["loss"][0], both.metrics["loss"][1])
    with pytest.raises(ValueError, match="the dataset must have the rows of the one the program was built with"):
        train.init(keys[0], dataset=jax.tree.map(lambda x: x[:100], sets[0]))


def test_offline_configs_and_datasets_are_checked_before_tracing(tmp_path):
    with pytest.raises(ValueError, match=r"bc\.Config\.dataset: an offline agent needs a dataset directory"):
        bc.make_train(CARTPOLE)
    with pytest.raises(ValueError, match=r"bc\.Config\.num_updates must be a multiple of updates_per_iteration=500"):
        bc.Config(num_updates=700, updates_per_iteration=500)
    with pytest.raises(ValueError, match=r"bc\.Config\.normalize_observations must be False"):
        bc.Config(normalize_observations=True)
    with pytest.raises(ValueError, match=r"bc\.Config\.loss must be 'mse' or 'nll'"):
        bc.Config(loss="l1")
    pendulum = dataset("Pendulum-v1", "expert", 20)[0]
    with pytest.raises(ValueError, match=r"the dataset's observations \(3,\) and actions \(1,\) do not fit "
                                         r"CartPole-v1's \(4,\) and \(\)"):
        bc.make_train(CARTPOLE, pendulum)
    path = datasets.save(str(tmp_path / "pendulum"), pendulum, env="Pendulum-v1", kind="expert")
    with pytest.raises(ValueError, match=r"bc\.Config\.env is 'CartPole-v1', but the dataset .* was collected in "
                                         r"'Pendulum-v1'"):
        bc.make_train(dataclasses.replace(CARTPOLE, dataset=path))
    # Actions outside the space the agent acts in (they trained to NaN losses, or on a wrong scale).
    cartpole = dataset("CartPole-v1", "expert", 20)[0]
    with pytest.raises(ValueError, match=r"CartPole-v1 has 2 discrete actions, indices 0 to 1, but the dataset's "
                                         r"actions run from 1 to 2"):
        bc.make_train(CARTPOLE, cartpole._replace(action=cartpole.action + 1))
    pendulum_bc = bc.Config(env="Pendulum-v1")
    with pytest.raises(ValueError, match=r"continuous actions are stored on the \[-1, 1\] scale of Pendulum-v1's "
                                         r"action box \(docs/datasets.md\), but the dataset's run from -1\.99"):
        bc.make_train(pendulum_bc, pendulum._replace(action=pendulum.action * 2.0))
    sacfd = agents.get("sacfd").Config(learning_starts=100, total_timesteps=1000, buffer_size=1000)
    with pytest.raises(ValueError, match=r"^sacfd\.Config\.demonstrations: dataset: continuous actions are stored"):
        agents.get("sacfd").make_train(sacfd, pendulum._replace(action=pendulum.action * 2.0))


@pytest.mark.slow
def test_the_command_line_trains_bc_on_a_dataset_directory(tmp_path, monkeypatch):
    from jaxrl import cli

    rows, _ = dataset("CartPole-v1", "expert", 20)
    path = datasets.save(str(tmp_path / "expert"), rows, env="CartPole-v1", kind="expert")
    run_dir = str(tmp_path / "run")
    monkeypatch.chdir(tmp_path)  # the dataset named relative to here ...
    cli.train_main(["bc", "--env", "CartPole-v1", "--dataset", "expert", "--num-updates", "1000",
                    "--updates-per-iteration", "500", "--hidden-sizes", "64", "64", "--num-seeds", "2",
                    "--checkpoint-every", "1", "--run-dir", run_dir, "--no-progress"])
    header = open(os.path.join(run_dir, "metrics.csv")).readline().strip().split(",")
    assert header[:4] == ["seed", "iteration", "learner_steps", "episode_return"]
    assert os.path.exists(os.path.join(run_dir, "learning_curve.png"))
    monkeypatch.chdir(run_dir)  # ... and the run evaluated from elsewhere: config.json holds its absolute path
    assert driver.read_run_config(run_dir)["config"]["dataset"] == path
    returns = driver.evaluate_run(run_dir, episodes=10)
    assert np.all(normalised("CartPole-v1", returns) >= 0.9), returns
    # The run's policy collects a dataset of its own (experiments.collect --policy RUN_DIR).
    from experiments import collect

    out = collect.main(["--env", "CartPole-v1", "--kind", "expert", "--policy", run_dir, "--episodes", "3",
                        "--greedy", "--out", str(tmp_path / "cloned")])
    info = datasets.read_info(out)
    assert info.num_episodes == 3 and info.source["policy"] == run_dir and not info.source["sampled"]
    assert normalised("CartPole-v1", info.mean_return) >= 0.9
    policy = driver.run_policy(run_dir, 1)  # seed 1's clone agrees with the expert's actions
    assert policy.name == "bc" and np.mean(np.asarray(policy(rows.observation)) == rows.action) >= 0.9
    with pytest.raises(ValueError, match=r"member must be an int in \[0, 2\)"):
        driver.run_policy(run_dir, 2)
    with pytest.raises(SystemExit, match=r"^collect: --kind medium-replay is the trainer's replay buffer up to its "
                                         r"medium policy; --policy does not apply to it$"):
        collect.main(["--env", "CartPole-v1", "--kind", "medium-replay", "--policy", run_dir, "--out",
                      str(tmp_path / "x")])
    # Options a kind ignores are refused, not recorded as applied; bad ones before an expert is trained.
    with pytest.raises(SystemExit, match=r"^collect: --kind random plays uniformly random actions; --epsilon, "
                                         r"--greedy do not apply to it$"):
        collect.main(["--env", "CartPole-v1", "--kind", "random", "--epsilon", "0.5", "--greedy", "--out",
                      str(tmp_path / "x")])
    for options, message in ((["--episodes", "0"], r"episodes must be an int >= 1, got 0"),
                             (["--epsilon", "3"], r"epsilon must be in \[0, 1\], got 3\.0"),
                             (["--noise", "0.1"], r"noise is for continuous actions; CartPole-v1 has discrete ones")):
        with pytest.raises(SystemExit, match=rf"^collect: {message}"):
            collect.main(["--env", "CartPole-v1", "--kind", "expert", "--out", str(tmp_path / "x"), *options])
    # An existing --out is refused before anything is collected (an expert's training would be lost).
    with pytest.raises(SystemExit, match=rf"^collect: {tmp_path / 'cloned'} exists; pass --overwrite to replace$"):
        collect.main(["--env", "CartPole-v1", "--kind", "expert", "--out", str(tmp_path / "cloned")])
    # The dataset moved: its rows are in the run's checkpoints (config.json records their layout),
    # so the run evaluates, gives its policy and resumes without the directory (docs/agents/offline.md).
    csv = os.path.join(run_dir, "metrics.csv")
    with open(csv) as f:
        metrics = f.read()
    os.rename(path, str(tmp_path / "moved"))
    np.testing.assert_array_equal(driver.evaluate_run(run_dir, episodes=10), returns)
    assert np.array_equal(driver.run_policy(run_dir, 1)(rows.observation), policy(rows.observation))
    shutil.rmtree(os.path.join(run_dir, "checkpoints", "2"))  # the resume trains iteration 2 again
    cli.train_main(["--resume", run_dir, "--no-progress"])
    with open(csv) as f:
        assert f.read() == metrics
    # A new run on the missing dataset says so in one line.
    with pytest.raises(SystemExit, match=rf"^error: no dataset at {path}"):
        cli.train_main(["bc", "--env", "CartPole-v1", "--dataset", path, "--run-dir", str(tmp_path / "new")])
