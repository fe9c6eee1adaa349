"""Pixel observations: the conv torso, MinAtar through `jaxrl.make`, every discrete-action agent
with `torso="conv"`, and PPO learning Breakout-MinAtar three times past a random policy (`make check`)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxrl
from jaxrl import networks
from jaxrl.agents import builder

MINATAR = {"Breakout-MinAtar": ((10, 10, 4), 3), "Asterix-MinAtar": ((10, 10, 4), 5),
           "Freeway-MinAtar": ((10, 10, 7), 3), "SpaceInvaders-MinAtar": ((10, 10, 6), 4)}


@pytest.mark.parametrize("name", sorted(MINATAR))
def test_minatar_games_come_from_make_with_image_observations(name):
    shape, actions = MINATAR[name]
    env = jaxrl.make(name)
    spec = env.spec()
    assert spec.observation.shape == shape and spec.action.num_values == actions
    state, timestep = env.reset(jax.random.key(0))
    assert timestep.observation.shape == shape and timestep.observation.dtype == jnp.float32


def test_conv_torso_is_a_3x3_convolution_then_dense_layers_over_any_leading_axes():
    torso = networks.ConvTorso((32,), "relu")
    images = jax.random.uniform(jax.random.key(0), (5, 3, 10, 10, 4))
    params = torso.init(jax.random.key(1), images[0, 0])
    assert params["params"]["Conv_0"]["kernel"].shape == (3, 3, 4, 16)
    assert params["params"]["MLP_0"]["Dense_0"]["kernel"].shape == (10 * 10 * 16, 32)
    out = torso.apply(params, images)
    assert out.shape == (5, 3, 32)
    np.testing.assert_allclose(out[2, 1], torso.apply(params, images[2, 1]), rtol=1e-5, atol=1e-6)
    # By hand: SAME-padded 3x3 convolution, ReLU, flatten (row-major H, W, C), dense, ReLU.
    conv = params["params"]["Conv_0"]
    padded = jnp.pad(images[0, 0], ((1, 1), (1, 1), (0, 0)))
    patches = jnp.stack([padded[i:i + 10, j:j + 10] for i in range(3) for j in range(3)], axis=2)  # [10,10,9,4]
    feature_map = jnp.einsum("hwkc,kcf->hwf", patches, conv["kernel"].reshape(9, 4, 16)) + conv["bias"]
    dense = params["params"]["MLP_0"]["Dense_0"]
    expected = jax.nn.relu(jax.nn.relu(feature_map).reshape(-1) @ dense["kernel"] + dense["bias"])
    np.testing.assert_allclose(out[0, 0], expected, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match=r"ConvTorso needs image observations \[..., H, W, C\], got shape \(4,\)"):
        torso.init(jax.random.key(1), jnp.zeros((4,)))


def test_make_torso_names_the_choices():
    assert isinstance(networks.make_torso("conv", (8,), "relu"), networks.ConvTorso)
    assert isinstance(networks.make_torso("mlp", (8,), "relu"), networks.MLP)
    with pytest.raises(ValueError, match=r"torso must be one of \('mlp', 'conv'\), got 'cnn'"):
        networks.make_torso("cnn", (8,), "relu")


@pytest.mark.parametrize("name", ["ppo", "dqn", "pqn", "impala", "recurrent_ppo", "r2d2"])
def test_every_discrete_action_agent_acts_on_minatar_through_the_conv_torso(name):
    module = jaxrl.agents.get(name)
    config = module.Config(env="Breakout-MinAtar", torso="conv", hidden_sizes=(16,))
    spec = builder.make_env(config).spec()
    agent = module.make_agent(config, spec)
    state = agent.init(jax.random.key(0), spec, config.hparams())
    observation = jax.random.bernoulli(jax.random.key(1), 0.2, (6, 10, 10, 4)).astype(jnp.float32)
    actor_state = agent.init_actor(state, 6)
    action, _, _ = agent.act(state, actor_state, observation, jax.random.key(2), config.hparams(), True)
    assert action.shape == (6,) and action.dtype == jnp.int32
    assert bool(jnp.all((action >= 0) & (action < 3)))
    # The conv kernel sees the 4 channels; an MLP config would read a flattened 400-vector instead.
    if name == "dqn":  # DQN keeps its parameters as one flat vector: the conv network's size
        network = module.make_network(spec, (16,), config.activation, config.dueling, config.num_atoms, torso="conv")
        tree = network.init(jax.random.key(0), observation[:1])
        assert tree["params"]["ConvTorso_0"]["Conv_0"]["kernel"].shape == (3, 3, 4, 16)
        assert state.params.shape == (sum(x.size for x in jax.tree.leaves(tree)),)
    else:
        assert (3, 3, 4, 16) in [x.shape for x in jax.tree.leaves(state.params)]
    with pytest.raises(ValueError, match=rf"{name}.Config.torso: 'conv' needs image observations \[H, W, C\], but "
                                         r"CartPole-v1 has observations of shape \(4,\); use torso='mlp'"):
        module.make_train(module.Config(env="CartPole-v1", torso="conv"))


# ---- learning (make check) ------------------------------------------------------------------------

# The baselines row's settings (experiments/baselines.py): 16 envs x 32 steps, 2 epochs x 2
# minibatches, a 64-wide layer after the conv, 51,200 env steps per seed.
BREAKOUT = dict(env="Breakout-MinAtar", torso="conv", num_envs=16, rollout_length=32, num_epochs=2, num_minibatches=2,
                hidden_sizes=(64,), activation="relu", learning_rate=1e-3, total_timesteps=51_200, eval_episodes=32)


@pytest.mark.check
def test_ppo_with_the_conv_torso_plays_breakout_minatar_three_times_better_than_random():
    # 4 vmapped seeds of convolutions with per-member kernels take minutes on XLA:CPU, past what
    # one learning test may cost in `make test`; `make check` runs it (see the Makefile).
    from experiments.baselines import random_return
    from jaxrl.agents import ppo

    config = ppo.Config(**BREAKOUT)
    train = ppo.make_train(config)
    out = jax.jit(jax.vmap(train))(jax.random.split(jax.random.key(0), 4))
    greedy = np.asarray(jax.jit(jax.vmap(train.evaluate))(out.state, jax.random.split(jax.random.key(1), 4)))
    random = random_return(config, episodes=256)
    assert 0.2 < random < 1.0, random  # a random paddle returns a brick now and then
    assert greedy.mean() >= 3 * random, (greedy, random)  # greedy play, as a saved policy acts
