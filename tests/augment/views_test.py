"""Tests of ieg_tf.augment.views: the API the input pipeline calls."""

import os
import tarfile

import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from ieg_tf import errors
from ieg_tf.augment import seeds
from ieg_tf.augment import views


def _image(size, channels, seed=0, low=1, high=256):
  rng = np.random.default_rng(seed)
  return rng.integers(low, high, (size, size, channels)).astype(np.uint8)


def _map_copies(fn, image, count=16, base_seed=7):
  """fn(image, seed) inside tf.data over `count` copies, one seed each."""
  images = tf.data.Dataset.from_tensors(image).repeat(count)
  element_seeds = tf.data.Dataset.range(count).map(
    lambda i: seeds.element_seed(base_seed, i)
  )
  ds = tf.data.Dataset.zip((images, element_seeds)).map(fn)
  return list(ds.as_numpy_iterator())


def _crop_candidates(image, pad, fill):
  """All pad-and-crop results of `image` (numpy), with and without flip."""
  h, w = image.shape[:2]
  padded = np.pad(image, [(pad, pad), (pad, pad), (0, 0)], constant_values=fill)
  out = {}
  for top in range(2 * pad + 1):
    for left in range(2 * pad + 1):
      crop = padded[top : top + h, left : left + w]
      out[(top, left, False)] = crop
      out[(top, left, True)] = crop[:, ::-1]
  return out


def _matching(out, candidates):
  """Keys of the candidates equal to `out` (middle row compared first)."""
  mid = out.shape[0] // 2
  return [
    key
    for key, cand in candidates.items()
    if np.array_equal(out[mid], cand[mid]) and np.array_equal(out, cand)
  ]


class ToFloatTest(tf.test.TestCase):
  def test_matches_numpy_formula(self):
    image = np.arange(256, dtype=np.uint8).reshape(4, 8, 8, 1)
    expected = (image.astype(np.float64) / 255.0 - 0.5) * 2.0
    out = views.to_float(image)
    self.assertEqual(out.dtype, tf.float32)
    self.assertAllClose(out, expected, atol=1e-6)
    self.assertEqual(float(out.numpy().min()), -1.0)
    self.assertEqual(float(out.numpy().max()), 1.0)


class WeakViewTest(tf.test.TestCase, parameterized.TestCase):
  @parameterized.parameters((8, 1, 1), (28, 1, 2), (32, 3, 2), (224, 3, 14))
  def test_default_pad_is_a_crop_of_the_black_padded_image(
    self, size, channels, pad
  ):
    image = _image(size, channels)
    candidates = _crop_candidates(image, pad, 0)
    outs = [
      views.weak_view(image, seeds.element_seed(1, i)).numpy() for i in range(6)
    ]
    for out in outs:
      self.assertEqual(out.dtype, np.uint8)
      self.assertEqual(out.shape, image.shape)
      self.assertLen(_matching(out, candidates), 1)
    # A pad one pixel wider must also be possible for some seed, else the
    # default pad would be smaller than stated.
    smaller = _crop_candidates(image, pad - 1, 0) if pad > 1 else {}
    self.assertTrue(any(not _matching(o, smaller) for o in outs) or not smaller)

  def test_all_offsets_and_flips_occur(self):
    image = _image(8, 3)
    candidates = _crop_candidates(image, 2, 0)
    outs = _map_copies(lambda x, s: views.weak_view(x, s, pad=2), image, 400)
    seen = set()
    for out in outs:
      keys = _matching(out, candidates)
      self.assertLen(keys, 1)
      seen.add(keys[0])
    self.assertEqual(seen, set(candidates))

  def test_no_flip(self):
    image = _image(8, 1)
    candidates = _crop_candidates(image, 1, 0)
    outs = _map_copies(
      lambda x, s: views.weak_view(x, s, flip=False), image, 64
    )
    for out in outs:
      (key,) = _matching(out, candidates)
      self.assertFalse(key[2])

  def test_fixed_seed_is_deterministic_and_seeds_vary(self):
    image = _image(32, 3)
    seed = tf.constant([5, 6], tf.int64)
    self.assertAllEqual(
      views.weak_view(image, seed), views.weak_view(image, seed)
    )
    outs = _map_copies(views.weak_view, image)
    self.assertGreater(len({o.tobytes() for o in outs}), 1)

  def test_dynamic_shape_in_tf_function(self):
    fn = tf.function(
      views.weak_view,
      input_signature=[
        tf.TensorSpec([None, None, 3], tf.uint8),
        tf.TensorSpec([2], tf.int64),
      ],
    )
    image = _image(32, 3)
    out = fn(image, tf.constant([1, 2], tf.int64)).numpy()
    self.assertLen(_matching(out, _crop_candidates(image, 2, 0)), 1)


class StrongViewTest(tf.test.TestCase, parameterized.TestCase):
  def _check_gray_crop_with_cutout(self, out, weak, pad, cut):
    """`out` = gray pad-crop (+flip) of `weak` with a clipped gray square."""
    fits = []
    for cand in _crop_candidates(weak, pad, 128).values():
      differ = np.any(out != cand, axis=-1)
      if not np.all(out[differ] == 128):
        continue
      rows, cols = np.nonzero(differ)
      if rows.size and (np.ptp(rows) >= cut or np.ptp(cols) >= cut):
        continue
      fits.append(cand)
    self.assertNotEmpty(fits)

  @parameterized.parameters((8, 1), (32, 3))
  def test_weak_type_is_pad_crop_flip_cutout(self, size, channels):
    # Values below 128 make every gray (128) pixel come from the view.
    weak = _image(size, channels, low=0, high=128)
    pad, cut = (1, 4) if size == 8 else (4, 16)
    for i in range(8):
      out = views.strong_view(
        weak, seeds.element_seed(3, i), aug_type='weak'
      ).numpy()
      self._check_gray_crop_with_cutout(out, weak, pad, cut)
      self.assertTrue(np.any(out == 128))

  @parameterized.product(
    aug_type=['randaug', 'autoaug', 'weak'],
    size_channels=[(8, 1), (28, 1), (32, 3), (224, 3)],
  )
  def test_shapes_and_determinism(self, aug_type, size_channels):
    size, channels = size_channels
    image = _image(size, channels)
    seed = tf.constant([11, 12], tf.int64)
    out = views.strong_view(image, seed, aug_type=aug_type)
    self.assertEqual(out.dtype, tf.uint8)
    self.assertEqual(out.shape, image.shape)
    self.assertAllEqual(out, views.strong_view(image, seed, aug_type=aug_type))

  @parameterized.parameters(('randaug', 8, 1), ('autoaug', 32, 3))
  def test_variety_in_dataset(self, aug_type, size, channels):
    image = _image(size, channels)
    outs = _map_copies(
      lambda x, s: views.strong_view(x, s, aug_type=aug_type), image
    )
    self.assertGreater(len({o.tobytes() for o in outs}), 8)

  def test_accepts_enum_and_rejects_unknown(self):
    from ieg_tf import config

    image = _image(8, 3)
    seed = tf.constant([1, 2], tf.int64)
    self.assertAllEqual(
      views.strong_view(image, seed, aug_type=config.AugType.AUTOAUG),
      views.strong_view(image, seed, aug_type='autoaug'),
    )
    with self.assertRaisesRegex(errors.UserError, 'randaug'):
      views.strong_view(image, seed, aug_type='fancy')


class TrainViewsTest(tf.test.TestCase, parameterized.TestCase):
  @parameterized.parameters('randaug', 'autoaug', 'weak')
  def test_keys_dtypes_ranges_in_dataset(self, aug_type):
    image = _image(32, 3)
    outs = _map_copies(
      lambda x, s: views.train_views(x, s, aug_type=aug_type), image, 8
    )
    for out in outs:
      self.assertEqual(set(out), {'image_weak', 'image_strong'})
      for value in out.values():
        self.assertEqual(value.dtype, np.float32)
        self.assertEqual(value.shape, (32, 32, 3))
        self.assertBetween(value.min(), -1.0, 1.0)
        self.assertBetween(value.max(), -1.0, 1.0)
    weak = [o['image_weak'].tobytes() for o in outs]
    self.assertGreater(len(set(weak)), 1)

  def test_weak_is_the_weak_view_and_strong_derives_from_it(self):
    image = _image(32, 3, low=0, high=128)
    seed = tf.constant([21, 22], tf.int64)
    out = views.train_views(image, seed, aug_type='weak', flip=False)
    weak_u8 = np.round((out['image_weak'].numpy() / 2 + 0.5) * 255)
    (key,) = _matching(weak_u8.astype(np.uint8), _crop_candidates(image, 2, 0))
    self.assertFalse(key[2])
    strong_u8 = np.round((out['image_strong'].numpy() / 2 + 0.5) * 255)
    StrongViewTest._check_gray_crop_with_cutout(
      self, strong_u8.astype(np.uint8), weak_u8.astype(np.uint8), 4, 16
    )


class ExtraStrongViewsTest(tf.test.TestCase):
  def test_extra_views_keys_and_first_view_unchanged(self):
    image = _image(32, 3)
    seed = tf.constant([5, 6], tf.int64)
    one = views.train_views(image, seed, aug_type='randaug')
    three = views.train_views(image, seed, aug_type='randaug', num_strong=3)
    self.assertEqual(
      set(three),
      {'image_weak', 'image_strong', 'image_strong_2', 'image_strong_3'},
    )
    self.assertAllEqual(one['image_weak'], three['image_weak'])
    self.assertAllEqual(one['image_strong'], three['image_strong'])
    strong = [
      three[k].numpy().tobytes() for k in sorted(three) if 'strong' in k
    ]
    self.assertLen(set(strong), 3)
    with self.assertRaises(ValueError):
      views.train_views(image, seed, aug_type='weak', num_strong=0)

  def test_every_strong_view_derives_from_the_same_weak_view(self):
    image = _image(32, 3, low=0, high=128)
    seed = tf.constant([8, 9], tf.int64)
    out = views.train_views(
      image, seed, aug_type='weak', flip=False, num_strong=3
    )
    weak_u8 = np.round((out['image_weak'].numpy() / 2 + 0.5) * 255)
    for key in ('image_strong', 'image_strong_2', 'image_strong_3'):
      strong_u8 = np.round((out[key].numpy() / 2 + 0.5) * 255)
      StrongViewTest._check_gray_crop_with_cutout(
        self, strong_u8.astype(np.uint8), weak_u8.astype(np.uint8), 4, 16
      )


class SimclrViewsTest(tf.test.TestCase, parameterized.TestCase):
  @parameterized.parameters(
    (8, 1, None, (8, 8, 1)),
    (28, 1, 24, (24, 24, 1)),
    (32, 3, None, (32, 32, 3)),
    (224, 3, (96, 64), (96, 64, 3)),
  )
  def test_shapes_ranges_determinism(self, size, channels, out_size, shape):
    image = _image(size, channels)
    seed = tf.constant([8, 9], tf.int64)
    out = views.simclr_views(image, seed, out_size=out_size)
    again = views.simclr_views(image, seed, out_size=out_size)
    self.assertEqual(set(out), {'view1', 'view2'})
    for key in out:
      self.assertEqual(out[key].dtype, tf.float32)
      self.assertEqual(tuple(out[key].shape), shape)
      self.assertBetween(float(tf.reduce_min(out[key])), -1.0, 1.0)
      self.assertBetween(float(tf.reduce_max(out[key])), -1.0, 1.0)
      self.assertAllEqual(out[key], again[key])
    self.assertNotAllClose(out['view1'], out['view2'])

  def test_variety_in_dataset(self):
    image = _image(32, 3)
    outs = _map_copies(
      lambda x, s: views.simclr_views(x, s, crop_scale=(0.2, 1.0)), image, 8
    )
    self.assertLen({o['view1'].tobytes() for o in outs}, 8)


class EvalViewTest(tf.test.TestCase):
  def test_no_out_size_is_to_float(self):
    image = _image(28, 1)
    self.assertAllClose(
      views.eval_view(image), (image / 255.0 - 0.5) * 2, atol=1e-6
    )

  def test_center_crop_oracle(self):
    image = _image(40, 3)
    # Resizing to the crop's own size is exact, so this is a pure crop.
    out = views.eval_view(image, out_size=20, crop_fraction=0.5)
    expected = (image[10:30, 10:30] / 255.0 - 0.5) * 2
    self.assertAllClose(out, expected, atol=1e-5)

  def test_resize_shape_and_determinism(self):
    image = _image(64, 3)
    out = views.eval_view(image, out_size=(32, 16))
    self.assertEqual(out.shape, (32, 16, 3))
    self.assertAllEqual(out, views.eval_view(image, out_size=(32, 16)))


def _shared_data_dir():
  repo = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
  return os.environ.get(
    'IEG_TF_SHARED_DATA', os.path.join(repo, '..', 'shared', 'data')
  )


class DynamicShapeTest(tf.test.TestCase, parameterized.TestCase):
  """Decoded JPEGs have no static height/width: every view must cope."""

  def _jpegs(self, count=4):
    path = os.path.join(_shared_data_dir(), 'cifar10_jpg.tar')
    if not os.path.exists(path):
      self.skipTest(f'{path} not found')
    out = []
    with tarfile.open(path) as tar:
      for member in tar:
        if member.isfile() and member.name.endswith('.jpg'):
          out.append(tar.extractfile(member).read())
          if len(out) == count:
            return out
    self.fail('no JPEG files in the CIFAR-10 tar')

  def test_real_cifar_jpegs_through_every_view(self):
    ds = tf.data.Dataset.from_tensor_slices(self._jpegs()).enumerate()

    def views_of(i, data):
      image = tf.io.decode_jpeg(data, channels=3)
      seed = seeds.element_seed(0, i)
      out = {'eval': views.eval_view(image, out_size=24)}
      out['weak'] = views.to_float(views.weak_view(image, seed))
      for aug in views.AUG_TYPES:
        strong = views.train_views(image, seed, aug_type=aug)['image_strong']
        out[f'strong_{aug}'] = strong
      out.update(views.simclr_views(image, seed, out_size=32))
      return out

    for element in ds.map(views_of).as_numpy_iterator():
      self.assertEqual(element['eval'].shape, (24, 24, 3))
      keys = ['weak', 'view1', 'view2']
      keys += [f'strong_{aug}' for aug in views.AUG_TYPES]
      for key in keys:
        self.assertEqual(element[key].shape, (32, 32, 3), key)
        self.assertEqual(element[key].dtype, np.float32)
        self.assertBetween(element[key].min(), -1.0, 1.0)
        self.assertBetween(element[key].max(), -1.0, 1.0)


if __name__ == '__main__':
  tf.test.main()
