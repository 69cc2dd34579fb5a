"""TensorBoard images: view grid, weight histograms, confusion heat map."""

import os

import numpy as np
from tensorboard.backend.event_processing import event_accumulator
import tensorflow as tf

from ieg_tf.data.split import Split
from ieg_tf.runtime import image_summaries
from ieg_tf.runtime.example_stats import ExampleStats


def _split(n=10, shape=(8, 8, 1), clean=True):
  rng = np.random.default_rng(0)
  labels = rng.integers(0, 3, n)
  return Split(
    labels=labels,
    ids=np.arange(n),
    images=rng.integers(0, 256, (n,) + shape, dtype=np.uint8),
    clean_labels=np.where(np.arange(n) < 4, (labels + 1) % 3, labels)
    if clean
    else None,
  )


def _tensor_tags(workdir):
  acc = event_accumulator.EventAccumulator(
    os.path.join(workdir, 'tensorboard'), size_guidance={'tensors': 0}
  )
  acc.Reload()
  return acc


class ImageSummariesTest(tf.test.TestCase):
  def test_tile_grid_layout(self):
    cells = np.zeros((2, 3, 16, 16, 3), np.uint8)
    cells[1, 2] = 255
    grid = image_summaries.tile_grid(cells)
    s, gap = 48 // 16, 2
    h = 16 * s
    self.assertEqual(grid.shape, (1, 2 * h + gap, 3 * h + 2 * gap, 3))
    self.assertTrue(np.all(grid[0, h + gap :, 2 * (h + gap) :] == 255))
    self.assertTrue(np.all(grid[0, :h, :h] == 0))
    self.assertTrue(np.all(grid[0, h : h + gap] == 128))  # The gap.

  def test_view_grid_shows_original_first(self):
    split = _split(shape=(16, 16, 3))
    grid = image_summaries.view_grid(
      split, aug_type='randaug', flip=True, num_images=3
    )
    s = 48 // 16
    cell = 16 * s
    self.assertEqual(grid.shape, (1, 3 * (cell + 2) - 2, 5 * (cell + 2) - 2, 3))
    want = split.images[1].repeat(s, 0).repeat(s, 1)
    self.assertAllEqual(grid[0, cell + 2 : 2 * cell + 2, :cell], want)
    # Augmented views differ from the original.
    weak = grid[0, cell + 2 : 2 * cell + 2, cell + 2 : 2 * cell + 2]
    strong = grid[0, cell + 2 : 2 * cell + 2, 2 * (cell + 2) : 3 * cell + 4]
    self.assertNotAllEqual(weak, strong)

  def test_grayscale_is_tiled_to_rgb(self):
    out = image_summaries._to_uint8_rgb(np.array([[[[-1.0], [1.0]]]]))
    self.assertAllEqual(out, [[[[0, 0, 0], [255, 255, 255]]]])

  def test_write_view_grid_event(self):
    workdir = self.create_tempdir().full_path
    image_summaries.write_view_grid(
      workdir, _split(), 7, aug_type='weak', flip=False, num_images=2
    )
    events = _tensor_tags(workdir).Tensors('inputs/views')
    self.assertEqual([e.step for e in events], [7])

  def test_weight_groups_and_histograms(self):
    split = _split()
    stats = ExampleStats(len(split), ('weight',), window_start_step=0)
    stats.update(
      tf.constant(0, tf.int64),
      {'index': tf.range(8), 'weight': tf.range(8, dtype=tf.float32)},
    )
    groups = image_summaries.weight_groups(stats, split)
    # Rows 0-3 are noisy, 8 and 9 were never seen.
    self.assertAllClose(groups['noisy'], [0, 1, 2, 3])
    self.assertAllClose(groups['clean'], [4, 5, 6, 7])
    unknown = _split(clean=False)
    self.assertAllClose(
      image_summaries.weight_groups(stats, unknown)['all'], np.arange(8)
    )
    self.assertEqual(image_summaries.weight_groups(None, split), {})
    workdir = self.create_tempdir().full_path
    image_summaries.write_weight_histograms(workdir, stats, split, 3)
    acc = _tensor_tags(workdir)
    self.assertIn('weights/clean', acc.Tags()['tensors'])
    self.assertIn('weights/noisy', acc.Tags()['tensors'])
    # No weights: nothing written, no error.
    image_summaries.write_weight_histograms(workdir, None, split, 4)

  def test_confusion_image_colors(self):
    image = image_summaries.confusion_image(np.array([[4, 0], [1, 3]]))
    cell = 48
    self.assertEqual(image.shape, (1, 2 * cell, 2 * cell, 3))
    center = cell // 2
    self.assertAllEqual(image[0, center, center], [8, 48, 107])  # All of row.
    self.assertAllEqual(image[0, center, cell + center], [255, 255, 255])
    self.assertAllEqual(image[0, 0, 0], [200, 0, 0])  # Diagonal frame.
    mixed = image[0, cell + center, center]  # 1/4 of row 1.
    self.assertAllEqual(
      mixed, np.round(255 + 0.25 * (np.array([8, 48, 107]) - 255))
    )
    big = image_summaries.confusion_image(np.eye(400, dtype=int))
    self.assertEqual(big.shape, (1, 400 * 2, 400 * 2, 3))


if __name__ == '__main__':
  tf.test.main()
