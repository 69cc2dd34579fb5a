"""The real-noise dataset recipes in flags/ parse into valid configs."""

import os

from absl import flags
from absl.testing import flagsaver
from absl.testing import parameterized
import tensorflow as tf

from ieg_tf import config
from ieg_tf import options

_FLAGS_DIR = os.path.join(
  os.path.dirname(os.path.abspath(__file__)), '..', '..', 'flags'
)
_RECIPES = {
  'webvision_mini': ('resnet50', 224, ''),
  'clothing1m': ('resnet50', 224, ''),
  'food101n': ('resnet50', 224, ''),
  'cifar10n': ('resnet29', 0, 'worst'),
  'cifar100n': ('wrn28-10', 0, 'noisy100'),
}


class FlagRecipesTest(tf.test.TestCase, parameterized.TestCase):
  @parameterized.parameters(*_RECIPES)
  def test_recipe_parses(self, name):
    path = os.path.join(_FLAGS_DIR, f'{name}.cfg')
    with open(path) as f:
      lines = [s.strip() for s in f if s.strip() and not s.startswith('#')]
    for line in lines:  # Every line is a flag this program defines.
      self.assertIn(line[2:].split('=')[0], flags.FLAGS, line)
    with flagsaver.flagsaver():
      flags.FLAGS(['ieg_tf', f'--flagfile={path}'])
      cfg = options.config_from_flags()
    network, size, label_set = _RECIPES[name]
    self.assertEqual(cfg.data.dataset, name)
    self.assertEqual(cfg.data.noise_type, config.NoiseType.NONE)
    self.assertEqual(cfg.model.network_name, network)
    self.assertEqual(cfg.data.image_size, size)
    self.assertEqual(cfg.data.cifarn_labels, label_set)
    self.assertGreater(cfg.data.probe_per_class, 0)
    self.assertEqual(cfg.method.method, config.Method.IEG)


if __name__ == '__main__':
  tf.test.main()
