"""The contrastive stage: schedule, head kept out of the classifier, encoder
hand-over to training, resume, skip when complete, --init_checkpoint."""

import dataclasses
import os

import keras
import numpy as np
import tensorflow as tf

from ieg_tf import config
from ieg_tf.errors import UserError
from ieg_tf.models.registry import build_network
from ieg_tf.pretrain import contrastive_model, encoder_init, stage
from ieg_tf.runtime import devices, summaries, trainer
from tests.pretrain import fixtures

devices.ensure_logical_cpus(2)


def _network(channels=1, num_classes=3, strategy=None):
  strategy = strategy or tf.distribute.get_strategy()
  with strategy.scope():
    return build_network('tiny', num_classes, (8, 8, channels))


def _values(variables):
  return [np.array(v.numpy()) for v in variables]


class ScheduleTest(tf.test.TestCase):
  def test_warmup_then_one_cosine_to_zero(self):
    cfg = fixtures.cfg('/unused', 10, learning_rate=2.0, warmup_steps=2)
    lr = stage.learning_rate_fn(cfg.pretrain)
    got = [float(lr(tf.constant(s, tf.int64))) for s in range(10)]
    want = [2.0 * (s + 1) / 2 for s in range(2)] + [
      2.0 * 0.5 * (1 + np.cos(np.pi * (s - 2) / 8)) for s in range(2, 10)
    ]
    self.assertAllClose(got, want, atol=1e-5)


class StageStepsTest(tf.test.TestCase):
  def test_epochs_of_the_train_split_rounded_up_and_exact_steps_win(self):
    for epochs, images, batch, want in (
      (1.0, 64, 8, 8),
      (1.0, 65, 8, 9),
      (2.5, 100, 32, 8),  # 250 / 32 = 7.8
      (0.0, 100, 32, 0),
      (3.0, 0, 32, 0),
    ):
      p = config.PretrainConfig(pretrain_epochs=epochs, batch_size=batch)
      self.assertEqual(stage.stage_steps(p, images), want, (epochs, images))
      self.assertEqual(
        want, int(np.ceil(epochs * images / batch)) if images else 0
      )
    exact = config.PretrainConfig(
      pretrain_epochs=50.0, pretrain_steps=3, batch_size=8
    )
    self.assertEqual(stage.stage_steps(exact, 1000), 3)

  def test_the_default_run_has_no_stage(self):
    # Off until the pipeline measures at least as well as the random init
    # on the demo (docs/pipeline.md).
    p = config.default_config().pretrain
    self.assertEqual(stage.stage_steps(p, 1000), 0)


class HeadIsNotInClassifierTest(tf.test.TestCase):
  def test_head_variables_live_outside_the_classifier(self):
    network = _network()
    cm = contrastive_model.build_contrastive_model(network, (8, 8, 1), 2, 8)
    model_ids = {id(v) for v in network.model.weights}
    head_ids = {id(v) for v in cm.head.weights}
    self.assertNotEmpty(head_ids)
    self.assertEmpty(model_ids & head_ids)
    # The encoder is shared, not copied.
    enc_ids = [id(v) for v in network.encoder.weights]
    self.assertContainsSubset(enc_ids, model_ids)
    self.assertEqual([id(v) for v in cm.model.weights[: len(enc_ids)]], enc_ids)
    self.assertEqual(network.model.output_shape, (None, 3))
    # LARS adapts exactly the conv and dense kernels (3 convs, 2 dense).
    kernels = [
      v for v, m in zip(cm.model.trainable_variables, cm.adapt_mask) if m
    ]
    self.assertLen(kernels, 5)
    self.assertTrue(all(len(v.shape) >= 2 for v in kernels))


class MaybeInitializeTest(tf.test.TestCase):
  def _state(self, cfg, network):
    return trainer.TrainState(
      cfg, tf.distribute.get_strategy(), network, len(fixtures.data().train)
    )

  def test_training_starts_from_the_pretrained_encoder(self):
    workdir = self.create_tempdir().full_path
    cfg = fixtures.cfg(workdir, 4, linear_probe_examples=32)
    data = fixtures.data()
    network = _network()
    state = self._state(cfg, network)
    encoder_before = _values(network.encoder.weights)
    classifier_before = _values(network.model.layers[-1].weights)
    summary = stage.maybe_initialize(
      cfg, tf.distribute.get_strategy(), data, state
    )
    self.assertEqual(summary['init'], 'pretrain')
    self.assertEqual((summary['step'], summary['steps_run']), (4, 4))
    self.assertGreater(summary['seconds'], 0.0)
    self.assertIn('pretrain/linear_probe_top1', summary)

    ckpt = os.path.join(workdir, 'pretrain', 'checkpoints', 'ckpt-4')
    self.assertTrue(tf.io.gfile.exists(ckpt + '.index'))
    # The weights the classifier model now holds are the saved pre-trained
    # ones: load that checkpoint into a fresh network and compare.
    reference = _network()
    encoder_init.load_encoder(ckpt, reference)
    pretrained = _values(reference.encoder.weights)
    self.assertAllClose(_values(network.encoder.weights), pretrained)
    self.assertFalse(
      all(np.allclose(a, b) for a, b in zip(encoder_before, pretrained))
    )
    # Training updates these variables: the model's own, starting with the
    # encoder's (shared), then the untouched fresh classifier.
    n_enc = len(network.encoder.trainable_variables)
    self.assertEqual(
      [id(v) for v in network.model.trainable_variables[:n_enc]],
      [id(v) for v in network.encoder.trainable_variables],
    )
    for a, b in zip(
      _values(network.model.layers[-1].weights), classifier_before
    ):
      self.assertAllEqual(a, b)
    # EMA restarts from the initialized weights, not the random ones.
    for shadow, var in zip(
      state.ema.shadows, network.model.trainable_variables
    ):
      self.assertAllClose(shadow.numpy(), var.numpy())
    rows = summaries.read_metrics(workdir)
    self.assertEqual([r['step'] for r in rows if 'pretrain/loss' in r], [2, 4])
    diag = [r for r in rows if 'pretrain/linear_probe_top1' in r]
    self.assertLen(diag, 1)
    self.assertEqual(diag[0]['pretrain/linear_probe_labels'], 'clean')
    self.assertBetween(diag[0]['pretrain/gmm_auc'], 0.0, 1.0)

    # A second start (no training checkpoint yet) skips the complete stage
    # and still hands over the same encoder.
    again = _network()
    summary = stage.maybe_initialize(
      cfg, tf.distribute.get_strategy(), data, self._state(cfg, again)
    )
    self.assertEqual((summary['step'], summary['steps_run']), (4, 0))
    self.assertAllClose(_values(again.encoder.weights), pretrained)
    self.assertLen(summaries.read_metrics(workdir), len(rows))

    # Once training has a checkpoint, initialization is left alone.
    state.checkpointer.save(1)
    fresh = _network()
    fresh_before = _values(fresh.encoder.weights)
    summary = stage.maybe_initialize(
      cfg, tf.distribute.get_strategy(), data, self._state(cfg, fresh)
    )
    self.assertEqual(summary['init'], 'resume')
    self.assertAllClose(_values(fresh.encoder.weights), fresh_before)

  def test_stage_sized_in_epochs_and_no_stage_at_zero(self):
    workdir = self.create_tempdir().full_path
    # 64 train images, batch 8: 1.5 epochs = 12 steps.
    cfg = fixtures.cfg(workdir, 0, pretrain_epochs=1.5)
    cfg = dataclasses.replace(
      cfg, run=dataclasses.replace(cfg.run, log_every_steps=6)
    )
    data = fixtures.data()
    summary = stage.maybe_initialize(
      cfg, tf.distribute.get_strategy(), data, self._state(cfg, _network())
    )
    self.assertEqual((summary['init'], summary['step']), ('pretrain', 12))
    rows = summaries.read_metrics(workdir)
    self.assertEqual([r['step'] for r in rows if 'pretrain/loss' in r], [6, 12])

    off = fixtures.cfg(self.create_tempdir().full_path, 0)
    network = _network()
    before = _values(network.encoder.weights)
    summary = stage.maybe_initialize(
      off, tf.distribute.get_strategy(), data, self._state(off, network)
    )
    self.assertEqual(summary, {'init': 'random'})
    self.assertAllClose(_values(network.encoder.weights), before)
    self.assertFalse(
      tf.io.gfile.exists(os.path.join(off.run.workdir, 'pretrain'))
    )

  def test_init_checkpoint_from_pretrain_and_train_checkpoints(self):
    source_dir = self.create_tempdir().full_path
    cfg = fixtures.cfg(source_dir, 2)
    source = _network()
    # A stage checkpoint as the stage writes it (no need to train for it).
    stage.PretrainState(
      cfg, tf.distribute.get_strategy(), source
    ).checkpointer.save(2)
    want = _values(source.encoder.weights)
    state = self._state(cfg, source)
    state.checkpointer.save(7)  # A training checkpoint of the same network.

    # From the pretrain dir, and from the training workdir into a network
    # with ANOTHER number of classes (only the encoder is read).
    for path, classes in (
      (os.path.join(source_dir, 'pretrain'), 3),
      (source_dir, 5),
    ):
      workdir = self.create_tempdir().full_path
      init_cfg = dataclasses.replace(
        fixtures.cfg(workdir, 0),
        run=dataclasses.replace(
          fixtures.cfg(workdir, 0).run, init_checkpoint=path
        ),
      )
      # The default's epochs do not run a stage: the checkpoint is the
      # encoder.
      init_cfg = dataclasses.replace(
        init_cfg,
        pretrain=dataclasses.replace(init_cfg.pretrain, pretrain_epochs=100.0),
      )
      target = _network(num_classes=classes)
      summary = stage.maybe_initialize(
        init_cfg,
        tf.distribute.get_strategy(),
        fixtures.data(),
        self._state(init_cfg, target),
      )
      self.assertEqual(summary['init'], 'checkpoint')
      self.assertAllClose(_values(target.encoder.weights), want)
      self.assertFalse(tf.io.gfile.exists(os.path.join(workdir, 'pretrain')))

    # Exact stage steps AND a checkpoint: two encoders asked for.
    both = dataclasses.replace(
      init_cfg,
      pretrain=dataclasses.replace(init_cfg.pretrain, pretrain_steps=2),
    )
    with self.assertRaisesRegex(UserError, 'both give the encoder'):
      stage.maybe_initialize(
        both,
        tf.distribute.get_strategy(),
        fixtures.data(),
        self._state(both, _network(num_classes=5)),
      )

    with self.assertRaisesRegex(UserError, 'does not exist'):
      encoder_init.load_encoder(os.path.join(source_dir, 'nope'), _network())
    with self.assertRaisesRegex(UserError, 'does not match'):
      encoder_init.load_encoder(source_dir, _network(channels=3))


class ResumeTest(tf.test.TestCase):
  def test_resume_inside_the_stage_across_strategies(self):
    workdir = self.create_tempdir().full_path
    data = fixtures.data()
    mirrored = devices.cpu_mirrored_strategy(2)
    keras.utils.set_random_seed(0)
    first = stage.run_pretrain(
      fixtures.cfg(workdir, 2), mirrored, data, _network(strategy=mirrored)
    )
    self.assertEqual(first['step'], 2)
    saved = _network()
    encoder_init.load_encoder(os.path.join(workdir, 'pretrain'), saved)

    # A new process (fresh objects, here another strategy) continues at 2.
    resumed_net = _network()
    ps = stage.PretrainState(
      fixtures.cfg(workdir, 4), tf.distribute.get_strategy(), resumed_net
    )
    ps.checkpointer.restore_latest()
    self.assertEqual(ps.step, 2)
    self.assertAllClose(
      _values(resumed_net.encoder.weights), _values(saved.encoder.weights)
    )
    second = stage.run_pretrain(
      fixtures.cfg(workdir, 4), tf.distribute.get_strategy(), data, _network()
    )
    self.assertEqual(second['step'], 4)
    self.assertTrue(np.isfinite(second['pretrain/loss']))
    steps = [
      r['step'] for r in summaries.read_metrics(workdir) if 'pretrain/loss' in r
    ]
    self.assertEqual(steps, [2, 4])


class NonfiniteTest(tf.test.TestCase):
  def test_a_diverging_stage_stops_and_keeps_the_last_good_checkpoint(self):
    workdir = self.create_tempdir().full_path
    data = fixtures.data()
    keras.utils.set_random_seed(0)
    stage.run_pretrain(
      fixtures.cfg(workdir, 2), tf.distribute.get_strategy(), data, _network()
    )
    good = _network()
    encoder_init.load_encoder(os.path.join(workdir, 'pretrain'), good)
    # LARS steps are lr * eeta * ||w||: at lr 1e38 the weights overflow.
    cfg = fixtures.cfg(workdir, 6, learning_rate=1e38, warmup_steps=0)
    with self.assertRaisesRegex(
      UserError,
      r'^non-finite contrastive loss in steps 3\.\.4 of 6 of the '
      r'contrastive stage; nothing from them is saved and the last good '
      r'checkpoint .*ckpt-2 is kept\. Lower --pretrain_learning_rate',
    ):
      stage.run_pretrain(cfg, tf.distribute.get_strategy(), data, _network())
    ckpts = os.path.join(workdir, 'pretrain', 'checkpoints')
    self.assertEqual(
      sorted(f for f in os.listdir(ckpts) if f.endswith('.index')),
      ['ckpt-2.index'],
    )
    kept = _network()
    encoder_init.load_encoder(os.path.join(workdir, 'pretrain'), kept)
    self.assertAllClose(
      _values(kept.encoder.weights), _values(good.encoder.weights)
    )

  def test_the_checkpointer_refuses_non_finite_weights(self):
    workdir = self.create_tempdir().full_path
    network = _network()
    ps = stage.PretrainState(
      fixtures.cfg(workdir, 2), tf.distribute.get_strategy(), network
    )
    ps.optimizer.slots[0].assign(tf.fill(ps.optimizer.slots[0].shape, np.nan))
    with self.assertRaisesRegex(
      UserError, r'refusing to checkpoint .*Lower --pretrain_learning_rate'
    ):
      ps.checkpointer.save(1)
    self.assertIsNone(ps.checkpointer.latest)


if __name__ == '__main__':
  tf.test.main()
