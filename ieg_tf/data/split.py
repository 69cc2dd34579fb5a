"""`Split`: one split of a dataset; its labels and ids on the host.

Labels, clean labels and ids are always numpy arrays on the host (noise and
the probe choice are host-side). The images are held in one of four ways:
  images:  decoded uint8 [N, H, W, C] in memory (small datasets);
  paths:   encoded image files (local or gs://), read and decoded in tf.data;
  encoded: the encoded bytes in memory (a small split cut out of records);
  records: rows of sharded TFRecord files (`record_format`), read in tf.data
           and matched to this split's rows by id, so a split can be any
           subset of the records (labels always come from the host arrays).
`to_dataset()` yields the "source" / "after noise" rows of the batch contract
(`data/pipeline.py`). Encoded images go through `image_check` and bad ones are
skipped and counted (`bad_examples`).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf

from ieg_tf.data import bad_examples as bad_lib
from ieg_tf.data import split_reader

_SOURCES = ('images', 'paths', 'encoded', 'record_files')


@dataclasses.dataclass(frozen=True, eq=False)
class Split:
  """One split of a dataset, held as numpy arrays on the host.

  Exactly one of `images`, `paths`, `encoded` and `record_files` is set.
  Arrays are normalized to the dtypes below on construction.

  Attributes:
    labels: int32 [N] labels as given (noisy once noise is applied).
    ids: int64 [N] stable example ids, unique within the dataset and the same
      on every host and run.
    images: uint8 [N, H, W, C] decoded images, or None.
    paths: object (str) [N] encoded image files (JPEG/PNG/GIF/BMP/WebP).
    clean_labels: int32 [N] true labels when known (diagnostics only), or None.
    image_shape: (H, W, C) of every decoded image; files are resized to it.
      Taken from `images` when omitted; required otherwise.
    encoded: object (bytes) [N] encoded images in memory, or None.
    record_files: TFRecord shards holding this split's rows, or None.
    record_shards: int32 [N] index into `record_files` of each row's shard
      (only the shards a split uses are read).
    center_crop: decode keeping the aspect ratio (`decode.decode_image`).
    bad_examples: where skipped images are counted; None = a private handle
      that stops at the first bad image.
    label_prior: float32 [N, C] a per-example class distribution the
      training step may use (IEG's neighbor vote), or None.
  """

  labels: np.ndarray
  ids: np.ndarray
  images: np.ndarray | None = None
  paths: np.ndarray | None = None
  clean_labels: np.ndarray | None = None
  image_shape: tuple[int, int, int] | None = None
  encoded: np.ndarray | None = None
  record_files: tuple[str, ...] | None = None
  record_shards: np.ndarray | None = None
  center_crop: bool = False
  bad_examples: bad_lib.BadExamples | None = None
  label_prior: np.ndarray | None = None

  def __post_init__(self):
    def put(name, value):
      object.__setattr__(self, name, value)

    put('labels', np.asarray(self.labels).astype(np.int32).reshape(-1))
    put('ids', np.asarray(self.ids).astype(np.int64).reshape(-1))
    n = len(self.labels)
    if sum(getattr(self, s) is not None for s in _SOURCES) != 1:
      raise ValueError(f'exactly one of {", ".join(_SOURCES)} must be set')
    if self.images is not None:
      images = np.asarray(self.images)
      if images.dtype != np.uint8 or images.ndim != 4:
        raise ValueError(f'images must be uint8 [N,H,W,C], got {images.dtype}')
      put('images', images)
      if self.image_shape is None:
        put('image_shape', tuple(int(d) for d in images.shape[1:]))
      elif tuple(self.image_shape) != images.shape[1:]:
        raise ValueError(f'image_shape {self.image_shape} != {images.shape}')
    for name in ('paths', 'encoded'):
      value = getattr(self, name)
      if value is not None:
        if not (isinstance(value, np.ndarray) and value.dtype == object):
          convert = str if name == 'paths' else bytes
          array = np.empty(len(value), dtype=object)
          array[:] = [convert(v) for v in value]
          value = array
        put(name, value.reshape(-1))
    if self.record_files is not None:
      put('record_files', tuple(str(f) for f in self.record_files))
      if self.record_shards is None:
        raise ValueError('record_shards is required with record_files')
      shards = np.asarray(self.record_shards).astype(np.int32).reshape(-1)
      if len(shards) and (
        shards.min() < 0 or shards.max() >= len(self.record_files)
      ):
        raise ValueError('record_shards must index record_files')
      put('record_shards', shards)
    if self.image_shape is None:
      raise ValueError('image_shape is required unless images are given')
    shape = tuple(int(d) for d in self.image_shape)
    if len(shape) != 3 or min(shape) < 1:
      raise ValueError(f'image_shape must be (H, W, C) > 0, got {shape}')
    put('image_shape', shape)
    if self.clean_labels is not None:
      clean = np.asarray(self.clean_labels).astype(np.int32).reshape(-1)
      put('clean_labels', clean)
    if self.label_prior is not None:
      prior = np.asarray(self.label_prior, np.float32)
      if prior.ndim != 2:
        raise ValueError(f'label_prior must be [N, C], got {prior.shape}')
      put('label_prior', prior)
    sizes = {
      len(a)
      for a in (
        self.ids,
        self.images,
        self.paths,
        self.encoded,
        self.record_shards,
        self.clean_labels,
        self.label_prior,
      )
      if a is not None
    }
    if sizes - {n}:
      raise ValueError(f'all arrays must have length {n}, got sizes {sizes}')

  def __len__(self) -> int:
    return len(self.labels)

  def __repr__(self) -> str:
    # The default repr would print every array (and every image's bytes).
    mode = next(s for s in _SOURCES if getattr(self, s) is not None)
    return (
      f'Split(n={len(self)}, mode={mode}, image_shape={self.image_shape}, '
      f'clean_labels={self.clean_labels is not None})'
    )

  def take(self, indices: np.ndarray) -> Split:
    """The subset at `indices`, all arrays indexed alike.

    Args:
      indices: int [K] positions in any order, or a bool [N] mask. Repeats
        are allowed, except in records mode, where a row is read once.

    Returns:
      A Split of K examples.
    """
    indices = np.asarray(indices)
    if indices.dtype == bool:
      indices = np.flatnonzero(indices)
    indices = indices.astype(np.int64).reshape(-1)

    def pick(a):
      return None if a is None else a[indices]

    return dataclasses.replace(
      self,
      labels=self.labels[indices],
      ids=self.ids[indices],
      images=pick(self.images),
      paths=pick(self.paths),
      encoded=pick(self.encoded),
      record_shards=pick(self.record_shards),
      clean_labels=pick(self.clean_labels),
      label_prior=pick(self.label_prior),
    )

  def with_labels(
    self, labels: np.ndarray, clean_labels: np.ndarray | None
  ) -> Split:
    """The same examples with new labels.

    Args:
      labels: int [N] new labels.
      clean_labels: int [N] true labels, or None when unknown.

    Returns:
      A Split sharing every other array with this one.
    """
    return dataclasses.replace(self, labels=labels, clean_labels=clean_labels)

  def host_columns(self) -> dict[str, np.ndarray]:
    """The non-image keys of `to_dataset` as numpy arrays [N] (host)."""
    # `index` (row in this split, int32) lets per-example training
    # statistics live in dense tables (label report) without an id lookup.
    columns = {
      'label': self.labels,
      'id': self.ids,
      'index': np.arange(len(self.labels), dtype=np.int32),
    }
    if self.clean_labels is not None:
      columns['clean_label'] = self.clean_labels
      columns['is_noisy'] = self.labels != self.clean_labels
    if self.label_prior is not None:
      columns['label_prior'] = self.label_prior
    return columns

  @property
  def random_access(self) -> bool:
    """Whether `tf.data.experimental.at(to_dataset(), row)` is row `row`.

    True for images, paths and encoded; records are read sequentially (use
    `record_stream` to train on them).
    """
    return self.record_files is None

  def to_dataset(self) -> tf.data.Dataset:
    """A tf.data.Dataset of one dict per example (host, tf.data).

    Keys: `image` uint8 [H, W, C], `label` int32 [], `id` int64 [], `index`
    int32 [] (row in this split), when `clean_labels` is known,
    `clean_label` int32 [] and `is_noisy` bool [] (label != clean_label), and
    when `label_prior` is set, `label_prior` float32 [C].
    Encoded images are checked (`image_check`), decoded to C channels and
    brought to `image_shape` (`decode`).

    Images, paths, encoded: element i is row i (random access works). A bad
    image is counted in `bad_examples` and its element is the next row with
    a good image instead (keys and image of that row), so the bad row is
    never used and the dataset keeps one element per row. Records: rows in
    file order, bad ones counted and dropped. More bad examples than the
    limit fail the pipeline.
    """
    columns = self.host_columns()
    if self.images is not None:
      columns['image'] = self.images
      return tf.data.Dataset.from_tensor_slices(columns)
    bad = self.bad_examples or bad_lib.BadExamples('data', limit=0)
    if self.record_files is not None:
      return split_reader.records_dataset(self, columns, bad)
    return split_reader.random_access_dataset(self, columns, bad)
