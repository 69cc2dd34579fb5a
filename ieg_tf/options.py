"""Command-line flags: the ONLY module that reads absl FLAGS.

`config_from_flags()` validates the parsed flags and returns the frozen
`Config` everything else uses; `flags_file_text()` is what `flags.cfg`
holds, replayable with `--flagfile`. Flag names follow the IEG code where it
had them (max_iteration, probe_dataset_hold_ratio, ...).
"""

import re
import sys

from absl import flags

from ieg_tf import config as config_lib
from ieg_tf import recipes
from ieg_tf.errors import UserError

_D = config_lib

flags.DEFINE_enum(
  'recipe', recipes.DEFAULT, list(recipes.RECIPES), recipes.help_text()
)

# --- data -------------------------------------------------------------------
flags.DEFINE_string(
  'dataset',
  'digits',
  'Registry name (digits, mnist, fashion_mnist, cifar10, cifar100, folder, '
  '...) or IEG shorthand <name>_<noise_type>_<ratio>, e.g. '
  'cifar100_uniform_0.8.',
)
flags.DEFINE_string('data_dir', '', 'Where the dataset files are.')
flags.DEFINE_enum(
  'noise_type',
  None,
  [t.value for t in _D.NoiseType],
  'Synthetic label noise on the train split (default: uniform, none for '
  'real-noise datasets, or what the --dataset shorthand says). uniform: with prob r a label drawn from ALL '
  'classes; flip: from the OTHER classes; asymmetric: class map.',
)
flags.DEFINE_float(
  'noise_ratio',
  None,
  'Probability r in [0, 1] that a label is corrupted (default 0.8, or the '
  '--dataset shorthand).',
  lower_bound=0.0,
  upper_bound=1.0,
)
flags.DEFINE_string(
  'noisy_labels_file',
  '',
  'Given noisy train labels: .npy in source order, or .csv with an `id` or '
  '`path` column and a `label` column. Replaces --noise_type.',
)
flags.DEFINE_integer(
  'probe_per_class',
  5,
  'Clean probe (trusted) images per class, held out of train.',
  lower_bound=0,
)
flags.DEFINE_float(
  'probe_dataset_hold_ratio',
  None,
  'IEG name: fraction of train held out as the probe, evenly by class. '
  'Overrides --probe_per_class when given.',
  lower_bound=0.0,
  upper_bound=1.0,
)
flags.DEFINE_integer(
  'image_size',
  0,
  'Resize images to this side (folder data); 0 = native.',
  lower_bound=0,
)
flags.DEFINE_enum(
  'aug_type',
  _D.AugType.RANDAUG.value,
  [t.value for t in _D.AugType],
  'Strong augmentation of the consistency view.',
)
flags.DEFINE_integer('seed', 12345, 'Seeds noise, probe, shuffles, views.')
flags.DEFINE_string(
  'cifarn_labels',
  '',
  'CIFAR-N label set: aggre, random1, random2, random3, worst (cifar10n) or '
  'noisy100 (cifar100n); empty = worst / noisy100.',
)
flags.DEFINE_string(
  'imagenet_dir',
  '',
  'ILSVRC2012 folder for webvision_mini: clean probe images and the second '
  'evaluation (ImageNet val, first 50 classes).',
)
flags.DEFINE_integer(
  'max_bad_examples',
  10,
  'Corrupt or unreadable images skipped (and counted) before the run stops.',
  lower_bound=0,
)

# --- model / optimization ---------------------------------------------------
flags.DEFINE_enum(
  'network_name', 'tiny', list(_D.NETWORK_NAMES), 'Network architecture.'
)
flags.DEFINE_float(
  'weight_decay',
  -1.0,
  'L2 coefficient wd of wd*sum(0.5*||v||^2); <0 = the network default.',
)
flags.DEFINE_float('learning_rate', 0.1, 'Peak LR.', lower_bound=0.0)
flags.DEFINE_float(
  'momentum', 0.9, 'Heavy-ball momentum.', lower_bound=0.0, upper_bound=0.999
)
flags.DEFINE_integer(
  'first_decay_steps',
  0,
  'First cosine cycle length in steps; 0 = one epoch.',
  lower_bound=0,
)
flags.DEFINE_float(
  'cos_t_mul', 1.5, 'Cosine cycle length multiplier.', lower_bound=0.1
)
flags.DEFINE_float(
  'cos_m_mul', 0.9, 'Cosine cycle peak multiplier.', lower_bound=0.0
)
flags.DEFINE_integer(
  'warmup_steps', 0, 'Linear LR warmup steps.', lower_bound=0
)
flags.DEFINE_float(
  'ema_decay',
  0.999,
  'EMA of weights (eval reports the EMA model); 0 disables.',
  lower_bound=0.0,
  upper_bound=1.0,
)

# --- method -----------------------------------------------------------------
flags.DEFINE_enum(
  'method',
  _D.Method.IEG.value,
  [m.value for m in _D.Method],
  'Training method.',
)
flags.DEFINE_float(
  'gce_q', 0.7, 'q of the GCE loss.', lower_bound=1e-3, upper_bound=1.0
)
flags.DEFINE_float(
  'meta_stepsize', 0.1, 'Look-ahead step size alpha.', lower_bound=0.0
)
flags.DEFINE_float(
  'meta_momentum',
  0.9,
  'Look-ahead momentum mu.',
  lower_bound=0.0,
  upper_bound=1.0,
)
flags.DEFINE_float(
  'ce_factor', 5.0, 'Weight of the MixUp CE term.', lower_bound=0.0
)
flags.DEFINE_float(
  'consistency_factor', 20.0, 'Weight of the KL term.', lower_bound=0.0
)
flags.DEFINE_float(
  'grad_eps_init',
  0.9,
  'Initial label mix eps.',
  lower_bound=0.0,
  upper_bound=1.0,
)
flags.DEFINE_integer(
  'unsup_rampup_steps',
  500,
  'Ramp ce_factor and consistency_factor linearly from 0 over N steps '
  '(0 = the IEG reference: full weight from the first step, which collapsed '
  'the digits demo to uniform predictions; see README).',
  lower_bound=0,
)
flags.DEFINE_float(
  'mixup_confidence_threshold',
  0.8,
  'IEG: a noisy MixUp row enters the ce_factor term only when the largest '
  'entry of its mixed target is at least this (FixMatch-style mask; 0 = the '
  'IEG reference, every row). Guards against collapse while pseudo-labels '
  'are poor (see README).',
  lower_bound=0.0,
  upper_bound=1.0,
)
flags.DEFINE_bool(
  'mixup_distribution_alignment',
  False,
  'IEG: divide the pseudo-labels used as MixUp targets by their batch mean '
  'and renormalize (ReMixMatch distribution alignment to a uniform prior), '
  'so the targets cannot drift to one class.',
)
flags.DEFINE_enum(
  'meta_weight_rule',
  'reference',
  ['reference', 'normalized', 'class_centered', 'class_balanced'],
  'L2R / IEG: how the probe meta-gradient becomes example weights. '
  'reference = max(-g, 0) (the papers); normalized = divided by the '
  "example's residual ||p - t||; class_centered = normalized, then centered "
  'within each given label; class_balanced = max(-g, 0) shared out within '
  'each given label, every label keeping its batch share (see README).',
)
flags.DEFINE_float(
  'weight_confidence_mix',
  0.0,
  'L2R / IEG: example weight = (1 - a) * meta weight + a * p(given label) '
  "normalized over the batch, with p the network's softmax on the weak view "
  '(0 = the papers: meta weight only). See README.',
  lower_bound=0.0,
  upper_bound=1.0,
)
flags.DEFINE_enum(
  'weight_confidence_source',
  'network',
  ['network', 'vote'],
  'IEG: where --weight_confidence_mix reads p(given label): the network, or '
  'the neighbor-vote prior of --label_vote_neighbors.',
)
flags.DEFINE_enum(
  'relabel_rule',
  'evidence',
  ['evidence', 'reference', 'confidence'],
  'IEG: which labels to replace by the pseudo-label. evidence = where the '
  'probe meta-gradient says so AND the evidence agrees: the network beats '
  "the labels' estimated accuracy on the probe and the label is more likely "
  'wrong than right (docs/algorithm.md); reference = the meta-gradient '
  'alone (the paper); confidence = where the network gives the given label '
  "less probability than its label's batch mean (see README).",
)
flags.DEFINE_integer(
  'label_vote_neighbors',
  0,
  'IEG from an encoder (--init_checkpoint / --pretrain_steps): mix the given '
  "labels of each image's K nearest neighbors in encoder feature space, "
  'calibrated on the probe, into its pseudo-label (0 = off, the paper). '
  'See README "Neighbor votes".',
  lower_bound=0,
)
flags.DEFINE_float(
  'label_vote_mix',
  0.5,
  'Share of the neighbor vote in the pseudo-label before sharpening, with '
  '--label_vote_neighbors > 0.',
  lower_bound=0.0,
  upper_bound=1.0,
)
flags.DEFINE_integer(
  'num_views',
  2,
  'Views averaged into the pseudo-label (1 weak + K-1 strong).',
  lower_bound=1,
)
flags.DEFINE_float(
  'label_temperature',
  0.5,
  'Sharpening temperature T of the pseudo-label.',
  lower_bound=1e-3,
  upper_bound=1.0,
)
flags.DEFINE_enum(
  'mixup_mode',
  'ieg',
  ['ieg', 'beta'],
  'MixUp coefficients: ieg = the reference (per-example uniform draw); '
  'beta = a true Beta(alpha, alpha) draw.',
)
flags.DEFINE_float(
  'mixup_alpha', 0.75, 'Beta alpha for --mixup_mode=beta.', lower_bound=1e-3
)
flags.DEFINE_integer(
  'mwnet_hidden_units', 100, 'Meta-Weight-Net hidden width.', lower_bound=1
)
flags.DEFINE_float(
  'mwnet_learning_rate',
  1e-3,
  'Meta-Weight-Net learning rate.',
  lower_bound=0.0,
)

# --- contrastive pre-training (C2D) -----------------------------------------
flags.DEFINE_float(
  'pretrain_epochs',
  _D.PretrainConfig.pretrain_epochs,
  'Contrastive (SimCLR) stage on the train images, in epochs of the train '
  'split, before the method (mode=train) or alone (mode=pretrain); skipped '
  'when the workdir already holds it or --init_checkpoint gives the '
  'encoder. 0 = no stage (random init). docs/pipeline.md.',
  lower_bound=0.0,
)
flags.DEFINE_integer(
  'pretrain_steps',
  0,
  'Exact contrastive steps, overriding --pretrain_epochs; 0 = sized by '
  '--pretrain_epochs.',
  lower_bound=0,
)
flags.DEFINE_string(
  'init_checkpoint',
  '',
  'Start the encoder from this checkpoint (file prefix or directory).',
)
flags.DEFINE_integer(
  'pretrain_batch_size',
  0,
  'GLOBAL contrastive batch; 0 = --batch_size.',
  lower_bound=0,
)
flags.DEFINE_float(
  'pretrain_learning_rate', 1.0, 'LARS peak LR.', lower_bound=0.0
)
flags.DEFINE_float(
  'pretrain_weight_decay', 1e-6, 'LARS weight decay.', lower_bound=0.0
)
flags.DEFINE_integer(
  'pretrain_warmup_steps', 0, 'LARS warmup steps.', lower_bound=0
)
flags.DEFINE_float(
  'pretrain_temperature', 0.5, 'NT-Xent temperature.', lower_bound=1e-3
)
flags.DEFINE_integer(
  'proj_head_layers', 2, 'Projection head MLP layers.', lower_bound=1
)
flags.DEFINE_integer('proj_dim', 128, 'Projection output width.', lower_bound=1)
flags.DEFINE_integer(
  'linear_probe_examples',
  5000,
  'Labeled examples for the linear-probe diagnostic; 0 = off.',
  lower_bound=0,
)

# --- run --------------------------------------------------------------------
flags.DEFINE_enum(
  'strategy',
  _D.StrategyName.CPU.value,
  [s.value for s in _D.StrategyName],
  'tf.distribute strategy.',
)
flags.DEFINE_string('tpu', '', 'TPU name / grpc address, or local.')
flags.DEFINE_integer('batch_size', 100, 'GLOBAL batch size.', lower_bound=1)
flags.DEFINE_integer(
  'eval_batch_size', 0, 'GLOBAL eval batch; 0 = batch_size.', lower_bound=0
)
flags.DEFINE_integer('train_steps', 1000, 'Optimizer steps.', lower_bound=0)
flags.DEFINE_alias('max_iteration', 'train_steps')
flags.DEFINE_integer(
  'precise_bn_batches',
  50,
  'Before each evaluation, label report and export, re-estimate BatchNorm '
  'statistics for the evaluated weights (raw and EMA separately) over this '
  'many weak-view train batches; 0 = the stored moving averages.',
  lower_bound=0,
)
flags.DEFINE_integer(
  'eval_every_steps',
  500,
  'Evaluate and checkpoint every N steps.',
  lower_bound=1,
)
flags.DEFINE_integer(
  'steps_per_loop', 50, 'Steps per tf.function call.', lower_bound=1
)
flags.DEFINE_integer(
  'log_every_steps', 50, 'Train metrics every N steps.', lower_bound=1
)
flags.DEFINE_integer(
  'checkpoint_every_steps',
  0,
  'Checkpoint every N steps; 0 = at every evaluation.',
  lower_bound=0,
)
flags.DEFINE_integer('keep_checkpoints', 3, 'Checkpoints kept.', lower_bound=1)
flags.DEFINE_string('workdir', '/tmp/ieg_tf', 'Run directory.')
flags.DEFINE_enum(
  'mode',
  _D.Mode.TRAIN.value,
  [m.value for m in _D.Mode],
  'What to do.',
)
flags.DEFINE_bool('deterministic', False, 'Op determinism + seeded input.')
flags.DEFINE_bool('jit_compile', False, 'XLA-compile the train step.')
flags.DEFINE_bool(
  'skip_nonfinite',
  False,
  'Skip and count steps with non-finite loss or gradients instead of '
  'stopping the run.',
)
flags.DEFINE_integer(
  'report_window_steps',
  200,
  'Label report: average weights / relabel decisions over the last N steps.',
  lower_bound=1,
)

FLAGS = flags.FLAGS

_SHORTHAND = re.compile(
  r'^(?P<name>[a-z0-9_]+?)_(?P<noise>uniform|flip|asymmetric|none)'
  r'_(?P<ratio>[0-9]*\.?[0-9]+)$'
)


def parse_dataset(value: str) -> tuple:
  """Splits IEG shorthand `<name>_<noise>_<ratio>`.

  Args:
    value: the --dataset value.

  Returns:
    (name, noise_type or None, ratio or None).

  Raises:
    UserError: the ratio is outside [0, 1].
  """
  m = _SHORTHAND.match(value)
  if not m:
    return value, None, None
  ratio = float(m.group('ratio'))
  if not 0.0 <= ratio <= 1.0:
    raise UserError(
      f'--dataset={value}: noise ratio {ratio} is outside [0, 1].'
    )
  return m.group('name'), _D.NoiseType(m.group('noise')), ratio


def apply_recipe() -> None:
  """Sets the --recipe's values on every flag the command line left unset.

  Raises:
    ValueError: the recipe names a flag this module does not define or a
      value its flag rejects (a bug in `recipes.py`, caught by its test).
  """
  for name, value in recipes.RECIPES[FLAGS.recipe].flags.items():
    flag = FLAGS[name]
    if not flag.present:
      setattr(FLAGS, name, flag.parser.parse(value))


def config_from_flags() -> config_lib.Config:
  """Builds and validates the Config from parsed flags (host, once)."""
  apply_recipe()
  name, noise, ratio = parse_dataset(FLAGS.dataset)
  if FLAGS.noise_type is not None:
    noise = _D.NoiseType(FLAGS.noise_type)
  if FLAGS.noise_ratio is not None:
    ratio = FLAGS.noise_ratio
  if noise is None:
    noise = (
      _D.NoiseType.NONE
      if name in _D.REAL_NOISE_DATASETS
      else _D.NoiseType.UNIFORM
    )
  if ratio is None:
    ratio = 0.8
  probe_per_class = FLAGS.probe_per_class
  hold_ratio = 0.0
  if FLAGS.probe_dataset_hold_ratio is not None:
    hold_ratio = FLAGS.probe_dataset_hold_ratio
    probe_per_class = 0
  method = _D.Method(FLAGS.method)
  if method in _D.META_METHODS + (_D.Method.PROBE_ONLY,) and not (
    probe_per_class > 0 or hold_ratio > 0
  ):
    raise UserError(
      f'--method={method.value} needs a probe set: set --probe_per_class > 0.'
    )
  data = _D.DataConfig(
    dataset=name,
    data_dir=FLAGS.data_dir,
    noise_type=noise,
    noise_ratio=ratio,
    noisy_labels_file=FLAGS.noisy_labels_file,
    probe_per_class=probe_per_class,
    probe_hold_ratio=hold_ratio,
    image_size=FLAGS.image_size,
    aug_type=_D.AugType(FLAGS.aug_type),
    seed=FLAGS.seed,
    cifarn_labels=FLAGS.cifarn_labels,
    imagenet_dir=FLAGS.imagenet_dir,
    max_bad_examples=FLAGS.max_bad_examples,
  )
  model = _D.ModelConfig(
    network_name=FLAGS.network_name, weight_decay=FLAGS.weight_decay
  )
  optim = _D.OptimConfig(
    learning_rate=FLAGS.learning_rate,
    momentum=FLAGS.momentum,
    first_decay_steps=FLAGS.first_decay_steps,
    cos_t_mul=FLAGS.cos_t_mul,
    cos_m_mul=FLAGS.cos_m_mul,
    warmup_steps=FLAGS.warmup_steps,
    ema_decay=FLAGS.ema_decay,
  )
  meth = _D.MethodConfig(
    method=method,
    gce_q=FLAGS.gce_q,
    meta_stepsize=FLAGS.meta_stepsize,
    meta_momentum=FLAGS.meta_momentum,
    ce_factor=FLAGS.ce_factor,
    consistency_factor=FLAGS.consistency_factor,
    grad_eps_init=FLAGS.grad_eps_init,
    unsup_rampup_steps=FLAGS.unsup_rampup_steps,
    label_temperature=FLAGS.label_temperature,
    num_views=FLAGS.num_views,
    mixup_mode=FLAGS.mixup_mode,
    mixup_alpha=FLAGS.mixup_alpha,
    mixup_confidence_threshold=FLAGS.mixup_confidence_threshold,
    mixup_distribution_alignment=FLAGS.mixup_distribution_alignment,
    meta_weight_rule=FLAGS.meta_weight_rule,
    weight_confidence_mix=FLAGS.weight_confidence_mix,
    weight_confidence_source=FLAGS.weight_confidence_source,
    relabel_rule=FLAGS.relabel_rule,
    label_vote_neighbors=FLAGS.label_vote_neighbors,
    label_vote_mix=FLAGS.label_vote_mix,
    mwnet_hidden_units=FLAGS.mwnet_hidden_units,
    mwnet_learning_rate=FLAGS.mwnet_learning_rate,
  )
  run = _D.RunConfig(
    strategy=_D.StrategyName(FLAGS.strategy),
    tpu=FLAGS.tpu,
    batch_size=FLAGS.batch_size,
    eval_batch_size=FLAGS.eval_batch_size or FLAGS.batch_size,
    train_steps=FLAGS.train_steps,
    eval_every_steps=FLAGS.eval_every_steps,
    steps_per_loop=FLAGS.steps_per_loop,
    log_every_steps=FLAGS.log_every_steps,
    checkpoint_every_steps=FLAGS.checkpoint_every_steps,
    keep_checkpoints=FLAGS.keep_checkpoints,
    workdir=FLAGS.workdir,
    mode=_D.Mode(FLAGS.mode),
    deterministic=FLAGS.deterministic,
    jit_compile=FLAGS.jit_compile,
    init_checkpoint=FLAGS.init_checkpoint,
    skip_nonfinite=FLAGS.skip_nonfinite,
    report_window_steps=FLAGS.report_window_steps,
    precise_bn_batches=FLAGS.precise_bn_batches,
  )
  pretrain = _D.PretrainConfig(
    pretrain_epochs=FLAGS.pretrain_epochs,
    pretrain_steps=FLAGS.pretrain_steps,
    batch_size=FLAGS.pretrain_batch_size or FLAGS.batch_size,
    learning_rate=FLAGS.pretrain_learning_rate,
    weight_decay=FLAGS.pretrain_weight_decay,
    warmup_steps=FLAGS.pretrain_warmup_steps,
    temperature=FLAGS.pretrain_temperature,
    proj_head_layers=FLAGS.proj_head_layers,
    proj_dim=FLAGS.proj_dim,
    linear_probe_examples=FLAGS.linear_probe_examples,
  )
  return _D.Config(
    data=data,
    model=model,
    optim=optim,
    method=meth,
    run=run,
    pretrain=pretrain,
  )


def flags_file_text() -> str:
  """The resolved flags of this module, one `--name=value` per line."""
  module = sys.modules[__name__]
  lines = []
  for flag in FLAGS.get_flags_for_module(module):
    if flag.name == 'max_iteration':  # alias of train_steps
      continue
    if flag.value is None:
      continue
    lines.append(flag.serialize())
  return '\n'.join(sorted(lines)) + '\n'
