"""`cifar10` and `cifar100` from the official files, or TFDS.

`--data_dir` holds any ONE of the official distributions
(https://www.cs.toronto.edu/~kriz/cifar.html), looked for in this order:
  binary version:  cifar-10-batches-bin/ (data_batch_1..5.bin, test_batch.bin)
                   cifar-100-binary/ (train.bin, test.bin)
  python version:  cifar-10-batches-py/ (data_batch_1..5, test_batch)
                   cifar-100-python/ (train, test)
each either extracted (the folder itself, or its files directly in
`--data_dir`) or as the unextracted archive (cifar-10-binary.tar.gz,
cifar-10-python.tar.gz, cifar-100-binary.tar.gz, cifar-100-python.tar.gz),
read with tarfile without extracting anything to disk. Python pickles go
through a restricted unpickler (cifar_pickle.py). With an empty `--data_dir`
the source reads a prepared TFDS copy.

Images uint8 [N, 32, 32, 3]; CIFAR-100 labels are the fine labels; ids are the
positions in the official order (train batches 1..5 concatenated). Host side.
"""

import dataclasses
import os
import tarfile

import numpy as np
import tensorflow as tf

from ieg_tf import config
from ieg_tf.data import class_names
from ieg_tf.data.sources import cifar_pickle
from ieg_tf.data.sources import tfds_fallback
from ieg_tf.data.sources.source_data import SourceData
from ieg_tf.data.split import Split
from ieg_tf.errors import UserError

_PIXELS = 32 * 32 * 3


@dataclasses.dataclass(frozen=True)
class _Layout:
  """Where one distribution keeps its files and how to parse them."""

  folder: str  # Folder inside the archive / data_dir.
  archive: str
  train: tuple[str, ...]
  test: tuple[str, ...]
  binary: bool
  label_byte: int  # Binary: offset of the label byte used (fine for 100).
  label_key: bytes  # Python: dict key of the labels used.


_BATCHES = tuple(f'data_batch_{i}' for i in range(1, 6))
_LAYOUTS = {
  'cifar10': (
    _Layout(
      folder='cifar-10-batches-bin',
      archive='cifar-10-binary.tar.gz',
      train=tuple(b + '.bin' for b in _BATCHES),
      test=('test_batch.bin',),
      binary=True,
      label_byte=0,
      label_key=b'',
    ),
    _Layout(
      folder='cifar-10-batches-py',
      archive='cifar-10-python.tar.gz',
      train=_BATCHES,
      test=('test_batch',),
      binary=False,
      label_byte=0,
      label_key=b'labels',
    ),
  ),
  'cifar100': (
    _Layout(
      folder='cifar-100-binary',
      archive='cifar-100-binary.tar.gz',
      train=('train.bin',),
      test=('test.bin',),
      binary=True,
      label_byte=1,  # Records start with the coarse label, then the fine.
      label_key=b'',
    ),
    _Layout(
      folder='cifar-100-python',
      archive='cifar-100-python.tar.gz',
      train=('train',),
      test=('test',),
      binary=False,
      label_byte=0,
      label_key=b'fine_labels',
    ),
  ),
}
_NAMES = {'cifar10': class_names.CIFAR10, 'cifar100': class_names.CIFAR100_FINE}
CLASS_NAMES = _NAMES


def _read_file(path: str) -> bytes:
  with tf.io.gfile.GFile(path, 'rb') as f:
    return f.read()


def _read_archive(path: str, folder: str, files: list[str]) -> dict[str, bytes]:
  """Reads `folder/<file>` members of a .tar.gz in one streaming pass."""
  wanted = {f'{folder}/{f}': f for f in files}
  found = {}
  try:
    with tf.io.gfile.GFile(path, 'rb') as raw:
      with tarfile.open(fileobj=raw, mode='r|gz') as archive:
        for member in archive:
          name = member.name.removeprefix('./')
          if name in wanted and member.isfile():
            found[wanted[name]] = archive.extractfile(member).read()
  except (tarfile.TarError, OSError, EOFError) as e:
    raise UserError(f'{path}: not a readable .tar.gz archive ({e})') from None
  missing = [f'{folder}/{f}' for f in files if f not in found]
  if missing:
    raise UserError(f'{path}: archive lacks {", ".join(missing)}')
  return found


def _fetch(data_dir: str, layout: _Layout):
  """Returns (description, {file: bytes}) if `layout` is present, else None."""
  files = list(layout.train + layout.test)
  for folder in (os.path.join(data_dir, layout.folder), data_dir):
    paths = [os.path.join(folder, f) for f in files]
    if all(tf.io.gfile.exists(p) for p in paths):
      return folder, {f: _read_file(p) for f, p in zip(files, paths)}
  archive = os.path.join(data_dir, layout.archive)
  if tf.io.gfile.exists(archive):
    return archive, _read_archive(archive, layout.folder, files)
  return None


def _parse_binary(data: bytes, where: str, layout: _Layout):
  record = layout.label_byte + 1 + _PIXELS
  if len(data) % record:
    raise UserError(
      f'{where}: size {len(data)} is not a multiple of the {record}-byte '
      'CIFAR record; the file is damaged'
    )
  rows = np.frombuffer(data, np.uint8).reshape(-1, record)
  labels = rows[:, layout.label_byte].astype(np.int32)
  return rows[:, layout.label_byte + 1 :], labels


def _parse_python(data: bytes, where: str, layout: _Layout):
  batch = cifar_pickle.load_pickle(data, where)
  if not isinstance(batch, dict):
    raise UserError(f'{where}: expected a dict, got {type(batch).__name__}')
  batch = {
    k.decode() if isinstance(k, bytes) else k: v for k, v in batch.items()
  }
  pixels, labels = batch.get('data'), batch.get(layout.label_key.decode())
  if (
    not isinstance(pixels, np.ndarray)
    or pixels.dtype != np.uint8
    or pixels.ndim != 2
    or pixels.shape[1] != _PIXELS
  ):
    raise UserError(f'{where}: "data" must be a uint8 [N, 3072] array')
  try:
    labels = np.asarray(labels, dtype=np.int64).reshape(-1)
  except (TypeError, ValueError):
    raise UserError(f'{where}: {layout.label_key!r} must be integers') from None
  if len(labels) != len(pixels):
    raise UserError(f'{where}: {len(pixels)} images but {len(labels)} labels')
  return pixels, labels.astype(np.int32)


def _split(contents, files, source, layout, num_classes) -> Split:
  parse = _parse_binary if layout.binary else _parse_python
  parts = [parse(contents[f], f'{source}: {f}', layout) for f in files]
  pixels = np.concatenate([p for p, _ in parts])
  labels = np.concatenate([lab for _, lab in parts])
  if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
    raise UserError(
      f'{source}: labels must lie in [0, {num_classes}), found '
      f'{labels.min()}..{labels.max()}; is this the right dataset?'
    )
  # Files store each image as 3 planes (R, G, B) of 32 rows of 32 pixels.
  images = pixels.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
  ids = np.arange(len(labels), dtype=np.int64)
  return Split(labels=labels, ids=ids, images=np.ascontiguousarray(images))


def load(cfg: config.DataConfig) -> SourceData:
  """Loads `cfg.dataset` ('cifar10' or 'cifar100') (host side).

  Args:
    cfg: data config; reads `dataset`, `data_dir`.

  Returns:
    SourceData with the true labels (`labels_are_clean`).

  Raises:
    UserError: missing or malformed files (the message names the path).
  """
  name = cfg.dataset
  num_classes = len(_NAMES[name])
  layouts = _LAYOUTS[name]
  if cfg.data_dir:
    for layout in layouts:
      fetched = _fetch(cfg.data_dir, layout)
      if fetched is not None:
        break
    else:
      options = ', '.join(f'{lay.folder}/ or {lay.archive}' for lay in layouts)
      raise UserError(
        f'{name}: --data_dir {cfg.data_dir} holds none of the official CIFAR '
        f'files; put one of {options} there'
      )
    source, contents = fetched
    train = _split(contents, layout.train, source, layout, num_classes)
    test = _split(contents, layout.test, source, layout, num_classes)
  else:
    hint = (
      f'put {layouts[0].archive} or {layouts[1].archive} from '
      'https://www.cs.toronto.edu/~kriz/cifar.html in a folder and pass it '
      'as --data_dir'
    )
    train = tfds_fallback.load_split(name, 'train', hint)
    test = tfds_fallback.load_split(name, 'test', hint)
  return SourceData(
    name=name,
    num_classes=num_classes,
    class_names=_NAMES[name],
    train=train,
    test=test,
    probe=None,
    labels_are_clean=True,
  )
