"""Split's encoded / records modes, center-crop decoding and validation."""

import numpy as np
import tensorflow as tf

from ieg_tf.data import bad_examples
from ieg_tf.data import decode
from ieg_tf.data.split import Split


class SplitModesTest(tf.test.TestCase):
  def test_encoded_mode(self):
    images = np.random.default_rng(0).integers(0, 256, (2, 3, 3, 3), np.uint8)
    split = Split(
      labels=[1, 0],
      ids=[5, 6],
      encoded=[tf.io.encode_png(i).numpy() for i in images],
      clean_labels=[1, 1],
      image_shape=(3, 3, 3),
    )
    rows = list(split.to_dataset().as_numpy_iterator())
    self.assertAllEqual(rows[0]['image'], images[0])  # PNG is lossless.
    self.assertEqual([r['id'] for r in rows], [5, 6])
    self.assertEqual([bool(r['is_noisy']) for r in rows], [False, True])
    self.assertTrue(split.random_access)
    second = tf.data.experimental.at(split.to_dataset(), 1)
    self.assertAllEqual(second['image'], images[1])

  def test_center_crop_keeps_the_middle(self):
    # 10 x 30: columns 10..19 are 200, the rest 0. Center-cropping to 10 x
    # 10 needs no resize and keeps exactly the bright middle; a plain resize
    # to 10 x 10 mixes in the dark sides.
    image = np.zeros((10, 30, 3), np.uint8)
    image[:, 10:20] = 200
    data = tf.io.encode_png(image)
    cropped = decode.decode_image(data, (10, 10, 3), center_crop=True)
    self.assertAllEqual(cropped, np.full((10, 10, 3), 200, np.uint8))
    squeezed = decode.decode_image(data, (10, 10, 3), center_crop=False)
    self.assertLess(int(squeezed[5, 0, 0]), 100)
    # Upscaling a small image covers the window (no black border).
    small = tf.io.encode_png(np.full((4, 6, 3), 90, np.uint8))
    up = decode.decode_image(small, (16, 16, 3), center_crop=True)
    self.assertAllEqual(up, np.full((16, 16, 3), 90, np.uint8))

  def test_take_keeps_mode_fields(self):
    bad = bad_examples.BadExamples('toy', 3)
    split = Split(
      labels=[0, 1, 2],
      ids=[1, 2, 3],
      record_files=('a', 'b'),
      record_shards=[1, 0, 1],
      image_shape=(4, 4, 3),
      center_crop=True,
      bad_examples=bad,
    )
    part = split.take(np.array([2, 0]))
    self.assertAllEqual(part.record_shards, [1, 1])
    self.assertEqual(part.record_files, ('a', 'b'))
    self.assertTrue(part.center_crop)
    self.assertIs(part.bad_examples, bad)
    self.assertFalse(part.random_access)
    self.assertEqual(
      repr(part),
      'Split(n=2, mode=record_files, image_shape=(4, 4, 3), '
      'clean_labels=False)',
    )

  def test_validation(self):
    with self.assertRaisesRegex(ValueError, 'exactly one'):
      Split(
        labels=[0], ids=[0], encoded=[b'x'], paths=['p'], image_shape=(1, 1, 1)
      )
    with self.assertRaisesRegex(ValueError, 'record_shards is required'):
      Split(labels=[0], ids=[0], record_files=('a',), image_shape=(1, 1, 1))
    with self.assertRaisesRegex(ValueError, 'index record_files'):
      Split(
        labels=[0],
        ids=[0],
        record_files=('a',),
        record_shards=[1],
        image_shape=(1, 1, 1),
      )
    with self.assertRaisesRegex(ValueError, 'image_shape is required'):
      Split(labels=[0], ids=[0], encoded=[b'x'])
    with self.assertRaisesRegex(ValueError, 'length'):
      Split(labels=[0, 1], ids=[0, 1], encoded=[b'x'], image_shape=(1, 1, 1))


if __name__ == '__main__':
  tf.test.main()
