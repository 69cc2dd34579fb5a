"""`SplitSet`: a real-noise dataset's named splits, before the probe is cut.

The owners' layouts (webvision, clothing1m, food101n, cifar_n) and the
converted TFRecords (`record_reader`) both produce a SplitSet; the converter
writes one. `to_source` then cuts the probe the same way for both, so a run
on converted records sees exactly the examples a run on the original files
sees.

Probe rules (k = --probe_per_class, or --probe_dataset_hold_ratio * |train| /
C): `probe_pool` set: k clean examples per class by hash(seed, id) from the
pool, and those ids leave train (Clothing1M's clean and noisy sets overlap);
`probe_from_test`: k per class out of the test set, the rest stays the test
set (WebVision without ImageNet); neither: the probe is carved from train by
`prepare` using the clean labels (CIFAR-N).
"""

import dataclasses

import numpy as np

from ieg_tf import config
from ieg_tf.data import probe as probe_lib
from ieg_tf.data import record_reader
from ieg_tf.data.bad_examples import BadExamples
from ieg_tf.data.sources.source_data import SourceData
from ieg_tf.data.split import Split

TRAIN, TEST, POOL, EXTRA = 'train', 'test', 'probe_pool', 'extra_'


@dataclasses.dataclass(frozen=True, eq=False)
class SplitSet:
  """Named splits of one dataset (host).

  Attributes:
    name: registry name.
    class_names: C names, index = label.
    train: noisy train split.
    test: evaluation split.
    probe_pool: clean examples to cut the probe from, or None.
    probe_from_test: cut the probe out of `test` (with no pool).
    extra_tests: more evaluation splits, e.g. {'imagenet': ...}.
    labels_are_clean: train labels are the true labels.
    bad_examples: skipped-example counter shared by all splits.
    notes: small facts the converter stores, e.g. {'label_set': 'worst'}.
  """

  name: str
  class_names: tuple[str, ...]
  train: Split
  test: Split
  probe_pool: Split | None
  probe_from_test: bool
  extra_tests: dict[str, Split]
  labels_are_clean: bool
  bad_examples: BadExamples
  notes: dict = dataclasses.field(default_factory=dict)

  @property
  def num_classes(self) -> int:
    return len(self.class_names)

  def named_splits(self) -> dict[str, Split]:
    """{'train', 'test', ['probe_pool'], ['extra_<name>' ...]} -> Split."""
    named = {TRAIN: self.train, TEST: self.test}
    if self.probe_pool is not None:
      named[POOL] = self.probe_pool
    for name, split in self.extra_tests.items():
      named[EXTRA + name] = split
    return named


def probe_per_class(cfg: config.DataConfig, train_size: int, classes: int):
  """k, the probe images per class the config asks for."""
  if cfg.probe_hold_ratio > 0:
    sizes = {'per_class': None, 'hold_ratio': cfg.probe_hold_ratio}
  else:
    sizes = {'per_class': cfg.probe_per_class, 'hold_ratio': None}
  return probe_lib.probe_size_per_class(train_size, classes, **sizes)


def to_source(s: SplitSet, cfg: config.DataConfig) -> SourceData:
  """Cuts the probe (see module docstring) and returns the SourceData (host).

  Raises:
    UserError: the pool or test set has fewer than k examples in a class.
  """
  classes = s.num_classes
  k = probe_per_class(cfg, len(s.train), classes)
  train, test, probe = s.train, s.test, None
  if s.probe_pool is not None or s.probe_from_test:
    pool = s.probe_pool if s.probe_pool is not None else s.test
    probe, rest = probe_lib.split_probe(
      pool, classes, per_class=k, hold_ratio=None, seed=cfg.seed
    )
    if s.probe_from_test:
      test = rest
    # The probe must be disjoint from train.
    train = train.take(~np.isin(train.ids, probe.ids))
    # The probe is small and read every few steps: hold its bytes in memory.
    probe = record_reader.materialize(probe)
  return SourceData(
    name=s.name,
    num_classes=classes,
    class_names=s.class_names,
    train=train,
    test=test,
    probe=probe,
    labels_are_clean=s.labels_are_clean,
    extra_tests=dict(s.extra_tests),
    bad_examples=s.bad_examples,
  )
