"""IEG, L2R and MW-Net steps inside the compiled distributed train loop."""

import dataclasses

from absl.testing import parameterized
import numpy as np
import tensorflow as tf

from ieg_tf import config as config_lib
from ieg_tf.data import pipeline
from ieg_tf.data.split import Split
from ieg_tf.meta import methods
from ieg_tf.meta.step_api import StepContext
from ieg_tf.models.registry import build_network
from ieg_tf.optim.momentum import MomentumOptimizer
from ieg_tf.runtime import devices, train_loop

devices.ensure_logical_cpus(2)


def _split(n, offset, seed):
  rng = np.random.default_rng(seed)
  clean = np.arange(n) % 3
  noisy = np.where(rng.uniform(size=n) < 0.3, (clean + 1) % 3, clean)
  return Split(
    labels=noisy,
    clean_labels=clean,
    ids=np.arange(n) + offset,
    images=rng.integers(0, 256, (n, 8, 8, 1), dtype=np.uint8),
  )


def _run(strategy, method, jit, steps=2, prior=False, **method_kwargs):
  with strategy.scope():
    tf.keras.utils.set_random_seed(3)
    net = build_network('tiny', 3, (8, 8, 1))
    opt = MomentumOptimizer(net.model.trainable_variables, lambda s: 0.05)
  ctx = StepContext(
    forward=net.model.stateless_call,
    global_batch=8,
    num_replicas=strategy.num_replicas_in_sync,
    num_classes=3,
    weight_decay=net.weight_decay,
    decay_mask=net.decay_mask,
    clean_labels_known=True,
  )
  mcfg = config_lib.replace_fields(
    config_lib.default_config(), method=method, **method_kwargs
  )
  extra_opt = None
  with strategy.scope():
    step = methods.build_step(mcfg, ctx)
    if getattr(step, 'extra_variables', None):
      extra_opt = MomentumOptimizer(
        step.extra_variables,
        lambda s: step.extra_learning_rate,
        name='extra',
      )
  spec = pipeline.TrainInput(
    global_batch=8,
    strong_view=step.needs_strong_view,
    with_probe=True,
    flip=False,
    seed=2,
  )
  train = _split(32, 0, 0)
  if prior:
    # The neighbor-vote column (--label_vote_neighbors): [N, C] per row.
    train = dataclasses.replace(
      train, label_prior=np.eye(3)[train.clean_labels] * 0.97 + 0.01
    )
  dist = strategy.distribute_datasets_from_function(
    pipeline.train_dataset_fn(train, _split(9, 100, 1), spec)
  )
  loop = train_loop.make_train_loop(
    strategy,
    net.model,
    opt,
    None,
    step,
    seed=4,
    jit_compile=jit,
    extra_optimizer=extra_opt,
  )
  metrics = loop(iter(dist), tf.constant(steps))
  extra = [v.numpy() for v in getattr(step, 'extra_variables', [])]
  return net.model, {k: float(v) for k, v in metrics.items()}, extra


class MetaStepTest(tf.test.TestCase, parameterized.TestCase):
  @parameterized.parameters(
    (config_lib.Method.IEG, {'ce_factor': 0.0, 'consistency_factor': 0.0}),
    (config_lib.Method.L2R, {}),
    (config_lib.Method.MWNET, {'mwnet_learning_rate': 0.5}),
  )
  def test_xla_compiled_step_matches_graph_step(self, method, kwargs):
    # Without the MixUp term nothing random remains, so XLA must agree.
    strategy = tf.distribute.get_strategy()
    graph_model, graph_metrics, graph_extra = _run(
      strategy, method, False, **kwargs
    )
    xla_model, xla_metrics, xla_extra = _run(strategy, method, True, **kwargs)
    for a, b in zip(
      graph_model.trainable_variables, xla_model.trainable_variables
    ):
      self.assertAllClose(a.numpy(), b.numpy(), atol=2e-4, rtol=1e-3)
    self.assertAllClose(
      graph_metrics['loss/meta'], xla_metrics['loss/meta'], atol=1e-4
    )
    # MW-Net's MLP is updated by the runtime from the step's extra_grads.
    self.assertLen(graph_extra, 4 if method == config_lib.Method.MWNET else 0)
    for a, b in zip(graph_extra, xla_extra):
      self.assertAllClose(a, b, atol=2e-4, rtol=1e-3)

  @parameterized.parameters(False, True)
  def test_full_ieg_step_compiles_with_xla_on_two_replicas(self, prior):
    strategy = devices.cpu_mirrored_strategy(2)
    _, metrics, _ = _run(
      strategy,
      config_lib.Method.IEG,
      True,
      prior=prior,
      label_vote_neighbors=5 if prior else 0,
    )
    if prior:
      # The prior (0.98 on the clean label, half of the pseudo-label's mix)
      # outweighs the untrained network.
      self.assertAllClose(metrics['pseudo/accuracy'], 1.0)
    for name in (
      'loss/total',
      'loss/xemin',
      'loss/consistency',
      'loss/meta',
      'weights/clean_mean',
      'relabel/replaced_fraction',
    ):
      self.assertTrue(np.isfinite(metrics[name]), name)
    # Scaled weights (w* times the slice size) average 1 per replica, or 0
    # when every weight of a replica was clipped.
    self.assertBetween(metrics['weights/mean'], 0.0, 1.0 + 1e-5)
    hist = sum(
      metrics[f'weights/{k}']
      for k in ('zero_fraction', 'frac_low', 'frac_mid', 'frac_high')
    )
    self.assertAllClose(hist, 1.0, atol=1e-6)


if __name__ == '__main__':
  tf.test.main()
