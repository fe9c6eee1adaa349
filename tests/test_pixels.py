"""Pixel observations: the conv torso, MinAtar through `jaxrl.make`, every discrete-action agent
with `torso="conv"`, and PPO learning Breakout-MinAtar three times past a random policy."""

import flax.linen
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import assert_trees_equal, jaxpr_equations

import jaxrl
from jaxrl import networks, tricks
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
    # Unpadded, as Young & Tian's MinAtar network: an 8 x 8 map of 16 filters.
    assert params["params"]["MLP_0"]["Dense_0"]["kernel"].shape == (8 * 8 * 16, 32)
    out = torso.apply(params, images)
    assert out.shape == (5, 3, 32)
    np.testing.assert_allclose(out[2, 1], torso.apply(params, images[2, 1]), rtol=1e-5, atol=1e-6)
    # By hand: each output pixel sums the 3x3 window below it, ReLU, flatten (row-major H, W, C),
    # dense, ReLU.
    conv = params["params"]["Conv_0"]
    image = np.asarray(images[0, 0], np.float64)
    feature_map = np.zeros((8, 8, 16))
    for i in range(3):
        for j in range(3):
            feature_map += np.einsum("hwc,cf->hwf", image[i:i + 8, j:j + 8], np.asarray(conv["kernel"][i, j]))
    feature_map += np.asarray(conv["bias"])
    dense = params["params"]["MLP_0"]["Dense_0"]
    expected = np.maximum(np.maximum(feature_map, 0).reshape(-1) @ np.asarray(dense["kernel"]) + dense["bias"], 0)
    np.testing.assert_allclose(out[0, 0], expected, rtol=1e-4, atol=1e-5)
    # SAME padding keeps the 10 x 10 map; with `layer_norm`, LayerNorm follows the convolution too
    # (PQN's network), over the 16 filters of each pixel.
    same = networks.ConvTorso((32,), "relu", padding="SAME")
    assert same.init(jax.random.key(1), images[0, 0])["params"]["MLP_0"]["Dense_0"]["kernel"].shape == (1600, 32)
    normed = networks.ConvTorso((32,), "relu", layer_norm=True)
    normed_params = normed.init(jax.random.key(1), images[0, 0])
    assert normed_params["params"]["LayerNorm_0"]["scale"].shape == (16,)
    normed_params = {"params": {**normed_params["params"], "Conv_0": conv}}  # the same kernel as above
    mean, var = feature_map.mean(-1, keepdims=True), feature_map.var(-1, keepdims=True)
    normalised = np.maximum((feature_map - mean) / np.sqrt(var + 1e-6), 0).reshape(-1)
    hidden = normed_params["params"]["MLP_0"]
    first = normalised @ np.asarray(hidden["Dense_0"]["kernel"]) + hidden["Dense_0"]["bias"]
    first = np.maximum((first - first.mean()) / np.sqrt(first.var() + 1e-6), 0)
    np.testing.assert_allclose(normed.apply(normed_params, images[0, 0]), first, rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match=r"ConvTorso needs image observations \[..., H, W, C\], got shape \(4,\)"):
        torso.init(jax.random.key(1), jnp.zeros((4,)))


@pytest.mark.parametrize("padding", ["SAME", "VALID"])
def test_conv_is_flax_conv_on_both_paths_of_the_cpu_tricks(padding):
    # The patch matmul (CPU path) and lax's convolution (elsewhere) hold nn.Conv's parameters and
    # give its values and gradients: exactly on the plain path, to float summation order on the other.
    images = jax.random.uniform(jax.random.key(0), (6, 10, 10, 4))
    reference = flax.linen.Conv(16, (3, 3), padding=padding)
    conv = networks.Conv(16, 3, padding=padding)
    params = reference.init(jax.random.key(1), images)
    assert_trees_equal(params, conv.init(jax.random.key(1), images))

    def loss(module, params):
        return jnp.sum(jnp.square(jnp.tanh(module.apply(params, images))))

    expected = jax.jit(reference.apply)(params, images), jax.jit(jax.grad(lambda p: loss(reference, p)))(params)
    for on in (True, False):
        with tricks.cpu_tricks(on):
            got = jax.jit(conv.apply)(params, images), jax.jit(jax.grad(lambda p: loss(conv, p)))(params)
            primitives = {eqn.primitive.name for eqn in jaxpr_equations(
                jax.make_jaxpr(jax.grad(lambda p: loss(conv, p)))(params).jaxpr)}
        assert ("conv_general_dilated" in primitives) is not on
        if on:
            for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(expected)):
                np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5 * float(jnp.max(jnp.abs(b))))
        else:
            assert_trees_equal(got, expected)
    with pytest.raises(ValueError, match=r"Conv padding must be one of \('SAME', 'VALID'\), got 'FULL'"):
        networks.Conv(16, padding="FULL").init(jax.random.key(1), images)


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
    # Jitted: op by op, the conv agents' init and act compiled hundreds of single-op programs.
    state = jax.jit(lambda key: agent.init(key, spec, config.hparams()))(jax.random.key(0))
    observation = jax.random.bernoulli(jax.random.key(1), 0.2, (6, 10, 10, 4)).astype(jnp.float32)
    action = jax.jit(lambda state, observation, key: agent.act(state, agent.init_actor(state, 6), observation, key,
                                                               config.hparams(), True)[0])(
        state, observation, jax.random.key(2))
    assert action.shape == (6,) and action.dtype == jnp.int32
    assert bool(jnp.all((action >= 0) & (action < 3)))
    # The conv kernel sees the 4 channels; an MLP config would read a flattened 400-vector instead.
    if name == "dqn":  # DQN keeps its parameters as one flat vector: the conv network's size
        network = module.make_network(spec, (16,), config.activation, config.dueling, config.num_atoms, torso="conv")
        tree = jax.eval_shape(network.init, jax.random.key(0), observation[:1])  # shapes only
        assert tree["params"]["ConvTorso_0"]["Conv_0"]["kernel"].shape == (3, 3, 4, 16)
        assert state.params.shape == (sum(x.size for x in jax.tree.leaves(tree)),)
    else:
        assert (3, 3, 4, 16) in [x.shape for x in jax.tree.leaves(state.params)]
    with pytest.raises(ValueError, match=rf"{name}.Config.torso: 'conv' needs image observations \[H, W, C\], but "
                                         r"CartPole-v1 has observations of shape \(4,\); use torso='mlp'"):
        module.make_train(module.Config(env="CartPole-v1", torso="conv"))


# ---- learning ------------------------------------------------------------------------------------

# The baselines row's settings (experiments/baselines.py): 16 envs x 32 steps, 2 epochs x 2
# minibatches, a 64-wide layer after the conv, 51,200 env steps per seed.
BREAKOUT = dict(env="Breakout-MinAtar", torso="conv", num_envs=16, rollout_length=32, num_epochs=2, num_minibatches=2,
                hidden_sizes=(64,), activation="relu", learning_rate=1e-3, total_timesteps=51_200, eval_episodes=32)


def test_ppo_with_the_conv_torso_plays_breakout_minatar_three_times_better_than_random():
    # ~20 s on 2 cores since the convolution runs as a patch matmul there (networks.conv); with
    # XLA:CPU's own convolution it took minutes.
    from experiments.baselines import random_return
    from jaxrl.agents import ppo

    config = ppo.Config(**BREAKOUT)
    train = ppo.make_train(config)
    out = jax.jit(jax.vmap(train))(jax.random.split(jax.random.key(0), 4))
    greedy = np.asarray(jax.jit(jax.vmap(train.evaluate))(out.state, jax.random.split(jax.random.key(1), 4)))
    random = random_return(config, episodes=256)
    assert 0.2 < random < 1.0, random  # a random paddle returns a brick now and then
    assert greedy.mean() >= 3 * random, (greedy, random)  # greedy play, as a saved policy acts
