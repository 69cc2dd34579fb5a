"""Frozen configuration objects: everything below `main` reads these, never flags.

Each field is defined once here, with its default, type, help text and
bounds (`setting`); `options.py` generates one absl flag per field from
these and builds a `Config` from the parsed flags. Tests build configs
directly with `dataclasses.replace` on `default_config()`.
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


class MetaWeightRule(enum.StrEnum):
  """How L2R / IEG turn dL_meta/dw into weights (meta/weight_rules.py)."""

  REFERENCE = 'reference'
  CLASS_BALANCED = 'class_balanced'


class WeightSource(enum.StrEnum):
  """Where L2R / IEG's example weights come from (meta/weight_rules.py)."""

  META = 'meta'  # The probe meta-gradient (the papers).
  NETWORK = 'network'  # p(given label) from the network's softmax.
  VOTE = 'vote'  # p(given label) from the neighbor vote (meta/label_prior.py).


class RelabelRule(enum.StrEnum):
  """Which labels IEG replaces by the pseudo-label (meta/ieg_math.py)."""

  EVIDENCE = 'evidence'
  REFERENCE = 'reference'


NETWORK_NAMES = ('tiny', 'resnet29', 'wrn28-10', 'preact_resnet18', 'resnet50')


def setting(
  default,
  help: str,  # noqa: A002 - the absl name
  *,
  flag: str | None = None,
  lower=None,
  upper=None,
  choices: tuple[str, ...] | None = None,
  derived: bool = False,
):
  """A config field and the one flag it generates (`options.py`).

  Args:
    default: the field's default, which is the flag's default.
    help: the flag's help text.
    flag: the flag's name when it differs from the field's.
    lower: inclusive lower bound of a number.
    upper: inclusive upper bound of a number.
    choices: allowed values of a str field (an enum flag).
    derived: the flag has no default of its own (None): unset, the value
      follows from other flags (`options.config_from_flags` says how) and
      the field's default is what it resolves to with no flags at all.

  Returns:
    A `dataclasses.field` whose metadata holds the rest.
  """
  return dataclasses.field(
    default=default,
    metadata={
      'help': help,
      'flag': flag,
      'lower': lower,
      'upper': upper,
      'choices': choices,
      'derived': derived,
    },
  )


def allowed_values(field: dataclasses.Field) -> tuple[str, ...] | None:
  """The values a field's flag accepts: its enum's values or its `choices`.

  Args:
    field: a field made by `setting`.

  Returns:
    The allowed flag strings in order, or None for a free-form field.
  """
  if isinstance(field.default, enum.Enum):
    return tuple(member.value for member in type(field.default))
  return field.metadata['choices']


@dataclasses.dataclass(frozen=True)
class DataConfig:
  """Which data, which noise, which probe (flag help texts below)."""

  dataset: str = setting(
    'digits',
    'Registry name (digits, mnist, fashion_mnist, cifar10, cifar100, '
    'folder, ...) or IEG shorthand <name>_<noise_type>_<ratio>, e.g. '
    'cifar100_uniform_0.8.',
  )
  data_dir: str = setting('', 'Where the dataset files are.')
  noise_type: NoiseType = setting(
    NoiseType.UNIFORM,
    'Synthetic label noise on the train split (default: uniform, none for '
    'real-noise datasets, or what the --dataset shorthand says). uniform: '
    'with prob r a label drawn from ALL classes; flip: from the OTHER '
    'classes; asymmetric: class map.',
    derived=True,
  )
  noise_ratio: float = setting(
    0.8,
    'Probability r in [0, 1] that a label is corrupted (default 0.8, or the '
    '--dataset shorthand).',
    lower=0.0,
    upper=1.0,
    derived=True,
  )
  noisy_labels_file: str = setting(
    '',
    'Given noisy train labels: .npy in source order, or .csv with an `id` '
    'or `path` column and a `label` column. Replaces --noise_type.',
  )
  probe_per_class: int = setting(
    5, 'Clean probe (trusted) images per class, held out of train.', lower=0
  )
  probe_hold_ratio: float = setting(
    0.0,
    'IEG name: fraction of train held out as the probe, evenly by class. '
    'Overrides --probe_per_class when given.',
    flag='probe_dataset_hold_ratio',
    lower=0.0,
    upper=1.0,
    derived=True,
  )
  image_size: int = setting(
    0, 'Resize images to this side (folder data); 0 = native.', lower=0
  )
  aug_type: AugType = setting(
    AugType.RANDAUG, 'Strong augmentation of the consistency view.'
  )
  seed: int = setting(12345, 'Seeds noise, probe, shuffles, views.')
  cifarn_labels: str = setting(
    '',
    'CIFAR-N label set: aggre, random1, random2, random3, worst (cifar10n) '
    'or noisy100 (cifar100n); empty = worst / noisy100.',
  )
  imagenet_dir: str = setting(
    '',
    'ILSVRC2012 folder for webvision_mini: clean probe images and the '
    'second evaluation (ImageNet val, first 50 classes).',
  )
  max_bad_examples: int = setting(
    10,
    'Corrupt or unreadable images skipped (and counted) before the run stops.',
    lower=0,
  )


@dataclasses.dataclass(frozen=True)
class ModelConfig:
  network_name: str = setting(
    'tiny', 'Network architecture.', choices=NETWORK_NAMES
  )
  weight_decay: float = setting(
    -1.0,
    'L2 coefficient wd of wd*sum(0.5*||v||^2); <0 = the network default '
    '(ieg_tf/models/registry.py).',
  )


@dataclasses.dataclass(frozen=True)
class OptimConfig:
  """Momentum SGD with cosine restarts and linear warmup, plus EMA.

  The slot of the momentum is in gradient units (TF1 semantics); the EMA
  decay is capped by min(decay, (1+n)/(10+n)).
  """

  learning_rate: float = setting(
    0.1, 'Peak LR for the global batch.', lower=0.0
  )
  momentum: float = setting(0.9, 'Heavy-ball momentum.', lower=0.0, upper=0.999)
  first_decay_steps: int = setting(
    0, 'First cosine cycle length in steps; 0 = one epoch.', lower=0
  )
  cos_t_mul: float = setting(1.5, 'Cosine cycle length multiplier.', lower=0.1)
  cos_m_mul: float = setting(0.9, 'Cosine cycle peak multiplier.', lower=0.0)
  warmup_steps: int = setting(0, 'Linear LR warmup steps.', lower=0)
  ema_decay: float = setting(
    0.999,
    'EMA of weights (eval reports the EMA model); 0 disables.',
    lower=0.0,
    upper=1.0,
  )


@dataclasses.dataclass(frozen=True)
class MethodConfig:
  """The training method and the look-ahead the meta methods share.

  meta_stepsize is the look-ahead step of L2R, IEG and MW-Net; the weight
  rule and source set the example weights of L2R and IEG. Each method's own
  settings are its section: `IegConfig`, `GceConfig`, `MwnetConfig`.
  """

  method: Method = setting(Method.IEG, 'Training method.')
  meta_stepsize: float = setting(0.1, 'Look-ahead step size alpha.', lower=0.0)
  meta_weight_rule: MetaWeightRule = setting(
    MetaWeightRule.REFERENCE,
    'L2R / IEG: how the probe meta-gradient becomes example weights '
    '(ieg_tf/meta/weight_rules.py). reference = max(-g, 0) (the papers); '
    'class_balanced = max(-g, 0) shared out within each given label, every '
    'label keeping its batch share (docs/accuracy_study.md).',
  )
  weight_source: WeightSource = setting(
    WeightSource.META,
    'L2R / IEG: where example weights come from. meta = the probe '
    'meta-gradient (the papers); network = p(given label) from the '
    "network's softmax on the weak view, divided by its label's batch mean; "
    'vote = the same from the neighbor vote of --label_vote_neighbors (IEG). '
    'See docs/accuracy_study.md.',
  )


@dataclasses.dataclass(frozen=True)
class IegConfig:
  """IEG's own settings (`--method=ieg`; flag names as in the IEG code)."""

  meta_momentum: float = setting(
    0.9, 'Look-ahead momentum mu.', lower=0.0, upper=1.0
  )
  ce_factor: float = setting(5.0, 'Weight of the MixUp CE term.', lower=0.0)
  consistency_factor: float = setting(
    8.0,
    "Weight k of the KL consistency term. 8 is the IEG authors' value for "
    'WebVision; their CIFAR value 20 (--recipe=reference) cost 3.4-3.8 '
    'points against 8 with a small network (docs/algorithm.md).',
    lower=0.0,
  )
  grad_eps_init: float = setting(
    0.9, 'Initial label mix eps.', lower=0.0, upper=1.0
  )
  unsup_rampup_steps: int = setting(
    500,
    'Ramp ce_factor and consistency_factor linearly from 0 over N steps '
    '(MixMatch/DivideMix convention; 0 = the IEG reference: full weight '
    'from the first step, which collapsed the digits demo to uniform '
    'predictions; docs/methods.md).',
    lower=0,
  )
  label_temperature: float = setting(
    0.5, 'Sharpening temperature T of the pseudo-label.', lower=1e-3, upper=1.0
  )
  num_views: int = setting(
    2, 'Views averaged into the pseudo-label (1 weak + K-1 strong).', lower=1
  )
  relabel_rule: RelabelRule = setting(
    RelabelRule.EVIDENCE,
    'IEG: which labels to replace by the pseudo-label. evidence = where the '
    'probe meta-gradient says so AND the evidence agrees: the network beats '
    "the labels' estimated accuracy on the probe and the label is more "
    'likely wrong than right (docs/algorithm.md); reference = the '
    'meta-gradient alone (the paper).',
  )
  label_vote_neighbors: int = setting(
    0,
    'IEG from an encoder (--init_checkpoint / --pretrain_steps): mix the '
    "given labels of each image's K nearest neighbors in encoder feature "
    'space, calibrated on the probe, into its pseudo-label (0 = off, the '
    'paper; ieg_tf/meta/label_prior.py). See docs/contrastive.md.',
    lower=0,
  )


@dataclasses.dataclass(frozen=True)
class GceConfig:
  """Generalized cross-entropy (`--method=gce`)."""

  gce_q: float = setting(0.7, 'q of the GCE loss.', lower=1e-3, upper=1.0)


@dataclasses.dataclass(frozen=True)
class MwnetConfig:
  """Meta-Weight-Net's weighting MLP (`--method=mwnet`)."""

  mwnet_hidden_units: int = setting(
    100, 'Meta-Weight-Net hidden width.', lower=1
  )
  mwnet_learning_rate: float = setting(
    1e-3, 'Meta-Weight-Net learning rate.', lower=0.0
  )


@dataclasses.dataclass(frozen=True)
class RunConfig:
  """Where and how the job runs (flag help texts below)."""

  strategy: StrategyName = setting(StrategyName.CPU, 'tf.distribute strategy.')
  tpu: str = setting('', 'TPU name / grpc address, or local.')
  batch_size: int = setting(
    100, 'GLOBAL batch size (noisy and probe batches alike).', lower=1
  )
  eval_batch_size: int = setting(
    0, 'GLOBAL eval batch; 0 = batch_size.', lower=0
  )
  train_steps: int = setting(1000, 'Optimizer steps.', lower=0)
  eval_every_steps: int = setting(
    500, 'Evaluate and checkpoint every N steps.', lower=1
  )
  steps_per_loop: int = setting(
    50, 'Steps per tf.function call (the host returns between).', lower=1
  )
  log_every_steps: int = setting(50, 'Train metrics every N steps.', lower=1)
  checkpoint_every_steps: int = setting(
    0, 'Checkpoint every N steps; 0 = at every evaluation.', lower=0
  )
  keep_checkpoints: int = setting(3, 'Checkpoints kept.', lower=1)
  workdir: str = setting(
    '/tmp/ieg_tf',
    'Run directory (flags.cfg, metrics.jsonl, checkpoints/, ...).',
  )
  mode: Mode = setting(Mode.TRAIN, 'What to do.')
  deterministic: bool = setting(False, 'Op determinism + seeded input.')
  jit_compile: bool = setting(False, 'XLA-compile the train step.')
  init_checkpoint: str = setting(
    '',
    'Start the encoder from this checkpoint (file prefix or directory).',
  )
  skip_nonfinite: bool = setting(
    False,
    'Skip and count steps with non-finite loss or gradients instead of '
    'stopping the run.',
  )
  report_window_steps: int = setting(
    200,
    'Label report: average weights / relabel decisions over the last N steps.',
    lower=1,
  )
  precise_bn_batches: int = setting(
    50,
    'Before each evaluation, label report and export, re-estimate '
    'BatchNorm statistics for the evaluated weights (raw and EMA '
    'separately) over this many weak-view train batches; 0 = the stored '
    'moving averages.',
    lower=0,
  )


@dataclasses.dataclass(frozen=True)
class PretrainConfig:
  """Contrastive (SimCLR / C2D) stage on the training images, no labels."""

  pretrain_epochs: float = setting(
    0.0,
    'Contrastive (SimCLR) stage on the train images, in epochs of the '
    'train split (ceil(epochs x train images / batch) steps), before the '
    'method (mode=train) or alone (mode=pretrain); skipped when the '
    'workdir already holds it or --init_checkpoint gives the encoder. '
    '0 = no stage (random init). docs/pipeline.md.',
    lower=0.0,
  )
  pretrain_steps: int = setting(
    0,
    'Exact contrastive steps, overriding --pretrain_epochs; 0 = sized by '
    '--pretrain_epochs.',
    lower=0,
  )
  batch_size: int = setting(
    0,
    'GLOBAL contrastive batch (pairs); 0 = --batch_size.',
    flag='pretrain_batch_size',
    lower=0,
  )
  learning_rate: float = setting(
    1.0,
    'LARS peak LR for the global batch.',
    flag='pretrain_learning_rate',
    lower=0.0,
  )
  weight_decay: float = setting(
    1e-6,
    'LARS weight decay (BN and biases excluded).',
    flag='pretrain_weight_decay',
    lower=0.0,
  )
  warmup_steps: int = setting(
    0,
    'LARS linear warmup steps before the cosine decay.',
    flag='pretrain_warmup_steps',
    lower=0,
  )
  temperature: float = setting(
    0.5, 'NT-Xent temperature.', flag='pretrain_temperature', lower=1e-3
  )
  proj_head_layers: int = setting(2, 'Projection head MLP layers.', lower=1)
  proj_dim: int = setting(128, 'Projection output width.', lower=1)
  linear_probe_examples: int = setting(
    5000,
    'Labeled examples for the linear-probe diagnostic; 0 = off.',
    lower=0,
  )


@dataclasses.dataclass(frozen=True)
class Config:
  data: DataConfig = DataConfig()
  model: ModelConfig = ModelConfig()
  optim: OptimConfig = OptimConfig()
  method: MethodConfig = MethodConfig()
  ieg: IegConfig = IegConfig()
  gce: GceConfig = GceConfig()
  mwnet: MwnetConfig = MwnetConfig()
  run: RunConfig = RunConfig()
  pretrain: PretrainConfig = PretrainConfig()


def default_config() -> Config:
  return Config()


def flag_name(field: dataclasses.Field) -> str:
  """The flag a config field generates (unique over all sections)."""
  return field.metadata['flag'] or field.name


def replace_fields(cfg: Config, **values) -> Config:
  """`cfg` with fields replaced by their flag names, in whichever section.

  `replace_fields(cfg, method='ieg', num_views=3, pretrain_batch_size=64)`
  sets `cfg.method.method`, `cfg.ieg.num_views` and
  `cfg.pretrain.batch_size`: the API twin of passing those flags.

  Args:
    cfg: a Config.
    **values: flag name -> new value (of the field's type).

  Returns:
    The new Config.

  Raises:
    TypeError: a name no field's flag has.
  """
  sections, used = {}, set()
  for section in dataclasses.fields(cfg):
    part = getattr(cfg, section.name)
    mine = {}
    for field in dataclasses.fields(part):
      name = flag_name(field)
      if name in values:
        mine[field.name] = values[name]
        used.add(name)
    if mine:
      sections[section.name] = dataclasses.replace(part, **mine)
  unknown = set(values) - used
  if unknown:
    raise TypeError(f'no config flag named {", ".join(sorted(unknown))}.')
  return dataclasses.replace(cfg, **sections)
