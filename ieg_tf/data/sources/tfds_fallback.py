"""Reads a prepared TFDS copy when a source gets no `--data_dir`.

Never downloads (`download=False`): without a prepared copy the user gets a
UserError saying where to put the original files instead. Host side.
"""

import re

import numpy as np

from ieg_tf.data.split import Split
from ieg_tf.errors import UserError

# None = TFDS's default ($TFDS_DATA_DIR or ~/tensorflow_datasets); tests
# point it at an empty folder.
TFDS_DATA_DIR = None

_ID_PATTERN = re.compile(rb'^(?:train|test)_(\d+)$')


def _ids(raw_ids: list[bytes] | None, count: int) -> np.ndarray:
  """Official positions from TFDS ids like b'train_01234', else 0..N-1.

  TFDS stores examples in a shuffled order; its CIFAR `id` feature keeps the
  position in the official files, which is what ids must be.
  """
  if raw_ids is not None:
    found = [_ID_PATTERN.match(bytes(r)) for r in raw_ids]
    if all(found):
      ids = np.array([int(m.group(1)) for m in found], np.int64)
      if len(np.unique(ids)) == count:
        return ids
  return np.arange(count, dtype=np.int64)


official_ids = _ids


def load_split(tfds_name: str, split: str, hint: str) -> Split:
  """Loads one TFDS split into memory, sorted by id.

  Args:
    tfds_name: TFDS builder name, e.g. 'cifar10'.
    split: 'train' or 'test'.
    hint: what to pass as --data_dir instead, for the error message.

  Returns:
    Split with uint8 [N, H, W, C] images, int32 labels (TFDS's `label`).

  Raises:
    UserError: TFDS has no prepared copy.
  """
  import tensorflow_datasets as tfds  # Slow import; only this path needs it.

  try:
    ds = tfds.load(
      tfds_name,
      split=split,
      data_dir=TFDS_DATA_DIR,
      download=False,
      shuffle_files=False,
    )
  except Exception as e:  # TFDS raises AssertionError and others here.
    raise UserError(
      f'--data_dir is empty and TensorFlow Datasets has no prepared copy of '
      f'{tfds_name} ({type(e).__name__}); {hint}'
    ) from None
  images, labels, raw_ids = [], [], []
  for batch in tfds.as_numpy(ds.batch(4096)):
    images.append(batch['image'])
    labels.append(batch['label'])
    if 'id' in batch:
      raw_ids.extend(batch['id'])
  labels = np.concatenate(labels).astype(np.int32)
  ids = _ids(raw_ids if raw_ids else None, len(labels))
  order = np.argsort(ids, kind='stable')
  return Split(
    labels=labels[order],
    ids=ids[order],
    images=np.concatenate(images).astype(np.uint8)[order],
  )
