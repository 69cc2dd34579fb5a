"""Meta groups: slicing, seeds and merging like the runtime merges replicas."""

import numpy as np
import tensorflow as tf

from ieg_tf.meta import meta_groups
from ieg_tf.meta.step_api import StepContext, StepOutput


def _ctx(batch, replicas, groups):
  return StepContext(
    forward=None,
    global_batch=batch,
    num_replicas=replicas,
    num_classes=2,
    weight_decay=0.0,
    decay_mask=(),
    meta_groups=groups,
  )


class MetaGroupsTest(tf.test.TestCase):
  def test_slice_seeds_are_the_seeds_of_equivalent_replicas(self):
    # Runtime: replica r of R at step t gets (s0, t * R + r). Slice g of
    # replica r with G groups must get the seed of replica r * G + g of R * G.
    for replicas, groups in ((1, 2), (2, 2), (1, 4), (3, 1)):
      for t in (0, 5):
        for r in range(replicas):
          seed = tf.constant([11, t * replicas + r], tf.int64)
          for g in range(groups):
            got = meta_groups.slice_seed(seed, groups, g).numpy()
            want = [11, t * replicas * groups + r * groups + g]
            self.assertAllEqual(got, want)
    seed = tf.constant([1, 2], tf.int64)
    self.assertIs(meta_groups.slice_seed(seed, 1, 0), seed)

  def test_split_batch(self):
    batch = {
      'train': {'x': tf.reshape(tf.range(12), [6, 2]), 'y': tf.range(6)},
      'probe': {'y': tf.range(10, 16)},
    }
    parts = meta_groups.split_batch(batch, 3)
    self.assertLen(parts, 3)
    self.assertAllEqual(parts[1]['train']['x'], [[4, 5], [6, 7]])
    self.assertAllEqual(parts[2]['train']['y'], [4, 5])
    self.assertAllEqual(parts[0]['probe']['y'], [10, 11])
    self.assertIs(meta_groups.split_batch(batch, 1)[0], batch)

  def test_combine_sums_grads_and_averages_the_rest(self):
    outs = [
      StepOutput(
        [tf.constant([1.0, 2.0]), tf.constant(3.0)],
        [tf.constant([0.0, 4.0]), tf.constant(7, tf.int64)],
        {'m': tf.constant(1.0)},
        {'index': tf.constant([0, 1]), 'weight': tf.constant([1.0, 1.0])},
        [tf.constant(0.5)],
      ),
      StepOutput(
        [tf.constant([3.0, 4.0]), tf.constant(-1.0)],
        [tf.constant([2.0, 0.0]), tf.constant(7, tf.int64)],
        {'m': tf.constant(3.0)},
        {'index': tf.constant([2, 3]), 'weight': tf.constant([0.0, 2.0])},
        [tf.constant(1.5)],
      ),
    ]
    got = meta_groups.combine(outs)
    self.assertAllClose(got.grads[0], [4.0, 6.0])
    self.assertAllClose(got.grads[1], 2.0)
    self.assertAllClose(got.new_non_trainable[0], [1.0, 2.0])
    self.assertEqual(int(got.new_non_trainable[1]), 7)
    self.assertAllClose(got.metrics['m'], 2.0)
    self.assertAllEqual(got.per_example['index'], [0, 1, 2, 3])
    self.assertAllClose(got.per_example['weight'], [1.0, 1.0, 0.0, 2.0])
    self.assertAllClose(got.extra_grads[0], 2.0)
    self.assertIs(meta_groups.combine(outs[:1]), outs[0])

  def test_run_in_groups_passes_slices_and_seeds(self):
    seen = []

    def one(part, seed):
      seen.append((part['v'].numpy().tolist(), seed.numpy().tolist()))
      return StepOutput([tf.reduce_sum(part['v'])], [], {}, {}, [])

    out = meta_groups.run_in_groups(
      one, 2, {'v': tf.constant([1.0, 2.0, 3.0, 4.0])}, tf.constant([5, 3])
    )
    self.assertEqual(seen, [([1.0, 2.0], [5, 6]), ([3.0, 4.0], [5, 7])])
    self.assertAllClose(out.grads[0], 10.0)

  def test_check_groups(self):
    meta_groups.check_groups(_ctx(8, 2, 2))
    self.assertEqual(meta_groups.num_slices(_ctx(8, 2, 2)), 4)
    with self.assertRaises(ValueError):
      meta_groups.check_groups(_ctx(8, 2, 3))
    with self.assertRaises(ValueError):
      meta_groups.check_groups(_ctx(8, 1, 0))
    self.assertTrue(np.isscalar(meta_groups.num_slices(_ctx(8, 1, 1))))


if __name__ == '__main__':
  tf.test.main()
