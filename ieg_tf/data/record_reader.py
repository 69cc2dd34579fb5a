"""Reading converted datasets (`record_format`) back, local or gs:// (host).

`load_splits` turns a converted folder into Splits in records mode, after
checking every shard the index names: a missing shard, or one whose size
differs from the size the converter recorded (truncated copy, interrupted
upload), is skipped and each of its examples counted as bad; so are the
examples the converter itself skipped (stored in dataset_info.json).
`materialize` reads a small records-mode split (the probe) into memory;
`load_split(materialize_small=True)` does so when the split's shards hold
fewer than MATERIALIZE_BELOW_BYTES, so small evaluation sets are read from
storage once. The train split always stays in records mode and is streamed
(`record_stream`), whatever its size.
"""

import concurrent.futures
import os

import numpy as np
import tensorflow as tf

from ieg_tf.data import record_format
from ieg_tf.data.bad_examples import BadExamples
from ieg_tf.data.split import Split
from ieg_tf.errors import UserError

_STAT_THREADS = 16  # gs:// stats are slow one by one.
MATERIALIZE_BELOW_BYTES = 256 << 20


def _sizes(paths: list[str]) -> list[int]:
  """Byte size of each file, -1 when it is missing (host)."""

  def size(path):
    try:
      return tf.io.gfile.stat(path).length
    except tf.errors.NotFoundError:
      return -1

  with concurrent.futures.ThreadPoolExecutor(_STAT_THREADS) as pool:
    return list(pool.map(size, paths))


def load_split(
  folder: str,
  name: str,
  entry: dict,
  image_shape: tuple[int, int, int],
  center_crop: bool,
  bad: BadExamples,
  materialize_small: bool = True,
) -> Split:
  """One converted split as a records-mode Split (host).

  Args:
    folder: the converted dataset folder.
    name: split name, e.g. 'train'.
    entry: `dataset_info.json` entry of the split: `shards` (file names),
      `sizes` (bytes), `bad` ([key, reason] the converter skipped).
    image_shape: (H, W, C) to decode to.
    center_crop: decode keeping the aspect ratio.
    bad: where damaged shards' examples are counted.
    materialize_small: hold the bytes in memory when the shards are small.

  Returns:
    Split in records mode, or with its bytes in memory when small; its clean
    labels are set when every row has one.
  """
  index = record_format.read_index(
    os.path.join(folder, record_format.index_name(name))
  )
  files = [os.path.join(folder, s) for s in entry['shards']]
  expected = list(entry['sizes'])
  found = _sizes(files)
  damaged = [i for i, (a, b) in enumerate(zip(found, expected)) if a != b]
  for key, reason in entry.get('bad', []):
    bad.note_host(f'{name}:{key}', f'skipped by the converter: {reason}')
  keep = ~np.isin(index.shards, damaged)
  for i in np.flatnonzero(~keep):
    shard = index.shards[i]
    state = 'missing' if found[shard] < 0 else 'size differs from the index'
    bad.note_host(
      f'{files[shard]} ({index.keys[i].decode("utf-8", "replace")})',
      f'record file {state}',
    )
  clean = index.clean_labels[keep]
  split = Split(
    labels=index.labels[keep],
    ids=index.ids[keep],
    clean_labels=clean if len(clean) and clean.min() >= 0 else None,
    record_files=tuple(files),
    record_shards=index.shards[keep],
    image_shape=image_shape,
    center_crop=center_crop,
    bad_examples=bad,
  )
  used_bytes = sum(expected[i] for i in np.unique(split.record_shards))
  if materialize_small and used_bytes < MATERIALIZE_BELOW_BYTES:
    split = materialize(split)
  return split


def materialize(split: Split) -> Split:
  """The same rows with their encoded bytes in memory (host).

  Reads only the shards that hold the split's rows. Splits not in records
  mode are returned unchanged.

  Raises:
    UserError: a row's record is not in its shard (index and shards differ).
  """
  if split.record_files is None:
    return split
  used = np.unique(split.record_shards)
  files = [split.record_files[i] for i in used]
  wanted = {int(i): None for i in split.ids}
  ds = tf.data.TFRecordDataset(files).map(
    lambda r: {
      k: v
      for k, v in record_format.parse_example(r).items()
      if k in ('id', 'encoded')
    }
  )
  for record in ds.as_numpy_iterator():
    example_id = int(record['id'])
    if example_id in wanted:
      wanted[example_id] = record['encoded']
  missing = [i for i, data in wanted.items() if data is None]
  if missing:
    raise UserError(
      f'{files[0]}: {len(missing)} examples of the index (e.g. id '
      f'{missing[0]}) are not in the record files; re-run the prepare script'
    )
  encoded = np.empty(len(split), dtype=object)
  encoded[:] = [wanted[int(i)] for i in split.ids]
  return Split(
    labels=split.labels,
    ids=split.ids,
    encoded=encoded,
    clean_labels=split.clean_labels,
    image_shape=split.image_shape,
    center_crop=split.center_crop,
    bad_examples=split.bad_examples,
  )
