"""The lines a training run prints, one per stage, for the user watching it.

Pure formatting, host side. `python -m ieg_tf.main` runs up to two stages,
the contrastive encoder and then the method; each prints one line saying
what it did (ran, resumed, skipped and why), how many steps, how long, and
the numbers that tell whether it worked. The run's last line stays the
`final: ...` line scripts parse.
"""

# The encoder's numbers: its contrastive loss and accuracy at the end, the
# linear probe on clean labels and the clean/noisy AUC of a two-component
# GMM on the noisy-label losses (docs/contrastive.md).
PRETRAIN_KEYS = (
  'pretrain/loss',
  'pretrain/contrast_acc',
  'pretrain/linear_probe_top1',
  'pretrain/gmm_auc',
)
# The method's diagnostics from its last logged chunk, where it logs them.
TRAIN_KEYS = (
  'relabel/replaced_fraction',
  'relabel/replacement_accuracy',
  'relabel/replaced_label_accuracy',
  'evidence/noise_rate',
  'weights/clean_auc',
)


def _numbers(values: dict, keys) -> str:
  return ' '.join(
    f'{k}={values[k]:.4f}'
    for k in keys
    if isinstance(values.get(k), (int, float))
  )


def _join(head: str, numbers: str) -> str:
  return f'{head}: {numbers}' if numbers else head


def pretrain_line(summary: dict, train_images: int, batch_size: int) -> str:
  """The contrastive stage's line.

  Args:
    summary: `pretrain.stage.maybe_initialize`'s dict ('init' and, for a
      stage that ran, 'step', 'steps_run', 'seconds' and its metrics).
    train_images: images the stage reads per epoch.
    batch_size: the stage's global batch.

  Returns:
    One line starting 'stage pretrain: '.
  """
  init = summary['init']
  if init == 'random':
    return 'stage pretrain: off (--pretrain_epochs=0); random init'
  if init == 'resume':
    return (
      'stage pretrain: skipped, training resumes from '
      f'{summary.get("source", "its checkpoint")}'
    )
  if init == 'checkpoint':
    return (
      f'stage pretrain: skipped, encoder from --init_checkpoint '
      f'{summary.get("source", "")}'.rstrip()
    )
  step, ran = summary['step'], summary['steps_run']
  epochs = step * batch_size / max(train_images, 1)
  size = f'{step} steps ({epochs:.1f} epochs of {train_images} images)'
  if ran == 0:
    return f'stage pretrain: complete in the workdir, {size}; skipped'
  resumed = f', resumed at step {step - ran}' if ran < step else ''
  head = f'stage pretrain: {size}{resumed} in {summary["seconds"]:.0f} s'
  return _join(head, _numbers(summary, PRETRAIN_KEYS))


def train_line(method: str, result: dict, seconds: float, last_row) -> str:
  """The method stage's line.

  Args:
    method: the method's name.
    result: the trainer's final numbers ('step', 'eval/top1', ...).
    seconds: the stage's wall clock in this invocation.
    last_row: the stage's last logged training metrics, or None.

  Returns:
    One line starting 'stage train: '.
  """
  head = (
    f'stage train: {method} to step {result.get("step", "-")} in '
    f'{seconds:.0f} s'
  )
  numbers = ' '.join(
    part
    for part in (
      _numbers(result, ('eval/top1',)),
      _numbers(last_row or {}, TRAIN_KEYS),
    )
    if part
  )
  return _join(head, numbers)
