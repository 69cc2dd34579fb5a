"""The training stream of a records-mode split: shuffled, exactly resumable.

TFRecord shards have no random access, so the stream cannot pick rows by a
global permutation the way the in-memory / file pipelines do. Instead, input
pipeline p of P reads the shards used[p::P] (the converter already stored
examples in a pseudo-random order), and epoch e
  1. visits those shards in the order argsort(uniform(seed, e)), and
  2. reads each shard whole and visits its rows of the split in the order
     argsort(uniform(seed + 1, e * 1000003 + shard)),
with stateless Philox draws. Stream position k is therefore a pure function
of (seed, k): a run resumed at position `start` skips whole epochs and whole
shards by arithmetic on the host (the rows per shard are in the index) and
reads at most one shard to skip inside it. Bad images (rare: the converter
drops them) are counted and dropped, which shifts later positions.
Host-side setup, tf.data reading.
"""

import numpy as np
import tensorflow as tf

from ieg_tf.data import bad_examples as bad_lib
from ieg_tf.data import split_reader

_FILE_ROWS_SALT = 1000003
_WHOLE_FILE = 1 << 31


def _order(size: int, seed, alg='philox') -> tf.Tensor:
  draws = tf.random.stateless_uniform([size], seed=seed, alg=alg)
  return tf.argsort(draws, stable=True)


def train_stream(
  split, *, seed: int, shard: int, num_shards: int, start: int
) -> tf.data.Dataset:
  """Decoded rows of `split` for one input pipeline, forever (tf.data).

  Args:
    split: a records-mode Split (`record_files` set).
    seed: stream seed.
    shard: this input pipeline's id.
    num_shards: number of input pipelines.
    start: stream position to start at (0 for a fresh run); element j of
      the result is position start + j.

  Returns:
    Elements with the keys of `Split.to_dataset`.

  Raises:
    ValueError: this pipeline's shards hold no row of the split.
  """
  used = np.unique(split.record_shards)
  mine = used[shard::num_shards]
  counts = np.asarray(
    [np.sum(split.record_shards == f) for f in mine], np.int64
  )
  total = int(counts.sum())
  if total == 0:
    raise ValueError(
      f'input pipeline {shard} of {num_shards} has no records; use fewer '
      'pipelines or more shards'
    )
  files = tf.constant([split.record_files[f] for f in mine], tf.string)
  file_ids = tf.constant(mine.astype(np.int64))
  epoch0, offset = divmod(int(start), total)
  # Host copy of epoch0's shard order, to skip whole shards.
  order0 = _order(len(mine), [seed, epoch0]).numpy()
  ends = np.cumsum(counts[order0])
  skip_files = int(np.searchsorted(ends, offset, side='right'))
  skip_rows = offset - (int(ends[skip_files - 1]) if skip_files else 0)
  columns = split.host_columns()

  def epoch_files(epoch):
    order = _order(len(mine), tf.stack([tf.constant(seed, tf.int64), epoch]))
    return tf.data.Dataset.from_tensor_slices(
      (
        tf.gather(files, order),
        tf.gather(file_ids, order),
        tf.fill([len(mine)], epoch),
      )
    )

  def read_file(path, file_id, epoch):
    rows = split_reader.read_records(tf.reshape(path, [1]), split, columns)
    rows = rows.batch(_WHOLE_FILE)

    def permute(batch):
      size = tf.shape(batch['row'])[0]
      salt = epoch * _FILE_ROWS_SALT + file_id
      order = _order(size, tf.stack([tf.constant(seed + 1, tf.int64), salt]))
      return {k: tf.gather(v, order) for k, v in batch.items()}

    return rows.map(permute).unbatch()

  ds = tf.data.Dataset.counter(epoch0).flat_map(epoch_files).skip(skip_files)
  ds = ds.interleave(
    read_file,
    cycle_length=1,
    num_parallel_calls=tf.data.AUTOTUNE,
    deterministic=True,
  ).skip(skip_rows)
  bad = split.bad_examples or bad_lib.BadExamples('data', limit=0)
  return split_reader.decode_checked(ds, split, bad)
