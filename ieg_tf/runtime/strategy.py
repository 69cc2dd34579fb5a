"""The one place a tf.distribute strategy is chosen.

Runs on the host, before any model or dataset is built (MultiWorkerMirrored
must be created before TensorFlow runs its first op). Hardware or a cluster
that is not there is a `UserError` (one line, exit 2) within seconds, never a
hang and never a cryptic IndexError:

* `--tpu=local` checks for a TPU VM's accelerator device files first;
* a `grpc://HOST:PORT` master is probed with a plain socket (connection
  refused, or an endpoint that does not answer as a gRPC server, fails
  fast): TensorFlow's `experimental_connect_to_cluster` would retry forever;
* a Cloud TPU name is resolved in a helper thread with a deadline, because
  the lookup goes through the metadata server / Cloud TPU API.
"""

import json
import os
import socket
import threading
import urllib.parse

from absl import logging
import tensorflow as tf

from ieg_tf import config as config_lib
from ieg_tf.errors import UserError
from ieg_tf.runtime import devices

# A gRPC server answers the HTTP/2 preface within milliseconds; a TPU name
# lookup takes about a second. Both deadlines only bound the failure case.
GRPC_PROBE_TIMEOUT_S = 5.0
TPU_RESOLVE_TIMEOUT_S = 30.0
_CPU_REPLICAS_WITHOUT_GPU = 2
# HTTP/2 client connection preface followed by an empty SETTINGS frame
# (RFC 9113 §3.4); a gRPC server replies with its own SETTINGS frame.
_HTTP2_PREFACE = b'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n' + bytes(
  [0, 0, 0, 4, 0, 0, 0, 0, 0]
)
_HTTP2_SETTINGS_FRAME_TYPE = 4


def make_strategy(run: config_lib.RunConfig) -> tf.distribute.Strategy:
  """Builds the strategy named by `run.strategy` (host context).

  Args:
    run: run configuration (`strategy`, `tpu`).

  Returns:
    A tf.distribute.Strategy: `cpu` is the default strategy (no
    distribution), `one_device` pins to the first GPU if any else the CPU,
    `mirrored` uses all visible GPUs or, with none, two logical CPUs (the
    mirrored code path without a speed-up; a warning says so),
    `multi_worker` is MultiWorkerMirroredStrategy over the TF_CONFIG
    cluster, `tpu` connects to `run.tpu` ('local' on a TPU VM; empty means
    local when this machine has a TPU).

  Raises:
    UserError: the requested hardware or cluster is not there.
  """
  name = config_lib.StrategyName(run.strategy)
  if name == config_lib.StrategyName.CPU:
    strategy = tf.distribute.get_strategy()
  elif name == config_lib.StrategyName.ONE_DEVICE:
    gpus = tf.config.list_logical_devices('GPU')
    strategy = tf.distribute.OneDeviceStrategy(
      gpus[0].name if gpus else '/cpu:0'
    )
  elif name == config_lib.StrategyName.MIRRORED:
    strategy = _mirrored()
  elif name == config_lib.StrategyName.MULTI_WORKER:
    strategy = _multi_worker()
  else:
    strategy = _tpu(run.tpu)
  logging.info(
    'Strategy %s: %d replicas in sync',
    name.value,
    strategy.num_replicas_in_sync,
  )
  return strategy


def _mirrored() -> tf.distribute.Strategy:
  gpus = tf.config.list_physical_devices('GPU')
  if gpus:
    # NCCL all-reduce over every visible GPU (CUDA_VISIBLE_DEVICES selects).
    return tf.distribute.MirroredStrategy()
  strategy = devices.cpu_mirrored_strategy(_CPU_REPLICAS_WITHOUT_GPU)
  logging.warning(
    '--strategy=mirrored found no GPU: mirroring over %d logical CPU '
    'devices instead (the same code path, no speed-up).',
    strategy.num_replicas_in_sync,
  )
  return strategy


def parse_tf_config(raw: str) -> tuple[dict, str, int]:
  """Validates a TF_CONFIG value before TensorFlow sees it.

  Args:
    raw: the TF_CONFIG JSON text.

  Returns:
    (cluster {job: [host:port, ...]}, task type, task index).

  Raises:
    UserError: not JSON, no worker list, or a task that is not in it.
  """
  try:
    tf_config = json.loads(raw)
    cluster = tf_config['cluster']
    task_type = tf_config['task']['type']
    index = tf_config['task']['index']
  except (ValueError, KeyError, TypeError) as e:
    raise UserError(
      'TF_CONFIG must be JSON like {"cluster": {"worker": ["host:port", '
      '...]}, "task": {"type": "worker", "index": 0}}; '
      f'got error {e!r}.'
    ) from None
  jobs = cluster if isinstance(cluster, dict) else {}
  if not any(isinstance(v, list) and v for v in jobs.values()):
    raise UserError('TF_CONFIG cluster lists no worker addresses.')
  tasks = jobs.get(task_type)
  if not isinstance(tasks, list) or not isinstance(index, int):
    raise UserError(
      f'TF_CONFIG task type {task_type!r} is not a job of the cluster '
      f'{sorted(jobs)} (or its index is not an integer).'
    )
  if not 0 <= index < len(tasks):
    raise UserError(
      f'TF_CONFIG task index {index} is out of range for the '
      f'{len(tasks)} {task_type!r} tasks.'
    )
  return jobs, task_type, index


def _multi_worker() -> tf.distribute.Strategy:
  raw = os.environ.get('TF_CONFIG', '')
  if not raw:
    raise UserError(
      '--strategy=multi_worker needs the TF_CONFIG environment variable '
      '(cluster and task of this worker); see scripts/launch_multi_gpu.sh.'
    )
  jobs, task_type, index = parse_tf_config(raw)
  logging.info('Multi-worker cluster %s; this is %s:%d', jobs, task_type, index)
  return tf.distribute.MultiWorkerMirroredStrategy()


def _tpu(tpu: str) -> tf.distribute.Strategy:
  if not tpu:
    if not local_tpu_present():
      raise UserError(
        '--strategy=tpu found no TPU on this machine; pass --tpu=NAME (a '
        'Cloud TPU) or --tpu=grpc://HOST:8470, run on a TPU VM, or choose '
        'another --strategy.'
      )
    tpu = 'local'
  if tpu == 'local' and not local_tpu_present():
    raise UserError(
      '--tpu=local but this machine has no TPU device (no /dev/accel* or '
      '/dev/vfio/*); run on a TPU VM or choose another --strategy.'
    )
  resolver = _resolve_tpu(tpu)
  master = resolver.master()
  if master.startswith('grpc://'):
    probe_grpc_endpoint(master, tpu)
  try:
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
  except (ValueError, RuntimeError, IndexError, tf.errors.OpError) as e:
    raise UserError(
      f'cannot initialize TPU {tpu!r}: {_first_line(e)}'
    ) from None
  if not tf.config.list_logical_devices('TPU'):
    raise UserError(f'TPU {tpu!r} was initialized but shows no TPU devices.')
  return tf.distribute.TPUStrategy(resolver)


def _resolve_tpu(tpu: str):
  """TPUClusterResolver(tpu), bounded by TPU_RESOLVE_TIMEOUT_S."""
  box = {}

  def resolve():
    try:
      box['resolver'] = tf.distribute.cluster_resolver.TPUClusterResolver(
        tpu=tpu
      )
    except Exception as e:  # noqa: BLE001 - any lookup failure is the user's
      box['error'] = e

  # Daemon: a lookup stuck in the network must not keep the process alive.
  thread = threading.Thread(target=resolve, name='tpu-resolve', daemon=True)
  thread.start()
  thread.join(TPU_RESOLVE_TIMEOUT_S)
  if thread.is_alive():
    raise UserError(
      f'no answer within {TPU_RESOLVE_TIMEOUT_S:g}s resolving --tpu={tpu!r} '
      '(Cloud TPU API / metadata server); check the name and network, or '
      'pass --tpu=grpc://HOST:8470.'
    )
  if 'error' in box:
    raise UserError(
      f'cannot resolve --tpu={tpu!r}: {_first_line(box["error"])}'
    )
  return box['resolver']


def probe_grpc_endpoint(address: str, tpu: str = '') -> None:
  """Fails fast unless a gRPC server answers at `address` (host context).

  Args:
    address: 'grpc://HOST:PORT'.
    tpu: the --tpu value, for the message.

  Raises:
    UserError: bad address, connection refused / unreachable, or no
      HTTP/2 SETTINGS frame within GRPC_PROBE_TIMEOUT_S.
  """
  what = f'--tpu={tpu or address}'
  parsed = urllib.parse.urlsplit(address)
  try:
    host, port = parsed.hostname, parsed.port
  except ValueError:
    host = port = None
  if not host or not port:
    raise UserError(f'{what}: {address!r} is not grpc://HOST:PORT.')
  try:
    with socket.create_connection(
      (host, port), timeout=GRPC_PROBE_TIMEOUT_S
    ) as sock:
      sock.settimeout(GRPC_PROBE_TIMEOUT_S)
      sock.sendall(_HTTP2_PREFACE)
      reply = sock.recv(9)
  except socket.timeout:
    raise UserError(
      f'{what}: {host}:{port} did not answer as a gRPC server within '
      f'{GRPC_PROBE_TIMEOUT_S:g}s; is it a TPU worker (port 8470)?'
    ) from None
  except OSError as e:
    raise UserError(
      f'{what}: no TPU at {host}:{port} ({e.strerror or e}); check the '
      'address, or use --tpu=local on a TPU VM.'
    ) from None
  if len(reply) < 4 or reply[3] != _HTTP2_SETTINGS_FRAME_TYPE:
    raise UserError(
      f'{what}: {host}:{port} is not a gRPC server (no HTTP/2 reply); is '
      'it a TPU worker (port 8470)?'
    )


def local_tpu_present() -> bool:
  """True when a TPU VM's accelerator device files exist (cheap, no hang)."""
  try:
    if os.path.isdir('/dev/vfio') and any(
      n != 'vfio' for n in os.listdir('/dev/vfio')
    ):
      return True
    return any(n.startswith('accel') for n in os.listdir('/dev'))
  except OSError:
    return False


def _first_line(error: Exception, limit: int = 160) -> str:
  """The start of an exception's message (TF's can run to pages)."""
  text = str(error).strip()
  line = text.splitlines()[0] if text else type(error).__name__
  return line if len(line) <= limit else line[: limit - 3] + '...'
