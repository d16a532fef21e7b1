"""A trained network judged and shipped (``ibench eval``, ``ibench export``).

- :mod:`~inception_bench.evaluate.crops`: the paper's 1, 10 and 144 crops per image (section 7), and averaging.
- :mod:`~inception_bench.evaluate.multicrop`: checkpoints (one or an ensemble) or torchvision's weights evaluated
  with those crops, as the paper's Table 3.
- :mod:`~inception_bench.evaluate.export`: the network as ONNX, TorchScript or pt2, checked against PyTorch.

Importing this package imports nothing heavy; import the modules you use.
"""
