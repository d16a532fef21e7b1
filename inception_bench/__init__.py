"""inception-bench: GoogLeNet's architecture table as runnable, countable, trainable PyTorch variants."""

__version__ = "0.1.0"
