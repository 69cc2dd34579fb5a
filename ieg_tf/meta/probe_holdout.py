"""The probe's held-out half: rows IEG's MixUp never trains on.

Pure, replica context, static shapes (XLA). IEG's MixUp batch trains on the
probe images (the probe rows of [probe | weak | strong]), so after a few
hundred steps the network has fitted the probe: its probe accuracy is no
longer what it gets right on images it has not trained on, and the label
accuracy the evidence rule derives from it (`label_evidence`) comes out low
(an estimated noise rate of 0.16-0.23 with clean labels on CIFAR-10,
docs/evidence_study.md). Under `--relabel_rule=evidence` the probe is cut in
two fixed halves (`data.probe.holdout_flags`, the batch key 'holdout'): MixUp
mixes only the training half, and the network's accuracy the evidence reads is
measured on the held-out half. Both halves still enter the meta-gradient,
which never trains the network on a probe image directly.
"""

import tensorflow as tf


def mixup_rows(holdout: tf.Tensor) -> tf.Tensor:
  """Rows of the probe batch MixUp takes: the training rows, cycled.

  MixUp needs as many probe rows as the batch has (static shapes), so the
  n training rows are repeated in order to fill it: row i of the result is
  the (i mod n)-th training row. With no training row in the batch (a probe
  of one image per class keeps every row; see `holdout_flags`) every row is
  taken.

  Args:
    holdout: bool [P], True for held-out rows.

  Returns:
    int32 [P] row indices into the probe batch.
  """
  holdout = tf.cast(holdout, tf.bool)
  size = holdout.shape[0]
  # Training rows first, each half in batch order (a stable sort of 0 / 1).
  order = tf.argsort(tf.cast(holdout, tf.int32), stable=True)
  order = tf.cast(order, tf.int32)
  n = tf.reduce_sum(1 - tf.cast(holdout, tf.int32))
  n = tf.where(n > 0, n, size)
  return tf.gather(order, tf.range(size, dtype=tf.int32) % n)


def held_out_accuracy(correct: tf.Tensor, holdout: tf.Tensor) -> tf.Tensor:
  """The network's accuracy over the held-out probe rows.

  Args:
    correct: float [P] 1 / 0 per probe row
      (`lookahead.LookaheadResult.probe_correct`).
    holdout: bool [P], True for held-out rows.

  Returns:
    Scalar of `correct`'s dtype: the mean over the held-out rows, or over
    every row when the batch has none.
  """
  mask = tf.cast(holdout, correct.dtype)
  count = tf.reduce_sum(mask)
  held = tf.reduce_sum(correct * mask) / tf.maximum(count, 1.0)
  return tf.where(count > 0, held, tf.reduce_mean(correct))
