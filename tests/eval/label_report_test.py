"""Label report: distributed predictions, table, CSV, metrics, TensorBoard."""

import csv
import dataclasses
import io
import os

from absl.testing import parameterized
import numpy as np
from tensorboard.backend.event_processing import event_accumulator
import tensorflow as tf

from ieg_tf import config
from ieg_tf.augment import views
from ieg_tf.data.prepare import PreparedData
from ieg_tf.data.split import Split
from ieg_tf.errors import UserError
from ieg_tf.eval import label_report, report_predict, suspicion
from ieg_tf.meta.step_api import StepDefaults
from ieg_tf.models.registry import build_network
from ieg_tf.runtime import devices, summaries, trainer

devices.ensure_logical_cpus(2)

N, C, SHAPE = 21, 3, (8, 8, 1)


class _FakeStep(StepDefaults):
  per_example_names = ('weight', 'relabel')


def _data(paths=None):
  rng = np.random.default_rng(0)
  clean = rng.integers(0, C, N)
  given = np.where(rng.random(N) < 0.4, (clean + 1) % C, clean)
  train = Split(
    labels=given,
    ids=np.arange(100, 100 + N),
    images=rng.integers(0, 256, (N,) + SHAPE, dtype=np.uint8),
    clean_labels=clean,
  )
  test = Split(labels=clean[:5], ids=np.arange(5), images=train.images[:5])
  return PreparedData(
    name='digits',
    num_classes=C,
    class_names=('zero', 'one', 'two'),
    train=train,
    probe=test,
    test=test,
    image_shape=SHAPE,
  )


def _state(strategy, workdir, step_impl=None):
  cfg = config.default_config()
  cfg = dataclasses.replace(
    cfg,
    run=dataclasses.replace(
      cfg.run,
      workdir=workdir,
      batch_size=4,
      eval_batch_size=4,
      train_steps=10,
      report_window_steps=4,
    ),
  )
  with strategy.scope():
    network = build_network('tiny', C, SHAPE, weight_decay=0.0)
  state = trainer.TrainState(cfg, strategy, network, N, step_impl)
  # Make the EMA differ from the raw weights, so using it is observable.
  for shadow in state.ema.shadows:
    shadow.assign(shadow * 1.7 + 0.01)
  return cfg, state


def _direct_probs(state, images):
  model = state.network.model
  logits, _ = model.stateless_call(
    state.ema.values(),
    [tf.convert_to_tensor(v.value) for v in model.non_trainable_variables],
    views.to_float(images),
    training=False,
  )
  return tf.nn.softmax(logits).numpy()


class PredictTest(tf.test.TestCase, parameterized.TestCase):
  def test_plain_view_matches_a_direct_call_with_ema_weights(self):
    data = _data()
    _, state = _state(tf.distribute.get_strategy(), self.get_temp_dir())
    preds = report_predict.predict_split(
      tf.distribute.get_strategy(),
      state.network.model,
      state.ema,
      data.train,
      4,
      flip=False,
      num_weak_views=0,
    )
    probs = _direct_probs(state, data.train.images)
    self.assertAllClose(
      preds.p_given, probs[np.arange(N), data.train.labels], atol=1e-5
    )
    self.assertAllEqual(preds.suggested, probs.argmax(-1))
    self.assertAllClose(preds.p_suggested, probs.max(-1), atol=1e-5)

  def test_mirrored_equals_one_device_with_weak_views(self):
    data = _data()
    results, states = [], []
    for strategy in (
      tf.distribute.OneDeviceStrategy('/cpu:0'),
      devices.cpu_mirrored_strategy(2),
    ):
      _, state = _state(strategy, self.get_temp_dir())
      states.append(state)
      # Same weights in both strategies.
      for i, shadow in enumerate(state.ema.shadows):
        rng = np.random.default_rng(i)
        shadow.assign(rng.normal(0, 0.3, shadow.shape).astype(np.float32))
      results.append(
        report_predict.predict_split(
          strategy,
          state.network.model,
          state.ema,
          data.train,
          4,
          flip=True,
          seed=3,
        )
      )
    one, two = results
    self.assertAllClose(one.p_given, two.p_given, atol=1e-5)
    self.assertAllEqual(one.suggested, two.suggested)
    # The weak views change the average: it is not the plain view alone.
    self.assertNotAllClose(
      one.p_given,
      report_predict.predict_split(
        tf.distribute.get_strategy(),
        states[0].network.model,
        states[0].ema,
        data.train,
        4,
        flip=True,
        num_weak_views=0,
      ).p_given,
    )


def _read_csv(text):
  return list(csv.DictReader(io.StringIO(text)))


class TableTest(tf.test.TestCase):
  def _preds(self, seed=1):
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.ones(C), N)
    data = _data()
    return data, report_predict.Predictions(
      p_given=probs[np.arange(N), data.train.labels].astype(np.float32),
      suggested=probs.argmax(-1).astype(np.int32),
      p_suggested=probs.max(-1).astype(np.float32),
    )

  def test_csv_columns_order_and_rule_with_stats(self):
    data, preds = self._preds()
    rng = np.random.default_rng(2)
    weight = rng.random(N).astype(np.float32) * 2
    weight[3] = np.nan  # Never seen.
    stats = {
      'weight': weight,
      'weight/count': np.full(N, 4.0, np.float32),
      'relabel': rng.random(N).astype(np.float32),
    }
    table = label_report.build_table(data.train, data.class_names, preds, stats)
    rows = _read_csv(label_report.csv_text(table))
    self.assertEqual(
      list(rows[0]),
      [
        'rank',
        'id',
        'given_label',
        'given_class',
        'suggested_label',
        'suggested_class',
        'p_given',
        'p_suggested',
        'weight',
        'weight_steps',
        'relabel_rate',
        'suspicion',
        'suspect',
        'clean_label',
        'is_noisy',
      ],
    )
    self.assertLen(rows, N)
    self.assertEqual([int(r['rank']) for r in rows], list(range(1, N + 1)))
    self.assertEqual(sorted(int(r['id']) for r in rows), list(data.train.ids))
    scores = [float(r['suspicion']) for r in rows]
    self.assertEqual(scores, sorted(scores, reverse=True))
    want = 1.0 - preds.p_given
    for r in rows:
      i = int(r['id']) - 100
      self.assertAllClose(float(r['suspicion']), want[i], atol=1e-5)
      self.assertAllClose(float(r['weight'] or 'nan'), weight[i], atol=1e-5)
      self.assertEqual(r['given_class'], data.class_names[data.train.labels[i]])
      self.assertEqual(
        r['suggested_class'], data.class_names[preds.suggested[i]]
      )
      rule = preds.suggested[i] != data.train.labels[i]
      self.assertEqual(r['suspect'], '1' if rule else '0')
      self.assertEqual(
        r['is_noisy'],
        str(int(data.train.labels[i] != data.train.clean_labels[i])),
      )
    never = [r for r in rows if r['id'] == '103'][0]
    self.assertEqual(never['weight'], '')
    metrics = label_report.quality_metrics(table)
    noisy = data.train.labels != data.train.clean_labels
    known = np.isfinite(weight)
    self.assertAllClose(
      metrics['report/auc_weight'],
      suspicion.roc_auc(-weight[known], noisy[known]),
    )
    self.assertAllClose(
      metrics['report/auc'], suspicion.roc_auc(1 - preds.p_given, noisy)
    )
    self.assertIn('report/auc_relabel', metrics)

  def test_without_stats_or_truth_columns_are_empty_or_absent(self):
    data, preds = self._preds()
    train = data.train.with_labels(data.train.labels, None)
    train = Split(
      labels=train.labels,
      ids=train.ids,
      paths=[f'/img/{i}.png' for i in range(N)],
      image_shape=SHAPE,
    )
    table = label_report.build_table(train, data.class_names, preds, None)
    rows = _read_csv(label_report.csv_text(table))
    self.assertNotIn('clean_label', rows[0])
    self.assertNotIn('is_noisy', rows[0])
    self.assertEqual(list(rows[0])[:3], ['rank', 'id', 'path'])
    for r in rows:
      self.assertEqual(r['path'], f'/img/{int(r["id"]) - 100}.png')
      self.assertEqual(r['weight'], '')
      self.assertEqual(r['relabel_rate'], '')
    metrics = label_report.quality_metrics(table)
    self.assertNotIn('report/auc', metrics)
    self.assertEqual(
      metrics['report/suspects'], int(np.sum(preds.suggested != train.labels))
    )


class RunReportTest(tf.test.TestCase):
  def test_no_checkpoint_is_a_user_error(self):
    strategy = tf.distribute.get_strategy()
    cfg, state = _state(strategy, self.create_tempdir().full_path)
    with self.assertRaisesRegex(UserError, 'no checkpoint'):
      label_report.run_report(cfg, strategy, _data(), state)

  def test_writes_csv_metrics_and_images(self):
    strategy = tf.distribute.get_strategy()
    workdir = self.create_tempdir().full_path
    cfg, state = _state(strategy, workdir, _FakeStep())
    data = _data()
    state.example_stats.update(
      tf.constant(9, tf.int64),
      {
        'index': tf.range(N),
        'weight': tf.linspace(0.0, 2.0, N),
        'relabel': tf.zeros([N]),
      },
    )
    state.checkpointer.save(0)
    result = label_report.run_report(cfg, strategy, data, state)
    path = os.path.join(workdir, 'label_report.csv')
    self.assertEqual(result['report/path'], path)
    with open(path) as f:
      rows = _read_csv(f.read())
    self.assertLen(rows, N)
    self.assertEqual(rows[-1]['weight_steps'], '1')
    line = summaries.read_metrics(workdir)[-1]
    self.assertEqual(line['mode'], 'report')
    noisy = data.train.labels != data.train.clean_labels
    suspect = np.zeros(N, bool)
    for r in rows:
      suspect[int(r['id']) - 100] = r['suspect'] == '1'
    want = suspicion.detection_metrics(suspect, noisy)
    for key in ('precision', 'recall', 'f1'):
      self.assertAllClose(line[f'report/{key}'], want[key])
      self.assertAllClose(result[f'report/{key}'], want[key])
    self.assertBetween(line['report/auc'], 0.0, 1.0)
    self.assertAllClose(line['report/noise_rate'], noisy.mean())
    acc = event_accumulator.EventAccumulator(
      os.path.join(workdir, 'tensorboard'),
      size_guidance={'tensors': 0, 'images': 0},
    )
    acc.Reload()
    tags = acc.Tags()
    images = tags['tensors'] + tags.get('images', [])
    self.assertIn('report/confusion_given_vs_suggested', images)
    self.assertIn('report/confusion_true_vs_suggested', images)
    self.assertIn('weights/clean', tags['tensors'])


if __name__ == '__main__':
  tf.test.main()
