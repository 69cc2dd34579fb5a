"""Conversion to sharded TFRecords and reading back: bytes, labels, resume."""

import dataclasses
import io
import os
import shutil

import numpy as np
import tensorflow as tf

from ieg_tf import config
from ieg_tf.data import convert
from ieg_tf.data import prepare
from ieg_tf.data import record_format
from ieg_tf.data import record_reader
from ieg_tf.data.sources import registry
from ieg_tf.errors import UserError
from tests.data import fake_layouts


def _copy_tree(local: str, remote: str) -> None:
  """Copies a local folder into a tf.io.gfile filesystem (ram://)."""
  for folder, _, files in os.walk(local):
    target = os.path.join(remote, os.path.relpath(folder, local))
    tf.io.gfile.makedirs(target)
    for name in files:
      tf.io.gfile.copy(
        os.path.join(folder, name), os.path.join(target, name), overwrite=True
      )


def _records(path: str) -> list[dict]:
  ds = tf.data.TFRecordDataset(path).map(record_format.parse_example)
  return list(ds.as_numpy_iterator())


class RecordsTest(tf.test.TestCase):
  def setUp(self):
    super().setUp()
    self.root = self.create_tempdir().full_path
    self.raw = os.path.join(self.root, 'clothing')
    self.layout = fake_layouts.clothing1m(self.raw)

  def _convert(self, out, data_dir=None, *extra):
    return convert.main(
      'clothing1m',
      [
        f'--data_dir={data_dir or self.raw}',
        f'--output_dir={out}',
        '--examples_per_shard=16',
        '--threads=2',
        *extra,
      ],
    )

  def _cfg(self, data_dir, **kwargs):
    return config.DataConfig(
      dataset='clothing1m', data_dir=data_dir, noise_type='none', **kwargs
    )

  def test_round_trip_on_a_gfile_filesystem(self):
    # Input and output both on ram://: every access must go through
    # tf.io.gfile / tf.data (as gs:// needs), never os or open().
    raw = 'ram://records_test/clothing'
    out = 'ram://records_test/converted'
    _copy_tree(self.raw, raw)
    self.assertEqual(self._convert(out, raw), 0)
    info = record_format.read_info(out)
    self.assertEqual(info['name'], 'clothing1m')
    self.assertEqual(sorted(info['splits']), ['probe_pool', 'test', 'train'])
    original = registry.load_split_set(self._cfg(raw))
    for name, split in original.named_splits().items():
      entry = info['splits'][name]
      self.assertEqual(entry['count'], len(split))
      rows = [r for s in entry['shards'] for r in _records(f'{out}/{s}')]
      by_id = {int(r['id']): r for r in rows}
      self.assertCountEqual(by_id, split.ids)
      for i, example_id in enumerate(split.ids):
        record = by_id[int(example_id)]
        with tf.io.gfile.GFile(split.paths[i], 'rb') as f:
          self.assertEqual(record['encoded'], f.read())  # Bytes as stored.
        self.assertEqual(record['label'], split.labels[i])
        self.assertEqual(record['key'].decode(), split.paths[i][len(raw) + 1 :])
        clean = -1 if split.clean_labels is None else split.clean_labels[i]
        self.assertEqual(record['clean_label'], clean)
    # The converted folder gives the same prepared data as the original.
    a = prepare.prepare_data(self._cfg(raw, probe_per_class=1))
    b = prepare.prepare_data(self._cfg(out, probe_per_class=1))
    self.assertAllEqual(a.probe.ids, b.probe.ids)
    self.assertAllEqual(a.probe.labels, b.probe.labels)
    self.assertAllEqual(np.sort(a.train.ids), np.sort(b.train.ids))
    order = np.argsort(b.train.ids)
    self.assertAllEqual(
      a.train.labels[np.argsort(a.train.ids)], b.train.labels[order]
    )
    images = {
      int(e['id']): e['image'] for e in b.test.to_dataset().as_numpy_iterator()
    }
    for example_id, label in zip(b.test.ids, b.test.labels):
      self.assertAllEqual(
        images[int(example_id)][0, 0], [fake_layouts.pixel(label)] * 3
      )
    tf.io.gfile.rmtree('ram://records_test')

  def test_resume_keeps_finished_shards(self):
    out = os.path.join(self.root, 'out')
    self.assertEqual(self._convert(out), 0)
    shard = os.path.join(out, record_format.shard_name('train', 1, 3))
    index = shard[: -len('.tfrecord')] + '.index.npz'
    others = [
      os.path.join(out, n)
      for n in os.listdir(out)
      if n.endswith('.tfrecord') and n != os.path.basename(shard)
    ]
    stamps = {p: os.stat(p).st_mtime_ns for p in others}
    with open(shard, 'rb') as f:
      before = f.read()
    os.remove(shard)
    os.remove(index)
    self.assertEqual(self._convert(out), 0)
    with open(shard, 'rb') as f:
      self.assertEqual(f.read(), before)  # Same content, rewritten.
    self.assertEqual({p: os.stat(p).st_mtime_ns for p in others}, stamps)
    self.assertEmpty([n for n in os.listdir(out) if '.tmp-' in n])

  def test_other_inputs_need_overwrite(self):
    out = os.path.join(self.root, 'out')
    self.assertEqual(self._convert(out), 0)
    kv = os.path.join(self.raw, 'annotations', 'noisy_label_kv.txt')
    with open(kv) as f:
      lines = f.read().splitlines()
    key = lines[0].split()[0]
    lines[0] = f'{key} 13'
    with open(kv, 'w') as f:
      f.write('\n'.join(lines) + '\n')
    with self.assertRaisesRegex(UserError, 'other inputs.*--overwrite'):
      convert.convert(
        'clothing1m',
        convert._parser('clothing1m').parse_args(
          [
            f'--data_dir={self.raw}',
            f'--output_dir={out}',
            '--examples_per_shard=16',
          ]
        ),
      )
    self.assertEqual(self._convert(out, None, '--overwrite'), 0)
    index = record_format.read_index(os.path.join(out, 'train.index.npz'))
    self.assertIn(13, index.labels)

  def test_bad_images_are_left_out_and_counted_at_load(self):
    noisy = self.layout['noisy']
    broken, missing = noisy[1][0], noisy[2][0]
    with open(os.path.join(self.raw, broken), 'r+b') as f:
      f.truncate(40)
    os.remove(os.path.join(self.raw, missing))
    out = os.path.join(self.root, 'out')
    self.assertEqual(self._convert(out), 0)
    info = record_format.read_info(out)
    self.assertEqual([b[0] for b in info['splits']['train']['bad']], [broken])
    self.assertEqual(
      info['missing_files'][0][0], os.path.join(self.raw, missing)
    )
    with self.assertRaisesRegex(UserError, r'2 bad examples .*=1'):
      registry.load_split_set(self._cfg(out, max_bad_examples=1))
    s = registry.load_split_set(self._cfg(out, max_bad_examples=2))
    self.assertEqual(s.bad_examples.total(), 2)
    self.assertLen(s.train.ids, len(self.layout['noisy']) - 2)

  def test_damaged_shard_is_counted(self):
    out = os.path.join(self.root, 'out')
    self.assertEqual(self._convert(out), 0)
    shard = os.path.join(out, record_format.shard_name('train', 0, 3))
    with open(shard, 'r+b') as f:
      f.truncate(100)
    with self.assertRaisesRegex(UserError, 'bad examples.*record file size'):
      registry.load_split_set(self._cfg(out))
    s = registry.load_split_set(self._cfg(out, max_bad_examples=100))
    self.assertEqual(s.bad_examples.total(), 16)
    self.assertLen(s.train.ids, len(self.layout['noisy']) - 16)

  def test_train_streams_small_eval_splits_are_read_once(self):
    out = os.path.join(self.root, 'out')
    self.assertEqual(self._convert(out), 0)
    small = registry.load_split_set(self._cfg(out))
    self.assertFalse(small.train.random_access)  # Train: always records.
    self.assertIsNotNone(small.test.encoded)  # Small: read into memory.
    old = record_reader.MATERIALIZE_BELOW_BYTES
    record_reader.MATERIALIZE_BELOW_BYTES = 0
    try:
      big = registry.load_split_set(self._cfg(out))
    finally:
      record_reader.MATERIALIZE_BELOW_BYTES = old
    self.assertFalse(big.test.random_access)
    rows = {int(r['id']): r for r in big.test.to_dataset().as_numpy_iterator()}
    self.assertCountEqual(rows, small.test.ids)
    train = {int(r['id']) for r in small.train.to_dataset().as_numpy_iterator()}
    self.assertCountEqual(train, small.train.ids)

  def test_cifar_images_round_trip_as_png(self):
    raw = os.path.join(self.root, 'cifar')
    labels, images = fake_layouts.cifar10_binary(raw, per_batch=4, test=4)
    table = fake_layouts.cifar10n_table(labels)
    with open(os.path.join(raw, 'CIFAR-10_human.npy'), 'wb') as f:
      f.write(fake_layouts.npy_object(table))
    out = os.path.join(self.root, 'cifar_out')
    self.assertEqual(
      convert.main(
        'cifar10n',
        [f'--data_dir={raw}', f'--output_dir={out}', '--cifarn_labels=aggre'],
      ),
      0,
    )
    cfg = config.DataConfig(dataset='cifar10n', data_dir=out)
    s = registry.load_split_set(cfg)
    self.assertEqual(s.notes, {'label_set': 'aggre'})
    got = {int(e['id']): e for e in s.train.to_dataset().as_numpy_iterator()}
    for i in range(len(labels)):
      self.assertAllEqual(got[i]['image'], images[i])
      self.assertEqual(got[i]['label'], table['aggre_label'][i])
      self.assertEqual(got[i]['clean_label'], labels[i])
    with self.assertRaisesRegex(
      UserError, 'converted with --cifarn_labels=aggre'
    ):
      registry.load_split_set(dataclasses.replace(cfg, cifarn_labels='worst'))

  def test_cli_errors(self):
    out = os.path.join(self.root, 'out')
    self.assertEqual(self._convert(out), 0)
    stderr = io.StringIO()
    with self.assertRaises(SystemExit):
      convert._parser('clothing1m').parse_args([])  # Required flags.
    del stderr
    self.assertEqual(self._convert(os.path.join(self.root, 'x'), out), 2)
    shutil.rmtree(os.path.join(self.raw, 'annotations'))
    self.assertEqual(self._convert(os.path.join(self.root, 'y')), 2)


if __name__ == '__main__':
  tf.test.main()
