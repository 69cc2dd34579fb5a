"""The on-disk format of converted datasets: TFRecord shards plus an index.

A converted dataset is one folder (local or gs://, read with tf.io.gfile):

  dataset_info.json        written last; its presence marks a complete
                           conversion (see `Info`).
  <split>-SSSSS-of-TTTTT.tfrecord   shards of tf.train.Example records.
  <split>-SSSSS-of-TTTTT.index.npz  that shard's rows (written before it).
  <split>.index.npz        all rows of the split, merged at the end.

Splits: `train`, `test`, optionally `probe_pool` (clean examples the probe is
carved from) and `extra_<name>` (more evaluation sets, e.g.
`extra_imagenet`).

Record features (IEG's probe TFRecords use the first two names too):
  image/encoded      bytes, the image file exactly as stored (no re-encode)
  image/label        int64, label as the dataset gives it (possibly noisy)
  image/id           int64, the example id (unique in the dataset)
  image/clean_label  int64, true label, -1 when unknown
  image/key          bytes, the file's path inside the original layout

Index (.npz, loaded with allow_pickle=False): `ids` int64 [N], `labels`
int32 [N], `clean_labels` int32 [N] (-1 unknown), `shards` int32 [N] (shard
number), `keys` bytes [N]. Host-side noise and probe carving need only this,
never the images.
"""

import dataclasses
import io
import json
import os

import numpy as np
import tensorflow as tf

from ieg_tf.errors import UserError

FORMAT = 'ieg_tf.records/1'
INFO_FILE = 'dataset_info.json'
UNKNOWN = -1

_FEATURES = {
  'image/encoded': tf.io.FixedLenFeature([], tf.string),
  'image/label': tf.io.FixedLenFeature([], tf.int64),
  'image/id': tf.io.FixedLenFeature([], tf.int64),
  'image/clean_label': tf.io.FixedLenFeature([], tf.int64, default_value=-1),
  'image/key': tf.io.FixedLenFeature([], tf.string, default_value=b''),
}


def shard_name(split: str, shard: int, num_shards: int) -> str:
  return f'{split}-{shard:05d}-of-{num_shards:05d}.tfrecord'


def shard_index_name(split: str, shard: int, num_shards: int) -> str:
  return (
    shard_name(split, shard, num_shards)[: -len('.tfrecord')] + '.index.npz'
  )


def index_name(split: str) -> str:
  return f'{split}.index.npz'


def serialize_example(
  encoded: bytes, label: int, example_id: int, clean_label: int, key: str
) -> bytes:
  """One tf.train.Example record (host)."""

  def ints(v):
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(v)]))

  def raw(v):
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[v]))

  example = tf.train.Example(
    features=tf.train.Features(
      feature={
        'image/encoded': raw(encoded),
        'image/label': ints(label),
        'image/id': ints(example_id),
        'image/clean_label': ints(clean_label),
        'image/key': raw(key.encode('utf-8')),
      }
    )
  )
  return example.SerializeToString()


def parse_example(serialized: tf.Tensor) -> dict[str, tf.Tensor]:
  """Parses one record (tf.data, host).

  Returns:
    {'encoded': tf.string [], 'label': int32 [], 'id': int64 [],
     'clean_label': int32 [], 'key': tf.string []}.
  """
  f = tf.io.parse_single_example(serialized, _FEATURES)
  return {
    'encoded': f['image/encoded'],
    'label': tf.cast(f['image/label'], tf.int32),
    'id': f['image/id'],
    'clean_label': tf.cast(f['image/clean_label'], tf.int32),
    'key': f['image/key'],
  }


@dataclasses.dataclass(frozen=True)
class Index:
  """Host-side rows of one split (see module docstring)."""

  ids: np.ndarray
  labels: np.ndarray
  clean_labels: np.ndarray
  shards: np.ndarray
  keys: np.ndarray

  def __len__(self):
    return len(self.ids)


def write_index(path: str, index: Index) -> None:
  buffer = io.BytesIO()
  np.savez_compressed(
    buffer,
    ids=np.asarray(index.ids, np.int64),
    labels=np.asarray(index.labels, np.int32),
    clean_labels=np.asarray(index.clean_labels, np.int32),
    shards=np.asarray(index.shards, np.int32),
    keys=np.asarray(index.keys, dtype=bytes),
  )
  atomic_write(path, buffer.getvalue())


def read_index(path: str) -> Index:
  """Reads an index file (host; local or gs://)."""
  try:
    with tf.io.gfile.GFile(path, 'rb') as f:
      data = f.read()
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
      arrays = {k: z[k] for k in ('ids', 'labels', 'clean_labels', 'shards')}
      keys = z['keys']
  except (OSError, ValueError, KeyError, EOFError, tf.errors.OpError) as e:
    raise UserError(
      f'{path}: not a readable index of converted records ({e}); re-run the '
      'prepare script'
    ) from None
  return Index(keys=keys, **arrays)


def atomic_write(path: str, data: bytes) -> None:
  """Writes `data` to `path` through a temporary name and a rename (host)."""
  tmp = f'{path}.tmp-{os.getpid()}'
  with tf.io.gfile.GFile(tmp, 'wb') as f:
    f.write(data)
  tf.io.gfile.rename(tmp, path, overwrite=True)


def read_info(folder: str) -> dict:
  """The dataset_info.json of a converted folder (host).

  Raises:
    UserError: unreadable or of another format.
  """
  path = os.path.join(folder, INFO_FILE)
  try:
    with tf.io.gfile.GFile(path, 'r') as f:
      info = json.load(f)
  except (OSError, ValueError, tf.errors.OpError) as e:
    raise UserError(f'{path}: not a readable dataset_info.json ({e})') from None
  if not isinstance(info, dict) or info.get('format') != FORMAT:
    raise UserError(
      f'{path}: format {info.get("format") if isinstance(info, dict) else "?"}'
      f' is not {FORMAT}; re-run the prepare script'
    )
  return info


def write_info(folder: str, info: dict) -> None:
  info = {'format': FORMAT, **info}
  text = json.dumps(info, indent=1, sort_keys=True)
  atomic_write(os.path.join(folder, INFO_FILE), text.encode('utf-8'))


def is_converted(folder: str) -> bool:
  """Whether `folder` holds a converted dataset (host)."""
  return bool(folder) and tf.io.gfile.exists(os.path.join(folder, INFO_FILE))
