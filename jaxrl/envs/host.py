"""Host-side environments: Gymnasium vector envs and envpool, stepped in Python/C++ outside the
compiled program (Acme's dm_env actors; Hessel et al. 2021, "Podracer architectures", Sebulba).

A `HostEnvironment` is a batch of `num_envs` envs with NumPy arrays in and out, shaped to the
same contract as the compiled loops' batched envs (`jaxrl.envs.batched`):

- auto-reset on the SAME step: `step` returns the next episode's first observation where an
  episode ended, and the true final observation in `next_observation`, so no transition ever
  crosses an episode boundary. Gymnasium 1.x is asked for this (`AutoresetMode.SAME_STEP`);
  envpool resets on the NEXT step (that step ignores its action), so its adapter resets the
  ended envs itself right away (`reset(env_id=...)`) and no step is ever wasted or dropped;
- time limits are truncations: `discount` is 0 only where an episode terminated, 1 where it was
  truncated, so learners bootstrap through it;
- episode statistics (`episode_return`, `episode_length` of the episodes that end at a step);
- bounded continuous actions arrive in [-1, 1] and are clipped and mapped onto the env's box,
  as `wrappers.RescaleAction` does for the compiled envs.

`make_host("gymnasium/CartPole-v1", num_envs)` or `make_host("envpool/HalfCheetah-v4", num_envs)`;
any Gymnasium vector env made with `AutoresetMode.SAME_STEP` enters through `GymnasiumVectorEnv`.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import numpy as np

from jaxrl.envs.base import check_episode_length
from jaxrl.types import Box, Discrete, EnvSpec

GYMNASIUM_PREFIX = "gymnasium/"
ENVPOOL_PREFIX = "envpool/"
HOST_PREFIXES = (GYMNASIUM_PREFIX, ENVPOOL_PREFIX)


def is_host_env(name: str) -> bool:
    """True for the names of host-side environments ("gymnasium/...", "envpool/...")."""
    return isinstance(name, str) and name.startswith(HOST_PREFIXES)


class HostStep(NamedTuple):
    """One step of every env of a `HostEnvironment` (NumPy, leading axis [num_envs]).

    observation: what the agent acts on next (the first of a new episode where one ended).
    reward, discount: float32; discount is 0 where the episode terminated, else 1.
    last: bool, where the episode ended (terminated or truncated).
    next_observation: the true successor of the step's observation (the final one where an
      episode ended).
    episode_return, episode_length: of the episode that ended at this step (0 elsewhere).
    """

    observation: np.ndarray
    reward: np.ndarray
    discount: np.ndarray
    last: np.ndarray
    next_observation: np.ndarray
    episode_return: np.ndarray
    episode_length: np.ndarray


def _space(space: Any, what: str, name: str) -> Box | Discrete:
    import gymnasium

    if isinstance(space, gymnasium.spaces.Discrete):
        if int(space.start) != 0:
            raise ValueError(f"{name}: discrete {what} spaces must start at 0, got start={space.start}")
        return Discrete(int(space.n))
    if isinstance(space, gymnasium.spaces.Box):
        return Box(np.asarray(space.low, np.float32), np.asarray(space.high, np.float32), space.shape)
    raise ValueError(f"{name}: the {what} space {space} is neither Discrete nor Box; host-side environments "
                     f"support flat Box observations and Discrete or Box actions")


class HostEnvironment:
    """Base of the host-side adapters: episode statistics, action rescaling and the step contract
    (see the module docstring). Subclasses set the spaces and implement `_reset(seed)` and
    `_step(action)`."""

    observation_space: Box
    action_space: Box | Discrete
    max_episode_steps: int | None = None

    def __init__(self, name: str, num_envs: int):
        self.name = name
        self.num_envs = num_envs

    def spec(self) -> EnvSpec:
        """The batched spec the agent sees: bounded Box actions as [-1, 1] (see `step`)."""
        action = self.action_space
        if isinstance(action, Box) and action.bounded:
            action = Box(-np.ones(action.shape), np.ones(action.shape), action.shape)
        return EnvSpec(self.name, self.observation_space, action, self.max_episode_steps, self.num_envs)

    def reset(self, seed: int) -> np.ndarray:
        """Starts a fresh episode in every env (seeded by `seed`); returns the observations."""
        self._returns = np.zeros(self.num_envs, np.float32)
        self._lengths = np.zeros(self.num_envs, np.int32)
        self._no_returns = np.zeros(self.num_envs, np.float32)  # never written: shared by the steps
        self._no_lengths = np.zeros(self.num_envs, np.int32)
        return self._reset(int(seed)).astype(np.float32, copy=False)

    def step(self, action: np.ndarray) -> HostStep:
        """Steps every env with `action` [num_envs, ...] (bounded Box actions in [-1, 1])."""
        action = np.asarray(action)
        if action.shape != (self.num_envs,) + self.action_space.shape:
            raise ValueError(f"{self.name}: actions must have shape {(self.num_envs,) + self.action_space.shape}, "
                             f"got {action.shape}")
        if isinstance(self.action_space, Box) and self.action_space.bounded:
            low, high = self.action_space.low, self.action_space.high
            action = low + (np.clip(action, -1.0, 1.0) + 1.0) * 0.5 * (high - low)
        observation, reward, terminated, truncated, final = self._step(action)
        reward = np.asarray(reward, np.float32)
        last = terminated | truncated
        self._returns += reward
        self._lengths += 1
        # Every step pays for these few NumPy calls: the branch keeps most steps (no episode
        # ends) to the cheap half.
        if last.any():
            episode_return = np.where(last, self._returns, np.float32(0))
            episode_length = np.where(last, self._lengths, np.int32(0))
            self._returns[last] = 0.0
            self._lengths[last] = 0
        else:
            episode_return, episode_length = self._no_returns, self._no_lengths
        return HostStep(
            observation=observation.astype(np.float32, copy=False),
            reward=reward,
            discount=(~terminated).astype(np.float32),
            last=last,
            next_observation=final.astype(np.float32, copy=False),
            episode_return=episode_return,
            episode_length=episode_length,
        )

    def close(self) -> None:
        """Releases the envs' processes or threads."""

    def _reset(self, seed: int) -> np.ndarray:
        raise NotImplementedError

    def _step(self, action: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(observation, reward, terminated, truncated, next_observation) with same-step resets."""
        raise NotImplementedError


class GymnasiumVectorEnv(HostEnvironment):
    """A Gymnasium 1.x vector env (`gymnasium.make_vec(..., vector_kwargs={"autoreset_mode":
    gymnasium.vector.AutoresetMode.SAME_STEP})`): its `final_obs` info is the true successor where
    an episode ended. Vector envs that reset on the next step are refused, naming the fix."""

    def __init__(self, env: Any, name: str | None = None, max_episode_steps: int | None = None):
        import gymnasium

        mode = env.metadata.get("autoreset_mode")
        if mode != gymnasium.vector.AutoresetMode.SAME_STEP:
            raise ValueError(
                f"the gymnasium vector env autoresets in mode {mode}; jaxrl needs the true final observation "
                f"of every episode on the step it ends: make it with vector_kwargs={{'autoreset_mode': "
                f"gymnasium.vector.AutoresetMode.SAME_STEP}}")
        spec_name = name or GYMNASIUM_PREFIX + (env.spec.id if env.spec is not None else "custom")
        super().__init__(spec_name, int(env.num_envs))
        self.env = env
        self.observation_space = _space(env.single_observation_space, "observation", spec_name)
        if not isinstance(self.observation_space, Box):
            raise ValueError(f"{spec_name}: observations must be a Box, got {env.single_observation_space}")
        self.action_space = _space(env.single_action_space, "action", spec_name)
        if max_episode_steps is None and env.spec is not None:
            max_episode_steps = env.spec.max_episode_steps
        self.max_episode_steps = max_episode_steps

    def _reset(self, seed: int) -> np.ndarray:
        observation, _ = self.env.reset(seed=seed)
        return np.asarray(observation)

    def _step(self, action: np.ndarray):
        if isinstance(self.action_space, Discrete):
            action = action.astype(np.int64)
        observation, reward, terminated, truncated, info = self.env.step(action)
        observation = np.asarray(observation)
        final = observation.copy()
        if "_final_obs" in info:
            ended = np.asarray(info["_final_obs"], bool)
            if ended.any():
                final[ended] = np.stack([np.asarray(o) for o in info["final_obs"][ended]])
        return observation, reward, np.asarray(terminated, bool), np.asarray(truncated, bool), final

    def close(self) -> None:
        self.env.close()


class EnvpoolEnv(HostEnvironment):
    """An envpool batch (`envpool.make_gymnasium(task_id, num_envs=..., seed=...)`, synchronous).

    envpool returns the final observation on the step an episode ends and resets on the next
    call, ignoring its action. (An episode that terminates on the time limit's step is reported
    by envpool as truncated only, so that step is bootstrapped; Gymnasium's TimeLimit reports
    both and the termination wins.) Here the ended envs are reset at once (`reset(env_id=...)`), so the
    next step acts in every env: same-step auto-reset, with nothing dropped.
    """

    def __init__(self, task_id: str, num_envs: int, episode_length: int | None = None,
                 num_threads: int | None = None):
        try:
            import envpool
        except ImportError as error:  # pragma: no cover - envpool is a test dependency
            raise ImportError("envpool environments need the envpool package: pip install envpool") from error
        if task_id not in envpool.list_all_envs():
            import difflib

            close = difflib.get_close_matches(task_id, envpool.list_all_envs(), n=3)
            hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            raise ValueError(f"unknown envpool environment {task_id!r}.{hint}")
        super().__init__(ENVPOOL_PREFIX + task_id, num_envs)
        self.task_id = task_id
        self.num_threads = num_threads  # envpool's thread pool; None: its default
        self.episode_length = episode_length
        self.env = None
        probe = self._make(0)
        self.observation_space = _space(probe.observation_space, "observation", self.name)
        self.action_space = _space(probe.action_space, "action", self.name)
        self.max_episode_steps = int(probe.spec.config.max_episode_steps)
        probe.close()

    def _make(self, seed: int) -> Any:
        import envpool

        kwargs = {} if self.episode_length is None else {"max_episode_steps": self.episode_length}
        if self.num_threads is not None:
            kwargs["num_threads"] = self.num_threads
        # envpool's seeds are int32; reduce the run's 64-bit seed.
        return envpool.make_gymnasium(self.task_id, num_envs=self.num_envs, seed=seed % (2**31 - 1), **kwargs)

    def _reset(self, seed: int) -> np.ndarray:
        if self.env is not None:
            self.env.close()
        self.env = self._make(seed)  # envpool seeds its envs when it makes them
        observation, _ = self.env.reset()
        return np.asarray(observation)

    def _step(self, action: np.ndarray):
        if isinstance(self.action_space, Discrete):
            action = action.astype(np.int32)
        observation, reward, terminated, truncated, _ = self.env.step(action)
        terminated, truncated = np.asarray(terminated, bool), np.asarray(truncated, bool)
        final = observation = np.asarray(observation)
        ended = terminated | truncated
        if ended.any():
            first, info = self.env.reset(env_id=np.nonzero(ended)[0].astype(np.int32))
            observation = final.copy()
            observation[np.asarray(info["env_id"])] = first
        return observation, reward, terminated, truncated, final

    def close(self) -> None:
        if self.env is not None:
            self.env.close()


# Greedy evaluation plays every env until its first episode ends; an env without a time limit
# whose policy never ends an episode would play forever, so evaluation stops there with an error.
EVALUATION_STEP_LIMIT = 1_000_000


def evaluation_steps(env: HostEnvironment) -> int:
    """The most steps a greedy evaluation in `env` may take: its time limit, or
    `EVALUATION_STEP_LIMIT` if it has none."""
    return env.max_episode_steps or EVALUATION_STEP_LIMIT


def seed_from_key(key_data: Any, salt: int = 0) -> int:
    """A host env's int seed from a JAX key's data (any shape: the words of one key or of several)
    and a `salt` (e.g. the iteration a restart happens at)."""
    words = np.asarray(key_data, np.uint32).ravel()
    return int((int(words[-1]) * 1_000_003 + int(words[0]) + salt * 7_919) % (2**31 - 1))


def first_episode_returns(env: HostEnvironment, seed: int,
                          act: Callable[[np.ndarray, np.ndarray | None], np.ndarray]) -> np.ndarray:
    """Greedy evaluation: resets `env` with `seed` and steps it with `act(observation, last)`
    (`last`: where the previous step ended an episode, None at the first step, for an actor to
    reset its state) until every env has ended an episode; returns each env's first episode return
    [num_envs]. RuntimeError if some env never ends one within `evaluation_steps(env)` steps."""
    observation, last = env.reset(seed), None
    done = np.zeros(env.num_envs, bool)
    returns = np.zeros(env.num_envs, np.float32)
    for _ in range(evaluation_steps(env)):
        if done.all():
            break
        result = env.step(act(observation, last))
        first_end = result.last & ~done
        returns[first_end] = result.episode_return[first_end]
        done |= result.last
        observation, last = result.observation, result.last
    if not done.all():
        raise RuntimeError(f"evaluation in {env.name}: {int((~done).sum())} envs played {evaluation_steps(env):,} "
                           f"greedy steps without ending an episode")
    return returns


def make_host(name: str, num_envs: int, *, episode_length: int | None = None,
              vectorization_mode: str = "sync") -> HostEnvironment:
    """A host-side batch of `num_envs` envs by name: "gymnasium/<id>" (any id `gymnasium.make_vec`
    knows; `vectorization_mode` "sync" or "async" (one process per env)) or "envpool/<task id>".
    `episode_length` overrides the env's time limit (a truncation, bootstrapped)."""
    if not isinstance(num_envs, int) or num_envs < 1:
        raise ValueError(f"num_envs must be an int >= 1, got {num_envs!r}")
    check_episode_length(episode_length)
    if name.startswith(GYMNASIUM_PREFIX):
        import gymnasium

        env_id = name[len(GYMNASIUM_PREFIX):]
        if env_id not in gymnasium.registry:
            import difflib

            close = difflib.get_close_matches(env_id, list(gymnasium.registry), n=3)
            hint = f" Did you mean {', '.join(repr(GYMNASIUM_PREFIX + c) for c in close)}?" if close else ""
            raise ValueError(f"unknown gymnasium environment {env_id!r}.{hint}")
        kwargs = {} if episode_length is None else {"max_episode_steps": episode_length}
        env = gymnasium.make_vec(env_id, num_envs=num_envs, vectorization_mode=vectorization_mode,
                                 vector_kwargs={"autoreset_mode": gymnasium.vector.AutoresetMode.SAME_STEP}, **kwargs)
        return GymnasiumVectorEnv(env, name, episode_length)
    if name.startswith(ENVPOOL_PREFIX):
        return EnvpoolEnv(name[len(ENVPOOL_PREFIX):], num_envs, episode_length)
    raise ValueError(f"{name!r} is not a host-side environment (names start with {' or '.join(HOST_PREFIXES)})")


__all__ = ["ENVPOOL_PREFIX", "EVALUATION_STEP_LIMIT", "GYMNASIUM_PREFIX", "EnvpoolEnv", "GymnasiumVectorEnv",
           "HostEnvironment", "HostStep", "evaluation_steps", "first_episode_returns", "is_host_env", "make_host",
           "seed_from_key"]
