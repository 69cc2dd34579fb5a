"""Whether the network's evidence against a given label beats the labels.

Pure, replica context (one meta slice); float32, gradient stopped, static
shapes (XLA). IEG replaces a label where the sign of a one-step probe
meta-gradient says so. With a small probe and a network still learning,
that sign is close to a coin flip: at 40% structured noise it replaced half
of the labels with pseudo-labels less often right than the labels themselves
(docs/algorithm.md, "Re-labeling on evidence"). `--relabel_rule=evidence`
keeps IEG's proposal but lets it through only where the evidence agrees:

  label accuracy rho   the share of right labels in the slice. Estimated from
                       two observables: the network's accuracy a on the clean
                       probe, and its agreement m with the given labels of the
                       slice, both on the weak view. If the network's errors are independent of the
                       label noise and both spread over the other classes,
                       m = rho a + (1 - rho)(1 - a) / (C - 1), so
                       rho = (m - u) / (a - u), u = (1 - a) / (C - 1).
  gate                 re-labeling is allowed only while a > rho: the network
                       is right more often than the labels are.
  label posterior r_i  P(given label y_i is right | evidence e_i) under the
                       noise model P(given = y | true = c) = rho if c = y,
                       else (1 - rho) / (C - 1):
                       r_i = rho e_i(y_i) / (rho e_i(y_i)
                             + (1 - rho)(1 - e_i(y_i)) / (C - 1)).
                       A label may go only where r_i < 1/2: more likely wrong
                       than right.
  evidence e_i         the network's mean softmax over the views; with IEG's
                       neighbor-vote prior (`--label_vote_neighbors`), that
                       times the prior, renormalized (`with_prior`), so the
                       posteriors and the MixUp targets see the vote too.
                       The agreement m stays on the network alone: it is
                       compared with the network's probe accuracy a.

Both ways the estimate errs are conservative. A network that has fitted its
training labels agrees with them more than its probe accuracy allows, so rho
comes out high (clipped at 1) and the gate closes; labels whose errors the
network shares (look-alike classes) raise m too. A network near chance
gives no evidence (a - u small): rho = 1, nothing is replaced.
"""

import tensorflow as tf

# Below this separation of the network's probe accuracy from the chance
# level of its errors, (m - u) / (a - u) is noise: the labels are trusted.
MIN_SEPARATION = 0.05
_TINY = 1e-12


def view_evidence(view_logits) -> tf.Tensor:
  """e = mean over the views of softmax(logits).

  Raw logits, not IEG's logit_norm (which rescales every batch to unit RMS):
  the plain softmax is what cross-entropy training calibrates.

  Args:
    view_logits: K >= 1 float [B, C] logits of the same examples.

  Returns:
    float32 [B, C] distributions.
  """
  if not view_logits:
    raise ValueError('view_evidence needs at least one view.')
  probs = [
    tf.nn.softmax(tf.cast(tf.stop_gradient(v), tf.float32), axis=-1)
    for v in view_logits
  ]
  return tf.add_n(probs) / float(len(probs))


def with_prior(evidence: tf.Tensor, prior: tf.Tensor) -> tf.Tensor:
  """e * prior, renormalized: the network's evidence and the vote's, combined.

  Bayes' rule for two sources taken as independent over a uniform class
  prior: the more confident one leads. The vote is calibrated on the probe
  (docs/contrastive.md, "Neighbor votes"), so where the network is still
  unsure (CIFAR-10 at heavy noise) the vote decides, and where the network
  is sure (the digits demo) it does. The vote already holds the given label
  as evidence, so the posteriors built on the product count the label once
  more: a lean towards keeping labels, never towards replacing them.

  Args:
    evidence: float [B, C] distributions e (`view_evidence`).
    prior: float [B, C] neighbor-vote prior, rows summing to 1.

  Returns:
    float32 [B, C] distributions, gradient stopped; a row whose product has
    no mass keeps the network's evidence.
  """
  e = tf.stop_gradient(tf.cast(evidence, tf.float32))
  joint = e * tf.stop_gradient(tf.cast(prior, tf.float32))
  total = tf.reduce_sum(joint, axis=-1, keepdims=True)
  return tf.where(total > _TINY, joint / tf.maximum(total, _TINY), e)


def label_agreement(evidence: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
  """m, the share of examples whose evidence's argmax is the given label.

  Args:
    evidence: float [B, C].
    labels: int [B] given labels.

  Returns:
    float32 scalar in [0, 1].
  """
  guess = tf.argmax(evidence, axis=-1, output_type=tf.int32)
  return tf.reduce_mean(
    tf.cast(tf.equal(guess, tf.cast(labels, tf.int32)), tf.float32)
  )


def estimate_label_accuracy(
  agreement: tf.Tensor, model_accuracy: tf.Tensor, num_classes: int
) -> tf.Tensor:
  """rho = (m - u) / (a - u), u = (1 - a) / (C - 1), clipped to [0, 1].

  Args:
    agreement: float scalar m (`label_agreement`).
    model_accuracy: float scalar a, the network's accuracy on clean labels
      (the probe batch).
    num_classes: C >= 2.

  Returns:
    float32 scalar in [0, 1]; 1 when a - u < MIN_SEPARATION (no evidence).
  """
  m = tf.cast(tf.stop_gradient(agreement), tf.float32)
  a = tf.cast(tf.stop_gradient(model_accuracy), tf.float32)
  u = (1.0 - a) / float(max(num_classes - 1, 1))
  separation = a - u
  rho = (m - u) / tf.maximum(separation, _TINY)
  rho = tf.clip_by_value(rho, 0.0, 1.0)
  return tf.where(separation < MIN_SEPARATION, 1.0, rho)


def label_posterior(
  evidence: tf.Tensor, labels: tf.Tensor, label_accuracy: tf.Tensor
) -> tf.Tensor:
  """r_i, the posterior probability that given label y_i is right.

  Args:
    evidence: float [B, C] distributions e.
    labels: int [B] given labels.
    label_accuracy: float scalar rho in [0, 1].

  Returns:
    float32 [B] in [0, 1].
  """
  evidence = tf.stop_gradient(tf.cast(evidence, tf.float32))
  num_classes = evidence.shape[-1]
  onehot = tf.one_hot(tf.cast(labels, tf.int32), num_classes)
  given = tf.reduce_sum(evidence * onehot, axis=-1)
  rho = tf.cast(label_accuracy, tf.float32)
  right = rho * given
  wrong = (1.0 - rho) * (1.0 - given) / float(max(num_classes - 1, 1))
  return right / tf.maximum(right + wrong, _TINY)


def true_class_posterior(
  evidence: tf.Tensor, labels: tf.Tensor, label_accuracy: tf.Tensor
) -> tf.Tensor:
  """q_i, the posterior over the TRUE class of each example.

  Bayes' rule with the network's evidence as the prior and the symmetric
  noise model of `label_posterior` as the likelihood of the given label:
  q_i(c) proportional to e_i(c) * (rho if c = y_i else (1 - rho) / (C - 1)).
  Its entry at y_i is `label_posterior`'s r_i. IEG's MixUp trains towards it
  under `--relabel_rule=evidence`: with trusted labels (rho near 1) it is
  the given label, with a network that knows better than the labels it
  leans to the network's guess, and in between it is as soft as the
  evidence is (docs/algorithm.md, "MixUp targets on evidence").

  Args:
    evidence: float [B, C] distributions e.
    labels: int [B] given labels.
    label_accuracy: float scalar rho in [0, 1].

  Returns:
    float32 [B, C], rows summing to 1 (a row of e with no mass gets the
    given label's one-hot).
  """
  evidence = tf.stop_gradient(tf.cast(evidence, tf.float32))
  num_classes = evidence.shape[-1]
  onehot = tf.one_hot(tf.cast(labels, tf.int32), num_classes)
  rho = tf.cast(label_accuracy, tf.float32)
  off = (1.0 - rho) / float(max(num_classes - 1, 1))
  joint = evidence * (onehot * rho + (1.0 - onehot) * off)
  total = tf.reduce_sum(joint, axis=-1, keepdims=True)
  return tf.where(total > _TINY, joint / tf.maximum(total, _TINY), onehot)


def evidence_keep(
  posterior: tf.Tensor, label_accuracy: tf.Tensor, model_accuracy: tf.Tensor
) -> tf.Tensor:
  """1 where the evidence keeps the given label, 0 where it may be replaced.

  A label may be replaced only while the gate is open (a > rho) and only
  where its posterior r_i < 1/2.

  Args:
    posterior: float [B] r (`label_posterior`).
    label_accuracy: float scalar rho.
    model_accuracy: float scalar a.

  Returns:
    float32 [B] in {0, 1}.
  """
  gate = tf.cast(model_accuracy, tf.float32) > tf.cast(
    label_accuracy, tf.float32
  )
  may_go = tf.logical_and(gate, tf.cast(posterior, tf.float32) < 0.5)
  return 1.0 - tf.cast(may_go, tf.float32)
