"""SavedModel export: EMA weights, eval preprocessing, signatures, errors."""

import dataclasses
import os
import subprocess
import sys
import textwrap

from absl.testing import parameterized
import numpy as np
import tensorflow as tf

from ieg_tf import config
from ieg_tf.augment import views
from ieg_tf.data.prepare import PreparedData
from ieg_tf.data.split import Split
from ieg_tf.errors import UserError
from ieg_tf.eval.evaluator import Evaluator
from ieg_tf.models.registry import build_network
from ieg_tf.runtime import devices, export, trainer

devices.ensure_logical_cpus(2)

C, SHAPE = 4, (8, 8, 3)


def _data():
  rng = np.random.default_rng(0)
  split = Split(
    labels=rng.integers(0, C, 12),
    ids=np.arange(12),
    images=rng.integers(0, 256, (12,) + SHAPE, dtype=np.uint8),
  )
  return PreparedData(
    name='toy',
    num_classes=C,
    class_names=('cat', 'dog', 'ship', 'frog'),
    train=split,
    probe=split,
    test=split,
    image_shape=SHAPE,
  )


def _state(strategy, workdir, ema_decay=0.99):
  cfg = config.default_config()
  cfg = dataclasses.replace(
    cfg,
    # The stored statistics (precise BN: tests/eval/precise_bn_test.py).
    run=dataclasses.replace(
      cfg.run, workdir=workdir, batch_size=4, precise_bn_batches=0
    ),
    optim=dataclasses.replace(cfg.optim, ema_decay=ema_decay),
  )
  with strategy.scope():
    network = build_network('tiny', C, SHAPE, weight_decay=0.0)
  state = trainer.TrainState(cfg, strategy, network, 12)
  rng = np.random.default_rng(1)
  for var in network.model.trainable_variables:
    var.assign(rng.normal(0, 0.2, var.shape).astype(np.float32))
  if state.ema is not None:
    for shadow in state.ema.shadows:
      shadow.assign(rng.normal(0, 0.2, shadow.shape).astype(np.float32))
  # Non-default BN statistics, so their export is tested too.
  for var in network.model.non_trainable_variables:
    var.assign(rng.uniform(0.5, 1.5, var.shape).astype(np.float32))
  return cfg, state


def _expected(state, images):
  model = state.network.model
  params = (
    state.ema.values()
    if state.ema is not None
    else [tf.convert_to_tensor(v.value) for v in model.trainable_variables]
  )
  logits, _ = model.stateless_call(
    params,
    [tf.convert_to_tensor(v.value) for v in model.non_trainable_variables],
    views.to_float(images),
    training=False,
  )
  return tf.nn.softmax(logits).numpy()


class ExportTest(tf.test.TestCase, parameterized.TestCase):
  @parameterized.named_parameters(
    ('default_ema', 'default', 0.99),
    ('default_raw', 'default', 0.0),
    ('mirrored_ema', 'mirrored', 0.99),
  )
  def test_saved_model_serves_the_reported_weights(self, kind, ema_decay):
    strategy = (
      devices.cpu_mirrored_strategy(2)
      if kind == 'mirrored'
      else tf.distribute.get_strategy()
    )
    workdir = self.create_tempdir().full_path
    cfg, state = _state(strategy, workdir, ema_decay)
    data = _data()
    want = _expected(state, data.test.images)
    state.checkpointer.save(5)
    # Export restores the checkpoint, so scribbling on the weights after the
    # save must not reach the SavedModel.
    for var in state.network.model.trainable_variables:
      var.assign(tf.zeros_like(var))
    result = export.run_export(cfg, strategy, data, state)
    path = os.path.join(workdir, 'saved_model')
    self.assertEqual(result, {'export/path': path, 'step': 0})
    loaded = tf.saved_model.load(path)
    serve = loaded.signatures['serving_default']
    out = serve(images=tf.constant(data.test.images))
    self.assertAllClose(out['probabilities'], want, atol=1e-5)
    self.assertAllEqual(out['class_id'], want.argmax(-1))
    names = loaded.signatures['class_names']()['class_names'].numpy()
    self.assertEqual([n.decode() for n in names], list(data.class_names))
    with open(os.path.join(path, 'assets', 'class_names.txt')) as f:
      self.assertEqual(f.read().split(), list(data.class_names))
    # Any batch size; only uint8 images of the training shape.
    self.assertEqual(
      serve(images=tf.zeros((1,) + SHAPE, tf.uint8))['probabilities'].shape,
      (1, C),
    )
    with self.assertRaises(
      (TypeError, ValueError, tf.errors.InvalidArgumentError)
    ):
      serve(images=tf.zeros((1,) + SHAPE, tf.float32))

  def test_fresh_process_reproduces_eval_accuracy(self):
    strategy = tf.distribute.get_strategy()
    workdir = self.create_tempdir().full_path
    cfg, state = _state(strategy, workdir)
    data = _data()
    state.checkpointer.save(1)
    top1 = Evaluator(strategy, state.network.model, state.ema, data.test, 4)
    top1 = top1.evaluate()['eval/top1']
    export.run_export(cfg, strategy, data, state)
    inputs = os.path.join(workdir, 'test.npz')
    np.savez(inputs, images=data.test.images, labels=data.test.labels)
    # Only TensorFlow in the serving process: no ieg_tf, no Keras model.
    script = textwrap.dedent(
      """
      import sys
      import numpy as np
      import tensorflow as tf
      model = tf.saved_model.load(sys.argv[1])
      test = np.load(sys.argv[2])
      out = model.signatures['serving_default'](
          images=tf.constant(test['images']))
      np.save(sys.argv[3], out['probabilities'].numpy())
      pred = out['class_id'].numpy()
      print('accuracy', float(np.mean(pred == test['labels'])))
      """
    )
    probs_path = os.path.join(workdir, 'probs.npy')
    proc = subprocess.run(
      [
        sys.executable,
        '-c',
        script,
        os.path.join(workdir, 'saved_model'),
        inputs,
        probs_path,
      ],
      capture_output=True,
      text=True,
      timeout=300,
      env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2', PYTHONPATH=''),
      cwd=workdir,
    )
    self.assertEqual(proc.returncode, 0, proc.stderr[-2000:])
    accuracy = float(proc.stdout.split('accuracy')[-1])
    self.assertAllClose(accuracy, top1, atol=1e-6)
    self.assertAllClose(
      np.load(probs_path), _expected(state, data.test.images), atol=1e-5
    )

  def test_raw_and_ema_exports_differ(self):
    # Guards the EMA test above against a model that ignores its weights.
    _, state = _state(tf.distribute.get_strategy(), self.get_temp_dir())
    raw = _state(tf.distribute.get_strategy(), self.get_temp_dir(), 0.0)[1]
    images = _data().test.images
    self.assertNotAllClose(_expected(state, images), _expected(raw, images))

  def test_no_checkpoint_is_a_user_error(self):
    strategy = tf.distribute.get_strategy()
    cfg, state = _state(strategy, self.create_tempdir().full_path)
    with self.assertRaisesRegex(UserError, 'no checkpoint'):
      export.run_export(cfg, strategy, _data(), state)


if __name__ == '__main__':
  tf.test.main()
