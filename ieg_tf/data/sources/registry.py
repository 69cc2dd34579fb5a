"""Dataset name -> source loader."""

import tensorflow as tf

from ieg_tf import config
from ieg_tf.data.sources import cifar
from ieg_tf.data.sources import digits
from ieg_tf.data.sources import folder
from ieg_tf.data.sources import idx
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
SOURCE_NAMES = tuple(_LOADERS)


def load_source(cfg: config.DataConfig) -> SourceData:
  """Loads the dataset `cfg.dataset` from `cfg.data_dir` (host side).

  Args:
    cfg: data config; `dataset` is a name in SOURCE_NAMES (without any noise
      suffix), `data_dir` its files ('' = the source's default).

  Returns:
    The source's train / test (/ probe) splits with the owner's labels.

  Raises:
    UserError: unknown name, missing `data_dir`, or missing / malformed files.
  """
  loader = _LOADERS.get(cfg.dataset)
  if loader is None:
    raise UserError(
      f'unknown dataset {cfg.dataset!r}; choose one of '
      f'{", ".join(SOURCE_NAMES)} (set --dataset)'
    )
  if cfg.data_dir and not tf.io.gfile.isdir(cfg.data_dir):
    raise UserError(
      f'--data_dir {cfg.data_dir} does not exist or is not a folder'
    )
  return loader(cfg)
