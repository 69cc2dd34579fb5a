"""Every method's step is a `TrainStep`: the runtime reads no attribute blind."""

import tensorflow as tf

from ieg_tf import config as config_lib
from ieg_tf.meta import methods
from ieg_tf.meta.step_api import StepContext, StepDefaults, TrainStep


def _ctx():
  return StepContext(
    forward=lambda *a, **k: None,
    global_batch=8,
    num_replicas=1,
    num_classes=3,
    weight_decay=0.0,
    decay_mask=(),
    clean_labels_known=True,
  )


class StepProtocolTest(tf.test.TestCase):
  def test_every_method_builds_a_train_step(self):
    for method in config_lib.Method:
      cfg = config_lib.replace_fields(
        config_lib.default_config(), method=method
      )
      step = methods.build_step(cfg, _ctx())
      with self.subTest(method.value):
        self.assertIsInstance(step, TrainStep)
        self.assertIsInstance(step.needs_probe, bool)
        self.assertIsInstance(step.needs_strong_view, bool)
        self.assertGreaterEqual(step.num_strong_views, 1)
        self.assertNotEmpty(step.metric_names)
        # Every pooled ratio divides two of the step's own metrics.
        for num, den in step.pooled_ratios.values():
          self.assertContainsSubset([num, den], step.metric_names)
        self.assertEqual(bool(step.extra_variables), method.value == 'mwnet')
        if step.extra_variables:
          self.assertGreater(step.extra_learning_rate, 0.0)
        meta = method in config_lib.META_METHODS
        self.assertEqual(step.needs_probe, meta)
        self.assertEqual(bool(step.per_example_names), meta)

  def test_prepare_keeps_the_split_unless_the_method_needs_host_work(self):
    split = object()
    for method in config_lib.Method:
      cfg = config_lib.replace_fields(
        config_lib.default_config(), method=method
      )
      step = methods.build_step(cfg, _ctx())
      # IEG without neighbor votes, like every other method, has none.
      self.assertIs(step.prepare(None, None, None, None, split), split)

  def test_defaults_are_not_a_step(self):
    # The defaults alone have no `compute`: a class must provide one.
    self.assertNotIsInstance(StepDefaults(), TrainStep)
    self.assertEqual(StepDefaults.num_strong_views, 1)
    self.assertEqual(dict(StepDefaults.pooled_ratios), {})


if __name__ == '__main__':
  tf.test.main()
