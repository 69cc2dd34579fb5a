"""The tf.data side of `Split.to_dataset` for encoded images (host).

Random access (paths, encoded bytes): element i is built from row i by a
pure map over `range(N)`, so `tf.data.experimental.at` works. The bytes are
checked with `image_check`; a bad row is counted (`BadExamples.record`) and
the element is taken from the next row with good bytes (up to MAX_SKIP rows
on), which keeps one element per row and the stream deterministic.

Records: the split's shards are read in file order, rows not in the split
are dropped by id, and bad images are counted and dropped (sequential use
only: eval, `record_stream`, `record_reader.materialize`).

A file that passes the check and still fails to decode stops the pipeline
(tf.data cannot catch an op error per element); the check makes that rare.
"""

import numpy as np
import tensorflow as tf

from ieg_tf.data import bad_examples as bad_lib
from ieg_tf.data import decode
from ieg_tf.data import image_check
from ieg_tf.data import record_format

MAX_SKIP = 64  # Consecutive bad rows tried before giving up.


def _gather_columns(columns: dict, row: tf.Tensor) -> dict:
  return {k: tf.gather(v, row) for k, v in columns.items()}


def random_access_dataset(split, columns: dict, bad) -> tf.data.Dataset:
  """Element i = row i (or its good substitute), decoded (see module doc)."""
  n = len(split)
  consts = {k: tf.constant(v) for k, v in columns.items()}
  if split.paths is not None:
    where_all = tf.constant(split.paths.astype(str))

    def fetch(row):
      return tf.io.read_file(where_all[row]), where_all[row]
  else:
    # A tf.string tensor keeps every byte (numpy 'S' arrays drop trailing
    # NULs, e.g. a JPEG's zero padding).
    data_all = tf.constant(list(split.encoded), tf.string)

    def fetch(row):
      return data_all[row], tf.strings.as_string(consts['id'][row])

  shape, crop = split.image_shape, split.center_crop

  def load(row):
    data, where = fetch(row)
    ok = image_check.looks_like_image(data)

    def substitute():
      # Skip this row and any bad rows after it, counting each one.
      def body(r, d, w, good, tries):
        noted = bad.record(consts['id'][r], w)
        with tf.control_dependencies([noted]):
          r = (r + 1) % n
        d, w = fetch(r)
        return r, d, w, image_check.looks_like_image(d), tries + 1

      r, d, _, good, _ = tf.while_loop(
        lambda r, d, w, good, tries: ~good & (tries < MAX_SKIP),
        body,
        (row, data, where, ok, tf.constant(0)),
      )
      check = tf.debugging.Assert(
        good, [f'{MAX_SKIP} consecutive bad images from row', row]
      )
      with tf.control_dependencies([check]):
        return tf.identity(r), tf.identity(d)

    row, data = tf.cond(ok, lambda: (row, data), substitute)
    element = _gather_columns(consts, row)
    element['image'] = decode.decode_image(data, shape, crop)
    return element

  ds = tf.data.Dataset.range(n).map(
    lambda i: load(tf.cast(i, tf.int32)), num_parallel_calls=tf.data.AUTOTUNE
  )
  return ds.with_options(bad_lib.ignore_external_state())


def record_matcher(split, columns: dict):
  """parsed record -> {columns of its row, 'data', 'where', 'row'} (tf.data).

  `row` is the record's row in `split` (matched by id), or -1 when the
  record is not in the split.
  """
  order = np.argsort(split.ids, kind='stable')
  sorted_ids = tf.constant(split.ids[order])
  rows = tf.constant(order.astype(np.int32))
  consts = {k: tf.constant(v) for k, v in columns.items()}
  n = len(split)

  def attach(record):
    pos = tf.searchsorted(sorted_ids, tf.reshape(record['id'], [1]))[0]
    # An empty split never reads a record; n - 1 = -1 is never used.
    pos = tf.maximum(tf.minimum(pos, n - 1), 0)
    found = tf.equal(tf.gather(sorted_ids, pos), record['id'])
    row = tf.where(found, tf.gather(rows, pos), -1)
    out = _gather_columns(consts, tf.maximum(row, 0))
    out.update(data=record['encoded'], where=record['key'], row=row)
    return out

  return attach


def read_records(files, split, columns: dict) -> tf.data.Dataset:
  """Matched rows of the records in `files` (tf.string [F]), file order."""
  auto = tf.data.AUTOTUNE
  ds = tf.data.TFRecordDataset(files)
  ds = ds.map(record_format.parse_example, num_parallel_calls=auto)
  ds = ds.map(record_matcher(split, columns), num_parallel_calls=auto)
  return ds.filter(lambda e: e['row'] >= 0)


def decode_checked(ds: tf.data.Dataset, split, bad) -> tf.data.Dataset:
  """Checks, counts and drops bad bytes, then decodes (sequential use)."""
  auto = tf.data.AUTOTUNE
  ds = ds.map(
    lambda e: {
      **{k: v for k, v in e.items() if k != 'row'},
      'ok': image_check.looks_like_image(e['data']),
    },
    num_parallel_calls=auto,
  )
  ds = bad.count_in_pipeline(ds)
  shape, crop = split.image_shape, split.center_crop

  def load(e):
    e = dict(e)
    e['image'] = decode.decode_image(e.pop('data'), shape, crop)
    return e

  return ds.map(load, num_parallel_calls=auto)


def records_dataset(split, columns: dict, bad) -> tf.data.Dataset:
  """The split's rows from its shards, in file order (see module doc)."""
  used = np.unique(split.record_shards)
  files = tf.constant([split.record_files[i] for i in used], tf.string)
  return decode_checked(read_records(files, split, columns), split, bad)
