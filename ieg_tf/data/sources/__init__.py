"""ieg_tf.data.sources: one small module per dataset, and the registry."""

from ieg_tf.data.sources.registry import SOURCE_NAMES
from ieg_tf.data.sources.registry import load_source
from ieg_tf.data.sources.source_data import SourceData

__all__ = ['SOURCE_NAMES', 'SourceData', 'load_source']
