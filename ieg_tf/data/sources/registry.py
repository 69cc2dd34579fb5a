"""Dataset name -> source loader."""

import tensorflow as tf

from ieg_tf import config
from ieg_tf.data import record_format
from ieg_tf.data.sources import cifar
from ieg_tf.data.sources import cifar_n
from ieg_tf.data.sources import clothing1m
from ieg_tf.data.sources import digits
from ieg_tf.data.sources import folder
from ieg_tf.data.sources import food101n
from ieg_tf.data.sources import idx
from ieg_tf.data.sources import records
from ieg_tf.data.sources import split_set
from ieg_tf.data.sources import webvision
from ieg_tf.data.sources.source_data import SourceData
from ieg_tf.errors import UserError

_LOADERS = {
  'digits': digits.load,
  'mnist': idx.load,
  'fashion_mnist': idx.load,
  'cifar10': cifar.load,
  'cifar100': cifar.load,
  'folder': folder.load,
}
# Datasets with real label noise; each has a scripts/prepare_<name>.py.
_SPLIT_SET_LOADERS = {
  'webvision_mini': webvision.load,
  'clothing1m': clothing1m.load,
  'food101n': food101n.load,
  'cifar10n': cifar_n.load,
  'cifar100n': cifar_n.load,
}
REAL_NOISE_DATASETS = tuple(_SPLIT_SET_LOADERS)
SOURCE_NAMES = tuple(_LOADERS) + REAL_NOISE_DATASETS


def _check(cfg: config.DataConfig) -> None:
  if cfg.dataset not in SOURCE_NAMES:
    raise UserError(
      f'unknown dataset {cfg.dataset!r}; choose one of '
      f'{", ".join(SOURCE_NAMES)} (set --dataset)'
    )
  if cfg.data_dir and not tf.io.gfile.isdir(cfg.data_dir):
    raise UserError(
      f'--data_dir {cfg.data_dir} does not exist or is not a folder'
    )


def load_split_set(cfg: config.DataConfig) -> split_set.SplitSet:
  """The named splits of a real-noise dataset (host side).

  Reads converted records when `cfg.data_dir` holds dataset_info.json, else
  the owners' layout.

  Raises:
    UserError: not a real-noise dataset, or missing / malformed files.
  """
  _check(cfg)
  if cfg.dataset not in _SPLIT_SET_LOADERS:
    raise UserError(
      f'{cfg.dataset} has no converter; scripts/prepare_*.py handle '
      f'{", ".join(REAL_NOISE_DATASETS)}'
    )
  if record_format.is_converted(cfg.data_dir):
    return records.load(cfg)
  return _SPLIT_SET_LOADERS[cfg.dataset](cfg)


def load_source(cfg: config.DataConfig) -> SourceData:
  """Loads the dataset `cfg.dataset` from `cfg.data_dir` (host side).

  Args:
    cfg: data config; `dataset` is a name in SOURCE_NAMES (without any noise
      suffix), `data_dir` its files ('' = the source's default).

  Returns:
    The source's train / test (/ probe, extra tests) splits with the owner's
    labels.

  Raises:
    UserError: unknown name, missing `data_dir`, or missing / malformed files.
  """
  _check(cfg)
  if cfg.dataset in _SPLIT_SET_LOADERS:
    return split_set.to_source(load_split_set(cfg), cfg)
  return _LOADERS[cfg.dataset](cfg)
