"""Every agent's settings, one dataclass per agent, each field with its one-line documentation.

They live apart from the agents so that ``rlkit train AGENT --help`` and presets import no torch.
Field names follow Stable-Baselines3 where SB3 has the same concept; a field's trailing comment is
its ``--help`` text, and a ``Literal[...]`` type lists its allowed values.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal, Optional

from rlkit.config import Activation, AgentConfig, EnvConfig, OnPolicyConfig, PolicyKind, check, check_grad_norm

# --- on-policy: PPO, PPO2, A2C, REINFORCE --------------------------------------------------------


@dataclass
class PPOConfig(OnPolicyConfig):
    batch_size: int = 64  # minibatch size
    n_epochs: int = 10  # passes over each rollout
    gae_lambda: float = 0.95  # GAE λ (1: Monte-Carlo returns, 0: one-step TD)
    objective: Literal["kl", "clip"] = "kl"  # "kl": penalty with adaptive β (PPO); "clip": clipped surrogate (PPO2)
    clip_range: float = 0.2  # ε of the clipped surrogate (objective "clip")
    clip_range_vf: Optional[float] = None  # clip the value update around the old value; none: off
    kl_target: float = 0.01  # d_targ of the PPO paper (objective "kl")
    kl_tolerance: float = 1.5  # β changes when the KL leaves [kl_target / tol, kl_target * tol]
    kl_beta_factor: float = 2.0  # β is multiplied or divided by this when the KL leaves the band
    kl_beta_init: float = 1.0  # initial KL penalty weight β
    target_kl: Optional[float] = None  # stop the epochs early when approx KL > 1.5 * target_kl (as SB3); none: never
    normalize_advantage: bool = True  # standardise advantages per minibatch
    ent_coef: float = 0.0  # weight of the entropy bonus
    vf_coef: float = 0.5  # weight of the value loss
    anneal_clip_range: bool = False  # decay clip_range linearly to 0 over the run
    adam_eps: float = 1e-5  # Adam's ε

    def validate(self) -> None:
        super().validate()
        check(self.batch_size >= 1 and self.n_epochs >= 1, "batch_size and n_epochs must be >= 1")
        check(self.batch_size <= self.n_steps * self.num_envs,
              f"batch_size {self.batch_size} exceeds the rollout size n_steps * num_envs = {self.n_steps * self.num_envs}")
        check(0 <= self.gae_lambda <= 1, f"gae_lambda must be in [0, 1], got {self.gae_lambda}")
        check(self.clip_range > 0, f"clip_range must be > 0, got {self.clip_range}")
        check(self.kl_target > 0 and self.kl_tolerance > 1 and self.kl_beta_factor > 1 and self.kl_beta_init >= 0,
              "need kl_target > 0, kl_tolerance > 1, kl_beta_factor > 1, kl_beta_init >= 0")
        check(self.clip_range_vf is None or self.clip_range_vf > 0,
              f"clip_range_vf must be > 0, or None to leave the value update unclipped; got {self.clip_range_vf}")
        check(self.target_kl is None or self.target_kl > 0,
              f"target_kl must be > 0, or None for no early stop; got {self.target_kl}")
        check(self.ent_coef >= 0, f"ent_coef must be >= 0 (0: no entropy bonus), got {self.ent_coef}")
        check(self.vf_coef >= 0, f"vf_coef must be >= 0, got {self.vf_coef}")


@dataclass
class PPO2Config(PPOConfig):
    objective: Literal["kl", "clip"] = "clip"


@dataclass
class A2CConfig(OnPolicyConfig):
    learning_rate: float = 7e-4
    n_steps: int = 5
    gae_lambda: float = 1.0  # GAE λ; 1: plain n-step returns
    ent_coef: float = 0.0  # weight of the entropy bonus
    vf_coef: float = 0.5  # weight of the value loss
    normalize_advantage: bool = False  # standardise advantages per update
    use_rms_prop: bool = True  # RMSprop as in the A3C paper; false: Adam
    rms_prop_alpha: float = 0.99  # smoothing constant of RMSprop's squared-gradient average
    rms_prop_eps: float = 1e-5  # RMSprop's ε

    def validate(self) -> None:
        super().validate()
        check(0 <= self.gae_lambda <= 1, f"gae_lambda must be in [0, 1], got {self.gae_lambda}")
        check(0 < self.rms_prop_alpha < 1 and self.rms_prop_eps > 0, "need 0 < rms_prop_alpha < 1 and rms_prop_eps > 0")
        check(self.ent_coef >= 0, f"ent_coef must be >= 0 (0: no entropy bonus), got {self.ent_coef}")
        check(self.vf_coef >= 0, f"vf_coef must be >= 0, got {self.vf_coef}")


@dataclass
class A3CConfig(A2CConfig):
    """A2C's settings for each worker's n-step update, plus the workers. The A3C paper's choices are
    the defaults where they fit a CPU: one thread per worker, RMSprop with shared statistics."""

    ray_splits_envs: ClassVar[bool] = False  # every worker steps num_envs envs of its own, Ray actor or process
    num_workers: int = 0  # worker processes (Ray actors with rollout="ray"; ray_workers is not used), each with num_envs envs of its own; 0: one per usable core
    restart_workers: bool = False  # start a worker again when it dies (an env raising, a crash, a kill); false: stop the run with an error naming it
    torch_threads: int = 1  # torch threads of each worker and of the main process (evaluation, checkpoints)
    ent_coef: float = 0.01  # weight of the entropy bonus (the A3C paper's β)

    def validate(self) -> None:
        super().validate()
        check(self.num_workers >= 0, f"num_workers must be >= 0 (0: one per usable core), got {self.num_workers}")
        check(not (self.normalize_obs or self.normalize_reward),
              "A3C's workers keep no shared running statistics, so normalize_obs and normalize_reward are not "
              "supported; turn them off, or train A2C or PPO2 for normalised observations.")
        check(self.device in ("auto", "cpu"), f"A3C trains on the CPU (Hogwild over shared memory); got device "
                                              f"{self.device!r}: use device='cpu', or A2C/PPO2 for a GPU.")


@dataclass
class ReinforceConfig(OnPolicyConfig):
    learning_rate: float = 1e-3
    n_steps: int = 1000  # env steps per env between updates; finished episodes are trained on
    reward_to_go: bool = True  # weight step t by the return from t on, not the whole episode's
    baseline: Literal["value", "mean", "none"] = "value"  # learned V(s), running mean of the returns, or none
    baseline_momentum: float = 0.9  # "mean": b <- m b + (1 - m) mean(this update's returns)
    vf_coef: float = 0.5  # weight of the value regression ("value" baseline)
    ent_coef: float = 0.0  # weight of the entropy bonus
    normalize_advantage: bool = False  # standardise (G - b) over the update's steps

    def validate(self) -> None:
        super().validate()
        check(0 <= self.baseline_momentum < 1, f"baseline_momentum must be in [0, 1), got {self.baseline_momentum}")
        check(self.ent_coef >= 0, f"ent_coef must be >= 0 (0: no entropy bonus), got {self.ent_coef}")
        check(self.vf_coef >= 0, f"vf_coef must be >= 0, got {self.vf_coef}")


# --- off-policy: DQN (and Rainbow), DDPG ----------------------------------------------------------


def _check_replay(cfg: DQNConfig | DDPGConfig) -> None:
    check(cfg.batch_size >= 1 and cfg.buffer_size >= 1, "need batch_size >= 1 and buffer_size >= 1")
    # a buffer smaller than a batch never holds enough transitions: learning would never start
    check(cfg.buffer_size >= cfg.batch_size,
          f"buffer_size ({cfg.buffer_size}) must be >= batch_size ({cfg.batch_size}); raise buffer_size or lower batch_size")
    check(cfg.learning_starts >= 0, f"learning_starts must be >= 0, got {cfg.learning_starts}")
    check(0 < cfg.tau <= 1, f"tau must be in (0, 1], got {cfg.tau}")
    check(0 < cfg.gamma <= 1, f"gamma must be in (0, 1], got {cfg.gamma}")
    check(cfg.train_freq >= 1 and cfg.gradient_steps >= 1 and cfg.n_step >= 1,
          "train_freq, gradient_steps and n_step must be >= 1")
    check_grad_norm(cfg.max_grad_norm)


@dataclass
class DQNConfig(EnvConfig):
    learning_rate: float = 1e-4  # Adam step size
    anneal_lr: bool = False  # decay the learning rate linearly to 0 over the run
    buffer_size: int = 1_000_000  # replay capacity in transitions
    learning_starts: int = 100  # env steps of random actions before learning
    batch_size: int = 32  # transitions per gradient step
    tau: float = 1.0  # target update: 1 copies, < 1 is Polyak averaging
    gamma: float = 0.99  # discount factor
    train_freq: int = 4  # env steps (per env) between learning phases
    gradient_steps: int = 1  # gradient steps per learning phase
    target_update_interval: int = 10_000  # env steps between target updates
    exploration_fraction: float = 0.1  # ε decays linearly over this fraction of the run
    exploration_initial_eps: float = 1.0  # ε at the start
    exploration_final_eps: float = 0.05  # ε after the decay
    exploration: Literal["epsilon", "boltzmann"] = "epsilon"  # how to explore (ignored with noisy)
    boltzmann_temperature: float = 1.0  # softmax temperature of "boltzmann" exploration
    max_grad_norm: Optional[float] = 10.0  # global gradient-norm clip; none: no clipping
    adam_eps: float = 1e-8  # Adam's ε
    double: bool = False  # double DQN: the online net picks the next action, the target net values it
    dueling: bool = False  # separate value and advantage streams
    prioritized: bool = False  # prioritized replay (proportional)
    prioritized_alpha: float = 0.6  # priority exponent α
    prioritized_beta: float = 0.4  # importance-sampling exponent, annealed linearly to 1 over the run
    priority_eps: float = 1e-6  # added to |TD error| so no transition gets priority 0
    n_step: int = 1  # n-step returns (formed when sampling)
    noisy: bool = False  # noisy linear layers explore instead of ε
    noisy_sigma0: float = 0.5  # initial noise scale of the noisy layers
    distributional: bool = False  # C51: a categorical return distribution on fixed atoms
    atoms: int = 51  # C51 atoms
    v_min: float = -10.0  # C51 support, lowest return
    v_max: float = 10.0  # C51 support, highest return
    policy: PolicyKind = "auto"  # network trunk; "auto": CNN for image observations, else MLP
    net_arch: tuple[int, ...] = (64, 64)  # hidden sizes of the MLP trunk
    activation: Activation = "relu"  # MLP activation
    save_replay: bool = True  # keep the replay buffer in checkpoints and load it from them (so --resume keeps it)

    def validate(self) -> None:
        super().validate()
        _check_replay(self)
        check(self.learning_rate > 0, f"learning_rate must be > 0, got {self.learning_rate}")
        check(self.target_update_interval >= 1, "target_update_interval must be >= 1")
        check(0 <= self.exploration_fraction <= 1, f"exploration_fraction must be in [0, 1], got {self.exploration_fraction}")
        check(0 <= self.exploration_final_eps <= 1 and 0 <= self.exploration_initial_eps <= 1, "ε values must be in [0, 1]")
        check(self.boltzmann_temperature > 0, "boltzmann_temperature must be > 0")
        check(self.atoms >= 2 and self.v_max > self.v_min, "need atoms >= 2 and v_max > v_min")
        check(0 <= self.prioritized_alpha and 0 <= self.prioritized_beta <= 1, "need prioritized_alpha >= 0, prioritized_beta in [0, 1]")


@dataclass
class RainbowConfig(DQNConfig):
    double: bool = True
    dueling: bool = True
    prioritized: bool = True
    prioritized_alpha: float = 0.5
    n_step: int = 3
    noisy: bool = True
    distributional: bool = True
    learning_rate: float = 6.25e-5
    adam_eps: float = 1.5e-4


@dataclass
class DDPGConfig(EnvConfig):
    learning_rate: float = 1e-3  # actor and critic (SB3: one learning_rate for both)
    critic_learning_rate: float = 0.0  # 0 = the same as learning_rate
    buffer_size: int = 1_000_000  # replay capacity in transitions
    learning_starts: int = 100  # env steps of uniformly random actions before learning
    batch_size: int = 256  # transitions per gradient step
    tau: float = 0.005  # Polyak factor of both target networks, applied after every gradient step
    gamma: float = 0.99  # discount factor
    train_freq: int = 1  # env steps (per env) between learning phases
    gradient_steps: int = 1  # gradient steps per learning phase
    n_step: int = 1  # n-step returns (formed when sampling)
    action_noise: Literal["normal", "ornstein-uhlenbeck", "none"] = "normal"  # exploration noise added to the actor's action
    action_noise_std: float = 0.1  # σ in unit actions ([−1, 1] spans a bounded dimension)
    ou_theta: float = 0.15  # Ornstein-Uhlenbeck mean reversion
    ou_dt: float = 1e-2  # Ornstein-Uhlenbeck time step
    max_grad_norm: Optional[float] = None  # global gradient-norm clip; none: no clipping (as DDPG and SB3)
    net_arch: tuple[int, ...] = (400, 300)  # hidden sizes of the actor and of the critic
    activation: Activation = "relu"  # hidden-layer activation
    save_replay: bool = True  # keep the replay buffer in checkpoints and load it from them (so --resume keeps it)

    def validate(self) -> None:
        super().validate()
        _check_replay(self)
        check(self.learning_rate > 0 and self.critic_learning_rate >= 0, "need learning_rate > 0 and critic_learning_rate >= 0")
        check(self.action_noise_std >= 0 and self.ou_theta >= 0 and self.ou_dt > 0,
              "need action_noise_std >= 0, ou_theta >= 0 and ou_dt > 0")
        check(len(self.net_arch) >= 1, "net_arch needs at least one hidden layer")


# --- imitation: behaviour cloning, DAgger -----------------------------------------------------------


@dataclass
class ImitationConfig(EnvConfig):
    """What BC and DAgger share: the expert's demonstrations and the policy cloned from them."""

    step_unit: ClassVar[str] = "gradient steps"
    demos: str = ""  # path of a demonstrations .npz of expert episodes (record one with `rlkit collect`)
    demo_episodes: int = 0  # train on the file's first N episodes; 0: all of them
    learning_rate: float = 1e-3  # Adam step size
    batch_size: int = 32  # expert (observation, action) pairs per gradient step
    policy: PolicyKind = "auto"  # network trunk; "auto": CNN for image observations, else MLP
    net_arch: tuple[int, ...] = (64, 64)  # hidden sizes of the MLP trunk
    activation: Activation = "tanh"  # MLP activation
    log_std_init: float = 0.0  # initial log std of Gaussian (Box) actions; the std is learned, state-independent
    ent_coef: float = 0.0  # weight of the entropy bonus subtracted from the loss
    l2_coef: float = 0.0  # weight of the L2 penalty l2_coef * ||w||^2 on the network's weight matrices (not biases or log std)
    normalize_obs: bool = False  # standardise observations by the training demonstrations' mean and std (vector observations)

    def validate(self) -> None:
        super().validate()
        check(self.demo_episodes >= 0, f"demo_episodes must be >= 0 (0: all), got {self.demo_episodes}")
        check(self.learning_rate > 0, f"learning_rate must be > 0, got {self.learning_rate}")
        check(self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}")
        check(len(self.net_arch) >= 1 and all(h >= 1 for h in self.net_arch), f"net_arch needs positive sizes, got {self.net_arch}")
        check(self.ent_coef >= 0, f"ent_coef must be >= 0 (0: no entropy bonus), got {self.ent_coef}")
        check(self.l2_coef >= 0, f"l2_coef must be >= 0 (0: no L2 penalty), got {self.l2_coef}")


@dataclass
class BCConfig(ImitationConfig):
    demos: str = ""  # path of the demonstrations .npz to clone (required; record one with `rlkit collect`)
    validation_fraction: float = 0.1  # fraction of the episodes held out for validation (whole episodes, chosen by the seed); 0: none
    validation_interval: int = 500  # gradient steps between validation passes
    patience: int = 0  # stop after this many validations without a lower validation loss, keeping the best weights; 0: never
    log_interval: int = 100  # gradient steps between logged rows (each the mean over its steps)

    def validate(self) -> None:
        super().validate()
        check(bool(self.demos), "demos is required: the path of a demonstrations .npz (--demos FILE), recorded with "
                                "`rlkit collect` or rlkit.buffers.demonstrations.collect_demonstrations")
        check(0 <= self.validation_fraction < 1, f"validation_fraction must be in [0, 1), got {self.validation_fraction}")
        check(self.validation_interval >= 1 and self.log_interval >= 1, "validation_interval and log_interval must be >= 1")
        check(self.patience >= 0, f"patience must be >= 0 (0: never stop early), got {self.patience}")
        check(self.patience == 0 or self.validation_fraction > 0,
              f"patience {self.patience} stops on the validation loss and needs validation_fraction > 0")


@dataclass
class DAggerConfig(ImitationConfig):
    """BC's learner settings (not its validation split: every label is trained on), plus the expert
    and the rounds. Not a BCConfig subclass, so that --help lists no flag DAgger would ignore."""

    step_unit: ClassVar[str] = "env steps labelled by the expert"
    expert: str = ""  # the teacher (required): run folder or checkpoint .pt of a trained rlkit agent, or package.module:function from a batch of observations to actions
    demos: str = ""  # optional .npz of expert episodes: round 0's data (β_0 = 1), trained on before round 1; "": the expert acts all of round 0
    normalize_obs: bool = False  # standardise observations by the aggregated dataset's mean and std, updated as it grows (vector observations)
    rollout_steps: int = 500  # env steps per round (over all envs), each observation labelled by the expert; the last round takes what is left of total_steps
    bc_steps_per_round: int = 500  # gradient steps of BC on the whole aggregated dataset after each round's labels are added
    beta_schedule: Literal["exponential", "linear"] = "exponential"  # β_i, the chance the expert's action is executed (per step and env) in round i: beta_decay**i, or linear to 0
    beta_decay: float = 0.5  # p of the exponential schedule β_i = p**i (β_0 = 1); 0: the learner alone acts from round 1 on (the paper's β_i = I(i = 0))
    beta_rampdown_rounds: int = 10  # linear schedule: β_i = max(0, 1 - i / beta_rampdown_rounds), as the imitation library's LinearBetaSchedule
    bc_from_scratch: bool = False  # re-initialise the learner (weights and Adam state) before each round's training; false: go on from the last round's

    def validate(self) -> None:
        super().validate()
        check(bool(self.expert), "expert is required: --expert RUN_FOLDER (or a checkpoint .pt of a trained rlkit agent, "
                                 "or package.module:function from a batch of observations to actions)")
        check(self.demo_episodes == 0 or bool(self.demos), "demo_episodes takes the first episodes of --demos; give --demos")
        check(self.rollout_steps >= 1, f"rollout_steps must be >= 1, got {self.rollout_steps}")
        check(self.bc_steps_per_round >= 1, f"bc_steps_per_round must be >= 1, got {self.bc_steps_per_round}")
        check(0 <= self.beta_decay <= 1, f"beta_decay must be in [0, 1], got {self.beta_decay}")
        check(self.beta_rampdown_rounds >= 1, f"beta_rampdown_rounds must be >= 1, got {self.beta_rampdown_rounds}")


# --- imitation: adversarial (GAIL) ----------------------------------------------------------------


@dataclass
class DiscriminatorConfig:
    """The discriminator's settings, laid over an on-policy generator's config:
    ``GAILConfig(DiscriminatorConfig, PPO2Config)``; an A2C generator would take
    ``(DiscriminatorConfig, A2CConfig)``. ``validate`` runs the generator's checks, then these."""

    demos: str = ""  # path of the expert demonstrations .npz to imitate (required; record one with `rlkit collect`)
    demo_episodes: int = 0  # imitate the file's first N episodes; 0: all of them
    disc_input: Literal["obs_action", "obs", "obs_next_obs"] = "obs_action"  # what D judges: (s, a), s alone, or (s, s') (imitation from observations)
    disc_net_arch: tuple[int, ...] = (64, 64)  # hidden sizes of the discriminator MLP; empty: a linear (logistic) discriminator
    disc_activation: Activation = "tanh"  # discriminator hidden-layer activation
    disc_learning_rate: float = 1e-3  # the discriminator's Adam step size
    disc_batch_size: int = 128  # expert and generator samples per discriminator step (each)
    disc_updates_per_round: int = 4  # discriminator gradient steps per generator update (the discriminator-update ratio)
    gradient_penalty: float = 0.0  # λ of the WGAN-GP penalty λ·E[(‖∇ₓf(x̂)‖ − 1)²] on D's logit f at interpolates x̂ of expert and generator inputs; 0: off
    reward_type: Literal["gail", "airl", "log_d"] = "gail"  # generator reward from D = P(expert): "gail" −log(1 − D) (positive, favours surviving), "airl" log D − log(1 − D) (D's logit), "log_d" log D (negative, favours ending)

    def validate(self) -> None:
        super().validate()  # type: ignore[misc]  # the generator's checks
        check(bool(self.demos), "demos is required: the path of a demonstrations .npz (--demos FILE), recorded with "
                                "`rlkit collect` or rlkit.buffers.demonstrations.collect_demonstrations")
        check(self.demo_episodes >= 0, f"demo_episodes must be >= 0 (0: all), got {self.demo_episodes}")
        check(all(h >= 1 for h in self.disc_net_arch), f"disc_net_arch needs positive sizes, got {self.disc_net_arch}")
        check(self.disc_learning_rate > 0, f"disc_learning_rate must be > 0, got {self.disc_learning_rate}")
        check(self.disc_batch_size >= 1, f"disc_batch_size must be >= 1, got {self.disc_batch_size}")
        check(self.disc_updates_per_round >= 0,
              f"disc_updates_per_round must be >= 0 (0: a fixed discriminator), got {self.disc_updates_per_round}")
        check(self.gradient_penalty >= 0, f"gradient_penalty must be >= 0 (0: off), got {self.gradient_penalty}")


@dataclass
class GAILConfig(DiscriminatorConfig, PPO2Config):
    """GAIL: a PPO2 generator (every PPO2 field) trained on a discriminator's rewards."""


# --- SeqGAN ------------------------------------------------------------------------------------------
# The paper's discriminator (Yu et al. 2017, appendix): CNN filter widths and how many of each
SEQGAN_FILTER_SIZES = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 20)
SEQGAN_NUM_FILTERS = (100, 200, 200, 200, 200, 100, 100, 100, 100, 100, 160, 160)


@dataclass
class SeqGANConfig(AgentConfig):
    """SeqGAN (Yu et al. 2017). The defaults are the paper's synthetic-data experiment: 120 MLE
    epochs, 50 discriminator pre-training rounds of 3 epochs, then adversarial epochs of 1 generator
    step (16 rollouts per prefix) and 5 discriminator rounds of 3 epochs."""

    step_unit: ClassVar[str] = "generator epochs: the MLE epochs, then the adversarial epochs"
    oracle: str = ""  # synthetic data from an oracle LSTM: "seeded" (N(0,1) weights drawn by oracle_seed) or PATH.npz of its weights (../shared/seqgan-oracle/target_params.npz); its samples are the real data
    text_file: str = ""  # a text corpus, one sentence per line, word-level vocabulary built from it; "grammar": rlkit's shipped corpus of its own grammar
    token_file: str = ""  # integer sequences, one per line of whitespace-separated token ids (the original SeqGAN format); ids below vocab_size
    vocab_size: int = 5000  # tokens of a seeded oracle or a token file (a text corpus sets its own)
    seq_len: int = 20  # tokens per sequence T (text: words + the end token, padded)
    oracle_seed: int = 0  # seeds a seeded oracle's weights and the real samples an oracle draws, apart from seed
    num_real: int = 10_000  # oracle samples used as the real training data
    held_out_fraction: float = 0.1  # real data kept out of training for NLL_gen and as BLEU references (an oracle draws this fraction of num_real more)
    adversarial: bool = True  # False: MLE all the way (the control the adversarial phase is measured against)
    mle_epochs: int = 120  # MLE pre-training epochs of the generator over the real data
    adversarial_epochs: int = 200  # adversarial epochs after the MLE ones (the default budget is mle_epochs + adversarial_epochs)
    batch_size: int = 64  # sequences per generator step (MLE and policy gradient)
    gen_embedding_dim: int = 32  # generator token embedding size
    gen_hidden_dim: int = 32  # generator LSTM hidden size
    gen_learning_rate: float = 0.01  # generator Adam step size (MLE and policy gradient)
    max_grad_norm: float = 5.0  # clip the generator's gradient norm to this
    g_steps: int = 1  # policy-gradient steps of the generator per adversarial epoch
    num_rollouts: int = 16  # N, Monte-Carlo completions of every prefix that estimate Q(Y_1:t-1, y_t)
    rollout_update_rate: float = 0.8  # the rollout policy trails the generator: β ← rate·β + (1 − rate)·θ after each generator step
    pg_baseline: bool = False  # subtract the batch mean of Q at each position from the rewards (the paper has none)
    disc_pretrain_rounds: int = 50  # discriminator pre-training rounds, each on fresh negatives
    d_steps: int = 5  # discriminator rounds per adversarial epoch, each on fresh negatives
    disc_epochs: int = 3  # k, epochs over (real + negatives) per discriminator round
    num_negatives: int = 0  # generated sequences per discriminator round, against as many real ones drawn at random; 0: as many as the real training sequences (all of them)
    disc_embedding_dim: int = 64  # discriminator token embedding size
    disc_filter_sizes: tuple[int, ...] = SEQGAN_FILTER_SIZES  # CNN filter widths (each at most seq_len)
    disc_num_filters: tuple[int, ...] = SEQGAN_NUM_FILTERS  # filters of each width
    disc_dropout: float = 0.25  # dropout before the discriminator's output layer
    disc_l2: float = 0.2  # L2 penalty on the output layer (λ of λ·(‖W‖² + ‖b‖²)/2)
    disc_learning_rate: float = 1e-4  # discriminator Adam step size
    disc_batch_size: int = 64  # sequences per discriminator step
    metrics_interval: int = 5  # epochs between measurements of NLL_oracle, NLL_gen, BLEU (and at the first and last)
    metric_samples: int = 10_000  # generated sequences NLL_oracle is measured on
    bleu_samples: int = 1000  # generated sentences scored by BLEU and self-BLEU (text)

    def validate(self) -> None:
        super().validate()
        sources = [name for name in ("oracle", "text_file", "token_file") if getattr(self, name)]
        check(len(sources) == 1, "give exactly one source of real data: --oracle seeded|PATH.npz, --text-file FILE "
                                 f"(or grammar) or --token-file FILE; got {', '.join(sources) or 'none'}")
        check(self.vocab_size >= 2 and self.seq_len >= 1, "vocab_size must be >= 2 and seq_len >= 1")
        check(self.num_real >= 2, f"num_real must be >= 2, got {self.num_real}")
        check(0 < self.held_out_fraction < 1, f"held_out_fraction must be in (0, 1), got {self.held_out_fraction}")
        for name in ("mle_epochs", "adversarial_epochs", "disc_pretrain_rounds", "d_steps", "num_negatives"):
            check(getattr(self, name) >= 0, f"{name} must be >= 0, got {getattr(self, name)}")
        for name in ("batch_size", "gen_embedding_dim", "gen_hidden_dim", "g_steps", "num_rollouts", "disc_epochs",
                     "disc_embedding_dim", "disc_batch_size", "metrics_interval", "metric_samples", "bleu_samples"):
            check(getattr(self, name) >= 1, f"{name} must be >= 1, got {getattr(self, name)}")
        check(self.gen_learning_rate > 0 and self.disc_learning_rate > 0, "learning rates must be > 0")
        check_grad_norm(self.max_grad_norm)
        check(0 <= self.rollout_update_rate < 1, f"rollout_update_rate must be in [0, 1), got {self.rollout_update_rate}")
        check(0 <= self.disc_dropout < 1 and self.disc_l2 >= 0, "disc_dropout must be in [0, 1) and disc_l2 >= 0")
        check(len(self.disc_filter_sizes) == len(self.disc_num_filters) >= 1,
              f"disc_filter_sizes ({len(self.disc_filter_sizes)}) and disc_num_filters ({len(self.disc_num_filters)}) "
              "need one count per width")
        check(all(n >= 1 for n in self.disc_num_filters), "disc_num_filters must be positive")
        too_wide = [k for k in self.disc_filter_sizes if not 1 <= k <= self.seq_len]
        check(not too_wide, f"disc_filter_sizes {too_wide} do not fit sequences of seq_len {self.seq_len}; pass "
                            "--disc-filter-sizes and --disc-num-filters with widths from 1 to seq_len")
