"""Logical CPU devices, so one CPU can stand in for several replicas."""

import tensorflow as tf


def ensure_logical_cpus(count: int) -> int:
  """Splits the first physical CPU into `count` logical devices if still possible.

  Must run before TensorFlow initializes its devices (before any op runs).
  Called by tests and by `--strategy=mirrored` on a machine without GPUs.

  Args:
    count: logical CPU devices wanted (>= 1).

  Returns:
    The number of logical CPU devices that exist afterwards (may be fewer than
    `count` when TensorFlow was already initialized).
  """
  cpus = tf.config.list_physical_devices('CPU')
  try:
    if count > 1:
      tf.config.set_logical_device_configuration(
        cpus[0], [tf.config.LogicalDeviceConfiguration()] * count
      )
  except RuntimeError:
    pass  # Devices are initialized already; report what there is.
  return len(tf.config.list_logical_devices('CPU'))


def cpu_mirrored_strategy(count: int = 2) -> tf.distribute.MirroredStrategy:
  """MirroredStrategy over `count` logical CPUs (tests; machines without GPU).

  Reduces through one device instead of collective ops: several
  MirroredStrategy objects in one process (a test session) reuse collective
  instance keys, and TF then aborts with "Shape mismatch in the collective
  instance" when their reductions differ in shape.

  Args:
    count: replicas wanted.

  Returns:
    The strategy (fewer replicas if TensorFlow was initialized earlier with
    fewer logical CPUs).
  """
  available = ensure_logical_cpus(count)
  names = [d.name for d in tf.config.list_logical_devices('CPU')]
  return tf.distribute.MirroredStrategy(
    names[: min(count, available)],
    cross_device_ops=tf.distribute.ReductionToOneDevice(),
  )
