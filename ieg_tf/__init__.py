"""ieg_tf: learning image classifiers from noisy labels with a trusted probe set."""
