"""From a `DataConfig` to the noisy train, clean probe and test splits.

Order (host side, numpy, before any tf.data pipeline):
1. load the source;
2. probe: the source's own probe set (class-interleaved), else a clean,
   class-balanced probe carved from train by its clean labels
   (`probe_hold_ratio` > 0 wins over `probe_per_class`; both 0 = no probe);
3. labels of the rest: `noisy_labels_file` when given, else synthetic noise.

A noisy labels file gives labels for the whole source train split (a .npy in
source order, or a .csv keyed by id or path); the labels of examples that go
to the probe are not used, since the probe keeps the clean labels.

Real-noise datasets (webvision_mini, clothing1m, food101n, cifar10n,
cifar100n) already carry noisy labels; synthetic noise on top of them is
applied only as asked (their flag files set --noise_type=none), with a
warning.
"""

import dataclasses

from absl import logging
import numpy as np

from ieg_tf import config
from ieg_tf.data import bad_examples as bad_lib
from ieg_tf.data import noise
from ieg_tf.data import noisy_labels_file
from ieg_tf.data import probe as probe_lib
from ieg_tf.data.sources import registry
from ieg_tf.data.split import Split


@dataclasses.dataclass(frozen=True, eq=False)
class PreparedData:
  """The three splits training uses.

  Attributes:
    name: source name.
    num_classes: C.
    class_names: C names, index = label.
    train: noisy train set: `labels` noisy, `clean_labels` set when known.
    probe: clean, class-balanced, class-interleaved, disjoint from train; may
      hold 0 examples when no probe was asked for (supervised / gce only).
    test: the evaluation split.
    image_shape: (H, W, C) of every image.
    extra_tests: more evaluation splits by name (webvision_mini: 'imagenet',
      the 50-class ImageNet val set), reported as eval/<name>_top1 etc.
    bad_examples: skipped-image counter; the trainer logs `total()` as
      data/bad_examples and calls `check()` after each loop.
  """

  name: str
  num_classes: int
  class_names: tuple[str, ...]
  train: Split
  probe: Split
  test: Split
  image_shape: tuple[int, int, int]
  extra_tests: dict[str, Split] = dataclasses.field(default_factory=dict)
  bad_examples: bad_lib.BadExamples = dataclasses.field(
    default_factory=lambda: bad_lib.BadExamples('data', limit=0)
  )

  def training_split(self, method: config.Method) -> Split:
    """The split `method` trains on: the probe for probe_only, else train."""
    return self.probe if method == config.Method.PROBE_ONLY else self.train


def _probe(source, cfg: config.DataConfig) -> tuple[Split, Split]:
  """Returns (probe, rest of train)."""
  if source.probe is not None:
    return probe_lib.interleave_by_class(source.probe), source.train
  if source.train.clean_labels is None and not source.labels_are_clean:
    logging.warning(
      'carving the probe out of train labels that are not known to be clean'
    )
  if cfg.probe_hold_ratio > 0:
    sizes = {'per_class': None, 'hold_ratio': cfg.probe_hold_ratio}
  else:
    sizes = {'per_class': cfg.probe_per_class, 'hold_ratio': None}
  return probe_lib.split_probe(
    source.train, source.num_classes, seed=cfg.seed, **sizes
  )


def prepare_data(cfg: config.DataConfig) -> PreparedData:
  """Loads, splits and corrupts the data `cfg` describes (host side).

  Args:
    cfg: the data config.

  Returns:
    PreparedData; every split's ids are unique and the probe and train ids are
    disjoint.

  Raises:
    UserError: anything wrong with the dataset name, files, noise or probe.
  """
  source = registry.load_source(cfg)
  train = source.train
  # CIFAR-N sources know the true labels of their noisy train labels.
  clean = train.labels if source.labels_are_clean else train.clean_labels
  if cfg.noisy_labels_file:
    given = noisy_labels_file.load_noisy_labels(
      cfg.noisy_labels_file, train, source.num_classes
    )
    # The probe is chosen by `clean_labels` when they are known.
    train = train.with_labels(given, clean)
  elif clean is not None:
    train = train.with_labels(train.labels, clean)
  probe, rest = _probe(dataclasses.replace(source, train=train), cfg)
  if not cfg.noisy_labels_file:
    if not source.labels_are_clean and cfg.noise_type != config.NoiseType.NONE:
      logging.warning(
        '%s already has real label noise; adding %s noise at ratio %s on top '
        '(pass --noise_type=none to train on its own labels)',
        source.name,
        cfg.noise_type.value,
        cfg.noise_ratio,
      )
    noisy = noise.apply_noise(
      rest.labels,
      rest.ids,
      source.num_classes,
      cfg.noise_type,
      cfg.noise_ratio,
      cfg.seed,
      source.name,
      names=source.class_names,
    )
    rest = rest.with_labels(noisy, rest.clean_labels)
  wrong = (
    'unknown'
    if rest.clean_labels is None or not len(rest)
    else f'{np.mean(rest.labels != rest.clean_labels):.4f}'
  )
  logging.info(
    'data %s: %d classes, train %d (wrong-label rate %s), probe %d, test %d, '
    'extra tests %s, images %s',
    source.name,
    source.num_classes,
    len(rest),
    wrong,
    len(probe),
    len(source.test),
    {k: len(v) for k, v in source.extra_tests.items()},
    train.image_shape,
  )
  return PreparedData(
    name=source.name,
    num_classes=source.num_classes,
    class_names=source.class_names,
    train=rest,
    probe=probe,
    test=source.test,
    image_shape=train.image_shape,
    extra_tests=dict(source.extra_tests),
    bad_examples=source.bad_examples
    or bad_lib.BadExamples(source.name, cfg.max_bad_examples),
  )
