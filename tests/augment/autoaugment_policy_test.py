"""All 25 CIFAR-10 AutoAugment sub-policies against the published table.

The table below is typed from the AutoAugment paper (Cubuk et al., CVPR
2019, appendix Table "policy found on reduced CIFAR-10"), in the order
printed there; tensorflow/models publishes the same list as
`policy_reduced_cifar10`. The IEG code's own list is its 95-entry
`cifar10_policies()`; it
gives the level -> magnitude table that `_oracle_candidates` is written
from, independently of ieg_tf/augment/op_table.py.
"""

import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from ieg_tf.augment import autoaugment
from ieg_tf.augment import geometry
from ieg_tf.augment import ops

# (op, probability, magnitude level 0..10), two stages per sub-policy.
PAPER_CIFAR10 = (
  (('Invert', 0.1, 7), ('Contrast', 0.2, 6)),
  (('Rotate', 0.7, 2), ('TranslateX', 0.3, 9)),
  (('Sharpness', 0.8, 1), ('Sharpness', 0.9, 3)),
  (('ShearY', 0.5, 8), ('TranslateY', 0.7, 9)),
  (('AutoContrast', 0.5, 8), ('Equalize', 0.9, 2)),
  (('ShearY', 0.2, 7), ('Posterize', 0.3, 7)),
  (('Color', 0.4, 3), ('Brightness', 0.6, 7)),
  (('Sharpness', 0.3, 9), ('Brightness', 0.7, 9)),
  (('Equalize', 0.6, 5), ('Equalize', 0.5, 1)),
  (('Contrast', 0.6, 7), ('Sharpness', 0.6, 5)),
  (('Color', 0.7, 7), ('TranslateX', 0.5, 8)),
  (('Equalize', 0.3, 7), ('AutoContrast', 0.4, 8)),
  (('TranslateY', 0.4, 3), ('Sharpness', 0.2, 6)),
  (('Brightness', 0.9, 6), ('Color', 0.2, 8)),
  (('Solarize', 0.5, 2), ('Invert', 0.0, 3)),
  (('Equalize', 0.2, 0), ('AutoContrast', 0.6, 0)),
  (('Equalize', 0.2, 8), ('Equalize', 0.6, 4)),
  (('Color', 0.9, 9), ('Equalize', 0.6, 6)),
  (('AutoContrast', 0.8, 4), ('Solarize', 0.2, 8)),
  (('Brightness', 0.1, 3), ('Color', 0.7, 0)),
  (('Solarize', 0.4, 5), ('AutoContrast', 0.9, 3)),
  (('TranslateY', 0.9, 9), ('TranslateY', 0.7, 9)),
  (('AutoContrast', 0.9, 2), ('Solarize', 0.8, 3)),
  (('Equalize', 0.8, 8), ('Invert', 0.1, 3)),
  (('TranslateY', 0.7, 9), ('AutoContrast', 0.9, 1)),
)


def _oracle_candidates(name, level, x):
  """Every possible output of op `name` at `level` on a 32x32 image.

  Magnitudes as in the IEG authors' code (PARAMETER_MAX = 10):
  Rotate +-3 L deg, ShearX/Y +-0.03 L, TranslateX/Y +-L px (32 px images),
  enhance factor 0.18 L + 0.1, Solarize threshold 256 - int(25.6 L),
  Posterize 4 - int(0.4 L) bits; the sign of a geometric op is random, so
  both are candidates.
  """
  signed = {
    'Rotate': (geometry.rotate, 3.0 * level),
    'ShearX': (geometry.shear_x, 0.03 * level),
    'ShearY': (geometry.shear_y, 0.03 * level),
    'TranslateX': (geometry.translate_x, float(level)),
    'TranslateY': (geometry.translate_y, float(level)),
  }
  enhance = {
    'Color': ops.color,
    'Contrast': ops.contrast,
    'Brightness': ops.brightness,
    'Sharpness': ops.sharpness,
  }
  plain = {
    'AutoContrast': ops.autocontrast,
    'Equalize': ops.equalize,
    'Invert': ops.invert,
  }
  if name in signed:
    fn, magnitude = signed[name]
    return [fn(x, magnitude).numpy(), fn(x, -magnitude).numpy()]
  if name in enhance:
    return [enhance[name](x, 0.18 * level + 0.1).numpy()]
  if name == 'Solarize':
    return [ops.solarize(x, 256 - int(25.6 * level)).numpy()]
  if name == 'Posterize':
    return [ops.posterize(x, 4 - int(0.4 * level)).numpy()]
  return [plain[name](x).numpy()]


def _image():
  rng = np.random.default_rng(4)
  x = rng.integers(0, 256, (32, 32, 3)).astype(np.uint8)
  x[:8] //= 3  # A skewed region, so equalize and autocontrast move pixels.
  return x


class AutoAugmentPolicyTest(tf.test.TestCase, parameterized.TestCase):
  def test_all_25_sub_policies_match_the_paper(self):
    policy = autoaugment.CIFAR10_POLICY
    self.assertLen(policy, len(PAPER_CIFAR10))
    for i, (got, want) in enumerate(zip(policy, PAPER_CIFAR10)):
      self.assertLen(got, 2, f'sub-policy {i}')
      for stage, ((name, prob, level), (w_name, w_prob, w_level)) in enumerate(
        zip(got, want)
      ):
        where = f'sub-policy {i} stage {stage}'
        self.assertEqual(name, w_name, where)
        self.assertEqual(prob, w_prob, where)
        self.assertEqual(level, w_level, where)

  @parameterized.parameters(*range(len(PAPER_CIFAR10)))
  def test_forced_sub_policy_is_its_two_ops_in_order(self, index):
    """Probabilities forced to 1: output == op2(op1(x)) for some signs."""
    x = _image()
    forced = (
      tuple((name, 1.0, level) for name, _, level in PAPER_CIFAR10[index]),
    )
    (name1, _, level1), (name2, _, level2) = forced[0]
    expected = [
      out2
      for out1 in _oracle_candidates(name1, level1, x)
      for out2 in _oracle_candidates(name2, level2, out1)
    ]
    for seed in range(3):
      got = autoaugment.autoaugment(x, (seed, index), policy=forced).numpy()
      self.assertTrue(
        any(np.array_equal(got, e) for e in expected),
        f'{forced[0]} seed {seed}: not op2(op1(x)) for any sign',
      )

  def test_the_order_of_the_two_ops_matters_and_is_kept(self):
    """Solarize then AutoContrast differs from the reverse; first is used."""
    x = _image()
    sub = PAPER_CIFAR10[20]  # (Solarize, 5), (AutoContrast, 3).
    forced = (tuple((name, 1.0, level) for name, _, level in sub),)
    in_order = ops.autocontrast(ops.solarize(x, 128)).numpy()
    reversed_order = ops.solarize(ops.autocontrast(x), 128).numpy()
    self.assertFalse(np.array_equal(in_order, reversed_order))
    got = autoaugment.autoaugment(x, (1, 1), policy=forced)
    self.assertAllEqual(got, in_order)


if __name__ == '__main__':
  tf.test.main()
