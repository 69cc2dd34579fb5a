"""Compiles the whole production train loop with XLA, as a TPU would.

Not a test file: shared by tests/runtime/xla_*_test.py.

`train_loop.make_train_loop` returns a tf.function whose body pulls a batch
from the distributed iterator, runs the method's step in replica context,
reduces gradients, applies momentum, EMA, BatchNorm statistics and the
per-example report tables. On a TPU everything but the input pipeline is
compiled by XLA. Here the same Python function is re-wrapped with
`jit_compile=True` and fed by `ConstantIterator` (a Python iterator whose
`next` returns one fixed batch, traced in as a constant, standing in for the
TPU infeed; `IteratorGetNext` has no XLA kernel). An op without an XLA
kernel, a dynamic shape or a py_function then fails the compile.
"""

import keras
import numpy as np
import tensorflow as tf

from ieg_tf import config as config_lib
from ieg_tf.data import pipeline
from ieg_tf.data.split import Split
from ieg_tf.meta import methods
from ieg_tf.meta.step_api import StepContext
from ieg_tf.models.registry import build_network
from ieg_tf.optim.ema import WeightEMA
from ieg_tf.optim.momentum import MomentumOptimizer
from ieg_tf.runtime import train_loop
from ieg_tf.runtime.example_stats import ExampleStats

NUM_CLASSES = 3
GLOBAL_BATCH = 8
# Graph ops that call back into Python: impossible on a TPU.
PYTHON_OPS = frozenset({'PyFunc', 'PyFuncStateless', 'EagerPyFunc'})


class ConstantIterator:
  """`next()` always returns the same batch (a stand-in for TPU infeed)."""

  def __init__(self, batch):
    self._batch = batch

  def __iter__(self):
    return self

  def __next__(self):
    return self._batch


def _split(n: int, seed: int) -> Split:
  rng = np.random.default_rng(seed)
  labels = rng.integers(0, NUM_CLASSES, n)
  noisy = np.where(rng.random(n) < 0.4, (labels + 1) % NUM_CLASSES, labels)
  return Split(
    labels=noisy,
    ids=np.arange(n) + 1000 * seed,
    images=rng.integers(0, 256, (n, 8, 8, 1), dtype=np.uint8),
    clean_labels=labels,
  )


def run(
  method: str, *, jit: bool, steps: int, method_options: dict | None = None
) -> dict:
  """Trains `steps` steps of `method` from a fixed initialization.

  Default strategy (one replica), tiny network with BatchNorm, EMA and the
  per-example tables on, as `--method=<method>` runs.

  Args:
    method: a `config.Method` value.
    jit: wrap the whole loop in tf.function(jit_compile=True).
    steps: steps in the one loop call.
    method_options: further `config.MethodConfig` fields.

  Returns:
    {'metrics': {name: float}, 'weights': [np.ndarray] model weights
    afterwards, 'initial': [np.ndarray] before, 'ops': set of op types in
    the traced loop (nested functions included)}.
  """
  keras.utils.set_random_seed(1)
  net = build_network('tiny', NUM_CLASSES, (8, 8, 1), weight_decay=1e-4)
  model = net.model
  initial = [np.array(v) for v in model.weights]
  train = _split(32, seed=0)
  opt = MomentumOptimizer(
    model.trainable_variables, lambda s: tf.constant(0.1), 0.9
  )
  ema = WeightEMA(model.trainable_variables, 0.99)
  ctx = StepContext(
    forward=model.stateless_call,
    global_batch=GLOBAL_BATCH,
    num_replicas=1,
    num_classes=NUM_CLASSES,
    weight_decay=net.weight_decay,
    decay_mask=net.decay_mask,
    clean_labels_known=True,
  )
  step = methods.build_step(
    config_lib.replace_fields(
      config_lib.default_config(),
      method=config_lib.Method(method),
      unsup_rampup_steps=0,
      **(method_options or {}),
    ),
    ctx,
  )
  names = tuple(getattr(step, 'per_example_names', ()))
  stats = (
    ExampleStats(len(train), names, window_start_step=0) if names else None
  )
  spec = pipeline.TrainInput(
    global_batch=GLOBAL_BATCH,
    strong_view=step.needs_strong_view,
    with_probe=step.needs_probe,
    aug_type='weak',
    flip=False,
    seed=3,
  )
  dataset = pipeline.train_dataset_fn(train, _split(12, seed=1), spec)(
    tf.distribute.InputContext()
  )
  batch = next(iter(dataset))
  loop = train_loop.make_train_loop(
    tf.distribute.get_strategy(),
    model,
    opt,
    ema,
    step,
    seed=1,
    jit_compile=False,
    example_stats=stats,
    stop_flag=tf.Variable(False, trainable=False),
  )
  fn = tf.function(loop.python_function, jit_compile=jit)
  iterator = ConstantIterator(batch)
  count = tf.constant(steps)
  graph = fn.get_concrete_function(iterator, count).graph.as_graph_def()
  ops = {n.op for n in graph.node}
  for f in graph.library.function:
    ops.update(n.op for n in f.node_def)
  metrics = fn(iterator, count)
  return {
    'metrics': {k: float(v) for k, v in metrics.items()},
    'weights': [np.array(v) for v in model.weights],
    'initial': initial,
    'ops': ops,
  }
