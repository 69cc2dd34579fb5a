"""Strategy selection: what exists is used, what does not fails in seconds.

No test here creates a MultiWorkerMirrored or TPU strategy in this process
(either would reconfigure the process-wide TensorFlow context for every
later test); the multi-worker run is tests/e2e/multi_worker_e2e_test.py and
the command-line TPU failures are tests/runtime/tpu_cli_test.py.
"""

import json
import os
import socket
import threading
import time
from unittest import mock
import urllib.error

import tensorflow as tf

from ieg_tf import config as config_lib
from ieg_tf.errors import UserError
from ieg_tf.runtime import devices
from ieg_tf.runtime import strategy as strategy_lib

devices.ensure_logical_cpus(2)

_S = config_lib.StrategyName


def _run(name: _S, tpu: str = '') -> config_lib.RunConfig:
  return config_lib.RunConfig(strategy=name, tpu=tpu)


class _Server:
  """A loopback TCP server that answers each connection with `reply`.

  reply=None accepts and stays silent (a port that is open but is no gRPC
  server); the listening socket is closed at exit.
  """

  def __init__(self, reply: bytes | None):
    self._sock = socket.socket()
    self._sock.bind(('127.0.0.1', 0))
    self._sock.listen(4)
    self._reply = reply
    self._conns = []
    self.address = 'grpc://127.0.0.1:%d' % self._sock.getsockname()[1]
    threading.Thread(target=self._serve, daemon=True).start()

  def _serve(self):
    try:
      while True:
        conn, _ = self._sock.accept()
        self._conns.append(conn)
        if self._reply is not None:
          conn.recv(64)
          conn.sendall(self._reply)
    except OSError:
      pass  # closed

  def __enter__(self):
    return self

  def __exit__(self, *exc):
    self._sock.close()
    for c in self._conns:
      c.close()


def _closed_port() -> int:
  with socket.socket() as s:
    s.bind(('127.0.0.1', 0))
    return s.getsockname()[1]


class LocalStrategiesTest(tf.test.TestCase):
  def test_cpu_is_the_default_strategy(self):
    strategy = strategy_lib.make_strategy(_run(_S.CPU))
    self.assertIs(strategy, tf.distribute.get_strategy())
    self.assertEqual(strategy.num_replicas_in_sync, 1)

  def test_one_device(self):
    strategy = strategy_lib.make_strategy(_run(_S.ONE_DEVICE))
    self.assertIsInstance(strategy, tf.distribute.OneDeviceStrategy)
    self.assertEqual(strategy.num_replicas_in_sync, 1)

  def test_mirrored_without_gpu_uses_two_logical_cpus_and_says_so(self):
    if tf.config.list_physical_devices('GPU'):
      self.skipTest('this machine has a GPU: mirrored uses it')
    with self.assertLogs('absl', level='WARNING') as logs:
      strategy = strategy_lib.make_strategy(_run(_S.MIRRORED))
    self.assertIsInstance(strategy, tf.distribute.MirroredStrategy)
    self.assertEqual(strategy.num_replicas_in_sync, 2)
    self.assertTrue(any('found no GPU' in m for m in logs.output), logs.output)
    per_replica = strategy.run(
      lambda: tf.distribute.get_replica_context().replica_id_in_sync_group
    )
    self.assertEqual(
      [int(v) for v in strategy.experimental_local_results(per_replica)],
      [0, 1],
    )


class TfConfigTest(tf.test.TestCase):
  def _config(self, task_type='worker', index=0, **cluster):
    cluster = cluster or {'worker': ['127.0.0.1:1', '127.0.0.1:2']}
    return json.dumps(
      {'cluster': cluster, 'task': {'type': task_type, 'index': index}}
    )

  def test_valid(self):
    jobs, task_type, index = strategy_lib.parse_tf_config(self._config(index=1))
    self.assertEqual((task_type, index), ('worker', 1))
    self.assertLen(jobs['worker'], 2)
    jobs, task_type, _ = strategy_lib.parse_tf_config(
      self._config('chief', chief=['h:1'], worker=['h:2'])
    )
    self.assertEqual(task_type, 'chief')

  def test_invalid_values_are_user_errors(self):
    cases = {
      'not json': 'must be JSON',
      json.dumps({'cluster': {'worker': ['h:1']}}): 'must be JSON',
      self._config(index=2): 'out of range',
      self._config(index=-1): 'out of range',
      self._config('chief'): 'not a job',
      self._config(index='0'): 'not a job',
      json.dumps({'cluster': {}, 'task': {'type': 'w', 'index': 0}}): (
        'no worker addresses'
      ),
    }
    for raw, message in cases.items():
      with self.assertRaisesRegex(UserError, message, msg=raw):
        strategy_lib.parse_tf_config(raw)

  def test_missing_tf_config(self):
    with mock.patch.dict(os.environ, {'TF_CONFIG': ''}):
      with self.assertRaisesRegex(UserError, 'needs the TF_CONFIG'):
        strategy_lib.make_strategy(_run(_S.MULTI_WORKER))


@mock.patch.object(strategy_lib, 'local_tpu_present', lambda: False)
class TpuFailsFastTest(tf.test.TestCase):
  """Every way of not having a TPU is one UserError within seconds."""

  def _fails(self, tpu: str, message: str, within_s: float = 10.0):
    start = time.monotonic()
    with self.assertRaisesRegex(UserError, message) as caught:
      strategy_lib.make_strategy(_run(_S.TPU, tpu))
    self.assertLess(time.monotonic() - start, within_s)
    self.assertNotIn('\n', str(caught.exception))
    return str(caught.exception)

  def test_no_tpu_flag_and_no_local_tpu(self):
    self._fails('', 'found no TPU on this machine')

  def test_local_without_device_files(self):
    self._fails('local', 'no TPU device')

  def test_closed_grpc_port(self):
    self._fails(f'grpc://127.0.0.1:{_closed_port()}', 'no TPU at 127.0.0.1')

  def test_open_port_that_never_answers(self):
    with mock.patch.object(strategy_lib, 'GRPC_PROBE_TIMEOUT_S', 0.5):
      with _Server(reply=None) as server:
        self._fails(server.address, 'did not answer as a gRPC server')

  def test_open_port_that_is_not_grpc(self):
    with _Server(reply=b'HTTP/1.1 400 Bad Request\r\n\r\n') as server:
      self._fails(server.address, 'is not a gRPC server')

  def test_bad_address(self):
    self._fails('grpc://127.0.0.1:99999', 'is not grpc://HOST:PORT')

  def test_cloud_tpu_name_lookup_error(self):
    def resolver(tpu):
      raise urllib.error.URLError('Name or service not known')

    with mock.patch.object(
      tf.distribute.cluster_resolver, 'TPUClusterResolver', resolver
    ):
      self._fails('my-tpu', "cannot resolve --tpu='my-tpu'.*not known")

  def test_cloud_tpu_name_lookup_hang(self):
    release = threading.Event()
    self.addCleanup(release.set)

    def resolver(tpu):
      release.wait(30)  # a metadata server that never answers

    with (
      mock.patch.object(
        tf.distribute.cluster_resolver, 'TPUClusterResolver', resolver
      ),
      mock.patch.object(strategy_lib, 'TPU_RESOLVE_TIMEOUT_S', 0.5),
    ):
      self._fails('my-tpu', 'no answer within 0.5s resolving', within_s=5)


class GrpcProbeTest(tf.test.TestCase):
  def test_a_grpc_server_passes(self):
    # What a gRPC server sends first: a SETTINGS frame (type 4).
    settings = bytes([0, 0, 6, 4, 0, 0, 0, 0, 0]) + bytes(6)
    with _Server(reply=settings) as server:
      self.assertIsNone(strategy_lib.probe_grpc_endpoint(server.address))

  def test_local_tpu_present_reads_device_files(self):
    cases = [
      ({'/dev': ['null', 'accel0']}, True),  # TPU v2/v3 VM
      ({'/dev': ['null', 'vfio'], '/dev/vfio': ['vfio', '0']}, True),  # v4+
      ({'/dev': ['null', 'vfio'], '/dev/vfio': ['vfio']}, False),  # no group
      ({'/dev': ['null', 'nvidia0']}, False),
    ]
    for tree, expected in cases:
      with (
        mock.patch.object(strategy_lib.os, 'listdir', lambda d, t=tree: t[d]),
        mock.patch.object(
          strategy_lib.os.path, 'isdir', lambda d, t=tree: d in t
        ),
      ):
        self.assertEqual(strategy_lib.local_tpu_present(), expected, tree)


if __name__ == '__main__':
  tf.test.main()
