"""The host loop: environments that are not written in JAX (Gymnasium, envpool) step on the host,
in Python or C++, while the agent's `act`, `observe` and `update` run as compiled functions
(Sebulba, Hessel et al. 2021, "Podracer architectures"; Acme's environment loop with a dm_env).

It trains the same `Agent` bundles as the compiled loops, on the same schedules, and produces
the same `TrainState` and metrics, so the driver's chunks, checkpoints, evaluation and telemetry
work unchanged. A population of P members (seeds x hyperparameters) steps one host batch of
P * num_envs envs; every compiled function is vmapped over the members.

What differs from a compiled run, by necessity:
- the host env's state is not in the `TrainState` (`env_state` is None) and its randomness is
  its own (seeded from the run's key). A state that this program did not just return (a
  restored checkpoint) therefore restarts the episodes: the envs are reset, the observation and
  the actor state are fresh, while agent, optimiser and replay state continue exactly;
- acting costs one compiled call per env step and a transfer of the actions to the host.

`overlap=True` (on-policy) collects the next rollout while the learner updates on the last one,
Sebulba's actor/learner split: the actors then act with parameters one update old (PPO's ratio
to the behaviour policy's stored log-probabilities corrects for it), and with `actor_device` and
`learner_device` the two sides run on different devices.
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl import prng
from jaxrl.envs.host import HostEnvironment, HostStep, first_episode_returns, seed_from_key
from jaxrl.loops import common, off_policy, on_policy
from jaxrl.loops.common import TrainOutput, TrainState, check_run_steps
from jaxrl.replay import ReplayBuffer, SequenceAdder, n_step
from jaxrl.types import Agent, EnvSpec, Metrics, PRNGKey, Transition

MakeHostEnv = Callable[[int], HostEnvironment]


class HostTrain:
    """A training program over host-side environments, with the surface the driver uses.

    `train(key, hparams=None)` runs one member and returns a `TrainOutput`; the population methods
    (`init_population`, `run_population`, `evaluate_population`, `abstract_population`) run P
    members at once. It cannot be `jax.jit`-ed or vmapped: the environments live outside the
    compiled program (the error says so).
    """

    host_loop = True
    step_metric = "env_steps"

    def __init__(self, make_env: MakeHostEnv, agent: Agent, spec: EnvSpec, *, num_iterations: int,
                 steps_per_iteration: int, default_hparams: Any, config: Any = None,
                 make_eval_env: MakeHostEnv | None = None):
        check_run_steps(num_iterations, steps_per_iteration, self.step_metric, config)
        self.make_env = make_env
        self.agent = agent
        self.spec = spec
        self.num_envs = spec.num_envs
        self.num_iterations = num_iterations
        self.steps_per_iteration = steps_per_iteration
        self.default_hparams = default_hparams
        self.config = config
        self.make_eval_env = make_eval_env
        self.evaluate = None if make_eval_env is None else self._evaluate_one
        self.__name__ = "train"
        self._env: HostEnvironment | None = None
        self._eval_env: HostEnvironment | None = None
        self._live: TrainState | None = None  # the state this program returned last
        self._single: TrainState | None = None  # the same, without the member axis (`init`, `run`)
        self._inits: dict[int | None, Any] = {}
        agent_ = agent
        # One compiled call per env step: the previous step's transition through `observe` and
        # `reset_actor`, then the next action (`_policy`, the loop's own: warm-up, schedules).
        # The host's NumPy arrays go in as arguments: no separate transfers.

        def act(agent_state, actor_state, observation, key, t, hparams, env_steps):
            return self._policy(agent_state, actor_state, observation, jax.random.fold_in(key, t), hparams,
                                env_steps, t)

        def record(actor_state, window, hparams, observation, action, extras, reward, discount, last,
                   next_observation):
            transition = Transition(observation=observation, action=action, reward=reward, discount=discount,
                                    last=last, next_observation=next_observation, extras=extras)
            actor_state, transition = agent_.observe(actor_state, transition)
            if window is not None:  # n-step returns: store the transition that starts n - 1 steps ago
                window, transition, _ = n_step.push(window, transition, hparams.gamma)
            return agent_.reset_actor(actor_state, last), window, transition

        def record_act(agent_state, actor_state, window, observation, action, extras, reward, discount, last,
                       next_observation, new_observation, key, t, hparams, env_steps):
            actor_state, window, transition = record(actor_state, window, hparams, observation, action, extras,
                                                     reward, discount, last, next_observation)
            action, actor_state, extras = act(agent_state, actor_state, new_observation, key, t, hparams, env_steps)
            return transition, window, action, actor_state, extras

        def greedy(agent_state, actor_state, observation, key, hparams, env_steps):
            return agent_.act(agent_state, actor_state, observation, key, hparams, True, env_steps)

        per_member = (0,) * 4 + (None, 0, 0)
        self._act = jax.jit(jax.vmap(act, in_axes=per_member))
        self._record = jax.jit(jax.vmap(record))
        self._record_act = jax.jit(jax.vmap(record_act, in_axes=(0,) * 12 + (None, 0, 0)))
        self._greedy = jax.jit(jax.vmap(greedy))
        self._init_actor = jax.jit(jax.vmap(lambda agent_state: agent_.init_actor(agent_state, self.num_envs)))
        self._sync = jax.jit(jax.vmap(agent_.sync_actor))
        self._reset_actor = jax.jit(jax.vmap(agent_.reset_actor))
        self._init_eval_actor = jax.jit(jax.vmap(lambda agent_state: agent_.init_actor(agent_state,
                                                                                       self._eval_envs)))
        self._split2 = jax.jit(jax.vmap(lambda key: tuple(jax.random.split(key))))

    def _policy(self, agent_state, actor_state, observation, key, hparams, env_steps, t):
        """The action of training step `t` of an iteration (one member)."""
        return self.agent.act(agent_state, actor_state, observation, key, hparams, False, env_steps)

    def _steps(self, agent_state, actor_state, window, observation, key, hparams, env_steps, num_steps: int,
               members: int, first_step: int = 0):
        """`num_steps` steps of every host env from `observation` (device [P, N, ...]), pushing each
        through the n-step `window` if it is not None: returns the actor state, the window, the
        next observation, the stored `Transition`s (one per step, device) and the host's
        `HostStep`s. Step t of the iteration acts with key fold_in(key, t)."""
        t = np.int32(first_step)
        action, actor_state, extras = self._act(agent_state, actor_state, observation, key, t, hparams, env_steps)
        transitions, results = [], []
        for i in range(num_steps):
            result = self._host_step(action)
            host = self._outcome(result, members)
            new_observation = self._host(result.observation, members)
            if i + 1 < num_steps:
                transition, window, next_action, actor_state, next_extras = self._record_act(
                    agent_state, actor_state, window, observation, action, extras, *host, new_observation, key,
                    np.int32(first_step + i + 1), hparams, env_steps)
            else:
                actor_state, window, transition = self._record(actor_state, window, hparams, observation, action,
                                                               extras, *host)
                next_action = next_extras = None
            transitions.append(transition)
            results.append(result)
            observation, action, extras = new_observation, next_action, next_extras
        return actor_state, window, jnp.asarray(observation), transitions, results

    # -- the per-member pieces each loop supplies ------------------------------------------------
    def _init_member(self, key: PRNGKey, hparams: Any, observation: Any) -> TrainState:
        raise NotImplementedError

    def _iteration(self, state: TrainState) -> tuple[TrainState, dict[str, np.ndarray]]:
        raise NotImplementedError

    # -- host env plumbing -----------------------------------------------------------------------
    def _population_env(self, members: int) -> HostEnvironment:
        if self._env is None or self._env.num_envs != members * self.num_envs:
            if self._env is not None:
                self._env.close()
            self._env = self.make_env(members * self.num_envs)
        return self._env

    def _host(self, x: np.ndarray, members: int, per_member: int | None = None) -> np.ndarray:
        """Host [P * N, ...] -> host [P, N, ...] (a view); N is `num_envs` unless `per_member`."""
        return np.reshape(x, (members, per_member or self.num_envs) + np.shape(x)[1:])

    def _split(self, x: np.ndarray, members: int, per_member: int | None = None) -> jax.Array:
        """Host [P * N, ...] -> device [P, N, ...]."""
        return jnp.asarray(self._host(x, members, per_member))

    @staticmethod
    def _flat(action: jax.Array) -> np.ndarray:
        """Device actions [P, N, ...] -> host [P * N, ...], as a host env steps them."""
        action = np.asarray(action)
        return np.reshape(action, (action.shape[0] * action.shape[1],) + action.shape[2:])

    def _outcome(self, result: HostStep, members: int) -> list[np.ndarray]:
        """The step's reward, discount, last and next_observation as [P, N, ...] views: the
        arguments `_record` takes after the acted step."""
        return [self._host(getattr(result, f), members) for f in ("reward", "discount", "last", "next_observation")]

    @staticmethod
    def _metric_rows(rows: list[Metrics]) -> dict[str, np.ndarray]:
        """Per-iteration metric dicts (device, leaves [P]) -> NumPy [P, iterations] per metric."""
        rows = jax.device_get(rows)
        return {k: np.stack([np.asarray(r[k]) for r in rows], axis=1) for k in rows[0]} if rows else {}

    @staticmethod
    def _members(state: TrainState) -> int:
        return int(np.shape(state.iteration)[0])

    def _restart(self, state: TrainState) -> TrainState:
        """New episodes in every env (seeded from the state's key and iteration), with a fresh actor
        state: the continuation of a state whose envs are gone (a restored checkpoint)."""
        members = self._members(state)
        env = self._population_env(members)
        observation = env.reset(seed_from_key(jax.random.key_data(state.key), int(np.asarray(state.iteration)[0]) + 1))
        return state.replace(observation=self._split(observation, members),
                             actor_state=self._init_actor(state.agent_state))

    # -- the population surface the driver uses --------------------------------------------------
    def _check_hparams(self, hparams: Any) -> Any:
        if hparams is None:
            return self.default_hparams
        common.check_hparams_type(self.default_hparams, hparams)
        return hparams

    def _compiled_init(self, hparams_axis: int | None):
        if hparams_axis not in self._inits:
            self._inits[hparams_axis] = jax.jit(jax.vmap(self._init_member, in_axes=(0, hparams_axis, 0)))
        return self._inits[hparams_axis]

    def abstract_population(self, keys: jax.Array, hparams: Any = None, hparams_axis: int | None = None) -> Any:
        """The population state's shapes (`jax.eval_shape`), for restoring a checkpoint: no env is
        stepped, nothing is initialised."""
        hparams = self._check_hparams(hparams)
        observation = jax.ShapeDtypeStruct((len(keys), self.num_envs) + self.spec.observation.shape, jnp.float32)
        return jax.eval_shape(self._compiled_init(hparams_axis), keys, hparams, observation)

    def init_population(self, keys: jax.Array, hparams: Any = None, hparams_axis: int | None = None) -> TrainState:
        """The first state of a population with keys [P] (typed PRNG keys) and `hparams` shared
        (`hparams_axis=None`) or stacked along a leading axis (0); resets the P * num_envs envs."""
        if isinstance(keys, jax.core.Tracer):
            raise TypeError("a train program on host-side environments runs outside jax.jit / jax.vmap: call "
                            "train(key) or the driver directly (the environments step on the host)")
        hparams = self._check_hparams(hparams)
        members = len(keys)
        env = self._population_env(members)
        observation = env.reset(seed_from_key(jax.random.key_data(keys[0])))
        state = self._compiled_init(hparams_axis)(keys, hparams, self._split(observation, members))
        self._live = state
        return state

    def run_population(self, state: TrainState, num_iterations: int) -> tuple[TrainState, Metrics]:
        """`num_iterations` more iterations of the population; metrics as NumPy [P, num_iterations]."""
        if isinstance(state.iteration, jax.core.Tracer):
            raise TypeError("a train program on host-side environments runs outside jax.jit / jax.vmap")
        if not isinstance(num_iterations, int) or num_iterations < 0:
            raise ValueError(f"num_iterations must be a non-negative Python int, got {num_iterations!r}")
        if state is not self._live:
            state = self._restart(state)
        rows = []
        for _ in range(num_iterations):
            state, metrics = self._iteration(state)
            rows.append(metrics)
        self._live = state
        return state, self._metric_rows(rows)

    def evaluate_population(self, state: TrainState, keys: jax.Array) -> np.ndarray:
        """Greedy play in separate host envs: one episode in each of `make_eval_env`'s envs per
        member (seeded from `keys`); returns each member's mean return [P]."""
        if self.make_eval_env is None:
            raise ValueError("this train program has no evaluation environment")
        members, per_member = self._members(state), self._eval_envs
        if self._eval_env is None or self._eval_env.num_envs != members * per_member:
            if self._eval_env is not None:
                self._eval_env.close()
            self._eval_env = self.make_eval_env(members * per_member)
        actor_state = self._init_eval_actor(state.agent_state)
        key = keys

        def act(observation: np.ndarray, last: np.ndarray | None) -> np.ndarray:
            nonlocal actor_state, key
            if last is not None:
                actor_state = self._reset_actor(actor_state, self._split(last, members, per_member))
            key, act_key = self._split2(key)
            action, actor_state, _ = self._greedy(state.agent_state, actor_state,
                                                  self._split(observation, members, per_member), act_key,
                                                  state.hparams, state.env_steps)
            return self._flat(action)

        returns = first_episode_returns(self._eval_env, seed_from_key(jax.random.key_data(keys[0])), act)
        return returns.reshape(members, per_member).mean(axis=1)

    @property
    def _eval_envs(self) -> int:
        return int(getattr(self.config, "eval_episodes", 10))

    def _evaluate_one(self, state: TrainState, key: PRNGKey) -> np.ndarray:
        batched = jax.tree.map(lambda x: x[None], state)
        return self.evaluate_population(batched, key[None])[0]

    def init(self, key: PRNGKey, hparams: Any = None) -> TrainState:
        """One member's first state (a population of one, without the member axis)."""
        self._single = jax.tree.map(lambda x: x[0], self.init_population(key[None], hparams))
        return self._single

    def run(self, state: TrainState, num_iterations: int) -> tuple[TrainState, Metrics]:
        """`num_iterations` more iterations of one member's `state` (from `init` or `run`)."""
        batched = self._live if state is self._single else jax.tree.map(lambda x: x[None], state)
        state, metrics = self.run_population(batched, num_iterations)
        self._single = jax.tree.map(lambda x: x[0], state)
        return self._single, {k: v[0] for k, v in metrics.items()}

    def __call__(self, key: PRNGKey, hparams: Any = None) -> TrainOutput:
        state = self.init_population(key[None], hparams)
        state, metrics = self.run_population(state, self.num_iterations)
        return TrainOutput(jax.tree.map(lambda x: x[0], state), {k: v[0] for k, v in metrics.items()})

    def close(self) -> None:
        """Closes the host envs (their processes or threads)."""
        for env in (self._env, self._eval_env):
            if env is not None:
                env.close()
        self._env = self._eval_env = None

    # -- shared stepping -------------------------------------------------------------------------
    def _host_step(self, action: jax.Array) -> HostStep:
        return self._env.step(self._flat(action))

    def _stats(self, results: list[HostStep], members: int, shape: tuple[int, ...]) -> tuple[jax.Array, ...]:
        """(last, episode_return, episode_length) of the steps, as device arrays [P, *shape, N]."""

        def stack(field):
            x = np.stack([getattr(r, field) for r in results])  # [steps, P * N]
            x = np.reshape(x, shape + (members, self.num_envs))
            return jnp.asarray(np.moveaxis(x, len(shape), 0))

        return stack("last"), stack("episode_return"), stack("episode_length")


class HostOnPolicyTrain(HostTrain):
    """The on-policy loop (`loops.on_policy`) over host envs: a rollout of `rollout_length` steps
    of every env, then the agent's update on it (`on_policy.learner`, the same code as compiled)."""

    def __init__(self, make_env: MakeHostEnv, agent: Agent, spec: EnvSpec, *, rollout_length: int,
                 overlap: bool = False, actor_device: Any = None, learner_device: Any = None, **kwargs: Any):
        super().__init__(make_env, agent, spec, steps_per_iteration=rollout_length * spec.num_envs, **kwargs)
        self.rollout_length = rollout_length
        self.overlap = overlap
        self.actor_device = actor_device
        self.learner_device = learner_device
        learn = on_policy.learner(agent, rollout_length, spec.num_envs)

        def finish(state, key, update_key, actor_state, observation, trajectory, stats):
            last, returns, lengths = stats
            return learn(state, key, update_key, actor_state, None, observation, trajectory,
                         {"last": last, "episode_return": returns, "episode_length": lengths})

        self._split3 = jax.jit(jax.vmap(lambda key: tuple(prng.split(key, 3))))
        # The rollout's steps as one time-major trajectory [P, T, N, ...], on the actor's device:
        # one transfer to the learner's, not one per step and field.
        self._stack = jax.jit(lambda steps: jax.tree.map(lambda *xs: jnp.stack(xs, axis=1), *steps))
        self._finish = jax.jit(jax.vmap(finish))
        self._fast_key = jax.jit(jax.vmap(prng.fast_key))

    def _init_member(self, key: PRNGKey, hparams: Any, observation: Any) -> TrainState:
        key, agent_key = jax.random.split(key)
        agent_state = self.agent.init(agent_key, self.spec, hparams)
        actor_state = self.agent.init_actor(agent_state, self.num_envs)
        return common.first_state(agent_state, actor_state, None, observation, None, key, hparams)

    def _rollout(self, agent_state, actor_state, observation, rollout_key, hparams, env_steps, members):
        actor_state, _, observation, transitions, results = self._steps(
            agent_state, actor_state, None, observation, self._fast_key(rollout_key), hparams, env_steps,
            self.rollout_length, members)
        return actor_state, observation, transitions, self._stats(results, members, (self.rollout_length,))

    def _iteration(self, state: TrainState) -> tuple[TrainState, Metrics]:
        members = self._members(state)
        key, rollout_key, update_key = self._split3(state.key)
        actor_state, observation, transitions, stats = self._rollout(
            state.agent_state, state.actor_state, state.observation, rollout_key, state.hparams, state.env_steps,
            members)
        return self._finish(state, key, update_key, actor_state, observation, self._stack(transitions), stats)

    def run_population(self, state: TrainState, num_iterations: int) -> tuple[TrainState, Metrics]:
        if not self.overlap or num_iterations == 0:
            return super().run_population(state, num_iterations)
        if state is not self._live:
            state = self._restart(state)
        members = self._members(state)
        rows = []
        # The actor side keeps everything the next rollout needs without waiting for the learner:
        # its env state, the key chain, the step count, and the parameters it acts with.
        # With an `actor_device`, all of it lives there and only the rollouts cross to the learner.
        state = self._to(state, self.learner_device)
        actor_state, observation, hparams, env_steps = self._to(
            (state.actor_state, state.observation, state.hparams, state.env_steps), self.actor_device)
        key = state.key
        acting = state.agent_state
        for _ in range(num_iterations):
            key, rollout_key, update_key = self._split3(key)
            # Runs while the update dispatched last (asynchronously) computes: `acting` are the
            # parameters from before that update.
            actor_state, observation, transitions, stats = self._rollout(
                self._to(acting, self.actor_device), actor_state, observation, self._to(rollout_key, self.actor_device),
                hparams, env_steps, members)
            env_steps = env_steps + self.steps_per_iteration
            # What the next rollout acts with: the input of the update dispatched now (the output of
            # the one before it), one update old when the next rollout starts.
            acting = state.agent_state
            state, metrics = self._finish(state, key, update_key, self._to(actor_state, self.learner_device),
                                          self._to(observation, self.learner_device),
                                          self._to(self._stack(transitions), self.learner_device),
                                          self._to(stats, self.learner_device))
            rows.append(metrics)
            actor_state = self._sync(actor_state, self._to(acting, self.actor_device))
        # The state handed on: the last update's, with the actor side's own state.
        state = state.replace(actor_state=self._to(actor_state, self.learner_device))
        self._live = state
        return state, self._metric_rows(rows)

    @staticmethod
    def _to(tree: Any, device: Any) -> Any:
        return tree if device is None else jax.device_put(tree, device)


class HostOffPolicyTrain(HostTrain):
    """The off-policy loop (`loops.off_policy`) over host envs: update periods of `period_steps`
    steps of every env (uniformly random actions during the warm-up), each written to the replay
    buffer and followed by `updates_per_period` updates (`off_policy.store_and_learn`, the same
    code as compiled), with n-step returns (`n_step_length`, the window filled by n - 1 random
    steps at the start, as compiled) or a sequence adder (R2D2's replayed sequences).

    A restart (a restored checkpoint, see `HostTrain`) ends every episode in flight: the newest
    step in the n-step window or the adder's pending steps is marked LAST, keeping its discount,
    i.e. a truncation, so no stored window joins the old episode to the new one."""

    def __init__(self, make_env: MakeHostEnv, agent: Agent, spec: EnvSpec, buffer: ReplayBuffer, *,
                 periods_per_iteration: int, period_steps: int = 1, updates_per_period: int = 1,
                 warmup_steps: int = 0, n_step_length: int = 1, adder: SequenceAdder | None = None, **kwargs: Any):
        super().__init__(make_env, agent, spec, steps_per_iteration=periods_per_iteration * period_steps
                         * spec.num_envs, **kwargs)
        if adder is not None and (n_step_length != 1 or period_steps % adder.period):
            raise ValueError(f"host loop: a sequence adder needs n_step_length 1 and period_steps ({period_steps}) "
                             f"a multiple of its period ({adder.period})")
        self.buffer = buffer
        self.adder = adder
        self.n_step_length = n_step_length
        self.periods_per_iteration = periods_per_iteration
        self.period_steps = period_steps
        self.updates_per_period = updates_per_period
        self.warmup_steps = warmup_steps

        def prefill_act(agent_state, actor_state, observation, key, hparams, env_steps):
            # The compiled loop's prefill: uniformly random actions, zeros for the actor's extras.
            _, actor_state, extras = agent.act(agent_state, actor_state, observation, key, hparams, False, env_steps)
            action = jax.vmap(spec.action.sample)(jax.random.split(key, spec.num_envs))
            return action, actor_state, jax.tree.map(jnp.zeros_like, extras)

        def cut(loop_state):
            def end_newest(window):
                return window._replace(last=window.last.at[-1].set(True)) if window.last.shape[0] else window

            window = loop_state.n_step
            if window is not None:
                window = window._replace(window=end_newest(window.window))
            sequences = loop_state.sequences
            if sequences is not None:
                sequences = sequences._replace(window=end_newest(sequences.window))
            return loop_state._replace(n_step=window, sequences=sequences)

        self._prefill_act = jax.jit(jax.vmap(prefill_act))
        self._cut = jax.jit(jax.vmap(cut))
        self._prefill_keys = jax.jit(jax.vmap(lambda key, i: jax.random.fold_in(key, -1_000_000 - i),
                                              in_axes=(0, None)))

        def begin(state: TrainState):
            key, periods_key = jax.random.split(state.key)
            return key, periods_key, self._zero_metrics(state)

        def period(state, agent_state, actor_state, loop_state, transitions, env_steps, metric_sums, key):
            transitions = jax.tree.map(lambda *xs: jnp.stack(xs), *transitions)
            return off_policy.store_and_learn(agent, buffer, adder, state.hparams, agent_state, actor_state,
                                              loop_state, transitions, env_steps, metric_sums, key,
                                              updates_per_period=updates_per_period, warmup_steps=warmup_steps)

        def finish(state, agent_state, actor_state, observation, loop_state, key, env_steps, stats, metric_sums,
                   num_updates):
            return off_policy.end_iteration(state, agent_state, actor_state, None, observation, loop_state, key,
                                            env_steps, stats, metric_sums, num_updates)

        self._begin = jax.jit(jax.vmap(begin))
        self._period = jax.jit(jax.vmap(period))
        self._finish = jax.jit(jax.vmap(finish))
        self._learn_key = jax.jit(jax.vmap(lambda key, p: jax.random.fold_in(key, -1 - p), in_axes=(0, None)))

    def _policy(self, agent_state, actor_state, observation, key, hparams, env_steps, t):
        """The off-policy loop's action: the agent's, told the env steps taken before step `t` of the
        iteration, or uniformly random during the warm-up."""
        env_steps = env_steps + t * self.num_envs
        act_key, random_key = jax.random.split(key)
        action, actor_state, extras = self.agent.act(agent_state, actor_state, observation, act_key, hparams, False,
                                                     env_steps)
        random = jax.vmap(self.spec.action.sample)(jax.random.split(random_key, self.num_envs))
        action = jnp.where(env_steps < self.warmup_steps * self.num_envs, random.astype(action.dtype), action)
        return action, actor_state, extras

    def _example(self, agent_state: Any, actor_state: Any, observation: Any, key: PRNGKey, hparams: Any) -> Transition:
        """One stored transition's shapes and dtypes (no batch axis), the actor's extras included."""
        action, _, extras = jax.eval_shape(lambda: self.agent.act(agent_state, actor_state, observation, key,
                                                                  hparams, False, jnp.zeros((), jnp.int32)))
        one = lambda x: jnp.zeros(x.shape[1:], x.dtype)  # noqa: E731
        return Transition(observation=one(observation), action=one(action), reward=jnp.zeros((), jnp.float32),
                          discount=jnp.zeros((), jnp.float32), last=jnp.zeros((), bool),
                          next_observation=one(observation), extras=jax.tree.map(one, extras))

    def _init_member(self, key: PRNGKey, hparams: Any, observation: Any) -> TrainState:
        key, agent_key, example_key = jax.random.split(key, 3)
        agent_state = self.agent.init(agent_key, self.spec, hparams)
        actor_state = self.agent.init_actor(agent_state, self.num_envs)
        example = self._example(agent_state, actor_state, observation, example_key, hparams)
        window = None if self.n_step_length == 1 else n_step.init(example, self.num_envs, self.n_step_length)
        loop_state = off_policy.first_loop_state(self.buffer, self.adder, example, self.num_envs, window)
        return common.first_state(agent_state, actor_state, None, observation, loop_state, key, hparams,
                                  env_steps=(self.n_step_length - 1) * self.num_envs)

    def init_population(self, keys: jax.Array, hparams: Any = None, hparams_axis: int | None = None) -> TrainState:
        state = super().init_population(keys, hparams, hparams_axis)
        if self.n_step_length == 1:
            return state
        # Fill the n-step window with n - 1 random steps of every env, so that every later step
        # stores a complete n-step transition (`env_steps` already counts them).
        members = self._members(state)
        actor_state, window, observation = state.actor_state, state.buffer_state.n_step, state.observation
        for i in range(self.n_step_length - 1):
            action, actor_state, extras = self._prefill_act(state.agent_state, actor_state, observation,
                                                            self._prefill_keys(state.key, np.int32(i)),
                                                            state.hparams, state.env_steps)
            result = self._host_step(action)
            actor_state, window, _ = self._record(actor_state, window, state.hparams, observation, action, extras,
                                                  *self._outcome(result, members))
            observation = self._split(result.observation, members)
        state = state.replace(actor_state=actor_state, observation=observation,
                              buffer_state=state.buffer_state._replace(n_step=window))
        self._live = state
        return state

    def _restart(self, state: TrainState) -> TrainState:
        state = super()._restart(state)
        return state.replace(buffer_state=self._cut(state.buffer_state))

    def _zero_metrics(self, state: TrainState) -> Metrics:
        if self.updates_per_period == 0:
            return {}
        return off_policy.zero_update_metrics(self.agent, self.buffer, state.agent_state, state.buffer_state.replay,
                                              state.key, state.hparams)

    def _iteration(self, state: TrainState) -> tuple[TrainState, Metrics]:
        members = self._members(state)
        num_envs = self.num_envs
        key, periods_key, metric_sums = self._begin(state)
        agent_state, actor_state, observation = state.agent_state, state.actor_state, state.observation
        loop_state, env_steps = state.buffer_state, state.env_steps
        results, num_updates = [], []
        for p in range(self.periods_per_iteration):
            # Step t of the iteration acts with fold_in(periods_key, t); period p learns with
            # fold_in(periods_key, -1 - p).
            actor_state, window, observation, transitions, period_results = self._steps(
                agent_state, actor_state, loop_state.n_step, observation, periods_key, state.hparams,
                state.env_steps, self.period_steps, members, first_step=p * self.period_steps)
            results += period_results
            env_steps = env_steps + self.period_steps * num_envs
            agent_state, actor_state, loop_state, metric_sums, updates = self._period(
                state, agent_state, actor_state, loop_state._replace(n_step=window), transitions, env_steps,
                metric_sums, self._learn_key(periods_key, np.int32(p)))
            num_updates.append(updates)
        stats = self._stats(results, members, (self.periods_per_iteration, self.period_steps))
        return self._finish(state, agent_state, actor_state, observation, loop_state, key, env_steps, stats,
                            metric_sums, jnp.stack(num_updates, axis=1))


__all__ = ["HostOffPolicyTrain", "HostOnPolicyTrain", "HostTrain"]
