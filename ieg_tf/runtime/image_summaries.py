"""TensorBoard images: augmentation views, meta-weight histograms, confusion.

Host context, chief only (the caller checks). Each function opens the run's
`<workdir>/tensorboard` writer, writes and flushes, so the trainer and the
report can call them without sharing a writer. Rendering is plain numpy (no
plotting library): one pixel block per image pixel or matrix cell.
"""

import os

import numpy as np
import tensorflow as tf

from ieg_tf.augment import views
from ieg_tf.data.split import Split

# Small images (digits are 8x8) are scaled up to about this many pixels.
_MIN_CELL_PX = 48
_GAP_PX = 2
VIEW_COLUMNS = ('original', 'weak', 'strong', 'simclr_1', 'simclr_2')


def _writer(workdir: str):
  return tf.summary.create_file_writer(os.path.join(workdir, 'tensorboard'))


def _to_uint8_rgb(images: np.ndarray) -> np.ndarray:
  """float [-1, 1] or uint8 [..., H, W, C in (1, 3)] -> uint8 [..., H, W, 3]."""
  images = np.asarray(images)
  if images.dtype != np.uint8:
    images = np.round((np.clip(images, -1.0, 1.0) / 2.0 + 0.5) * 255.0)
    images = images.astype(np.uint8)
  if images.shape[-1] == 1:
    images = np.repeat(images, 3, axis=-1)
  return images


def tile_grid(cells: np.ndarray) -> np.ndarray:
  """Lays out images as a grid with gray gaps, scaled up when small.

  Args:
    cells: uint8 [rows, cols, H, W, 3].

  Returns:
    uint8 [1, rows * (s H + gap) - gap, cols * (s W + gap) - gap, 3] with
    s = max(1, MIN_CELL_PX // H) (nearest-neighbor upscaling).
  """
  rows, cols, h, w, _ = cells.shape
  s = max(1, _MIN_CELL_PX // max(h, 1))
  cells = cells.repeat(s, axis=2).repeat(s, axis=3)
  h, w = h * s, w * s
  out = np.full(
    (rows * (h + _GAP_PX) - _GAP_PX, cols * (w + _GAP_PX) - _GAP_PX, 3),
    128,
    np.uint8,
  )
  for r in range(rows):
    for c in range(cols):
      y, x = r * (h + _GAP_PX), c * (w + _GAP_PX)
      out[y : y + h, x : x + w] = cells[r, c]
  return out[None]


def view_grid(
  split: Split,
  *,
  aug_type: str,
  flip: bool,
  seed: int = 0,
  num_images: int = 6,
) -> np.ndarray:
  """One row per training image: original, weak, strong and a SimCLR pair.

  The views come from the same functions as the input pipelines
  (`ieg_tf/augment/views.py`), run eagerly.

  Args:
    split: the training split (the first `num_images` rows are shown).
    aug_type: the strong augmentation ('randaug', 'autoaug', 'weak').
    flip: random flips as in training.
    seed: view seeds (per row: (seed, row)).
    num_images: rows of the grid.

  Returns:
    uint8 [1, height, width, 3], columns as in VIEW_COLUMNS.
  """
  n = min(num_images, len(split))
  images = split.take(np.arange(n)).to_dataset().map(lambda e: e['image'])
  rows = []
  for i, image in enumerate(images):
    s = tf.constant([seed, i], tf.int64)
    pair = views.train_views(image, s, aug_type=aug_type, flip=flip)
    simclr = views.simclr_views(image, s + 1)
    rows.append(
      [
        _to_uint8_rgb(image.numpy()),
        _to_uint8_rgb(pair['image_weak'].numpy()),
        _to_uint8_rgb(pair['image_strong'].numpy()),
        _to_uint8_rgb(simclr['view1'].numpy()),
        _to_uint8_rgb(simclr['view2'].numpy()),
      ]
    )
  return tile_grid(np.asarray(rows))


def write_view_grid(
  workdir: str,
  split: Split,
  step: int,
  *,
  aug_type: str,
  flip: bool,
  seed: int = 0,
  num_images: int = 6,
):
  """Writes `view_grid` as the image 'inputs/views' at `step` (host, chief)."""
  grid = view_grid(
    split, aug_type=aug_type, flip=flip, seed=seed, num_images=num_images
  )
  writer = _writer(workdir)
  with writer.as_default(step=int(step)):
    tf.summary.image(
      'inputs/views',
      grid,
      description='rows: training images; columns: ' + ', '.join(VIEW_COLUMNS),
    )
  writer.close()


def weight_groups(example_stats, split: Split) -> dict:
  """Meta weights of the rows seen so far, split by clean / noisy labels.

  Args:
    example_stats: `ExampleStats` with a 'weight' table, or None.
    split: the split the table's rows index (for `clean_labels`).

  Returns:
    {'clean': float32 [n1], 'noisy': float32 [n2]} when clean labels are
    known, {'all': float32 [n]} otherwise; {} without weights. Each row's
    window mean (or last value) is used; rows never seen are left out.
  """
  if example_stats is None or 'weight' not in example_stats.names:
    return {}
  if example_stats.num_examples != len(split):
    return {}
  weights = example_stats.snapshot()['weight']
  seen = np.isfinite(weights)
  if split.clean_labels is None:
    return {'all': weights[seen]}
  noisy = split.labels != split.clean_labels
  return {'clean': weights[seen & ~noisy], 'noisy': weights[seen & noisy]}


def write_weight_histograms(workdir: str, example_stats, split: Split, step):
  """Histograms 'weights/clean' and 'weights/noisy' (or 'weights/all').

  A no-op for methods without per-example weights. Host, chief only.
  """
  groups = weight_groups(example_stats, split)
  if not groups:
    return
  writer = _writer(workdir)
  with writer.as_default(step=int(step)):
    for name, values in groups.items():
      if len(values):
        tf.summary.histogram(f'weights/{name}', values)
  writer.close()


def confusion_image(matrix: np.ndarray, max_px: int = 800) -> np.ndarray:
  """Heat map of a confusion matrix, each row normalized to sum 1.

  White = 0, dark blue = the whole row in one cell; diagonal cells are framed
  red (when cells are large enough) so they can be found without labels.

  Args:
    matrix: int [C, C] counts (rows: e.g. given label; cols: suggested).
    max_px: cells shrink (down to 1 px) to keep the side about this long.

  Returns:
    uint8 [1, C * cell, C * cell, 3].
  """
  m = np.asarray(matrix, np.float64)
  c = m.shape[0]
  cell = int(np.clip(max_px // max(c, 1), 1, _MIN_CELL_PX))
  frac = m / np.maximum(m.sum(axis=1, keepdims=True), 1.0)
  white, blue = np.array([255.0, 255, 255]), np.array([8.0, 48, 107])
  colors = np.round(white + frac[..., None] * (blue - white)).astype(np.uint8)
  image = colors.repeat(cell, axis=0).repeat(cell, axis=1)
  if cell >= 6:
    for i in range(c):
      lo, hi = i * cell, (i + 1) * cell - 1
      image[lo : hi + 1, [lo, hi]] = (200, 0, 0)
      image[[lo, hi], lo : hi + 1] = (200, 0, 0)
  return image[None]


def write_confusion(workdir: str, name: str, matrix: np.ndarray, step):
  """Writes `confusion_image(matrix)` under `name` at `step` (host, chief)."""
  writer = _writer(workdir)
  with writer.as_default(step=int(step)):
    tf.summary.image(
      name, confusion_image(matrix), description='rows normalized to 1'
    )
  writer.close()
