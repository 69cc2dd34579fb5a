"""`SourceData`: what every source loader returns."""

import dataclasses

from ieg_tf.data.bad_examples import BadExamples
from ieg_tf.data.split import Split


@dataclasses.dataclass(frozen=True, eq=False)
class SourceData:
  """A dataset as its owner provides it, before probe carving and noise.

  Attributes:
    name: registry name, e.g. 'cifar10'.
    num_classes: C.
    class_names: C names, index = label.
    train: labels as the owner gives them (the true labels for digits, mnist,
      fashion_mnist, cifar10, cifar100 and folder).
    test: the evaluation split.
    probe: a trusted set the dataset provides (folder `probe/`), else None
      (then the probe is carved from train).
    labels_are_clean: True when train labels are the true labels, so the rate
      of synthetic noise can be measured.
    extra_tests: more evaluation splits by name, e.g. {'imagenet': ...} for
      webvision_mini (reported as eval/imagenet_top1 ...).
    bad_examples: the skipped-example counter of this dataset's files, or
      None for in-memory data.
  """

  name: str
  num_classes: int
  class_names: tuple[str, ...]
  train: Split
  test: Split
  probe: Split | None
  labels_are_clean: bool
  extra_tests: dict[str, Split] = dataclasses.field(default_factory=dict)
  bad_examples: BadExamples | None = None

  def __post_init__(self):
    if len(self.class_names) != self.num_classes:
      raise ValueError(
        f'{len(self.class_names)} class names for {self.num_classes} classes'
      )
