"""`Split`: one split of a dataset held as numpy arrays on the host.

A split holds its images either decoded in memory (`images`) or as paths to
encoded files (`paths`, decoded inside tf.data), plus labels and stable ids.
`to_dataset()` yields the "source" / "after noise" rows of the batch contract
in DESIGN.md.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf


@dataclasses.dataclass(frozen=True, eq=False)
class Split:
  """One split of a dataset, held as numpy arrays on the host.

  Exactly one of `images` and `paths` is set. Arrays are normalized to the
  dtypes below on construction.

  Attributes:
    labels: int32 [N] labels as given (noisy once noise is applied).
    ids: int64 [N] stable example ids, unique within the dataset and the same
      on every host and run.
    images: uint8 [N, H, W, C] decoded images, or None.
    paths: object (str) [N] encoded image files (JPEG/PNG/BMP/GIF), or None.
    clean_labels: int32 [N] true labels when known (diagnostics only), or None.
    image_shape: (H, W, C) of every decoded image; files are resized to it.
      Taken from `images` when omitted; required with `paths`.
  """

  labels: np.ndarray
  ids: np.ndarray
  images: np.ndarray | None = None
  paths: np.ndarray | None = None
  clean_labels: np.ndarray | None = None
  image_shape: tuple[int, int, int] | None = None

  def __post_init__(self):
    def put(name, value):
      object.__setattr__(self, name, value)

    put('labels', np.asarray(self.labels).astype(np.int32).reshape(-1))
    put('ids', np.asarray(self.ids).astype(np.int64).reshape(-1))
    n = len(self.labels)
    if (self.images is None) == (self.paths is None):
      raise ValueError('exactly one of images and paths must be set')
    if self.images is not None:
      images = np.asarray(self.images)
      if images.dtype != np.uint8 or images.ndim != 4:
        raise ValueError(f'images must be uint8 [N,H,W,C], got {images.dtype}')
      put('images', images)
      if self.image_shape is None:
        put('image_shape', tuple(int(d) for d in images.shape[1:]))
      elif tuple(self.image_shape) != images.shape[1:]:
        raise ValueError(f'image_shape {self.image_shape} != {images.shape}')
    else:
      paths = self.paths
      if not (isinstance(paths, np.ndarray) and paths.dtype == object):
        paths = np.asarray([str(p) for p in paths], dtype=object)
      put('paths', paths.reshape(-1))
      if self.image_shape is None:
        raise ValueError('image_shape is required with paths')
    shape = tuple(int(d) for d in self.image_shape)
    if len(shape) != 3 or min(shape) < 1:
      raise ValueError(f'image_shape must be (H, W, C) > 0, got {shape}')
    put('image_shape', shape)
    if self.clean_labels is not None:
      clean = np.asarray(self.clean_labels).astype(np.int32).reshape(-1)
      put('clean_labels', clean)
    sizes = {
      len(a)
      for a in (self.ids, self.images, self.paths, self.clean_labels)
      if a is not None
    }
    if sizes != {n}:
      raise ValueError(f'all arrays must have length {n}, got sizes {sizes}')

  def __len__(self) -> int:
    return len(self.labels)

  def take(self, indices: np.ndarray) -> Split:
    """The subset at `indices`, all arrays indexed alike.

    Args:
      indices: int [K] positions in any order (repeats allowed), or a bool [N]
        mask.

    Returns:
      A Split of K examples.
    """
    indices = np.asarray(indices)
    if indices.dtype == bool:
      indices = np.flatnonzero(indices)
    indices = indices.astype(np.int64).reshape(-1)

    def pick(a):
      return None if a is None else a[indices]

    return Split(
      labels=self.labels[indices],
      ids=self.ids[indices],
      images=pick(self.images),
      paths=pick(self.paths),
      clean_labels=pick(self.clean_labels),
      image_shape=self.image_shape,
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

  def to_dataset(self) -> tf.data.Dataset:
    """An unshuffled tf.data.Dataset of one dict per example (host, tf.data).

    Keys: `image` uint8 [H, W, C], `label` int32 [], `id` int64 [], `index`
    int32 [] (row in this split), and, when
    `clean_labels` is known, `clean_label` int32 [] and `is_noisy` bool []
    (label != clean_label). File images are read, decoded to C channels and,
    when their size differs from `image_shape`, resized (bilinear, antialiased)
    and rounded back to uint8.
    """
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
    if self.images is not None:
      columns['image'] = self.images
      return tf.data.Dataset.from_tensor_slices(columns)
    columns['path'] = self.paths.astype(str)
    decode = _file_decoder(self.image_shape)

    def load(row):
      row = dict(row)
      row['image'] = decode(row.pop('path'))
      return row

    ds = tf.data.Dataset.from_tensor_slices(columns)
    return ds.map(load, num_parallel_calls=tf.data.AUTOTUNE)


def _file_decoder(image_shape: tuple[int, int, int]):
  """Returns path (tf.string []) -> uint8 [H, W, C] for use in tf.data."""
  height, width, channels = image_shape

  def decode(path):
    image = tf.io.decode_image(
      tf.io.read_file(path), channels=channels, expand_animations=False
    )

    def resize():
      resized = tf.image.resize(image, [height, width], antialias=True)
      return tf.cast(tf.round(tf.clip_by_value(resized, 0, 255)), tf.uint8)

    same = tf.reduce_all(tf.shape(image)[:2] == [height, width])
    image = tf.cond(same, lambda: image, resize)
    return tf.ensure_shape(image, image_shape)

  return decode
