"""Exact parameter counts against closed-form formulas derived by hand.

Each formula is written from the architecture description (the IEG
authors' models), not from the implementation's loops. `c` = input channels,
`n` = classes. A BN layer of k channels has 2k trainable (gamma, beta) and 2k
non-trainable (moving mean, variance) parameters.
"""

import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from ieg_tf.models import registry


def tiny_counts(c, n):
  conv = 9 * c * 32 + 9 * 32 * 64 + 9 * 64 * 128
  bn = 32 + 64 + 128
  return conv + 2 * bn + 128 * n + n, 2 * bn


def resnet29_counts(c, n):
  # Stage with input channels i, bottleneck width w, output o, 3 units:
  # unit 0 convs i*w + 9w^2 + w*o + projection i*o; units 1, 2 convs
  # o*w + 9w^2 + w*o each -> i*w + i*o + 27w^2 + 5w*o. BN channels: unit 0
  # i (absent in the very first unit) + 2w; units 1, 2: o + 2w each.
  def stage(i, w, o):
    return i * w + i * o + 27 * w * w + 5 * w * o

  conv = 9 * c * 16 + stage(16, 16, 64) + stage(64, 64, 128)
  conv += stage(128, 128, 256)
  bn = 16  # Stem.
  bn += (6 * 16 + 2 * 64) + (64 + 6 * 64 + 2 * 128) + (128 + 6 * 128 + 2 * 256)
  bn += 256  # Final.
  return conv + 2 * bn + 256 * n + n, 2 * bn


def wrn28_10_counts(c, n):
  # Stage i -> o with 4 blocks of two 3x3 convs, no projections:
  # 9*i*o + 7 * 9*o*o; BN channels i + 7o (2 per block). Final BN 640.
  stages = ((16, 160), (160, 320), (320, 640))
  conv = 9 * c * 16 + sum(9 * i * o + 63 * o * o for i, o in stages)
  bn = sum(i + 7 * o for i, o in stages) + 640
  return conv + 2 * bn + 640 * n + n, 2 * bn


def preact_resnet18_counts(c, n):
  # Stage i -> o with 2 blocks: 9*i*o + 3 * 9*o*o, a 1x1 projection i*o
  # when the stride or width changes (stages 2-4); BN channels i + 3o.
  stages = ((64, 64, False), (64, 128, True), (128, 256, True))
  stages += ((256, 512, True),)
  conv = 9 * c * 64
  conv += sum(
    9 * i * o + 27 * o * o + (i * o if p else 0) for i, o, p in stages
  )
  bn = sum(i + 3 * o for i, o, _ in stages) + 512
  return conv + 2 * bn + 512 * n + n, 2 * bn


def resnet50_counts(c, n):
  # Stage with input channels i, filters f (out 4f), k blocks: block 0 convs
  # i*f + 9f^2 + 4f^2 + projection 4*i*f, later blocks 4f^2 + 9f^2 + 4f^2;
  # BN channels: block 0 i + 2f, later blocks 4f + 2f.
  stages = ((64, 64, 3), (256, 128, 4), (512, 256, 6), (1024, 512, 3))
  conv = 49 * c * 64
  conv += sum(
    5 * i * f + 13 * f * f + 17 * (k - 1) * f * f for i, f, k in stages
  )
  bn = sum(i + 2 * f + 6 * (k - 1) * f for i, f, k in stages) + 2048
  return conv + 2 * bn + 2048 * n + n, 2 * bn


def _count(variables):
  return sum(int(np.prod(v.shape)) for v in variables)


class ParameterCountTest(tf.test.TestCase, parameterized.TestCase):
  @parameterized.named_parameters(
    ('tiny_rgb', 'tiny', tiny_counts, (32, 32, 3), 10),
    ('tiny_gray', 'tiny', tiny_counts, (28, 28, 1), 10),
    ('resnet29', 'resnet29', resnet29_counts, (8, 8, 3), 100),
    ('wrn28_10', 'wrn28-10', wrn28_10_counts, (8, 8, 3), 100),
    ('preact18', 'preact_resnet18', preact_resnet18_counts, (8, 8, 3), 10),
    ('resnet50', 'resnet50', resnet50_counts, (8, 8, 3), 50),
  )
  def test_count(self, name, formula, shape, classes):
    model = registry.build_network(name, classes, shape).model
    trainable, non_trainable = formula(shape[-1], classes)
    self.assertEqual(_count(model.trainable_variables), trainable)
    self.assertEqual(_count(model.non_trainable_variables), non_trainable)

  def test_published_sizes(self):
    # Orders of magnitude quoted for these networks (10 classes, RGB).
    self.assertLess(sum(tiny_counts(3, 10)), 150_000)
    # The AutoAugment WRN has no 1x1 shortcut projections, so it is 36.2M,
    # not the 36.5M of the original WRN-28-10.
    self.assertAlmostEqual(wrn28_10_counts(3, 10)[0] / 1e6, 36.22, places=2)
    self.assertAlmostEqual(preact_resnet18_counts(3, 10)[0] / 1e6, 11.17, 2)
    without_head = resnet50_counts(3, 0)[0]
    self.assertAlmostEqual(without_head / 1e6, 23.5, places=1)

  def test_resnet29_decays_only_kernels(self):
    net = registry.build_network('resnet29', 10, (8, 8, 3))
    # 1 stem + 3 stages x (3 units x 3 convs + 1 projection) + the dense.
    self.assertEqual(sum(net.decay_mask), 1 + 3 * (3 * 3 + 1) + 1)


if __name__ == '__main__':
  tf.test.main()
