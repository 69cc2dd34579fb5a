"""Counting the bad examples a run skips, and stopping past the limit.

Policy: an image file that is missing, empty, truncated or not an image,
and a TFRecord shard that is missing or has the wrong size, is skipped and
counted once per example. When more than `max_bad_examples` distinct examples
have been skipped, the run stops with one line naming the dataset, the count
and an example. Labels outside [0, C) are never skipped: they stop the run at
load time with the file and line (the sources raise UserError).

Two places find bad examples:
  host, at load time (sources, converted-record reader): missing files (one
    directory listing per folder, so it also works on gs://), damaged shards,
    and the examples the converter already left out. `note_host` counts
    them; the loaders call `check()`, which stops when over the limit.
  tf.data, at read time (`Split.to_dataset`): bytes that fail
    `image_check.looks_like_image`. `record` adds the example's id to a
    host-side hash table (an example met again in the next epoch is not
    counted twice), prints one warning line per example, and fails the input
    pipeline with the same message once the limit is passed. In random-access
    splits the bad row's element is then filled from the next good row
    (split_reader.py); sequential readers drop it.

The trainer reads `total()` for metrics.jsonl (`data/bad_examples`) and calls
`check()` after each loop, which turns an over-limit count into a UserError
line (also after the pipeline failed with the over-limit message). Every other
reader of a split (evaluation, precise BN, the contrastive stage, report,
export) runs inside `stop_over_limit()`, which main.py opens once: a pipeline
that failed on the limit there is the same one line, not a traceback.

The hash table is a stateful resource, so pipelines that use it set
`experimental_external_state_policy=IGNORE`: a saved iterator does not hold
the table, and after a restart examples are counted again as they are met.
"""

import contextlib

from absl import logging
import tensorflow as tf

from ieg_tf.errors import UserError

_LOGGED_HOST = 20  # Host-side skips logged one by one; the rest summed up.


class BadExamples:
  """Distinct bad examples of one dataset: host-found plus tf.data-found.

  Create it on the host outside any `strategy.scope()`; one handle is shared
  by all splits of a dataset.
  """

  def __init__(self, dataset: str, limit: int):
    """Args: dataset: name for messages; limit: --max_bad_examples (>= 0)."""
    self.dataset = dataset
    self.limit = int(limit)
    self._host: list[tuple[str, str]] = []
    self._table = None

  def note_host(self, where: str, reason: str) -> None:
    """Counts one example skipped on the host (host, before training)."""
    self._host.append((where, reason))
    if len(self._host) <= _LOGGED_HOST:
      logging.warning('%s: skipping %s (%s)', self.dataset, where, reason)
    elif len(self._host) == _LOGGED_HOST + 1:
      logging.warning('%s: more bad examples; not logging each', self.dataset)

  def host_items(self) -> list[tuple[str, str]]:
    """(where, reason) of every example skipped on the host."""
    return list(self._host)

  @property
  def host_count(self) -> int:
    return len(self._host)

  def runtime_count(self) -> int:
    """Distinct examples the input pipelines skipped so far (host)."""
    return 0 if self._table is None else int(self._table.size().numpy())

  def total(self) -> int:
    """All distinct bad examples skipped so far (host; for metrics)."""
    return self.host_count + self.runtime_count()

  def message(self, count: int | None = None) -> str:
    count = self.total() if count is None else count
    example = ''
    if self._host:
      example = f'; e.g. {self._host[0][0]}: {self._host[0][1]}'
    return (
      f'{self.dataset}: {count} bad examples (missing, truncated or corrupt '
      f'images, or damaged record files) is more than --max_bad_examples='
      f'{self.limit}{example}; repair or remove them, or raise '
      '--max_bad_examples'
    )

  def check(self) -> None:
    """Raises UserError when more than `limit` examples were skipped (host)."""
    count = self.total()
    if count > self.limit:
      raise UserError(self.message(count))

  @contextlib.contextmanager
  def stop_over_limit(self):
    """Turns an input pipeline's failure past the limit into the UserError.

    Host context. A tf.data error is re-raised unchanged unless the count is
    over the limit (then the pipeline failed because of it, or on a bad
    example it already counted), so other errors keep their message.

    Yields:
      Nothing; wrap any code that iterates a split of this dataset.

    Raises:
      UserError: a tf.errors.OpError was raised and more than `limit`
        examples were skipped.
    """
    try:
      yield
    except tf.errors.OpError:
      self.check()
      raise

  def _ensure_table(self):
    if self._table is None:
      # init_scope: a table made while tracing a tf.data function must still
      # live on the host, eagerly, for `total()` to read it.
      with tf.init_scope():
        self._table = tf.lookup.experimental.MutableHashTable(
          tf.int64, tf.int64, default_value=0
        )
    return self._table

  def record(self, example_id: tf.Tensor, where: tf.Tensor) -> tf.Tensor:
    """Counts one bad example inside a tf.data function (host).

    Prints a warning the first time an id is seen, adds it to the set of bad
    ids, and fails the pipeline (InvalidArgumentError carrying `message()`)
    once more than `limit` examples are bad in total.

    Args:
      example_id: int64 [] the example's id.
      where: tf.string [] its path or key, for the warning.

    Returns:
      tf.bool [] True, to chain control dependencies on.
    """
    table = self._ensure_table()
    key = tf.reshape(tf.cast(example_id, tf.int64), [1])
    new = tf.equal(table.lookup(key)[0], 0)

    def warn():
      tf.print('ieg_tf: skipping bad image', where, 'id', example_id)
      return tf.constant(True)

    printed = tf.cond(new, warn, lambda: tf.constant(True))
    with tf.control_dependencies([printed]):
      inserted = table.insert(key, tf.constant([1], tf.int64))
    with tf.control_dependencies([inserted]):
      limit = tf.constant(self.limit - self.host_count, tf.int64)
      checked = tf.debugging.assert_less_equal(
        table.size(), limit, message=self.message(count=self.limit + 1)
      )
    with tf.control_dependencies([checked]):
      return tf.identity(new) | True

  def count_in_pipeline(self, ds: tf.data.Dataset) -> tf.data.Dataset:
    """Counts and drops the elements whose `ok` is False (tf.data, host).

    For sequential datasets only (the drop breaks random access).

    Args:
      ds: elements with at least `ok` tf.bool [], `id` int64 [] and `where`
        tf.string [] (a path or record key, for the warning).

    Returns:
      The elements with `ok` True, without `ok` and `where`. The counting
      map is sequential (it is cheap), so maps before and after it stay
      parallel under op determinism.
    """

    def mark(element):
      element = dict(element)
      ok = element['ok']
      done = tf.cond(
        ok,
        lambda: tf.constant(True),
        lambda: self.record(element['id'], element['where']),
      )
      with tf.control_dependencies([done]):
        element['ok'] = tf.identity(ok)
      return element

    ds = ds.map(mark).filter(lambda e: e['ok'])
    ds = ds.map(
      lambda e: {k: v for k, v in e.items() if k not in ('ok', 'where')}
    )
    return ds.with_options(ignore_external_state())


def ignore_external_state() -> tf.data.Options:
  """Options that let a pipeline with the counting table be checkpointed."""
  options = tf.data.Options()
  options.experimental_external_state_policy = (
    tf.data.experimental.ExternalStatePolicy.IGNORE
  )
  return options
