"""Frozen configuration objects: everything below `main` reads these, never flags.

`options.py` builds a `Config` from absl flags and validates it; tests build
configs directly with `dataclasses.replace` on `default_config()`.
"""

import dataclasses
import enum


class NoiseType(str, enum.Enum):
  """How synthetic label noise is drawn (see `ieg_tf/data/noise.py`)."""

  NONE = 'none'
  UNIFORM = 'uniform'  # IEG: with prob r, a label drawn from ALL classes.
  FLIP = 'flip'  # With prob r, a label drawn from the OTHER classes.
  ASYMMETRIC = 'asymmetric'  # With prob r, class c -> map[c].


class Method(str, enum.Enum):
  SUPERVISED = 'supervised'
  GCE = 'gce'
  L2R = 'l2r'
  IEG = 'ieg'
  MWNET = 'mwnet'
  PROBE_ONLY = 'probe_only'


# Methods that re-weight with a look-ahead step on the probe set.
META_METHODS = (Method.L2R, Method.IEG, Method.MWNET)

# Datasets whose labels are already noisy (web / crowd): no synthetic noise
# unless a flag asks for it.
REAL_NOISE_DATASETS = (
  'webvision_mini',
  'clothing1m',
  'food101n',
  'cifar10n',
  'cifar100n',
)


class StrategyName(str, enum.Enum):
  CPU = 'cpu'
  ONE_DEVICE = 'one_device'
  MIRRORED = 'mirrored'
  MULTI_WORKER = 'multi_worker'
  TPU = 'tpu'


class Mode(str, enum.Enum):
  TRAIN = 'train'
  EVAL = 'eval'
  PRETRAIN = 'pretrain'
  REPORT = 'report'
  EXPORT = 'export'


class AugType(str, enum.Enum):
  WEAK = 'weak'
  RANDAUG = 'randaug'
  AUTOAUG = 'autoaug'


NETWORK_NAMES = ('tiny', 'resnet29', 'wrn28-10', 'preact_resnet18', 'resnet50')


@dataclasses.dataclass(frozen=True)
class DataConfig:
  """Which data, which noise, which probe.

  Attributes:
    dataset: registry name without the noise suffix, e.g. 'cifar100'.
    data_dir: where the source's files are; '' lets a source use its default.
    noise_type: synthetic noise applied to the train split.
    noise_ratio: r in [0, 1], the probability an example is corrupted.
    noisy_labels_file: given noisy labels (.npy or .csv); replaces `noise_type`.
    probe_per_class: clean probe images per class, carved out of train.
    probe_hold_ratio: alternative to `probe_per_class`: fraction of train held
      out as probe (IEG's `probe_dataset_hold_ratio`), split evenly by class.
    image_size: side length images are resized to (folder sources); 0 keeps
      the source's native size.
    seed: seeds noise, probe choice, shuffles and augmentation.
  """

  dataset: str = 'digits'
  data_dir: str = ''
  noise_type: NoiseType = NoiseType.UNIFORM
  noise_ratio: float = 0.8
  noisy_labels_file: str = ''
  probe_per_class: int = 5
  probe_hold_ratio: float = 0.0
  image_size: int = 0
  aug_type: AugType = AugType.RANDAUG
  seed: int = 12345
  # CIFAR-N label set (aggre, random1, random2, random3, worst; noisy100 for
  # cifar100n); '' = the source's default.
  cifarn_labels: str = ''
  # ImageNet ILSVRC2012 folder for webvision_mini (probe source and 2nd eval).
  imagenet_dir: str = ''
  # Corrupt / unreadable images skipped (and counted) before the run stops.
  max_bad_examples: int = 10


@dataclasses.dataclass(frozen=True)
class ModelConfig:
  network_name: str = 'tiny'
  # <0 means "the network's published default" (see ieg_tf/models/registry.py).
  weight_decay: float = -1.0


@dataclasses.dataclass(frozen=True)
class OptimConfig:
  """Momentum SGD with cosine restarts and linear warmup, plus EMA.

  Attributes:
    learning_rate: peak LR for the global batch.
    momentum: heavy-ball momentum (TF1 semantics: the slot is in grad units).
    first_decay_steps: length of the first cosine cycle; 0 = one epoch.
    cos_t_mul: cycle length multiplier.
    cos_m_mul: cycle peak multiplier.
    warmup_steps: linear ramp from 0 to `learning_rate` before the cosine.
    ema_decay: 0 disables EMA; else the cap of min(decay, (1+n)/(10+n)).
  """

  learning_rate: float = 0.1
  momentum: float = 0.9
  first_decay_steps: int = 0
  cos_t_mul: float = 1.5
  cos_m_mul: float = 0.9
  warmup_steps: int = 0
  ema_decay: float = 0.999


@dataclasses.dataclass(frozen=True)
class MethodConfig:
  """The training method and its hyper-parameters (IEG names kept)."""

  method: Method = Method.IEG
  gce_q: float = 0.7
  meta_stepsize: float = 0.1
  meta_momentum: float = 0.9
  ce_factor: float = 5.0
  consistency_factor: float = 20.0
  grad_eps_init: float = 0.9
  # Linear ramp of ce_factor and consistency_factor from 0 over this many
  # steps (MixMatch/DivideMix convention; the IEG reference has none = 0).
  unsup_rampup_steps: int = 500
  label_temperature: float = 0.5
  num_views: int = 2
  # 'ieg': the reference's per-example uniform mix weights; 'beta': a true
  # Beta(alpha, alpha) draw (see ieg_tf/meta/mixup.py).
  mixup_mode: str = 'ieg'
  mixup_alpha: float = 0.75
  # Noisy MixUp rows enter u_loss only when their target's largest entry is
  # at least this (0 = the reference: every row). See ieg_loss.py.
  mixup_confidence_threshold: float = 0.8
  # Divide MixUp's pseudo-labels by their batch mean (ReMixMatch alignment).
  mixup_distribution_alignment: bool = False
  # How L2R / IEG turn dL_meta/dw into weights (ieg_tf/meta/weight_rules.py).
  meta_weight_rule: str = 'reference'
  # Share of the network's p(given label) in those weights (weight_rules.py).
  weight_confidence_mix: float = 0.0
  # Where that p(given label) comes from: 'network' or 'vote' (the IEG
  # neighbor-vote prior, needs label_vote_neighbors > 0).
  weight_confidence_source: str = 'network'
  # IEG's eps*: 'evidence' (meta-gradient sign, vetoed where the evidence
  # keeps the label; meta/label_evidence.py), 'reference' (the sign alone)
  # or 'confidence'.
  relabel_rule: str = 'evidence'
  # IEG: neighbors whose given labels vote for each image's pseudo-label in
  # the encoder's feature space (0 = off; ieg_tf/pretrain/label_prior.py),
  # and the vote's share of the pseudo-label.
  label_vote_neighbors: int = 0
  label_vote_mix: float = 0.5
  mwnet_hidden_units: int = 100
  mwnet_learning_rate: float = 1e-3


@dataclasses.dataclass(frozen=True)
class RunConfig:
  """Where and how the job runs.

  Attributes:
    strategy: tf.distribute strategy name.
    tpu: TPU name or 'local' for `strategy=tpu`.
    batch_size: GLOBAL batch (noisy and probe batches alike).
    eval_batch_size: GLOBAL eval batch; 0 = `batch_size`.
    train_steps: optimizer steps in the whole run.
    eval_every_steps: evaluate (and checkpoint) every this many steps.
    steps_per_loop: steps inside one tf.function call (host returns between).
    log_every_steps: train metrics are written every this many steps.
    checkpoint_every_steps: 0 = at every evaluation.
    keep_checkpoints: how many checkpoints the manager keeps.
    workdir: run directory (flags.cfg, metrics.jsonl, checkpoints/, ...).
    mode: what this invocation does.
    deterministic: op determinism and seeded input pipelines.
    jit_compile: compile the per-replica step with XLA.
    precise_bn_batches: train batches over which BN statistics are
      re-estimated for the evaluated / reported / exported weights (raw and
      EMA separately); 0 = the stored moving averages.
  """

  strategy: StrategyName = StrategyName.CPU
  tpu: str = ''
  batch_size: int = 100
  eval_batch_size: int = 0
  train_steps: int = 1000
  eval_every_steps: int = 500
  steps_per_loop: int = 50
  log_every_steps: int = 50
  checkpoint_every_steps: int = 0
  keep_checkpoints: int = 3
  workdir: str = '/tmp/ieg_tf'
  mode: Mode = Mode.TRAIN
  deterministic: bool = False
  jit_compile: bool = False
  # Encoder weights to start from (a pretrain checkpoint or a train one).
  init_checkpoint: str = ''
  # Skip (count) steps with non-finite loss/gradients instead of stopping.
  skip_nonfinite: bool = False
  # Steps over which per-example weights / relabel decisions are averaged
  # for the label-noise report.
  report_window_steps: int = 200
  precise_bn_batches: int = 50


@dataclasses.dataclass(frozen=True)
class PretrainConfig:
  """Contrastive (SimCLR / C2D) stage on the training images, no labels.

  Attributes:
    pretrain_epochs: the stage's length in epochs of the train split
      (ceil(epochs x train images / batch_size) steps); 0 = no stage, the
      method starts from a random init.
    pretrain_steps: exact contrastive steps, overriding `pretrain_epochs`;
      0 = sized by `pretrain_epochs`.
    batch_size: GLOBAL contrastive batch (pairs); 0 = RunConfig.batch_size.
    learning_rate: LARS peak LR for the global batch.
    weight_decay: LARS weight decay (BN and biases excluded).
    warmup_steps: linear warmup before the cosine decay.
    temperature: NT-Xent temperature tau.
    proj_head_layers: MLP layers of the projection head (>= 1).
    proj_dim: output width of the projection head.
    linear_probe_examples: labeled train examples for the linear-probe
      diagnostic (0 disables it).
  """

  pretrain_epochs: float = 0.0
  pretrain_steps: int = 0
  batch_size: int = 0
  learning_rate: float = 1.0
  weight_decay: float = 1e-6
  warmup_steps: int = 0
  temperature: float = 0.5
  proj_head_layers: int = 2
  proj_dim: int = 128
  linear_probe_examples: int = 5000


@dataclasses.dataclass(frozen=True)
class Config:
  data: DataConfig = DataConfig()
  model: ModelConfig = ModelConfig()
  optim: OptimConfig = OptimConfig()
  method: MethodConfig = MethodConfig()
  run: RunConfig = RunConfig()
  pretrain: PretrainConfig = PretrainConfig()


def default_config() -> Config:
  return Config()
