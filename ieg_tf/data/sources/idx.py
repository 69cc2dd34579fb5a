"""`mnist` and `fashion_mnist`: the four official IDX files, or TFDS.

`--data_dir` holds (directly, or in a subfolder named like the dataset)
  train-images-idx3-ubyte.gz  train-labels-idx1-ubyte.gz
  t10k-images-idx3-ubyte.gz   t10k-labels-idx1-ubyte.gz
(also accepted uncompressed, without .gz). With an empty `--data_dir` the
source reads a prepared TFDS copy. Images uint8 [N, 28, 28, 1]; ids are the
positions in the official files. Host side.
"""

import gzip
import os
import zlib

import numpy as np
import tensorflow as tf

from ieg_tf import config
from ieg_tf.data import class_names
from ieg_tf.data.sources import tfds_fallback
from ieg_tf.data.sources.source_data import SourceData
from ieg_tf.data.split import Split
from ieg_tf.errors import UserError

_FILES = {
  'train': ('train-images-idx3-ubyte', 'train-labels-idx1-ubyte'),
  'test': ('t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'),
}
_IMAGES_MAGIC = 0x00000803  # Unsigned bytes, 3 dimensions.
_LABELS_MAGIC = 0x00000801  # Unsigned bytes, 1 dimension.
_SIDE = 28
_NAMES = {
  'mnist': class_names.DIGITS,
  'fashion_mnist': class_names.FASHION_MNIST,
}


def parse_idx(data: bytes, path: str, magic: int) -> np.ndarray:
  """Parses an unsigned-byte IDX file.

  Args:
    data: the uncompressed file contents.
    path: file name for error messages.
    magic: expected magic number (0x803 images, 0x801 labels).

  Returns:
    uint8 array with the dimensions the header gives.

  Raises:
    UserError: wrong magic number or a size that disagrees with the header.
  """
  if len(data) < 4 or int.from_bytes(data[:4], 'big') != magic:
    found = data[:4].hex() if len(data) >= 4 else 'a truncated header'
    raise UserError(
      f'{path}: not an IDX file of the expected kind (magic {found}, want '
      f'{magic:08x}); use the official MNIST-format files'
    )
  ndim = magic & 0xFF
  header = 4 + 4 * ndim
  if len(data) < header:
    raise UserError(f'{path}: truncated IDX header')
  dims = [
    int.from_bytes(data[4 + 4 * i : 8 + 4 * i], 'big') for i in range(ndim)
  ]
  if len(data) - header != int(np.prod(dims)):
    raise UserError(
      f'{path}: header says {dims} = {int(np.prod(dims))} bytes of data but '
      f'the file holds {len(data) - header}; the file is damaged'
    )
  return np.frombuffer(data, np.uint8, offset=header).reshape(dims)


def _find_dir(data_dir: str, name: str) -> str:
  for folder in (data_dir, os.path.join(data_dir, name)):
    if all(_find(folder, f) for pair in _FILES.values() for f in pair):
      return folder
  wanted = ', '.join(f + '.gz' for pair in _FILES.values() for f in pair)
  raise UserError(
    f'{name}: --data_dir {data_dir} (or {data_dir}/{name}) must hold the four '
    f'IDX files {wanted}'
  )


def _find(folder: str, stem: str) -> str | None:
  for file in (stem + '.gz', stem):
    path = os.path.join(folder, file)
    if tf.io.gfile.exists(path):
      return path
  return None


def _read(path: str) -> bytes:
  with tf.io.gfile.GFile(path, 'rb') as f:
    data = f.read()
  if not path.endswith('.gz'):
    return data
  try:
    return gzip.decompress(data)
  except (OSError, EOFError, zlib.error) as e:
    raise UserError(f'{path}: not a valid gzip file ({e})') from None


def _load_split(folder: str, part: str) -> tuple[np.ndarray, np.ndarray]:
  image_path, label_path = (_find(folder, f) for f in _FILES[part])
  images = parse_idx(_read(image_path), image_path, _IMAGES_MAGIC)
  labels = parse_idx(_read(label_path), label_path, _LABELS_MAGIC)
  if images.shape[1:] != (_SIDE, _SIDE):
    raise UserError(
      f'{image_path}: images are {images.shape[1:]}, expected 28x28'
    )
  if len(images) != len(labels):
    raise UserError(
      f'{image_path} holds {len(images)} images but {label_path} holds '
      f'{len(labels)} labels'
    )
  if labels.size and labels.max() >= 10:
    raise UserError(f'{label_path}: label {labels.max()} is not in 0..9')
  return images[..., None], labels.astype(np.int32)


def load(cfg: config.DataConfig) -> SourceData:
  """Loads `cfg.dataset` ('mnist' or 'fashion_mnist') (host side).

  Args:
    cfg: data config; reads `dataset`, `data_dir`.

  Returns:
    SourceData with the true labels (`labels_are_clean`).

  Raises:
    UserError: missing or malformed files (the message names the path).
  """
  name = cfg.dataset
  splits = {}
  if cfg.data_dir:
    folder = _find_dir(cfg.data_dir, name)
    for part in _FILES:
      images, labels = _load_split(folder, part)
      ids = np.arange(len(labels), dtype=np.int64)
      splits[part] = Split(labels=labels, ids=ids, images=images)
  else:
    hint = f'download the four {name} IDX .gz files and pass --data_dir'
    for part in _FILES:
      splits[part] = tfds_fallback.load_split(name, part, hint)
  return SourceData(
    name=name,
    num_classes=10,
    class_names=_NAMES[name],
    train=splits['train'],
    test=splits['test'],
    probe=None,
    labels_are_clean=True,
  )
