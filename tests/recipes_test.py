"""--recipe: named settings under the explicit flags."""

import os
import subprocess
import sys

from absl import flags
from absl.testing import parameterized
import tensorflow as tf

from ieg_tf import config as config_lib
from ieg_tf import options
from ieg_tf import recipes
from tests import flag_parsing

FLAGS = flags.FLAGS


_parse = flag_parsing.parse


class RecipesTest(flag_parsing.FlagsTestCase, parameterized.TestCase):
  @parameterized.parameters(*recipes.RECIPES)
  def test_every_recipe_sets_what_it_lists(self, name):
    _parse(f'--recipe={name}')
    for flag, value in recipes.RECIPES[name].flags.items():
      self.assertEqual(
        FLAGS[flag].value, FLAGS[flag].parser.parse(value), f'{name}: {flag}'
      )

  def test_ieg_is_the_defaults_and_pipeline_adds_the_stage(self):
    self.assertEqual(recipes.DEFAULT, 'ieg')
    self.assertEqual(_parse('--recipe=ieg'), _parse())
    pipeline = _parse('--recipe=pipeline')
    self.assertEqual(pipeline.pretrain.pretrain_epochs, recipes.PIPELINE_EPOCHS)
    self.assertGreater(recipes.PIPELINE_EPOCHS, 0)
    self.assertEqual(pipeline.method, _parse().method)
    self.assertEqual(pipeline.data, _parse().data)

  def test_reference_is_the_paper(self):
    cfg = _parse('--recipe=reference')
    self.assertEqual(cfg.method.method, config_lib.Method.IEG)
    self.assertEqual(cfg.ieg.unsup_rampup_steps, 0)
    self.assertEqual(cfg.ieg.relabel_rule, 'reference')
    self.assertEqual(cfg.data.aug_type, config_lib.AugType.AUTOAUG)
    self.assertEqual(cfg.pretrain.pretrain_epochs, 0.0)
    self.assertEqual(cfg.pretrain.pretrain_steps, 0)
    self.assertEqual(cfg.run.precise_bn_batches, 0)
    self.assertEqual(cfg.optim.learning_rate, 0.1)
    # Only the method's settings: the data and the run are the user's.
    self.assertEqual(cfg.data, _parse('--aug_type=autoaug').data)
    self.assertNotEqual(cfg.ieg, _parse().ieg)

  def test_explicit_flags_win(self):
    cfg = _parse(
      '--recipe=reference', '--unsup_rampup_steps=100', '--aug_type=weak'
    )
    self.assertEqual(cfg.ieg.unsup_rampup_steps, 100)
    self.assertEqual(cfg.data.aug_type, config_lib.AugType.WEAK)
    self.assertEqual(cfg.ieg.relabel_rule, 'reference')

  def test_flagfile_values_win_too(self):
    path = os.path.join(self.create_tempdir().full_path, 'x.cfg')
    with open(path, 'w') as f:
      f.write('--method=gce\n')
    cfg = _parse('--recipe=supervised', f'--flagfile={path}')
    self.assertEqual(cfg.method.method, config_lib.Method.GCE)

  def test_baselines(self):
    for name, method in (
      ('supervised', config_lib.Method.SUPERVISED),
      ('l2r', config_lib.Method.L2R),
      ('mwnet', config_lib.Method.MWNET),
    ):
      cfg = _parse(f'--recipe={name}')
      self.assertEqual(cfg.method.method, method, name)
      self.assertEqual(cfg.pretrain.pretrain_epochs, 0.0, name)
    # From the encoder: the pipeline's contrastive stage, the CE loss.
    c2d = _parse('--recipe=supervised_c2d')
    self.assertEqual(c2d.method.method, config_lib.Method.SUPERVISED)
    self.assertEqual(c2d.pretrain, _parse('--recipe=pipeline').pretrain)

  def test_flags_file_replays_a_recipe(self):
    cfg = _parse('--recipe=reference', '--train_steps=7')
    path = os.path.join(self.create_tempdir().full_path, 'flags.cfg')
    with open(path, 'w') as f:
      f.write(options.flags_file_text())
    self.assertIn('--recipe=reference', open(path).read())
    self.assertEqual(_parse(f'--flagfile={path}'), cfg)

  def test_help_lists_every_recipe(self):
    for name, recipe in recipes.RECIPES.items():
      self.assertIn(f'{name}: {recipe.summary}', FLAGS['recipe'].help)

  def test_main_help_lists_the_flags_and_recipes(self):
    proc = subprocess.run(
      [sys.executable, '-m', 'ieg_tf.main', '--help'],
      capture_output=True,
      text=True,
      timeout=120,
      cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    )
    # absl's --help exits 1 after printing the usage.
    self.assertEqual(proc.returncode, 1, proc.stderr[-2000:])
    self.assertNotIn('Traceback', proc.stderr)
    for flag in ('--recipe', '--dataset', '--method', '--pretrain_epochs'):
      self.assertIn(flag, proc.stdout)
    text = ' '.join(proc.stdout.split())  # absl wraps the help lines
    for name in recipes.RECIPES:
      self.assertIn(f'{name}:', text)

  def test_unknown_recipe_is_a_flag_error(self):
    with self.assertRaises(flags.IllegalFlagValueError):
      _parse('--recipe=dividemix')


if __name__ == '__main__':
  tf.test.main()
