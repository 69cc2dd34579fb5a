"""Replica invariance through the real runtime: 1 x 8 equals 2 x 4.

One device with global batch 8 and `meta_groups=2` must give the same update
as two mirrored logical CPUs with 4 examples each (meta_groups=1), for every
method: the meta steps re-weight per slice (`ieg_tf/meta/meta_groups.py`),
so the slice size, not the replica count, defines them. Plain batch 8 on one
device (meta_groups=1) re-weights over 8 examples and legitimately differs;
a test checks that too, so the equality is not vacuous.

The main network has no BatchNorm: a supervised step runs its forward pass
on the whole replica batch, so its batch statistics legitimately differ
between 1 x 8 and 2 x 4. The meta steps run every pass per slice and average
the new moving statistics over slices as the runtime averages them over
replicas, so they are invariant even with BatchNorm; one case checks that
with the project's BatchNorm layer (replica-local moving statistics).
"""

import functools

from absl.testing import parameterized
import keras
import numpy as np
import tensorflow as tf

from ieg_tf import config as config_lib
from ieg_tf.data import pipeline
from ieg_tf.data.split import Split
from ieg_tf.meta import methods
from ieg_tf.meta.step_api import StepContext
from ieg_tf.models import batch_norm
from ieg_tf.optim.momentum import MomentumOptimizer
from ieg_tf.runtime import devices, train_loop

devices.ensure_logical_cpus(2)

_M = config_lib.Method
_BATCH = 8
_STEPS = 2


def _split(n, offset, seed):
  rng = np.random.default_rng(seed)
  clean = np.arange(n) % 3
  noisy = np.where(rng.uniform(size=n) < 0.4, (clean + 1) % 3, clean)
  return Split(
    labels=noisy,
    clean_labels=clean,
    ids=np.arange(n) + offset,
    images=rng.integers(0, 256, (n, 8, 8, 1), dtype=np.uint8),
  )


def _mlp():
  keras.utils.set_random_seed(1)
  return keras.Sequential(
    [
      keras.Input((8, 8, 1)),
      keras.layers.Flatten(),
      keras.layers.Dense(12, activation='tanh'),
      keras.layers.Dense(3, name='classifier'),
    ]
  )


def _mlp_bn():
  keras.utils.set_random_seed(1)
  return keras.Sequential(
    [
      keras.Input((8, 8, 1)),
      keras.layers.Flatten(),
      keras.layers.Dense(12, use_bias=False),
      batch_norm.BatchNorm(0.9),
      keras.layers.Activation('tanh'),
      keras.layers.Dense(3, name='classifier'),
    ]
  )


_MODELS = {'mlp': _mlp, 'mlp_bn': _mlp_bn}


def _strategy(replicas):
  if replicas == 1:
    return tf.distribute.OneDeviceStrategy('/cpu:0')
  return devices.cpu_mirrored_strategy(replicas)


@functools.cache
def _run(replicas, method, meta_groups, model_name='mlp'):
  """_STEPS steps on `replicas` CPUs.

  Returns:
    (model, extra variables, metrics, initial values of the extra variables).
  """
  strategy = _strategy(replicas)
  assert strategy.num_replicas_in_sync == replicas
  with strategy.scope():
    model = _MODELS[model_name]()
    opt = MomentumOptimizer(model.trainable_variables, lambda s: 0.1, 0.9)
  # The look-ahead reads the momentum buffers, so they must exist (and be
  # distributed like the weights) before the first distributed step.
  assert len(opt.slots) == len(model.trainable_variables)
  for slot, var in zip(opt.slots, model.trainable_variables):
    assert slot.shape == var.shape
    assert len(strategy.experimental_local_results(slot)) == replicas
  ctx = StepContext(
    forward=model.stateless_call,
    global_batch=_BATCH,
    num_replicas=replicas,
    num_classes=3,
    weight_decay=1e-3,
    # Kernels decayed, biases and BatchNorm parameters not.
    decay_mask=tuple(len(v.shape) > 1 for v in model.trainable_variables),
    clean_labels_known=True,
    meta_groups=meta_groups,
  )
  mcfg = config_lib.replace_fields(
    config_lib.default_config(),
    method=method,
    unsup_rampup_steps=0,
    mwnet_hidden_units=8,
    # A large MLP step so its update shows in the second step's weights.
    mwnet_learning_rate=1.0,
  )
  extra_opt = None
  with strategy.scope():
    step = methods.build_step(mcfg, ctx)
    extra = list(getattr(step, 'extra_variables', ()))
    extra_init = _values(extra)
    if extra:
      extra_opt = MomentumOptimizer(
        extra, lambda s: step.extra_learning_rate, 0.9, name='extra'
      )
  spec = pipeline.TrainInput(
    global_batch=_BATCH,
    strong_view=step.needs_strong_view,
    with_probe=step.needs_probe,
    flip=False,
    seed=2,
  )
  dist = strategy.distribute_datasets_from_function(
    pipeline.train_dataset_fn(_split(40, 0, 0), _split(12, 100, 1), spec)
  )
  loop = train_loop.make_train_loop(
    strategy,
    model,
    opt,
    None,
    step,
    seed=4,
    jit_compile=False,
    extra_optimizer=extra_opt,
  )
  metrics = loop(iter(dist), tf.constant(_STEPS))
  assert int(opt.iterations.numpy()) == _STEPS
  metrics = {k: float(v) for k, v in metrics.items()}
  return model, extra, metrics, extra_init


def _values(variables):
  # The first replica's copy (all copies of a mirrored variable are equal).
  return [np.asarray(tf.convert_to_tensor(v)) for v in variables]


class ReplicaInvarianceTest(tf.test.TestCase, parameterized.TestCase):
  @parameterized.parameters(
    (_M.SUPERVISED, 'mlp'),
    (_M.L2R, 'mlp'),
    (_M.IEG, 'mlp'),
    (_M.MWNET, 'mlp'),
    (_M.MWNET, 'mlp_bn'),
  )
  def test_one_device_8_equals_mirrored_2x4(self, method, model_name):
    one = _run(1, method, 2, model_name)
    two = _run(2, method, 1, model_name)
    init = _values(_MODELS[model_name]().trainable_variables)
    got_one = _values(one[0].trainable_variables)
    got_two = _values(two[0].trainable_variables)
    for a, b, w0 in zip(got_one, got_two, init):
      self.assertAllClose(a, b, atol=2e-5, rtol=1e-4)
    # It trained: every kernel moved.
    for a, w0 in zip(got_one, init):
      if a.ndim > 1:
        self.assertGreater(np.max(np.abs(a - w0)), 1e-4)
    # Averaged BatchNorm moving statistics agree too (and did move).
    if model_name == 'mlp_bn':
      stats = _values(one[0].non_trainable_variables)
      self.assertLen(stats, 2)
      self.assertGreater(np.max(np.abs(stats[0])), 1e-3)  # moving mean
    for a, b in zip(
      _values(one[0].non_trainable_variables),
      _values(two[0].non_trainable_variables),
    ):
      self.assertAllClose(a, b, atol=1e-5)
    # The Meta-Weight-Net MLP gets the same (summed) meta-gradient update.
    self.assertLen(one[1], 4 if method == _M.MWNET else 0)
    moved = 0.0
    for a, b, a0 in zip(_values(one[1]), _values(two[1]), one[3]):
      self.assertAllClose(a, b, atol=2e-5, rtol=1e-4)
      moved = max(moved, np.max(np.abs(a - a0)))
    if method == _M.MWNET:
      self.assertGreater(moved, 1e-4)
    self.assertAllClose(one[2], two[2], atol=1e-4)

  def test_meta_groups_matter(self):
    # Batch 8 re-weighted as ONE slice is a different update from 2 x 4, so
    # the equality above is not vacuous.
    whole = _run(1, _M.L2R, 1)
    halves = _run(1, _M.L2R, 2)
    diff = max(
      np.max(np.abs(a - b))
      for a, b in zip(
        _values(whole[0].trainable_variables),
        _values(halves[0].trainable_variables),
      )
    )
    self.assertGreater(diff, 1e-3)


if __name__ == '__main__':
  tf.test.main()
