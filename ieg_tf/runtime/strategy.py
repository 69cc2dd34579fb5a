"""The one place a tf.distribute strategy is chosen.

Runs on the host, before any model or dataset is built. Hardware that is not
there is a `UserError` (one line, exit 2), never a hang or an IndexError.
"""

import json
import os

from absl import logging
import tensorflow as tf

from ieg_tf import config as config_lib
from ieg_tf.errors import UserError
from ieg_tf.runtime import devices


def make_strategy(run: config_lib.RunConfig) -> tf.distribute.Strategy:
  """Builds the strategy named by `run.strategy`.

  Args:
    run: run configuration (`strategy`, `tpu`).

  Returns:
    A tf.distribute.Strategy; `cpu` is the default strategy (no
    distribution), `one_device` pins to the first GPU if any else the CPU,
    `mirrored` uses all GPUs or, with none, two logical CPUs (so the mirrored
    code path can be exercised on a laptop), `multi_worker` reads TF_CONFIG,
    `tpu` connects to `run.tpu` ('local' for a TPU VM).

  Raises:
    UserError: the requested hardware or cluster is not there.
  """
  name = config_lib.StrategyName(run.strategy)
  if name == config_lib.StrategyName.CPU:
    return tf.distribute.get_strategy()
  if name == config_lib.StrategyName.ONE_DEVICE:
    gpus = tf.config.list_logical_devices('GPU')
    return tf.distribute.OneDeviceStrategy(gpus[0].name if gpus else '/cpu:0')
  if name == config_lib.StrategyName.MIRRORED:
    gpus = tf.config.list_physical_devices('GPU')
    if gpus:
      return tf.distribute.MirroredStrategy()
    logging.info('No GPU: mirroring over 2 logical CPUs')
    return devices.cpu_mirrored_strategy(2)
  if name == config_lib.StrategyName.MULTI_WORKER:
    return _multi_worker()
  return _tpu(run.tpu)


def _multi_worker() -> tf.distribute.Strategy:
  raw = os.environ.get('TF_CONFIG', '')
  if not raw:
    raise UserError(
      '--strategy=multi_worker needs the TF_CONFIG environment variable '
      '(cluster and task of this worker); see the README.'
    )
  try:
    tf_config = json.loads(raw)
    workers = tf_config['cluster']['worker']
    tf_config['task']['index']
  except (ValueError, KeyError, TypeError) as e:
    raise UserError(
      f'TF_CONFIG is not valid JSON with cluster.worker and task.index: {e}'
    ) from None
  logging.info('Multi-worker cluster: %s', workers)
  return tf.distribute.MultiWorkerMirroredStrategy()


def _tpu(tpu: str) -> tf.distribute.Strategy:
  if not tpu:
    raise UserError(
      '--strategy=tpu needs --tpu=NAME (a Cloud TPU name or grpc:// '
      'address) or --tpu=local on a TPU VM.'
    )
  if tpu == 'local' and not _local_tpu_present():
    raise UserError(
      '--tpu=local but this machine has no TPU device '
      '(no /dev/accel* or /dev/vfio); run on a TPU VM or choose another '
      '--strategy.'
    )
  try:
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu)
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
  except (ValueError, RuntimeError, IndexError, tf.errors.OpError) as e:
    first = str(e).strip().splitlines()[0] if str(e).strip() else repr(e)
    raise UserError(f'cannot reach TPU {tpu!r}: {first}') from None
  if not tf.config.list_logical_devices('TPU'):
    raise UserError(f'TPU {tpu!r} was initialized but shows no TPU devices.')
  return tf.distribute.TPUStrategy(resolver)


def _local_tpu_present() -> bool:
  """True when a TPU VM's accelerator device files exist (cheap, no hang)."""
  if os.path.isdir('/dev/vfio') and os.listdir('/dev/vfio'):
    return True
  return any(n.startswith('accel') for n in os.listdir('/dev'))
