"""Population-based training: exploit copies exactly the chosen members' agent state and
hyperparameters (against a hand-built population), the greedy evaluation as fitness, explore stays
within the Config's ranges, PBT in chunks of generations equals one call, the table and lineage,
and clear errors."""

import copy
import csv
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import assert_trees_equal

from experiments import pbt as pbt_cli
from jaxrl import checkpoint, pbt, sweep
from jaxrl.agents import ppo

# 8 iterations of 128 env steps; 4 generations of 2 iterations.
CONFIG = ppo.Config(env="CartPole-v1", num_envs=4, rollout_length=32, total_timesteps=1024, num_epochs=1,
                    num_minibatches=2, hidden_sizes=(16,))
SETTINGS = sweep.grid(learning_rate=[1e-4, 3e-4, 1e-3, 3e-3])


@pytest.fixture(scope="module")
def train():
    return ppo.make_train(CONFIG)


@pytest.fixture(scope="module")
def pbt_train(train):
    return pbt.PBTTrain(train, ready_every=2, perturb=("learning_rate", "gae_lambda"), fraction=0.25)


def test_exploit_sends_the_bottom_to_the_top_and_keeps_the_rest():
    fitness = jnp.array([3.0, 1.0, 4.0, jnp.nan, 5.0, 2.0, 9.0, 8.0])
    for seed in range(20):
        parents = np.asarray(pbt.exploit(jax.random.key(seed), fitness, 0.25))
        # round(0.25 * 8) = 2 exploited: NaN ranks lowest, then 1.0; the top two are 9.0 and 8.0.
        assert set(parents[[3, 1]]) <= {6, 7}
        np.testing.assert_array_equal(np.delete(parents, [1, 3]), np.delete(np.arange(8), [1, 3]))
    draws = {tuple(np.asarray(pbt.exploit(jax.random.key(s), fitness, 0.25))[[3, 1]]) for s in range(20)}
    assert len(draws) > 1  # the donor is drawn, not fixed
    assert pbt.num_exploited(8, 0.25) == 2 and pbt.num_exploited(3, 0.25) == 1 and pbt.num_exploited(2, 0.5) == 1


@pytest.fixture(scope="module")
def population(train):
    """SETTINGS x 2 seeds after one generation's 2 iterations, and the hparams they started with."""
    keys, hparams = sweep.population(train.default_hparams, SETTINGS, 2)
    return hparams, jax.jit(jax.vmap(lambda k, h: train.run(train.init(k, h), 2)[0]))(keys, hparams)


def test_select_copies_exactly_the_parents_agent_state_and_hparams(population, pbt_train):
    hparams, population = population
    # A hand-made generation's returns: member m's fitness is -m, so members 6 and 7 (the bottom
    # quarter) take the state of members 0 or 1 (the top quarter).
    metrics = {"episode_return": -jnp.arange(8.0)[:, None] * jnp.ones((8, 2))}
    selected, record = jax.jit(pbt_train.select)(population, metrics, jax.random.key(3))
    parents = np.asarray(record["parent"])
    assert set(parents[6:]) <= {0, 1}
    np.testing.assert_array_equal(parents[:6], np.arange(6))
    np.testing.assert_array_equal(record["fitness"], -np.arange(8.0))
    np.testing.assert_array_equal(record["learning_rate"], hparams.learning_rate)  # as trained
    for m, parent in enumerate(parents):
        assert_trees_equal(jax.tree.map(lambda x: x[m], selected.agent_state), population.agent_state, parent)
        # The env and replay (here none), actor and counters stay the member's own.
        assert_trees_equal(jax.tree.map(lambda x: x[m], selected.env_state), population.env_state, m)
        for field in ("learning_rate", "gae_lambda"):
            value = np.asarray(getattr(selected.hparams, field))[m]
            source = np.asarray(getattr(population.hparams, field))[parent]
            if parent == m:
                assert value == source
            else:  # x0.8 or x1.2 in float32, clipped into the field's range (gae_lambda <= 1)
                expected = {source * np.float32(0.8), min(source * np.float32(1.2), np.float32(1.0))}
                assert value in expected, (field, value, source)
        for field in ("clip_eps", "ent_coef", "gamma"):  # not perturbed: the parent's
            assert float(getattr(selected.hparams, field)[m]) == float(getattr(population.hparams, field)[parent])
    # On the run's last generation every member keeps its own.
    kept, record = jax.jit(pbt_train.select)(population, metrics, jax.random.key(3), True)
    np.testing.assert_array_equal(record["parent"], np.arange(8))
    assert_trees_equal(kept, population)


def test_eval_fitness_ranks_by_the_greedy_evaluation_not_the_training_return(train, population):
    _, population = population
    pbt_eval = pbt.PBTTrain(train, ready_every=2, perturb=("gae_lambda",), resample=1.0, fitness="eval")
    key = jax.random.key(4)
    # Each member's greedy return, computed apart from PBT with the keys select draws (its key's
    # third split, one per member), and training returns ranked the other way round: ranked by
    # return, the greedy-best would be exploited.
    greedy = np.asarray(jax.jit(jax.vmap(train.evaluate))(population, jax.random.split(jax.random.split(key, 3)[2], 8)))
    metrics = {"episode_return": -jnp.asarray(greedy)[:, None] * jnp.ones((8, 2))}
    selected, record = jax.jit(pbt_eval.select)(population, metrics, key)
    np.testing.assert_array_equal(record["fitness"], greedy)
    parents = np.asarray(record["parent"])
    exploited = np.flatnonzero(parents != np.arange(8))
    order = np.argsort(greedy, kind="stable")
    # The two of lowest greedy return take the state of two of the highest; no ties at either cut,
    # so ranking by the training return would have picked other members.
    assert greedy[order[1]] < greedy[order[2]] and greedy[order[5]] < greedy[order[6]], greedy
    assert set(exploited) == set(order[:2]) and set(parents[exploited]) <= set(order[6:]), (greedy, parents)
    for m in exploited:
        assert_trees_equal(jax.tree.map(lambda x: x[m], selected.agent_state), population.agent_state, parents[m])
    # and a gae_lambda drawn anew in [0, 1] (resample=1.0), where every member had PPO's 0.95.
    lambdas = np.asarray(selected.hparams.gae_lambda)
    assert np.all((0.0 <= lambdas[exploited]) & (lambdas[exploited] <= 1.0) & (lambdas[exploited] != np.float32(0.95)))
    np.testing.assert_array_equal(np.delete(lambdas, exploited), np.float32(0.95))


def test_explore_stays_within_the_configs_ranges():
    hparams = CONFIG.hparams()
    stacked = jax.tree.map(lambda x: jnp.full((64,), x), hparams).replace(
        gae_lambda=jnp.linspace(0.0, 1.0, 64), clip_eps=jnp.full((64,), 1e-30))
    bounds = pbt.field_bounds(CONFIG, ("gae_lambda", "clip_eps"))
    assert bounds["gae_lambda"] == (0.0, 1.0) and bounds["clip_eps"][0] > 0.0  # (0, inf): open at 0
    out = stacked
    for i in range(30):  # perturbed again and again: 1.2^30 would leave [0, 1] many times over
        out = pbt.explore(jax.random.key(i), out, jnp.ones(64, bool), ("gae_lambda", "clip_eps"), (0.8, 1.2), bounds)
        assert np.all((0.0 <= out.gae_lambda) & (out.gae_lambda <= 1.0)) and np.all(out.clip_eps > 0.0)
    assert np.any(out.gae_lambda == 1.0) and np.any(out.gae_lambda < 0.5)
    untouched = pbt.explore(jax.random.key(0), stacked, jnp.zeros(64, bool), ("gae_lambda",), (0.8, 1.2), bounds)
    assert_trees_equal(untouched, stacked)
    # An end open above too: IQL's expectile in [0.5, 1) (PBT pushed it to 1.0, which its Config refuses).
    from jaxrl.agents import iql

    assert pbt.field_bounds(iql.Config(), ("expectile",))["expectile"] == (0.5, float(np.nextafter(np.float32(1.0),
                                                                                                     np.float32(0.0))))
    with pytest.raises(ValueError, match=r"^iql\.Config\.expectile must be in \[0\.5, 1\), got 1\.0$"):
        iql.Config(expectile=1.0)


def test_resample_draws_anew_within_the_configs_range():
    stacked = jax.tree.map(lambda x: jnp.full((64,), x), CONFIG.hparams())  # gae_lambda 0.95 everywhere
    bounds = pbt.field_bounds(CONFIG, ("gae_lambda",))
    replaced = jnp.arange(64) < 48

    def explore(resample):
        out = pbt.explore(jax.random.key(0), stacked, replaced, ("gae_lambda",), (0.8, 1.2), bounds, resample)
        return np.asarray(out.gae_lambda)

    parent = np.float32(CONFIG.gae_lambda)
    perturbations = [parent * np.float32(0.8), min(parent * np.float32(1.2), np.float32(1.0))]
    drawn, mixed, perturbed = explore(1.0), explore(0.5), explore(0.0)
    for values in (drawn, mixed, perturbed):
        assert np.all((0.0 <= values) & (values <= 1.0))
        np.testing.assert_array_equal(values[48:], parent)  # members not exploited keep theirs
    # Every exploited member's value drawn anew: all different, none the parent's or a perturbation
    # of it, spread over the range [0, 1].
    assert len(set(drawn[:48])) == 48 and not np.isin(drawn[:48], [parent, *perturbations]).any()
    assert drawn[:48].min() < 0.25 and drawn[:48].max() > 0.75
    assert np.all(np.isin(perturbed[:48], perturbations))
    # With resample=0.5 some are drawn and the others perturbed by the factors drawn without it.
    kept = np.isin(mixed[:48], perturbations)
    assert 10 < kept.sum() < 38
    np.testing.assert_array_equal(mixed[:48][kept], perturbed[:48][kept])
    np.testing.assert_array_equal(mixed[:48][~kept], drawn[:48][~kept])


def test_pbt_in_chunks_of_generations_equals_one_call_through_a_checkpoint(pbt_train, train, tmp_path):
    keys, hparams = sweep.population(train.default_hparams, SETTINGS, 2)
    key = jax.random.key(7)
    one = jax.jit(pbt_train)(keys, hparams, key)
    run = jax.jit(pbt_train.run, static_argnums=1)
    state = jax.jit(pbt_train.init)(keys, hparams, key)
    state, first, first_lineage = run(state, 2)
    # Saved mid-run and restored into a fresh process's template: the run resumes exactly.
    with checkpoint.Checkpointer(str(tmp_path / "ckpt")) as saver:
        saver.save(2, state)
    template = jax.jit(pbt_train.init)(keys, hparams, jax.random.key(0))
    with checkpoint.Checkpointer(str(tmp_path / "ckpt"), read_only=True) as loader:
        state, _ = loader.restore(template)
    state, rest, rest_lineage = run(state, 2)  # the same compiled chunk
    assert_trees_equal(state, one.state)
    assert_trees_equal(jax.tree.map(lambda a, b: jnp.concatenate([a, b], axis=1), first, rest), one.metrics)
    assert_trees_equal(jax.tree.map(lambda a, b: jnp.concatenate([a, b]), first_lineage, rest_lineage), one.lineage)
    assert one.metrics["episode_return"].shape == (8, 8) and one.lineage["parent"].shape == (4, 8)
    assert int(one.state.generation) == 4
    # Exploit happened between generations, and not after the last.
    parents = np.asarray(one.lineage["parent"])
    assert np.all(parents[:3] != np.arange(8), axis=1).sum() == 0 and np.any(parents[:3] != np.arange(8))
    np.testing.assert_array_equal(parents[3], np.arange(8))


def test_pbt_run_gives_the_table_and_lineage(train, tmp_path):
    # The chunk test's program (same settings, perturbed fields and shapes): XLA's cache has it.
    result = pbt.run(train, SETTINGS, num_seeds=2, ready_every=2, perturb=("learning_rate", "gae_lambda"))
    assert list(result.table) == ["learning_rate", "gae_lambda", "start", "seed", "final_return", "best_return",
                                  "auc"]
    np.testing.assert_array_equal(result.table["start"], np.repeat(np.arange(4), 2))
    np.testing.assert_array_equal(result.table["final_return"], result.output.metrics["episode_return"][:, -1])
    np.testing.assert_allclose(result.table["learning_rate"], result.output.state.population.hparams.learning_rate)
    assert len(result.lineage["generation"]) == 4 * 8
    pbt.write_csv(result.lineage, str(tmp_path / "lineage.csv"))
    lines = (tmp_path / "lineage.csv").read_text().splitlines()
    assert lines[0] == "generation,member,learning_rate,gae_lambda,fitness,parent" and len(lines) == 33
    # Each row: the member's hyperparameters as trained in that generation and its parent after it.
    np.testing.assert_array_equal(result.lineage["parent"], np.asarray(result.output.lineage["parent"]).reshape(-1))
    first = [float(x) for x in lines[1].split(",")]
    assert first[:3] == [0.0, 0.0, np.float32(1e-4)]


def test_pbt_run_in_chunks_reports_each_chunk_and_equals_one_call(train):
    # The chunk test's programs again (init, and 2 generations a chunk): XLA's cache has them.
    options = dict(num_seeds=2, ready_every=2, perturb=("learning_rate", "gae_lambda"))
    one = pbt.run(train, SETTINGS, **options)
    writes = []

    class Recorder:
        def write(self, metrics, first_iteration):
            writes.append((first_iteration, np.asarray(metrics["env_steps"])))

        def close(self):
            pass

    chunked = pbt.run(train, SETTINGS, num_chunks=2, sinks=[Recorder()], **options)
    assert_trees_equal(chunked.output, one.output)
    assert chunked.table.keys() == one.table.keys()
    for column in one.table:
        np.testing.assert_array_equal(chunked.table[column], one.table[column])
    assert [first for first, _ in writes] == [0, 4]  # 2 generations of 2 iterations each
    assert all(steps.shape == (8, 4) for _, steps in writes)
    np.testing.assert_array_equal(writes[1][1][:, -1], 8 * 128)
    with pytest.raises(ValueError, match=r"pbt: num_chunks must be an int >= 1 or None, got 0"):
        pbt.run(train, SETTINGS, num_chunks=0, **options)


def test_bad_pbt_settings_are_named(train):
    with pytest.raises(ValueError, match=r"pbt: ready_every \(3\) must divide the run's 8 iterations \(the "
                                         r"nearest that do: 2, 4\)"):
        pbt.PBTTrain(train, ready_every=3, perturb=("learning_rate",))
    with pytest.raises(ValueError, match=r"unknown hyperparameter 'lr'"):
        pbt.PBTTrain(train, ready_every=2, perturb=("lr",))
    with pytest.raises(ValueError, match=r"pbt: fraction must be in \(0, 0.5\]"):
        pbt.PBTTrain(train, ready_every=2, perturb=("learning_rate",), fraction=0.7)
    with pytest.raises(ValueError, match=r"pbt: also_copy takes"):
        pbt.PBTTrain(train, ready_every=2, perturb=("learning_rate",), also_copy=("params",))
    with pytest.raises(ValueError, match=r"pbt: resample must be a probability in \[0, 1\]"):
        pbt.PBTTrain(train, ready_every=2, perturb=("gae_lambda",), resample=1.5)
    with pytest.raises(ValueError, match=r"within the Config's range, which is unbounded for 'learning_rate'"):
        pbt.PBTTrain(train, ready_every=2, perturb=("gae_lambda", "learning_rate"), resample=0.25)
    with pytest.raises(ValueError, match=r"pbt: perturb must name at least one HParams field"):
        pbt.PBTTrain(train, ready_every=2, perturb=())
    no_ranges = copy.copy(train)
    no_ranges.config = None
    with pytest.raises(ValueError, match=r"pbt: perturb field 'learning_rate' has no numeric range"):
        pbt.PBTTrain(no_ranges, ready_every=2, perturb=("learning_rate",))


@pytest.mark.slow
def test_pbt_rescues_a_population_with_learning_rates_30x_off():
    # CartPole-v1 PPO at PPO's 2.5e-4 x 30 and / 30, 4 seeds each, 51,200 env steps: as a plain
    # sweep the slow half barely moves (measured: 19-29 against 500 for the fast half), so the
    # median sits between the halves; with PBT every 5 iterations the slow members take the fast
    # ones' state and learning rate, and all end at 500 (as at 102,400 steps, ready every 10).
    config = ppo.Config(env="CartPole-v1", num_envs=4, rollout_length=128, total_timesteps=51_200, num_epochs=4,
                        num_minibatches=4)
    train = ppo.make_train(config)
    settings = sweep.grid(learning_rate=[2.5e-4 * 30, 2.5e-4 / 30])
    plain = sweep.run(train, settings, num_seeds=4)
    result = pbt.run(train, settings, num_seeds=4, ready_every=5, perturb=("learning_rate",))
    median, plain_median = np.median(result.table["final_return"]), np.median(plain.table["final_return"])
    assert median >= plain_median + 100 and median >= 400, (result.table["final_return"], plain.table["final_return"])
    # The slow members ended with learning rates inherited from the fast ones, within the range.
    assert np.all(result.table["learning_rate"][4:] > 1e-3), result.table["learning_rate"]
    # After the first generation, the two exploited members were slow ones, given fast parents.
    parents = result.lineage["parent"][result.lineage["generation"] == 0]
    exploited = np.flatnonzero(parents != np.arange(8))
    assert len(exploited) == 2 and set(exploited) <= {4, 5, 6, 7} and set(parents[exploited]) <= {0, 1, 2, 3}


def test_pbt_from_the_command_line_writes_its_tables_and_plot(tmp_path, capsys):
    # CONFIG's flags and the chunk test's population: the same compiled program.
    flags = ["ppo", "--env", "CartPole-v1", "--num-envs", "4", "--rollout-length", "32", "--total-timesteps", "1024",
             "--num-epochs", "1", "--num-minibatches", "2", "--hidden-sizes", "16", "--num-seeds", "2",
             "--grid", "learning_rate=1e-4,3e-4,1e-3,3e-3", "--ready-every", "2"]
    run_dir = tmp_path / "pbt"
    result = pbt_cli.main([*flags, "--perturb", "learning_rate,gae_lambda", "--run-dir", str(run_dir)])
    for name in ("config.json", "pbt.csv", "lineage.csv", "pbt.png"):
        assert (run_dir / name).is_file(), name
    recorded = json.loads((run_dir / "config.json").read_text())
    assert recorded["agent"] == "ppo" and recorded["pbt"]["perturb"] == ["learning_rate", "gae_lambda"]
    assert recorded["pbt"]["ready_every"] == 2 and len(recorded["settings"]) == 4
    with open(run_dir / "pbt.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 8 and [float(r["final_return"]) for r in rows] == list(result.table["final_return"])
    assert "median final return" in capsys.readouterr().out
    with pytest.raises(SystemExit, match=r"unknown hyperparameter 'nope'"):
        pbt_cli.main([*flags, "--perturb", "nope", "--run-dir", str(tmp_path / "bad")])


def test_pbt_runs_offline_agents_on_greedy_evaluation_and_copies_replay_when_asked():
    """Every agent kind: BC (no training return) ranked by its greedy evaluation, and DQN whose
    exploited members take their parent's replay buffer too (`also_copy`)."""
    import offline_data

    from jaxrl.agents import bc, dqn

    rows, _ = offline_data.dataset("Pendulum-v1", "medium-replay")
    offline = bc.make_train(bc.Config(env="Pendulum-v1", num_updates=200, updates_per_iteration=100,
                                      hidden_sizes=(16,), eval_episodes=2), rows)
    result = pbt.run(offline, SETTINGS, ready_every=1, perturb=("learning_rate",), fitness="eval")
    lineage = result.lineage
    assert np.isfinite(lineage["fitness"]).all() and (lineage["fitness"] < 0).all()  # Pendulum's returns
    first = lineage["generation"] == 0
    worst = np.argmin(lineage["fitness"][first])
    assert lineage["parent"][first][worst] == np.argmax(lineage["fitness"][first])  # 4 members: 1 exploited

    online = dqn.make_train(dqn.Config(env="CartPole-v1", num_envs=10, total_timesteps=400, steps_per_iteration=200,
                                       learning_starts=100, buffer_size=400, batch_size=16, hidden_sizes=(16,),
                                       target_update_every=100))
    copying = pbt.PBTTrain(online, ready_every=1, perturb=("learning_rate",), also_copy=("buffer_state",))
    keys, hparams = sweep.population(online.default_hparams, SETTINGS, 1)
    state = jax.jit(lambda k, h: copying.init(k, h, jax.random.key(0)))(keys, hparams)
    generation = jax.jit(jax.vmap(lambda s: online.run(s, 1)))(state.population)
    selected, record = jax.jit(copying.select)(generation[0], generation[1], jax.random.key(1))
    parents = np.asarray(record["parent"])
    (child,) = np.nonzero(parents != np.arange(4))[0]
    assert_trees_equal(jax.tree.map(lambda x: x[child], selected.buffer_state), generation[0].buffer_state,
                       parents[child])
    assert_trees_equal(jax.tree.map(lambda x: x[child], selected.agent_state), generation[0].agent_state,
                       parents[child])
