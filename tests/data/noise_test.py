"""Tests of ieg_tf.data.noise: rates, determinism and class maps."""

from absl.testing import parameterized
import numpy as np
from scipy import stats
import tensorflow as tf

from ieg_tf import config
from ieg_tf.data import class_names
from ieg_tf.data import noise
from ieg_tf.errors import UserError

NT = config.NoiseType
_N = 20_000

# CIFAR-100 superclasses by fine-class NAME (the dataset's published table),
# an oracle independent of the index table in class_names.py.
_SUPERCLASSES = {
  'aquatic_mammals': 'beaver dolphin otter seal whale',
  'fish': 'aquarium_fish flatfish ray shark trout',
  'flowers': 'orchid poppy rose sunflower tulip',
  'food_containers': 'bottle bowl can cup plate',
  'fruit_and_vegetables': 'apple mushroom orange pear sweet_pepper',
  'household_electrical_devices': 'clock keyboard lamp telephone television',
  'household_furniture': 'bed chair couch table wardrobe',
  'insects': 'bee beetle butterfly caterpillar cockroach',
  'large_carnivores': 'bear leopard lion tiger wolf',
  'large_man-made_outdoor_things': 'bridge castle house road skyscraper',
  'large_natural_outdoor_scenes': 'cloud forest mountain plain sea',
  'large_omnivores_and_herbivores': 'camel cattle chimpanzee elephant kangaroo',
  'medium_mammals': 'fox porcupine possum raccoon skunk',
  'non-insect_invertebrates': 'crab lobster snail spider worm',
  'people': 'baby boy girl man woman',
  'reptiles': 'crocodile dinosaur lizard snake turtle',
  'small_mammals': 'hamster mouse rabbit shrew squirrel',
  'trees': 'maple_tree oak_tree palm_tree pine_tree willow_tree',
  'vehicles_1': 'bicycle bus motorcycle pickup_truck train',
  'vehicles_2': 'lawn_mower rocket streetcar tank tractor',
}


def _fixture(num_classes, n=_N, seed=0):
  rng = np.random.default_rng(seed)
  labels = rng.integers(0, num_classes, n).astype(np.int32)
  ids = rng.permutation(10 * n)[:n].astype(np.int64)  # Unique, unordered.
  return labels, ids


class NoiseRateTest(tf.test.TestCase, parameterized.TestCase):
  @parameterized.product(
    noise_type=[NT.UNIFORM, NT.FLIP, NT.ASYMMETRIC],
    ratio=[0.2, 0.5, 0.8],
  )
  def test_wrong_label_rate_is_binomial(self, noise_type, ratio):
    labels, ids = _fixture(10)
    noisy = noise.apply_noise(labels, ids, 10, noise_type, ratio, 1, 'cifar10')
    if noise_type == NT.UNIFORM:
      p = ratio * 9 / 10
    elif noise_type == NT.FLIP:
      p = ratio
    else:
      table = noise.asymmetric_map('cifar10', 10)
      p = ratio * np.mean(table[labels] != labels)  # Exact for this fixture.
    sigma = np.sqrt(p * (1 - p) / _N)
    self.assertAllClose(np.mean(noisy != labels), p, atol=5 * sigma, rtol=0)

  def test_expected_wrong_rate(self):
    self.assertAlmostEqual(noise.expected_wrong_rate('uniform', 0.8, 10), 0.72)
    self.assertAlmostEqual(
      noise.expected_wrong_rate('uniform', 0.8, 100), 0.792
    )
    self.assertEqual(noise.expected_wrong_rate('flip', 0.3, 10), 0.3)
    self.assertEqual(noise.expected_wrong_rate('none', 0.3, 10), 0.0)
    table = noise.asymmetric_map('cifar10', 10)
    self.assertAlmostEqual(
      noise.expected_wrong_rate('asymmetric', 0.4, 10, table), 0.2
    )

  def test_uniform_redraws_from_all_classes(self):
    """At r=1 the new label is uniform over all C classes, whatever the old."""
    labels, ids = _fixture(10)
    labels[:] = 3
    noisy = noise.apply_noise(labels, ids, 10, 'uniform', 1.0, 5, 'x')
    counts = np.bincount(noisy, minlength=10)
    self.assertGreater(stats.chisquare(counts).pvalue, 1e-6)
    # ~1/C of the selected labels stay the same.
    kept = counts[3] / _N
    self.assertAllClose(kept, 0.1, atol=5 * np.sqrt(0.09 / _N), rtol=0)

  def test_flip_never_keeps_a_selected_label(self):
    labels, ids = _fixture(10)
    noisy = noise.apply_noise(labels, ids, 10, 'flip', 1.0, 5, 'x')
    self.assertTrue(np.all(noisy != labels))
    # ... and the new label is uniform over the other 9 classes.
    of_class_4 = noisy[labels == 4]
    counts = np.bincount(of_class_4, minlength=10)
    self.assertEqual(counts[4], 0)
    self.assertGreater(stats.chisquare(np.delete(counts, 4)).pvalue, 1e-6)

  def test_none_and_zero_ratio_keep_labels(self):
    labels, ids = _fixture(10, 500)
    for noise_type in NT:
      out = noise.apply_noise(labels, ids, 10, noise_type, 0.0, 1, 'cifar10')
      self.assertAllEqual(out, labels)
    out = noise.apply_noise(labels, ids, 10, 'none', 0.9, 1, 'cifar10')
    self.assertAllEqual(out, labels)
    self.assertEqual(out.dtype, np.int32)

  def test_empty_input(self):
    out = noise.apply_noise(np.zeros(0), np.zeros(0), 10, 'flip', 0.5, 1, 'x')
    self.assertEqual(out.shape, (0,))


class NoiseDeterminismTest(tf.test.TestCase, parameterized.TestCase):
  @parameterized.parameters('uniform', 'flip', 'asymmetric')
  def test_deterministic_and_order_invariant(self, noise_type):
    labels, ids = _fixture(10, 3000)
    noisy = noise.apply_noise(labels, ids, 10, noise_type, 0.6, 7, 'mnist')
    again = noise.apply_noise(labels, ids, 10, noise_type, 0.6, 7, 'mnist')
    self.assertAllEqual(noisy, again)
    perm = np.random.default_rng(1).permutation(len(ids))
    permuted = noise.apply_noise(
      labels[perm], ids[perm], 10, noise_type, 0.6, 7, 'mnist'
    )
    self.assertAllEqual(permuted, noisy[perm])
    other = noise.apply_noise(labels, ids, 10, noise_type, 0.6, 8, 'mnist')
    self.assertGreater(np.mean(other != noisy), 0.1)

  @parameterized.parameters('uniform', 'flip', 'asymmetric')
  def test_higher_ratio_corrupts_a_superset(self, noise_type):
    labels, ids = _fixture(10, 3000)
    low = noise.apply_noise(labels, ids, 10, noise_type, 0.3, 7, 'cifar10')
    high = noise.apply_noise(labels, ids, 10, noise_type, 0.7, 7, 'cifar10')
    changed = low != labels
    self.assertAllEqual(high[changed], low[changed])


class AsymmetricMapTest(tf.test.TestCase, parameterized.TestCase):
  def _expect(self, table, pairs):
    want = np.arange(len(table))
    for source, target in pairs.items():
      want[source] = target
    self.assertAllEqual(table, want)

  def test_cifar10(self):
    self._expect(
      noise.asymmetric_map('cifar10', 10), {9: 1, 2: 0, 3: 5, 5: 3, 4: 7}
    )
    names = class_names.CIFAR10
    self.assertEqual((names[9], names[1]), ('truck', 'automobile'))
    self.assertEqual((names[4], names[7]), ('deer', 'horse'))

  @parameterized.parameters('mnist', 'digits')
  def test_digits(self, dataset):
    self._expect(
      noise.asymmetric_map(dataset, 10), {2: 7, 3: 8, 5: 6, 6: 5, 7: 1}
    )

  def test_fashion_mnist(self):
    table = noise.asymmetric_map('fashion_mnist', 10)
    self._expect(table, {0: 6, 2: 4, 5: 7, 7: 9})
    names = class_names.FASHION_MNIST
    self.assertEqual(names[0], 'T-shirt/top')
    self.assertEqual(names[6], 'Shirt')

  def test_cifar100_coarse_table_matches_superclass_names(self):
    fine = class_names.CIFAR100_FINE
    self.assertLen(fine, 100)
    self.assertEqual(list(fine), sorted(fine))
    self.assertEqual(list(class_names.CIFAR100_COARSE), sorted(_SUPERCLASSES))
    for coarse, members in enumerate(_SUPERCLASSES.values()):
      for name in members.split():
        self.assertEqual(
          class_names.CIFAR100_COARSE_OF_FINE[fine.index(name)], coarse, name
        )

  def test_cifar100_next_class_in_superclass(self):
    table = noise.asymmetric_map('cifar100', 100)
    fine = class_names.CIFAR100_FINE
    for members in _SUPERCLASSES.values():
      ids = sorted(fine.index(n) for n in members.split())
      for i, c in enumerate(ids):
        self.assertEqual(table[c], ids[(i + 1) % 5])
    self.assertAllEqual(np.sort(table), np.arange(100))  # A permutation.

  @parameterized.parameters(('cifar10', 10), ('cifar100', 100), ('mnist', 10))
  def test_noise_only_moves_along_the_map(self, dataset, num_classes):
    labels, ids = _fixture(num_classes)
    table = noise.asymmetric_map(dataset, num_classes)
    noisy = noise.apply_noise(
      labels, ids, num_classes, 'asymmetric', 0.5, 3, dataset
    )
    self.assertTrue(np.all((noisy == labels) | (noisy == table[labels])))
    full = noise.apply_noise(
      labels, ids, num_classes, 'asymmetric', 1.0, 3, dataset
    )
    self.assertAllEqual(full, table[labels])


class FolderMapTest(tf.test.TestCase):
  def test_folder_with_cifar10_names_uses_the_cifar10_map(self):
    names = class_names.CIFAR10
    self.assertEqual(noise.map_name_for('folder', names), 'cifar10')
    self.assertEqual(noise.map_name_for('folder', ('a', 'b')), 'folder')
    labels = np.arange(10).repeat(50)
    noisy = noise.apply_noise(
      labels, np.arange(500), 10, 'asymmetric', 1.0, 3, 'folder', names=names
    )
    table = noise.asymmetric_map('cifar10', 10)
    np.testing.assert_array_equal(noisy, table[labels])
    with self.assertRaisesRegex(UserError, 'no class map'):
      noise.apply_noise(
        labels, np.arange(500), 10, 'asymmetric', 1.0, 3, 'folder'
      )


class NoiseErrorTest(tf.test.TestCase, parameterized.TestCase):
  def test_dataset_without_map(self):
    with self.assertRaisesRegex(UserError, "'folder'.*cifar10.*mnist"):
      noise.apply_noise([0, 1], [0, 1], 10, 'asymmetric', 0.5, 1, 'folder')

  def test_map_with_wrong_class_count(self):
    with self.assertRaisesRegex(UserError, 'cifar10.*10 classes.*7'):
      noise.asymmetric_map('cifar10', 7)

  @parameterized.parameters(-0.1, 1.5, float('nan'))
  def test_ratio_out_of_range(self, ratio):
    with self.assertRaisesRegex(UserError, 'noise ratio.*noise_ratio'):
      noise.apply_noise([0, 1], [0, 1], 10, 'uniform', ratio, 1, 'x')

  def test_label_out_of_range(self):
    with self.assertRaisesRegex(UserError, r'\[0, 10\).*10'):
      noise.apply_noise([0, 10], [0, 1], 10, 'uniform', 0.5, 1, 'x')

  def test_unknown_noise_type(self):
    with self.assertRaises(ValueError):
      noise.apply_noise([0], [0], 10, 'gaussian', 0.5, 1, 'x')


if __name__ == '__main__':
  tf.test.main()
