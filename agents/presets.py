"""The presets of rlkit's own agents: tuned settings per agent and env, with their budget and source.

"zoo" entries start from rl-baselines3-zoo (DLR-RM/rl-baselines3-zoo, ``hyperparams/<algo>.yml`` at
the commit named), translated to rlkit's field names: ``normalize: true`` is ``normalize_obs`` and
``normalize_reward`` (VecNormalize's two), ``lin_<x>`` is ``x`` with ``anneal_lr`` (or
``anneal_clip_range``), ``n_envs`` is ``num_envs``, ``policy_kwargs.net_arch`` is ``net_arch``,
``gradient_steps: -1`` is as many gradient steps as env steps, and a budget is rounded down to
whole rollouts for on-policy agents (the zoo's runs end at the first rollout past it). "rlkit"
entries are settings measured here; BENCHMARKS.md has the runs. Where rlkit cannot follow the
source (gSDE, ``ortho_init=False``) the entry says so in ``notes``. Imports no torch.
"""
from __future__ import annotations

from rlkit.presets import ATARI, Preset

ZOO = "DLR-RM/rl-baselines3-zoo hyperparams/{} @ {}"
PPO_YML = ZOO.format("ppo.yml", "208b6fd")
A2C_YML = ZOO.format("a2c.yml", "c6c209e")
DQN_YML = ZOO.format("dqn.yml", "ce95481")
DDPG_YML = ZOO.format("ddpg.yml", "1159e28")

NORMALIZE = dict(normalize_obs=True, normalize_reward=True)
CLASSIC, BOX2D, MUJOCO = ("classic-control",), ("box2d",), ("mujoco",)
NOT_ORTHO = "the zoo sets ortho_init=False; rlkit always initialises orthogonally"

# --- PPO2 (clip) and PPO (KL penalty) --------------------------------------------------------------
PPO_ZOO_CARTPOLE = dict(num_envs=8, n_steps=32, batch_size=256, n_epochs=20, gamma=0.98, gae_lambda=0.8,
                        learning_rate=1e-3, anneal_lr=True, anneal_clip_range=True, ent_coef=0.0)
PPO_ZOO_MUJOCO = dict(**NORMALIZE, num_envs=1, n_steps=512, activation="relu", net_arch=(256, 256), log_std_init=-2.0)

PPO2_PRESETS = [
    Preset("PPO2", "zoo", "CartPole-v1", 99_840, PPO_ZOO_CARTPOLE, f"{PPO_YML} CartPole-v1", tags=CLASSIC,
           notes="1e5 steps in the zoo; 99,840 is its last whole rollout within"),
    Preset("PPO2", "zoo", "Acrobot-v1", 999_424,
           dict(**NORMALIZE, num_envs=16, n_steps=256, gae_lambda=0.94, gamma=0.99, n_epochs=4, ent_coef=0.0),
           f"{PPO_YML} Acrobot-v1", tags=CLASSIC),
    Preset("PPO2", "zoo", "MountainCar-v0", 999_936,
           dict(**NORMALIZE, num_envs=16, n_steps=16, gae_lambda=0.98, gamma=0.99, n_epochs=4, ent_coef=0.0),
           f"{PPO_YML} MountainCar-v0", tags=CLASSIC),
    Preset("PPO2", "rlkit", "Pendulum-v1", 196_608,
           dict(num_envs=4, n_steps=1024, batch_size=64, n_epochs=10, gamma=0.9, gae_lambda=0.95, learning_rate=1e-3,
                ent_coef=0.0, clip_range=0.2),
           "BENCHMARKS.md, sample efficiency (foundation): the zoo's Pendulum-v1 settings without gSDE, twice the budget",
           tags=CLASSIC, notes="the zoo reaches -172 at 1e5 with gSDE, which rlkit does not have"),
    Preset("PPO2", "zoo", "LunarLander-v3", 999_424,
           dict(num_envs=16, n_steps=1024, batch_size=64, gae_lambda=0.98, gamma=0.999, n_epochs=4, ent_coef=0.01),
           f"{PPO_YML} LunarLander-v2 (v3 in gymnasium 1.x)", tags=BOX2D),
    Preset("PPO2", "zoo", "HalfCheetah-v5", 999_936,
           dict(**PPO_ZOO_MUJOCO, batch_size=64, gamma=0.98, learning_rate=2.0633e-5, ent_coef=4.01762e-4,
                clip_range=0.1, n_epochs=20, gae_lambda=0.92, max_grad_norm=0.8, vf_coef=0.58096),
           f"{PPO_YML} HalfCheetah-v4", tags=MUJOCO, notes=NOT_ORTHO),
    Preset("PPO2", "zoo", "Hopper-v5", 999_936,
           dict(**PPO_ZOO_MUJOCO, batch_size=32, gamma=0.999, learning_rate=9.80828e-5, ent_coef=0.00229519,
                clip_range=0.2, n_epochs=5, gae_lambda=0.99, max_grad_norm=0.7, vf_coef=0.835671),
           f"{PPO_YML} Hopper-v4", tags=MUJOCO, notes=NOT_ORTHO),
    Preset("PPO2", "zoo", "Walker2d-v5", 999_936,
           dict(**NORMALIZE, num_envs=1, n_steps=512, batch_size=32, gamma=0.99, learning_rate=5.05041e-5,
                ent_coef=5.85045e-4, clip_range=0.1, n_epochs=20, gae_lambda=0.95, max_grad_norm=1.0, vf_coef=0.871923),
           f"{PPO_YML} Walker2d-v4", tags=MUJOCO),
    Preset("PPO2", "zoo", ATARI, 9_999_360,
           dict(num_envs=8, n_steps=128, n_epochs=4, batch_size=256, learning_rate=2.5e-4, anneal_lr=True,
                clip_range=0.1, anneal_clip_range=True, vf_coef=0.5, ent_coef=0.01),
           f"{PPO_YML} atari", tags=("atari",), notes="1e7 steps in the zoo; 9,999,360 is its last whole rollout within"),
]

PPO_PRESETS = [
    Preset("PPO", "rlkit", "CartPole-v1", 149_760, {**PPO_ZOO_CARTPOLE, "learning_rate": 2e-3},
           "BENCHMARKS.md, sample efficiency (foundation): the zoo's PPO CartPole-v1 settings with lr 2e-3", tags=CLASSIC,
           notes="at the zoo's lr 1e-3 one seed in five stalls near 360: the KL penalty holds the updates back"),
]

# --- A2C ---------------------------------------------------------------------------------------------
A2C_PRESETS = [
    Preset("A2C", "zoo", "CartPole-v1", 500_000, dict(num_envs=8, ent_coef=0.0), f"{A2C_YML} CartPole-v1", tags=CLASSIC),
    Preset("A2C", "zoo", "Acrobot-v1", 500_000, dict(**NORMALIZE, num_envs=16, ent_coef=0.0), f"{A2C_YML} Acrobot-v1",
           tags=CLASSIC),
    Preset("A2C", "zoo", "MountainCar-v0", 1_000_000, dict(**NORMALIZE, num_envs=16, ent_coef=0.0),
           f"{A2C_YML} MountainCar-v0", tags=CLASSIC),
    Preset("A2C", "zoo", "LunarLander-v3", 200_000,
           dict(num_envs=8, gamma=0.995, n_steps=5, learning_rate=8.3e-4, anneal_lr=True, ent_coef=1e-5),
           f"{A2C_YML} LunarLander-v2 (v3 in gymnasium 1.x)", tags=BOX2D),
    Preset("A2C", "zoo", ATARI, 10_000_000, dict(num_envs=16, ent_coef=0.01, vf_coef=0.25, rms_prop_eps=1e-5),
           f"{A2C_YML} atari", tags=("atari",),
           notes="the zoo uses RMSpropTFLike (ε inside the square root); rlkit uses torch's RMSprop with the same ε"),
]

A3C_PRESETS = [
    Preset("A3C", "rlkit", "CartPole-v1", 500_000, dict(num_workers=2, num_envs=4, ent_coef=0.0, anneal_lr=True),
           "BENCHMARKS.md, A3C: A2C's zoo settings for CartPole-v1 (8 envs in all, no entropy bonus) as 2 workers "
           "of 4 envs, with the learning rate decayed to 0", tags=CLASSIC),
]

REINFORCE_PRESETS = [
    Preset("Reinforce", "rlkit", "CartPole-v1", 300_000, dict(baseline="value"),
           "BENCHMARKS.md, sample efficiency (REINFORCE and A2C): the defaults with a learned baseline", tags=CLASSIC),
]

# --- DQN and Rainbow ---------------------------------------------------------------------------------
DQN_ZOO_CARTPOLE = dict(learning_rate=2.3e-3, batch_size=64, buffer_size=100_000, learning_starts=1000, gamma=0.99,
                        target_update_interval=10, train_freq=256, gradient_steps=128, exploration_fraction=0.16,
                        exploration_final_eps=0.04, net_arch=(256, 256))

DQN_PRESETS = [
    # First, so the CLI takes it for CartPole: the zoo's settings swing between 500 and ~15 from one
    # learning phase to the next, so where a run ends decides its score (BENCHMARKS.md, presets).
    Preset("DQN", "rlkit", "CartPole-v1", 50_000,
           dict(DQN_ZOO_CARTPOLE, learning_rate=1e-3, anneal_lr=True, train_freq=1, gradient_steps=1,
                target_update_interval=500, exploration_fraction=0.2, exploration_final_eps=0.02, double=True),
           "BENCHMARKS.md, presets: the zoo's CartPole-v1 settings with double Q-learning, one gradient step per env "
           "step, a target copy every 500 steps and the learning rate decayed to 0", tags=CLASSIC),
    Preset("DQN", "zoo", "CartPole-v1", 50_000, DQN_ZOO_CARTPOLE, f"{DQN_YML} CartPole-v1", tags=CLASSIC),
    Preset("DQN", "zoo", "Acrobot-v1", 100_000,
           dict(learning_rate=6.3e-4, batch_size=128, buffer_size=50_000, learning_starts=0, gamma=0.99,
                target_update_interval=250, train_freq=4, gradient_steps=4, exploration_fraction=0.12,
                exploration_final_eps=0.1, net_arch=(256, 256)),
           f"{DQN_YML} Acrobot-v1", tags=CLASSIC),
    Preset("DQN", "zoo", "MountainCar-v0", 120_000,
           dict(learning_rate=4e-3, batch_size=128, buffer_size=10_000, learning_starts=1000, gamma=0.98,
                target_update_interval=600, train_freq=16, gradient_steps=8, exploration_fraction=0.2,
                exploration_final_eps=0.07, net_arch=(256, 256)),
           f"{DQN_YML} MountainCar-v0", tags=CLASSIC),
    Preset("DQN", "zoo", "LunarLander-v3", 100_000,
           dict(learning_rate=6.3e-4, batch_size=128, buffer_size=50_000, learning_starts=0, gamma=0.99,
                target_update_interval=250, train_freq=4, gradient_steps=4, exploration_fraction=0.12,
                exploration_final_eps=0.1, net_arch=(256, 256)),
           f"{DQN_YML} LunarLander-v2 (v3 in gymnasium 1.x)", tags=BOX2D),
    Preset("DQN", "zoo", ATARI, 10_000_000,
           dict(buffer_size=10_000, learning_rate=1e-4, batch_size=32, learning_starts=100_000,
                target_update_interval=1000, train_freq=4, gradient_steps=1, exploration_fraction=0.1,
                exploration_final_eps=0.01),
           f"{DQN_YML} atari", tags=("atari",), notes="a 10k buffer, as the zoo's file at that commit"),
]

RAINBOW_PRESETS = [
    Preset("Rainbow", "paper", ATARI, 50_000_000,
           dict(buffer_size=1_000_000, batch_size=32, learning_starts=20_000, train_freq=4, target_update_interval=8_000,
                v_min=-10.0, v_max=10.0),
           "Hessel et al. 2018, Table 1 (frames / 4 = agent steps: 80k-frame warm-up, target every 32k frames, 200M frames)",
           tags=("atari",), notes="the other switches and step sizes are RainbowConfig's defaults, from the same table"),
]

# --- DDPG --------------------------------------------------------------------------------------------
DDPG_ZOO = dict(gamma=0.98, buffer_size=200_000, learning_starts=10_000, action_noise="normal", action_noise_std=0.1,
                learning_rate=1e-3, net_arch=(400, 300))
EPISODE_TRAINING = ("the zoo trains at each episode end, as many gradient steps as the episode had env steps; "
                    "rlkit takes one after every env step: the same number, interleaved")

DDPG_PRESETS = [
    Preset("DDPG", "zoo", "Pendulum-v1", 20_000, DDPG_ZOO, f"{DDPG_YML} Pendulum-v0 (v1 in gymnasium)", tags=CLASSIC,
           notes=EPISODE_TRAINING),
    Preset("DDPG", "zoo", "MountainCarContinuous-v0", 300_000, dict(action_noise="ornstein-uhlenbeck", action_noise_std=0.5),
           f"{DDPG_YML} MountainCarContinuous-v0", tags=CLASSIC),
    Preset("DDPG", "zoo", "LunarLanderContinuous-v3", 300_000, DDPG_ZOO,
           f"{DDPG_YML} LunarLanderContinuous-v2 (v3 in gymnasium 1.x)", tags=BOX2D, notes=EPISODE_TRAINING),
    Preset("DDPG", "rlkit", "HalfCheetah-v5", 200_000, dict(DDPG_ZOO, gamma=0.99, buffer_size=1_000_000),
           "BENCHMARKS.md, DDPG HalfCheetah-v5: the zoo's MuJoCo DDPG settings, 6,538 at 200k steps (seed 0)", tags=MUJOCO),
]

# --- GAIL: the generator takes PPO2's settings for the env --------------------------------------------
GAIL_PRESETS = [
    Preset("GAIL", "rlkit", "CartPole-v1", 99_840, dict(PPO_ZOO_CARTPOLE, normalize_obs=True),
           "BENCHMARKS.md, imitation: PPO2's zoo CartPole-v1 settings for the generator, observations normalised "
           "(for D too), the discriminator's defaults", tags=CLASSIC,
           notes="without normalize_obs one seed in three (PPO2 expert's demos) stopped at 363"),
    Preset("GAIL", "rlkit", "Pendulum-v1", 204_800, dict(PPO2_PRESETS[3].config, anneal_lr=True),
           "BENCHMARKS.md, imitation: PPO2's rlkit Pendulum-v1 preset with the learning rate decayed to 0",
           tags=CLASSIC, notes="without anneal_lr one seed in three stalled near -500"),
    Preset("GAIL", "rlkit", "HalfCheetah-v5", 999_424, dict(NORMALIZE, anneal_lr=True),
           "BENCHMARKS.md, imitation: PPO2's defaults (the PPO paper's MuJoCo settings: 2,048-step rollouts, "
           "10 epochs of batch 64, lr 3e-4 decayed to 0) with observations and D's rewards normalised", tags=MUJOCO),
]

PRESETS: list[Preset] = [*PPO2_PRESETS, *PPO_PRESETS, *A2C_PRESETS, *A3C_PRESETS, *REINFORCE_PRESETS, *DQN_PRESETS,
                         *RAINBOW_PRESETS, *DDPG_PRESETS, *GAIL_PRESETS]
