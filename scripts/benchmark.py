"""Speed of one compiled train step per method, as ONE JSON line.

Builds the real runtime (network, method step, momentum optimizer, EMA, the
tf.range inner loop of ieg_tf/runtime/train_loop.py) on synthetic images,
feeds it from a cached dataset (so augmentation cost is not in the number;
scripts/benchmark_input.py measures the input side), warms up (tracing and
compilation), then times `--chunks` calls of `--steps_per_loop` steps each.

Printed fields: method, network_name, batch_size, strategy, jit_compile,
images_per_sec, step_ms_median (median over chunks of chunk time / steps),
peak_rss_mb, step_gflop (conv + matmul FLOPs of the traced per-replica step,
forward, backward and second-order passes included, times replicas),
achieved_gflops, and for the supervised step also matmul_gflops (this CPU's
float32 matmul rate measured here) so the two can be compared.

`--compare` runs every method in this process and adds, per method,
measured_ratio = step time / supervised step time and predicted_ratio =
step FLOPs / supervised step FLOPs (the arithmetic of the method: forward
passes over B-sized batches, their backward passes, the look-ahead gradient
and its second-order pass all show up as conv / matmul ops in the traced
graph). A measured ratio above the predicted one means work the FLOPs do not
explain: recomputation, host syncs, retracing or input stalls.

Usage:
  python scripts/benchmark.py --method=ieg --network_name=tiny --batch_size=64
  python scripts/benchmark.py --compare --network_name=resnet29 --batch_size=32
"""

import argparse
import json
import os
import resource
import statistics
import sys
import time

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from ieg_tf import config as config_lib  # noqa: E402
from ieg_tf.data import pipeline  # noqa: E402
from ieg_tf.data.split import Split  # noqa: E402
from ieg_tf.meta import methods  # noqa: E402
from ieg_tf.meta.step_api import StepContext  # noqa: E402
from ieg_tf.models.registry import build_network  # noqa: E402
from ieg_tf.runtime import strategy as strategy_lib  # noqa: E402
from ieg_tf.runtime import train_loop  # noqa: E402
from ieg_tf.runtime.trainer import TrainState  # noqa: E402

STEP_METHODS = ('supervised', 'gce', 'l2r', 'ieg', 'mwnet', 'contrastive')
_CACHED_BATCHES = 4


def _synthetic_split(n: int, size: int, classes: int, seed: int) -> Split:
  rng = np.random.default_rng(seed)
  images = rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8)
  clean = rng.integers(0, classes, n)
  noisy = np.where(rng.random(n) < 0.5, rng.integers(0, classes, n), clean)
  return Split(
    labels=noisy, ids=np.arange(n), images=images, clean_labels=clean
  )


def peak_rss_mb() -> float:
  """Peak resident set size of this process in MiB (Linux ru_maxrss is KiB)."""
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


_FLOP_OPS = {
  'Conv2D',
  'Conv2DBackpropInput',
  'Conv2DBackpropFilter',
  'DepthwiseConv2dNative',
  'DepthwiseConv2dNativeBackpropInput',
  'DepthwiseConv2dNativeBackpropFilter',
  'MatMul',
  'BatchMatMulV2',
}


def _shape(tensor) -> list | None:
  dims = tensor.shape
  if dims.rank is None or any(d is None for d in dims.as_list()):
    return None
  return dims.as_list()


def _op_flops(op) -> float:
  """Multiply-adds x 2 of one conv / matmul op with static shapes, else 0."""
  if op.type in ('MatMul', 'BatchMatMulV2'):
    a, b = _shape(op.inputs[0]), _shape(op.inputs[1])
    out = _shape(op.outputs[0])
    if a is None or b is None or out is None:
      return 0.0
    # Contracted dim: the one of `a` not in the output's last-two dims.
    ta = op.get_attr('transpose_a') if op.type == 'MatMul' else False
    if op.type == 'BatchMatMulV2':
      ta = op.get_attr('adj_x')
    k = a[-2] if ta else a[-1]
    return 2.0 * float(np.prod(out)) * k
  if op.type in ('Conv2D', 'DepthwiseConv2dNative'):
    out, w = _shape(op.outputs[0]), _shape(op.inputs[1])
    if out is None or w is None:
      return 0.0
    per_out = w[0] * w[1] * (w[2] if op.type == 'Conv2D' else 1)
    return 2.0 * float(np.prod(out)) * per_out
  # Backprops: the same multiply-adds as the forward conv they differentiate.
  if op.type in ('Conv2DBackpropInput', 'DepthwiseConv2dNativeBackpropInput'):
    grad_out, w = _shape(op.inputs[2]), _shape(op.inputs[1])
  else:
    grad_out, w = _shape(op.inputs[2]), _shape(op.outputs[0])
  if grad_out is None or w is None:
    return 0.0
  per_out = w[0] * w[1] * (w[2] if 'Depthwise' not in op.type else 1)
  return 2.0 * float(np.prod(grad_out)) * per_out


def graph_flops(graph) -> float:
  """Conv/matmul FLOPs of a graph, descending into its function bodies."""
  total = 0.0
  for op in graph.get_operations():
    if op.type in _FLOP_OPS:
      total += _op_flops(op)
  for fn in getattr(graph, '_functions', {}).values():
    body = getattr(fn, 'graph', None)
    if body is not None:
      total += graph_flops(body)
  return total


def step_flops(step_impl, model, optimizer, batch, extra) -> float:
  """FLOPs of one per-replica `compute` traced on `batch` (replica shapes)."""
  params = [tf.convert_to_tensor(v) for v in model.trainable_variables]
  stats = [tf.convert_to_tensor(v) for v in model.non_trainable_variables]
  kwargs = {'extra': extra} if extra else {}

  @tf.function
  def traced(b):
    return step_impl.compute(
      params,
      stats,
      optimizer.slot_values(),
      b,
      tf.constant([1, 2], tf.int64),
      tf.constant(10, tf.int64),
      **kwargs,
    )

  return graph_flops(traced.get_concrete_function(batch).graph)


def matmul_gflops(n: int = 2048, repeats: int = 10) -> float:
  """This CPU's float32 matmul rate (GFLOP/s, median of `repeats`)."""
  a = tf.random.normal([n, n])
  b = tf.random.normal([n, n])
  mm = tf.function(lambda x, y: tf.matmul(x, y))
  mm(a, b).numpy()
  times = []
  for _ in range(repeats):
    t = time.perf_counter()
    mm(a, b).numpy()
    times.append(time.perf_counter() - t)
  return 2.0 * n**3 / statistics.median(times) / 1e9


def _time_loop(args, loop, iterator) -> tuple[float, list]:
  """Median and all per-step seconds over `args.chunks` timed chunks."""
  steps = tf.constant(args.steps_per_loop, tf.int32)
  for _ in range(args.warmup_chunks):
    _block(loop(iterator, steps))
  times = []
  for _ in range(args.chunks):
    t = time.perf_counter()
    _block(loop(iterator, steps))
    times.append((time.perf_counter() - t) / args.steps_per_loop)
  return statistics.median(times), times


def _row(args, method, replicas, step_s, times, flops) -> dict:
  return {
    'method': method,
    'network_name': args.network_name,
    'batch_size': args.batch_size,
    'image_size': args.image_size,
    'strategy': args.strategy,
    'replicas': replicas,
    'jit_compile': args.jit_compile,
    'images_per_sec': round(args.batch_size / step_s, 1),
    'step_ms_median': round(step_s * 1e3, 2),
    'step_ms_min': round(min(times) * 1e3, 2),
    'peak_rss_mb': round(peak_rss_mb(), 1),
    'step_gflop': round(flops / 1e9, 4),
    'achieved_gflops': round(flops / step_s / 1e9, 2),
  }


def _strategy(args, workdir: str = '/tmp/ieg_tf_bench'):
  run = config_lib.RunConfig(
    strategy=config_lib.StrategyName(args.strategy),
    batch_size=args.batch_size,
    jit_compile=args.jit_compile,
    workdir=workdir,
  )
  return run, strategy_lib.make_strategy(run)


def benchmark_contrastive(args) -> dict:
  """Times the SimCLR step (NT-Xent over the global batch, LARS)."""
  import tempfile

  from ieg_tf.pretrain import input as pretrain_input
  from ieg_tf.pretrain.loop import make_pretrain_loop
  from ieg_tf.pretrain.stage import PretrainState
  from ieg_tf.pretrain.step import ContrastiveStep

  run, strategy = _strategy(args, tempfile.mkdtemp(prefix='ieg_tf_bench_'))
  replicas = strategy.num_replicas_in_sync
  shape = (args.image_size, args.image_size, 3)
  cfg = config_lib.Config(
    run=run,
    model=config_lib.ModelConfig(network_name=args.network_name),
    pretrain=config_lib.PretrainConfig(
      pretrain_steps=1, batch_size=args.batch_size
    ),
  )
  train = _synthetic_split(
    8 * args.batch_size, args.image_size, args.num_classes, 0
  )
  with strategy.scope():
    network = build_network(args.network_name, args.num_classes, shape)
  ps = PretrainState(cfg, strategy, network)
  step_impl = ContrastiveStep(
    ps.contrastive.model.stateless_call,
    temperature=0.5,
    global_batch=args.batch_size,
    jit_compile=args.jit_compile,
  )
  base_fn = pretrain_input.pairs_dataset_fn(train, args.batch_size, 0)

  def cached_fn(input_ctx):
    return base_fn(input_ctx).take(_CACHED_BATCHES).cache().repeat()

  iterator = iter(strategy.distribute_datasets_from_function(cached_fn))
  model = ps.contrastive.model
  loop = make_pretrain_loop(strategy, model, ps.optimizer, step_impl)
  step_s, times = _time_loop(args, loop, iterator)
  params = [tf.convert_to_tensor(v) for v in model.trainable_variables]
  stats = [tf.convert_to_tensor(v) for v in model.non_trainable_variables]
  batch = _replica_slice(
    next(iter(cached_fn(tf.distribute.InputContext()))), replicas
  )

  @tf.function
  def traced(b):
    # One replica's step outside strategy.run: NT-Xent's cross-replica
    # gather is then the identity and the FLOPs are one replica's.
    return step_impl.compute(params, stats, b)

  flops = replicas * graph_flops(traced.get_concrete_function(batch).graph)
  return _row(args, 'contrastive', replicas, step_s, times, flops)


def benchmark(args, method: str) -> dict:
  """Times one method's compiled train step; returns the JSON row."""
  if method == 'contrastive':
    return benchmark_contrastive(args)
  run, strategy = _strategy(args)
  replicas = strategy.num_replicas_in_sync
  classes = args.num_classes
  shape = (args.image_size, args.image_size, 3)
  cfg = config_lib.Config(
    method=config_lib.MethodConfig(method=config_lib.Method(method)),
    model=config_lib.ModelConfig(network_name=args.network_name),
    run=run,
  )
  train = _synthetic_split(8 * args.batch_size, args.image_size, classes, 0)
  probe = _synthetic_split(2 * args.batch_size, args.image_size, classes, 1)
  with strategy.scope():
    network = build_network(args.network_name, classes, shape)
  ctx = StepContext(
    forward=network.model.stateless_call,
    global_batch=args.batch_size,
    num_replicas=replicas,
    num_classes=classes,
    weight_decay=network.weight_decay,
    decay_mask=network.decay_mask,
    clean_labels_known=True,
  )
  with strategy.scope():
    step_impl = methods.build_step(cfg, ctx)
  state = TrainState(cfg, strategy, network, len(train), step_impl)
  spec = pipeline.TrainInput(
    global_batch=args.batch_size,
    strong_view=step_impl.needs_strong_view,
    aug_type='randaug',
    with_probe=step_impl.needs_probe,
    flip=True,
    seed=0,
  )
  base_fn = pipeline.train_dataset_fn(train, probe, spec)

  def cached_fn(input_ctx):
    # Augmented batches computed once: the timing is the step's alone.
    return base_fn(input_ctx).take(_CACHED_BATCHES).cache().repeat()

  iterator = iter(strategy.distribute_datasets_from_function(cached_fn))
  loop = train_loop.make_train_loop(
    strategy,
    network.model,
    state.optimizer,
    state.ema,
    step_impl,
    seed=0,
    jit_compile=args.jit_compile,
    extra_optimizer=state.extra_optimizer,
    example_stats=state.example_stats,
  )
  step_s, times = _time_loop(args, loop, iterator)
  replica_batch = _replica_slice(
    next(iter(cached_fn(tf.distribute.InputContext()))), replicas
  )
  extra = [
    tf.convert_to_tensor(v) for v in getattr(step_impl, 'extra_variables', ())
  ]
  flops = replicas * step_flops(
    step_impl, network.model, state.optimizer, replica_batch, extra
  )
  return _row(args, method, replicas, step_s, times, flops)


def _block(metrics: dict):
  for value in metrics.values():
    value.numpy()


def _replica_slice(batch, replicas: int):
  """The first replica's share of a global batch (for tracing shapes)."""
  return tf.nest.map_structure(
    lambda x: x[: x.shape[0] // replicas] if x.shape.rank else x, batch
  )


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--method', default='supervised', choices=STEP_METHODS)
  parser.add_argument('--network_name', default='tiny')
  parser.add_argument('--batch_size', type=int, default=64)
  parser.add_argument('--image_size', type=int, default=32)
  parser.add_argument('--num_classes', type=int, default=10)
  parser.add_argument('--strategy', default='cpu')
  parser.add_argument('--jit_compile', action='store_true')
  parser.add_argument('--steps_per_loop', type=int, default=5)
  parser.add_argument('--warmup_chunks', type=int, default=2)
  parser.add_argument('--chunks', type=int, default=7)
  parser.add_argument(
    '--compare',
    action='store_true',
    help='run every method; add measured and predicted ratios to supervised',
  )
  args = parser.parse_args(argv)
  tf.get_logger().setLevel('ERROR')
  if not args.compare:
    row = benchmark(args, args.method)
    if args.method == 'supervised':
      row['matmul_gflops'] = round(matmul_gflops(), 1)
    print(json.dumps(row), flush=True)
    return
  rows = [benchmark(args, m) for m in STEP_METHODS]
  base = rows[0]
  for row in rows:
    row['measured_ratio'] = round(
      row['step_ms_median'] / base['step_ms_median'], 2
    )
    row['predicted_ratio'] = round(row['step_gflop'] / base['step_gflop'], 2)
  base['matmul_gflops'] = round(matmul_gflops(), 1)
  for row in rows:
    print(json.dumps(row), flush=True)


if __name__ == '__main__':
  sys.exit(main())
