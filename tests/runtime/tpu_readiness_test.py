"""What a TPU needs from the input and the code, checked on the CPU.

* Every batch has a fully static shape (train batches drop the remainder,
  eval batches are padded and masked) and no string tensors, as XLA and the
  TPU infeed need, for each pipeline of a multi-host job.
* No `py_function` / `numpy_function` anywhere in the package (a TPU cannot
  call back into Python; augmentation runs as TF ops in tf.data).
* Every input goes through `distribute_datasets_from_function` (one input
  pipeline per host), never `experimental_distribute_dataset`.
* Summaries are written only by the host-side writer modules, which hold no
  tf.function. (The compiled loop's graph is checked for summary ops in
  tests/runtime/xla_*_test.py.)

The whole train loop compiling with `jit_compile=True` is proved in
tests/runtime/xla_train_loop_test.py and xla_ieg_loop_test.py.
"""

import os
import re

from absl.testing import parameterized
import numpy as np
import tensorflow as tf

from ieg_tf.data import pipeline
from ieg_tf.data.split import Split

_PACKAGE = os.path.join(
  os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
  'ieg_tf',
)
_PYTHON_CALLBACK = re.compile(r'\b(py_function|numpy_function|py_func)\s*\(')
_SUMMARY_CALL = re.compile(r'\btf\.summary\.\w+\s*\(')
_WHOLE_DATASET_DISTRIBUTION = re.compile(
  r'experimental_distribute_dataset\s*\('
)


def _sources() -> dict:
  """{path relative to ieg_tf/: source text} of every module."""
  out = {}
  for root, _, files in os.walk(_PACKAGE):
    for name in files:
      if name.endswith('.py'):
        path = os.path.join(root, name)
        with open(path, encoding='utf-8') as f:
          out[os.path.relpath(path, _PACKAGE)] = f.read()
  return out


def _split(n: int, seed: int, clean: bool = False) -> Split:
  rng = np.random.default_rng(seed)
  labels = rng.integers(0, 3, n)
  return Split(
    labels=labels,
    ids=np.arange(n),
    images=rng.integers(0, 256, (n, 8, 8, 3), dtype=np.uint8),
    clean_labels=labels if clean else None,
  )


def _leaves(spec, prefix: str = '') -> dict:
  """{'train/image_weak': TensorSpec, ...} of a (nested dict) element_spec."""
  if isinstance(spec, dict):
    out = {}
    for key, value in spec.items():
      out.update(_leaves(value, f'{prefix}{key}/'))
    return out
  return {prefix.rstrip('/'): spec}


def _host_contexts():
  # Two hosts with four replicas each (a small TPU pod slice).
  return [
    tf.distribute.InputContext(
      num_input_pipelines=2, input_pipeline_id=i, num_replicas_in_sync=8
    )
    for i in range(2)
  ]


class StaticInputTest(tf.test.TestCase, parameterized.TestCase):
  def _assert_tpu_friendly(self, spec, batch: int):
    leaves = _leaves(spec)
    self.assertNotEmpty(leaves)
    for name, leaf in leaves.items():
      self.assertTrue(leaf.shape.is_fully_defined(), f'{name}: {leaf.shape}')
      self.assertEqual(leaf.shape[0], batch, name)
      self.assertNotEqual(leaf.dtype, tf.string, name)

  @parameterized.named_parameters(
    ('supervised', False, False, 'randaug'),
    ('ieg_randaug', True, True, 'randaug'),
    ('ieg_autoaug', True, True, 'autoaug'),
    ('l2r', False, True, 'randaug'),
  )
  def test_train_batches_are_static(self, strong, probe, aug_type):
    spec = pipeline.TrainInput(
      global_batch=32,
      strong_view=strong,
      with_probe=probe,
      aug_type=aug_type,
    )
    fn = pipeline.train_dataset_fn(
      _split(40, 0, clean=True), _split(9, 1), spec
    )
    for ctx in _host_contexts():
      ds = fn(ctx)
      self._assert_tpu_friendly(ds.element_spec, batch=4)
      keys = ds.element_spec['train'] if probe else ds.element_spec
      self.assertIn('image_weak', keys)
      self.assertEqual('image_strong' in keys, strong)

  def test_eval_batches_are_static_and_padded(self):
    fn = pipeline.eval_dataset_fn(_split(13, 2), global_batch=16)
    for ctx in _host_contexts():
      ds = fn(ctx)
      self._assert_tpu_friendly(ds.element_spec, batch=2)
      self.assertEqual(set(ds.element_spec), {'image', 'label', 'mask'})


class SourcePolicyTest(tf.test.TestCase):
  def test_no_python_callbacks_in_the_package(self):
    sources = _sources()
    self.assertIn('data/pipeline.py', sources)
    hits = {
      path: m.group(0)
      for path, text in sources.items()
      for m in [_PYTHON_CALLBACK.search(text)]
      if m
    }
    self.assertEmpty(hits)

  def test_every_input_is_one_pipeline_per_host(self):
    sources = _sources()
    self.assertTrue(
      any('distribute_datasets_from_function(' in t for t in sources.values())
    )
    hits = [
      p for p, t in sources.items() if _WHOLE_DATASET_DISTRIBUTION.search(t)
    ]
    self.assertEmpty(hits)

  def test_summaries_only_from_host_writer_modules(self):
    writers = {
      path for path, text in _sources().items() if _SUMMARY_CALL.search(text)
    }
    self.assertIn(os.path.join('runtime', 'summaries.py'), writers)
    for path in writers:
      self.assertRegex(path, r'^runtime/\w*summaries\.py$')
      with open(os.path.join(_PACKAGE, path), encoding='utf-8') as f:
        text = f.read()
      self.assertNotIn('tf.function', text, path)
      self.assertNotIn('strategy.run', text, path)

  def test_the_patterns_do_match(self):
    # The checks above must be able to fail.
    self.assertTrue(_PYTHON_CALLBACK.search('x = tf.py_function(f, [a], b)'))
    self.assertTrue(_PYTHON_CALLBACK.search('tf.numpy_function (f, [a], b)'))
    self.assertFalse(_PYTHON_CALLBACK.search('no py_function, no PIL'))
    self.assertTrue(_SUMMARY_CALL.search("tf.summary.scalar('a', 1.0)"))
    self.assertTrue(
      _WHOLE_DATASET_DISTRIBUTION.search('s.experimental_distribute_dataset(d)')
    )


if __name__ == '__main__':
  tf.test.main()
