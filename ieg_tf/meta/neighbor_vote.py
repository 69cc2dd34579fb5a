"""Label votes of an example's nearest neighbors in encoder feature space.

Pure numpy on the host. A contrastive encoder puts images of one class close
together without seeing a label, so the GIVEN labels of an image's nearest
neighbors vote for its true class: wrong labels spread over many classes and
mostly cancel, right ones agree. Measured on CIFAR-10 at uniform 80% noise
(28% right labels; the study's 2,000-step encoder): the vote of 500 neighbors
is right for 43% of the images (docs/contrastive.md).

The raw vote is very flat (its largest entry averages 0.16 there: the noisy
labels add a floor to every class), so it is calibrated on the clean probe:
a uniform share and one temperature (temperature scaling, Guo et al. 2017). That needs
no noise rate: the probe knows the true labels. The example's own given
label then enters as evidence (`given_label_posterior`), weighted by the
share of right labels estimated from the data (`estimate_label_accuracy`).
"""

import numpy as np

# Cosine similarity temperature of the neighbor weights exp(s / tau), the
# instance-discrimination kNN's value (Wu et al. 2018).
SIMILARITY_TEMPERATURE = 0.1
# Host memory per matmul block: the [block, N] similarities, their partition
# indices (int64) and temporaries stay near this many float32 entries.
_BLOCK_ENTRIES = 1 << 25
_MAX_BLOCK = 1024
# Calibration grid: the temperature T (below 1 sharpens, above 1 flattens)
# and the uniform share lam mixed in first, so a class no neighbor carries
# keeps some probability (else Bayes' rule could never revive it).
_TEMPERATURES = np.geomspace(0.01, 10.0, 91)
_UNIFORM_SHARES = (0.0, 0.01, 0.03, 0.1, 0.3)


def l2_normalize(x: np.ndarray) -> np.ndarray:
  """Rows scaled to unit length; all-zero rows stay zero. float32 [N, D]."""
  x = np.asarray(x, np.float32)
  norm = np.linalg.norm(x, axis=1, keepdims=True)
  return x / np.maximum(norm, 1e-12)


def neighbor_votes(
  queries: np.ndarray,
  references: np.ndarray,
  reference_labels: np.ndarray,
  num_classes: int,
  k: int,
  *,
  exclude_self: bool,
) -> np.ndarray:
  """Similarity-weighted label votes of each query's k nearest references.

  v_ic = sum over the k references j most cosine-similar to query i of
  exp((s_ij - 1) / tau) [y_j = c], normalized over c (tau =
  `SIMILARITY_TEMPERATURE`; the -1 only keeps exp in range).

  Args:
    queries: float [Q, D] features of the examples to vote for.
    references: float [N, D] features of the labeled examples.
    reference_labels: int [N] their given labels in [0, num_classes).
    num_classes: C.
    k: neighbors per query, 1 <= k (capped at the available references).
    exclude_self: queries ARE the references (Q = N, same order) and an
      example must not vote for itself.

  Returns:
    float32 [Q, C] votes, rows summing to 1.

  Raises:
    ValueError: bad shapes, k < 1, or too few references.
  """
  queries = l2_normalize(queries)
  references = l2_normalize(references)
  labels = np.asarray(reference_labels, np.int64).reshape(-1)
  n = len(references)
  if queries.ndim != 2 or references.ndim != 2:
    raise ValueError('queries and references must be [rows, features]')
  if queries.shape[1] != references.shape[1] or len(labels) != n:
    raise ValueError(
      f'shapes do not match: queries {queries.shape}, references '
      f'{references.shape}, labels {labels.shape}'
    )
  if exclude_self and len(queries) != n:
    raise ValueError('exclude_self needs queries == references')
  if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
    raise ValueError(f'reference labels must be in [0, {num_classes})')
  available = n - 1 if exclude_self else n
  if k < 1 or available < 1:
    raise ValueError(f'need k >= 1 and a reference; k={k}, {available} refs')
  k = min(k, available)
  onehot = np.eye(num_classes, dtype=np.float32)[labels]
  out = np.zeros((len(queries), num_classes), np.float32)
  block = max(1, min(_MAX_BLOCK, _BLOCK_ENTRIES // max(n, 1)))
  for start in range(0, len(queries), block):
    sims = queries[start : start + block] @ references.T
    rows = np.arange(len(sims))
    if exclude_self:
      sims[rows, start + rows] = -np.inf
    nearest = np.argpartition(sims, n - k, axis=1)[:, n - k :]
    weights = np.exp(
      (np.take_along_axis(sims, nearest, 1) - 1.0) / SIMILARITY_TEMPERATURE
    )
    out[start : start + len(sims)] = np.einsum(
      'qk,qkc->qc', weights, onehot[nearest]
    )
  return out / np.maximum(out.sum(axis=1, keepdims=True), 1e-30)


def sharpen(votes: np.ndarray, temperature: float) -> np.ndarray:
  """v^(1/T) / sum_c v^(1/T) in log space (no underflow); float32 [Q, C]."""
  logv = np.log(np.maximum(np.asarray(votes, np.float64), 1e-30))
  logits = logv / temperature
  logits -= logits.max(axis=1, keepdims=True)
  p = np.exp(logits)
  return (p / p.sum(axis=1, keepdims=True)).astype(np.float32)


def mean_nll(probs: np.ndarray, labels: np.ndarray) -> float:
  """Mean -log p(label) with p clipped at 1e-12; float."""
  picked = probs[np.arange(len(labels)), np.asarray(labels, np.int64)]
  return float(-np.mean(np.log(np.maximum(picked, 1e-12))))


def calibrate(votes: np.ndarray, temperature: float, uniform_share: float):
  """sharpen((1 - lam) v + lam / C, T); float32 [Q, C], rows summing to 1."""
  votes = np.asarray(votes, np.float64)
  mixed = (1.0 - uniform_share) * votes + uniform_share / votes.shape[1]
  return sharpen(mixed, temperature)


def fit_calibration(votes: np.ndarray, labels: np.ndarray):
  """(T, lam) of `calibrate` minimizing the NLL of `labels` (grid search).

  Ties go to the first grid point (no uniform share, the smallest T).

  Args:
    votes: float [P, C] votes of the probe examples.
    labels: int [P] their clean labels.

  Returns:
    (T in [0.01, 10], lam in `_UNIFORM_SHARES`); (1, 0) keeps the raw vote.
  """
  best, best_nll = (1.0, 0.0), np.inf
  for lam in _UNIFORM_SHARES:
    for t in _TEMPERATURES:
      nll = mean_nll(calibrate(votes, t, lam), labels)
      if nll < best_nll - 1e-12:
        best, best_nll = (float(t), float(lam)), nll
  return best


def estimate_label_accuracy(
  agreement: float, vote_accuracy: float, num_classes: int
) -> float:
  """The share q of right given labels, from how often they match the vote.

  If wrong labels spread uniformly over the other C - 1 classes and
  independently of the vote's errors, the vote's argmax equals the given
  label with probability
    a = alpha q + (1 - alpha)(1 - q) / (C - 1),
  alpha the vote's accuracy (measured on the clean probe). Solved for q and
  clipped to [1/C, 0.99]; 1/C (no evidence) when alpha <= 1/C.

  Args:
    agreement: a, measured on the train split.
    vote_accuracy: alpha.
    num_classes: C >= 2.

  Returns:
    q.
  """
  c = num_classes
  off = (1.0 - vote_accuracy) / (c - 1)
  if vote_accuracy - off <= 1e-6:
    return 1.0 / c
  q = (agreement - off) / (vote_accuracy - off)
  return float(np.clip(q, 1.0 / c, 0.99))


def given_label_posterior(
  votes: np.ndarray, labels: np.ndarray, label_accuracy: float
) -> np.ndarray:
  """p(class | neighbors, given label) under uniform label noise.

  The calibrated vote is the prior; a given label y is evidence with
  likelihood q for c = y and (1 - q) / (C - 1) for every other class, so
  the posterior multiplies the vote's entry at y by the ratio
  r = q (C - 1) / (1 - q) and renormalizes (r = 1 at q = 1/C: the label
  carries nothing).

  Args:
    votes: float [N, C] calibrated votes (rows sum to 1).
    labels: int [N] given labels.
    label_accuracy: q in [1/C, 1).

  Returns:
    float32 [N, C], rows summing to 1.
  """
  votes = np.asarray(votes, np.float64)
  c = votes.shape[1]
  ratio = label_accuracy * (c - 1) / (1.0 - label_accuracy)
  scale = np.ones_like(votes)
  scale[np.arange(len(votes)), np.asarray(labels, np.int64)] = ratio
  post = votes * scale
  return (post / post.sum(axis=1, keepdims=True)).astype(np.float32)
