"""The trusted probe set: a clean, class-balanced, class-interleaved split.

IEG scores noisy examples against a small probe set that is fed unshuffled in
batches. Storing it class-interleaved ([c0, c1, ..., c(C-1), c0, c1, ...])
makes every batch of C consecutive probe examples hold one per class
(IEG paper section 3.2, step 6). Host-side numpy.
"""

import math

import numpy as np

from ieg_tf.data import hashing
from ieg_tf.data.split import Split
from ieg_tf.errors import UserError


def _class_ranks(labels: np.ndarray, keys: np.ndarray) -> np.ndarray:
  """Position of each example within its class, classes ordered by `keys`.

  Args:
    labels: int [K] class of each example.
    keys: sortable [K] order of the examples within their class.

  Returns:
    int64 [K]: 0 for the smallest key of its class, 1 for the next, ...
  """
  within = np.lexsort((keys, labels))  # By class, then key.
  sorted_labels = labels[within]
  starts = np.searchsorted(sorted_labels, sorted_labels, side='left')
  rank = np.empty(len(labels), np.int64)
  rank[within] = np.arange(len(labels)) - starts
  return rank


def _interleaved_order(labels: np.ndarray, keys: np.ndarray) -> np.ndarray:
  """Round-robin over classes, each class in ascending `keys` order.

  Args:
    labels: int [K] class of each example.
    keys: sortable [K] order of the examples within their class.

  Returns:
    int64 [K] permutation: first the rank-0 example of every class (by class),
    then every rank-1 example, ... Classes that run out are skipped.
  """
  rank = _class_ranks(labels, keys)
  return np.lexsort((labels, rank)).astype(np.int64)


def probe_order(labels: np.ndarray, ids: np.ndarray, seed: int) -> np.ndarray:
  """The order `split_probe` takes examples in: class-interleaved by hash.

  Its first C * k entries are the probe of k per class at `seed` (when every
  class has k), so a pool stored in this order gives that probe from its
  first records.

  Args:
    labels: int [N] classes.
    ids: int64 [N] example ids.
    seed: probe seed.

  Returns:
    int64 [N] permutation.
  """
  keys = hashing.hash64(seed, np.asarray(ids), hashing.Stream.PROBE)
  return _interleaved_order(np.asarray(labels), keys)


def interleave_by_class(split: Split) -> Split:
  """Reorders a split class-interleaved, keeping its order within a class.

  Used for a probe set the dataset provides. With unequal class sizes the
  tail holds only the larger classes.

  Args:
    split: any split; its `labels` define the classes.

  Returns:
    The same examples in order [c0, c1, ..., c0, c1, ...].
  """
  order = _interleaved_order(split.labels, np.arange(len(split)))
  return split.take(order)


def balanced_cycle(labels: np.ndarray) -> np.ndarray:
  """One period of the probe stream: class-interleaved, every class k_max times.

  Round r lists, class by class, the r-th example of every class present
  (in stored order), restarting a class that has fewer than k_max examples.
  Any window of consecutive positions of the cyclic stream then holds every
  class equally often, to within one, also when the classes of a probe the
  dataset provides have unequal sizes. For a probe of k per class stored
  class-interleaved (`split_probe`, `interleave_by_class`) the cycle is the
  stored order itself, so every example appears once per period.

  Args:
    labels: int [N] classes of the probe rows, N >= 1.

  Returns:
    int64 [C_present * k_max] probe rows; k_max = the largest class size.
  """
  labels = np.asarray(labels)
  classes = np.unique(labels)
  members = [np.flatnonzero(labels == c) for c in classes]
  k_max = max(len(m) for m in members)
  rounds = [[m[r % len(m)] for m in members] for r in range(k_max)]
  return np.asarray(rounds, np.int64).reshape(-1)


def holdout_flags(labels: np.ndarray) -> np.ndarray:
  """Which probe rows IEG's MixUp must not train on (`meta/probe_holdout.py`).

  Every second example of each class, in stored order (its 2nd, 4th, ...),
  so the held-out half is class-balanced to within one per class, and a
  class with a single example keeps it for training.

  Args:
    labels: int [N] classes of the probe rows.

  Returns:
    bool [N], True for held-out rows.
  """
  labels = np.asarray(labels)
  return _class_ranks(labels, np.arange(len(labels))) % 2 == 1


def probe_size_per_class(
  num_examples: int,
  num_classes: int,
  per_class: int | None,
  hold_ratio: float | None,
) -> int:
  """Examples per class in the probe.

  Args:
    num_examples: N, the train size.
    num_classes: C.
    per_class: examples per class, or None to use `hold_ratio`.
    hold_ratio: fraction of train held out, or None to use `per_class`.

  Returns:
    `per_class`, or floor(N * hold_ratio) // C.

  Raises:
    ValueError: not exactly one of `per_class` and `hold_ratio` is given.
    UserError: a negative `per_class` or a ratio outside [0, 1].
  """
  if (per_class is None) == (hold_ratio is None):
    raise ValueError('give exactly one of per_class and hold_ratio')
  if per_class is not None:
    if per_class < 0:
      raise UserError(f'probe_per_class must be >= 0, got {per_class}')
    return int(per_class)
  if not 0.0 <= hold_ratio <= 1.0:
    raise UserError(
      f'probe_hold_ratio must be in [0, 1], got {hold_ratio} '
      '(set --probe_dataset_hold_ratio)'
    )
  return math.floor(num_examples * hold_ratio) // num_classes


def split_probe(
  train: Split,
  num_classes: int,
  *,
  per_class: int | None,
  hold_ratio: float | None,
  seed: int,
) -> tuple[Split, Split]:
  """Carves a clean, class-balanced probe out of `train` (host, numpy).

  The probe takes from every class the `per_class` examples with the smallest
  hash(seed, id) values, so the choice is deterministic, independent of array
  order, and the probe at k per class contains the probe at k' < k. Classes are
  the CLEAN labels (`train.clean_labels` when set, else `train.labels`), and
  the probe's labels are those clean labels.

  Args:
    train: the training split, before noise.
    num_classes: C.
    per_class: examples per class, or None to use `hold_ratio`.
    hold_ratio: fraction of train to hold out, split evenly over classes:
      floor(N * ratio) // C per class (IEG's `probe_dataset_hold_ratio`).
    seed: selection seed.

  Returns:
    (probe, rest): probe of C * k examples ordered class-interleaved (within a
    class by hash), rest = the other examples in their original order.

  Raises:
    UserError: a class has fewer than k examples, or a bad per_class/ratio.
  """
  k = probe_size_per_class(len(train), num_classes, per_class, hold_ratio)
  clean = train.clean_labels if train.clean_labels is not None else train.labels
  if len(clean) and (clean.min() < 0 or clean.max() >= num_classes):
    raise ValueError(f'labels must lie in [0, {num_classes})')
  if k == 0:
    return train.take(np.zeros(0, np.int64)), train
  counts = np.bincount(clean, minlength=num_classes)
  smallest = int(np.argmin(counts))
  if counts[smallest] < k:
    raise UserError(
      f'probe needs {k} examples per class but class {smallest} has only '
      f'{counts[smallest]}; lower --probe_per_class / '
      '--probe_dataset_hold_ratio'
    )
  order = probe_order(clean, train.ids, seed)
  # The interleaved order lists all rank-0 examples, then all rank-1, ...;
  # its first C * k entries are exactly the k smallest keys of every class.
  chosen = order[: k * num_classes]
  is_probe = np.zeros(len(train), bool)
  is_probe[chosen] = True
  probe = train.take(chosen)
  probe = probe.with_labels(clean[chosen], probe.clean_labels)
  return probe, train.take(np.flatnonzero(~is_probe))
