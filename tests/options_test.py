"""Flags -> Config: shorthand parsing, validation, flags.cfg replay, recipes."""

import glob
import os

from absl import flags
from absl.testing import flagsaver
from absl.testing import parameterized
import tensorflow as tf

from ieg_tf import config as config_lib
from ieg_tf import options
from ieg_tf import recipes as recipes_lib
from ieg_tf import validation
from ieg_tf.errors import UserError
from tests import flag_parsing

FLAGS = flags.FLAGS
_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


_parse = flag_parsing.parse


class OptionsTest(flag_parsing.FlagsTestCase, parameterized.TestCase):
  @parameterized.parameters(
    ('cifar100_uniform_0.8', 'cifar100', 'uniform', 0.8),
    ('cifar10_asymmetric_0.4', 'cifar10', 'asymmetric', 0.4),
    ('fashion_mnist_flip_0.25', 'fashion_mnist', 'flip', 0.25),
    ('cifar10', 'cifar10', None, None),
    ('webvision_mini', 'webvision_mini', None, None),
  )
  def test_parse_dataset_shorthand(self, value, name, noise, ratio):
    got = options.parse_dataset(value)
    self.assertEqual(got[0], name)
    self.assertEqual(got[1] and got[1].value, noise)
    self.assertEqual(got[2], ratio)

  def test_shorthand_ratio_out_of_range(self):
    with self.assertRaisesRegex(UserError, 'outside'):
      options.parse_dataset('cifar10_uniform_1.5')

  def test_defaults_are_the_demo(self):
    cfg = _parse()
    self.assertEqual(cfg.data.dataset, 'digits')
    self.assertEqual(cfg.data.noise_type, config_lib.NoiseType.UNIFORM)
    self.assertEqual(cfg.data.noise_ratio, 0.8)
    self.assertEqual(cfg.run.eval_batch_size, cfg.run.batch_size)

  @parameterized.parameters(*config_lib.REAL_NOISE_DATASETS)
  def test_real_noise_datasets_get_no_synthetic_noise(self, name):
    self.assertEqual(
      _parse(f'--dataset={name}').data.noise_type, config_lib.NoiseType.NONE
    )
    cfg = _parse(f'--dataset={name}', '--noise_type=flip')
    self.assertEqual(cfg.data.noise_type, config_lib.NoiseType.FLIP)

  def test_explicit_noise_flags_override_shorthand(self):
    cfg = _parse(
      '--dataset=cifar10_uniform_0.8', '--noise_ratio=0.2', '--noise_type=flip'
    )
    self.assertEqual(cfg.data.dataset, 'cifar10')
    self.assertEqual(cfg.data.noise_type, config_lib.NoiseType.FLIP)
    self.assertEqual(cfg.data.noise_ratio, 0.2)

  def test_aliases(self):
    cfg = _parse('--max_iteration=77', '--probe_dataset_hold_ratio=0.02')
    self.assertEqual(cfg.run.train_steps, 77)
    self.assertEqual(cfg.data.probe_hold_ratio, 0.02)
    self.assertEqual(cfg.data.probe_per_class, 0)

  def test_probe_only_needs_a_probe(self):
    cfg = _parse('--method=probe_only', '--probe_per_class=0')
    with self.assertRaisesRegex(UserError, 'probe'):
      validation.validate(cfg, 1)

  def test_bad_enum_and_range_are_flag_errors(self):
    with self.assertRaises(flags.IllegalFlagValueError):
      _parse('--noise_ratio=1.5')
    with self.assertRaises(flags.IllegalFlagValueError):
      _parse('--strategy=gpu_cluster')

  def test_flags_file_replays_to_the_same_config(self):
    cfg = _parse(
      '--dataset=cifar10_flip_0.3',
      '--batch_size=64',
      '--train_steps=10',
      '--jit_compile',
    )
    path = os.path.join(self.create_tempdir().full_path, 'flags.cfg')
    with open(path, 'w') as f:
      f.write(options.flags_file_text())
    self.assertEqual(_parse(f'--flagfile={path}'), cfg)

  def test_every_recipe_in_flags_parses(self):
    recipes = sorted(glob.glob(os.path.join(_REPO, 'flags', '*.cfg')))
    self.assertNotEmpty(recipes)
    for path in recipes:
      with self.subTest(os.path.basename(path)), flagsaver.flagsaver():
        cfg = _parse(f'--flagfile={path}')
        self.assertGreater(cfg.run.train_steps, 0)
        # Each builds on a named recipe (ieg_tf/recipes.py).
        self.assertIn(FLAGS.recipe, recipes_lib.RECIPES)
        self.assertTrue(FLAGS['recipe'].present, path)


if __name__ == '__main__':
  tf.test.main()
