"""Synthetic label noise, a pure function of (seed, example id).

Runs on the host in numpy before any tf.data pipeline exists. Each example
draws its own two random numbers from `hashing` (stream NOISE_SELECT decides
whether it is corrupted, stream NOISE_LABEL which label it gets), so the noisy
labels do not depend on array order, and raising the ratio only corrupts more
examples: the set corrupted at ratio r is contained in the set at r' > r.

Noise types (`config.NoiseType`), r = ratio, C = number of classes:
  none: labels unchanged.
  uniform: IEG semantics. With probability r the label is redrawn uniformly
    from ALL C classes, so a redrawn label equals the true one with probability
    1/C and the wrong-label rate is r * (C - 1) / C (72% at r = 0.8, C = 10).
  flip: with probability r the label is redrawn uniformly from the OTHER C - 1
    classes; the wrong-label rate is r.
  asymmetric: with probability r class c becomes `asymmetric_map(...)[c]`;
    classes that map to themselves never change. See `asymmetric_map`.
"""

import numpy as np

from ieg_tf import config
from ieg_tf.data import class_names
from ieg_tf.data import hashing
from ieg_tf.errors import UserError

# Class-dependent confusions of similar-looking classes, as {source: target}.
# CIFAR-10 (IEG / Patrini et al.): truck->automobile, bird->airplane,
# cat<->dog, deer->horse.
_CIFAR10_MAP = {9: 1, 2: 0, 3: 5, 5: 3, 4: 7}
# MNIST digits (Patrini et al. 2017): 2->7, 3->8, 5<->6, 7->1. Also used for
# sklearn's 8x8 `digits`, which holds the same ten digit classes.
_DIGIT_MAP = {2: 7, 3: 8, 5: 6, 6: 5, 7: 1}
# Fashion-MNIST (our choice, by visual similarity): T-shirt/top(0)->Shirt(6),
# Pullover(2)->Coat(4), Sandal(5)->Sneaker(7), Sneaker(7)->Ankle boot(9).
_FASHION_MAP = {0: 6, 2: 4, 5: 7, 7: 9}

ASYMMETRIC_DATASETS = (
  'cifar10',
  'cifar100',
  'mnist',
  'fashion_mnist',
  'digits',
)


def _cifar100_map() -> dict[int, int]:
  """Each fine class -> the next fine class (by index) in its superclass."""
  coarse = np.asarray(class_names.CIFAR100_COARSE_OF_FINE)
  mapping = {}
  for superclass in np.unique(coarse):
    members = np.flatnonzero(coarse == superclass)  # Ascending fine labels.
    for i, fine in enumerate(members):
      mapping[int(fine)] = int(members[(i + 1) % len(members)])
  return mapping


def map_name_for(dataset: str, names=None) -> str:
  """The table an asymmetric map is looked up under.

  An image folder (or any source without its own table) whose class names
  are exactly CIFAR-10's, in label order, uses the CIFAR-10 table: that is how
  the CIFAR-10 JPEG folder gets the standard asymmetric noise.

  Args:
    dataset: source name.
    names: the source's class names in label order, or None.

  Returns:
    The dataset name to pass to `asymmetric_map`.
  """
  if names is not None and tuple(names) == tuple(class_names.CIFAR10):
    return 'cifar10'
  return dataset


def asymmetric_map(dataset: str, num_classes: int) -> np.ndarray:
  """The class -> noisy class table of asymmetric noise for `dataset`.

  Tables (classes not listed map to themselves):
    cifar10: truck(9)->automobile(1), bird(2)->airplane(0), cat(3)<->dog(5),
      deer(4)->horse(7).
    cifar100: every fine class -> the next fine class of the same superclass,
      by fine label index, cyclically (the last of the five -> the first),
      using the official fine -> coarse table.
    mnist, digits: 2->7, 3->8, 5<->6, 7->1.
    fashion_mnist: T-shirt/top(0)->Shirt(6), Pullover(2)->Coat(4),
      Sandal(5)->Sneaker(7), Sneaker(7)->Ankle boot(9).

  Args:
    dataset: source name, e.g. 'cifar10'.
    num_classes: C; must match the dataset's class count.

  Returns:
    int32 [C], entry c the label class c is corrupted to.

  Raises:
    UserError: the dataset has no map, or C does not match it.
  """
  tables = {
    'cifar10': (10, _CIFAR10_MAP),
    'mnist': (10, _DIGIT_MAP),
    'digits': (10, _DIGIT_MAP),
    'fashion_mnist': (10, _FASHION_MAP),
  }
  if dataset == 'cifar100':
    size, pairs = 100, _cifar100_map()
  elif dataset in tables:
    size, pairs = tables[dataset]
  else:
    raise UserError(
      f'asymmetric noise has no class map for dataset {dataset!r}; it is '
      f'defined for {", ".join(ASYMMETRIC_DATASETS)} (use --noise_type='
      'uniform or flip, or --noisy_labels_file)'
    )
  if num_classes != size:
    raise UserError(
      f'asymmetric noise for {dataset!r} needs {size} classes, the data has '
      f'{num_classes}'
    )
  table = np.arange(size, dtype=np.int32)
  for source, target in pairs.items():
    table[source] = target
  return table


def expected_wrong_rate(
  noise_type: config.NoiseType | str,
  ratio: float,
  num_classes: int,
  class_map: np.ndarray | None = None,
) -> float:
  """Expected fraction of labels that differ from the true ones.

  Args:
    noise_type: the noise kind.
    ratio: r in [0, 1].
    num_classes: C.
    class_map: int [C] asymmetric table; needed for 'asymmetric', where the
      rate is r times the fraction of classes that move, assuming balanced
      classes.

  Returns:
    0 for none, r * (C - 1) / C for uniform, r for flip, and
    r * mean(map[c] != c) for asymmetric.
  """
  noise_type = config.NoiseType(noise_type)
  if noise_type == config.NoiseType.NONE:
    return 0.0
  if noise_type == config.NoiseType.UNIFORM:
    return ratio * (num_classes - 1) / num_classes
  if noise_type == config.NoiseType.FLIP:
    return float(ratio)
  if class_map is None:
    raise ValueError('asymmetric noise needs class_map')
  moves = np.asarray(class_map) != np.arange(num_classes)
  return float(ratio * np.mean(moves))


def _check_args(labels, ids, num_classes, ratio) -> None:
  if not 0.0 <= ratio <= 1.0:  # Also rejects NaN.
    raise UserError(
      f'noise ratio must be in [0, 1], got {ratio} (set --noise_ratio)'
    )
  if labels.shape != ids.shape or labels.ndim != 1:
    raise ValueError(f'labels {labels.shape} and ids {ids.shape} must be [N]')
  if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
    raise UserError(
      f'labels must lie in [0, {num_classes}), found '
      f'{labels.min()}..{labels.max()}'
    )


def apply_noise(
  labels: np.ndarray,
  ids: np.ndarray,
  num_classes: int,
  noise_type: config.NoiseType | str,
  ratio: float,
  seed: int,
  dataset: str,
  names=None,
) -> np.ndarray:
  """Corrupts labels, deterministically from (seed, id).

  Host-side numpy; see the module docstring for the noise kinds. The wrong-label
  rate of uniform noise is r * (C - 1) / C, not r (`expected_wrong_rate`).

  Args:
    labels: int32 [N] true labels in [0, C).
    ids: int64 [N] stable example ids.
    num_classes: C.
    noise_type: none, uniform, flip or asymmetric.
    ratio: r in [0, 1], the probability an example is selected for corruption.
    seed: noise seed.
    dataset: source name; picks the asymmetric map.
    names: class names in label order (optional); a folder with CIFAR-10's
      names gets the CIFAR-10 map (`map_name_for`).

  Returns:
    int32 [N] noisy labels; entry i depends only on (seed, ids[i], labels[i]).

  Raises:
    UserError: ratio outside [0, 1], labels out of range, flip with C < 2, or
      asymmetric noise for a dataset without a map.
  """
  labels = np.asarray(labels).astype(np.int32)
  ids = np.asarray(ids).astype(np.int64)
  noise_type = config.NoiseType(noise_type)
  _check_args(labels, ids, num_classes, ratio)
  if noise_type == config.NoiseType.NONE or labels.size == 0:
    return labels.copy()
  selected = hashing.uniform(seed, ids, hashing.Stream.NOISE_SELECT) < ratio
  if noise_type == config.NoiseType.UNIFORM:
    new = hashing.randint(seed, ids, hashing.Stream.NOISE_LABEL, num_classes)
  elif noise_type == config.NoiseType.FLIP:
    if num_classes < 2:
      raise UserError('flip noise needs at least 2 classes')
    # Adding 1..C-1 modulo C reaches every other class exactly once.
    offset = 1 + hashing.randint(
      seed, ids, hashing.Stream.NOISE_LABEL, num_classes - 1
    )
    new = (labels + offset) % num_classes
  else:
    new = asymmetric_map(map_name_for(dataset, names), num_classes)[labels]
  return np.where(selected, new, labels).astype(np.int32)
