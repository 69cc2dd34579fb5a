"""BatchNormalization with replica-local moving statistics.

Keras 3 creates BN moving statistics as ordinary mirrored variables
(synchronization ON_WRITE, aggregation NONE). Under MirroredStrategy an
`assign` of them in replica context then silently updates each replica's own
copy, so the "mirrored" copies drift apart and checkpoints keep only replica
0's copy. Keras 2 and TF1's `tf.layers.batch_normalization` (what IEG used)
made them ON_READ / MEAN instead: each replica keeps statistics of its own
batches (IEG's per-replica BN, no SyncBN), and reading them in cross-replica
context, e.g. when checkpointing or evaluating outside `strategy.run`, gives
their mean. `BatchNorm` restores that behaviour; outside a strategy it is plain
Keras BN.

Keras `momentum` is the moving-average decay, the same meaning as TF1's BN
`momentum` / `decay`: moving = momentum * moving + (1 - momentum) * batch.
Keras uses the biased batch variance for the moving variance; TF1's fused BN
used the unbiased one (a factor n / (n - 1), negligible for our batch sizes).
"""

import keras

EPSILON = 1e-5


@keras.saving.register_keras_serializable(package='ieg_tf')
class BatchNorm(keras.layers.BatchNormalization):
  """Keras BN, epsilon 1e-5, moving statistics ON_READ with MEAN aggregation.

  Call: float32 [B, H, W, C] -> float32 [B, H, W, C]. With `training=True`
  it normalizes with the batch statistics and (outside `stateless_call`)
  updates the moving statistics; with `training=False` it uses the moving
  statistics.
  """

  def __init__(self, momentum: float, name: str | None = None, **kwargs):
    """Args: momentum: moving-average decay; name: layer name; kwargs: the
    other `keras.layers.BatchNormalization` arguments (for `from_config`)."""
    kwargs.setdefault('epsilon', EPSILON)
    super().__init__(momentum=momentum, name=name, **kwargs)

  def add_weight(
    self,
    *,
    shape=None,
    initializer=None,
    trainable=True,
    autocast=True,
    name=None,
    **kwargs,
  ):
    """Creates gamma / beta as usual; moving statistics replica-local."""
    if trainable:
      return super().add_weight(
        shape=shape,
        initializer=initializer,
        trainable=trainable,
        autocast=autocast,
        name=name,
        **kwargs,
      )
    # Same path as Layer.add_weight; the layer tracks the variable when BN's
    # build() assigns it to `self.moving_mean` / `self.moving_variance`.
    with keras.name_scope(self.name, caller=self):
      return keras.Variable(
        initializer=keras.initializers.get(initializer),
        shape=shape,
        dtype=self.variable_dtype,
        trainable=False,
        autocast=False,
        aggregation='mean',
        synchronization='on_read',
        name=name,
      )


def average_moving_statistics(model: keras.Model) -> None:
  """Gives every replica the mean of the replicas' BN moving statistics.

  Runs in cross-replica context (host code or a tf.function outside
  `strategy.run`), e.g. before evaluating inside `strategy.run`, where each
  replica would otherwise normalize with the statistics of its own batches.
  Without a strategy it changes nothing.

  Args:
    model: a network from `registry.build_network`.
  """
  for variable in model.non_trainable_variables:
    # A cross-replica read of an ON_READ / MEAN variable is the mean, and a
    # cross-replica assign writes every replica's copy.
    variable.assign(variable.value.read_value())
