"""One training run, from a recipe to its record (``ibench train``, ``ibench lr-find``, an ablation's worker).

- :mod:`~inception_bench.run.settings`: ``Recipe`` (and ``BenchSettings``), typed and validated once, with the enums
  they use.
- :mod:`~inception_bench.run.engine`: device, precision and compilation; the training step, its loss, the weight
  average, batch norm's recompute and the evaluation loop.
- :mod:`~inception_bench.run.train`: a run (setup, epochs, evaluations, checkpoints, its record);
  :mod:`~inception_bench.run.checkpoint`, :mod:`~inception_bench.run.distributed`, :mod:`~inception_bench.run.guard`
  (the not-learning verdict), :mod:`~inception_bench.run.tracking` (TensorBoard, W&B, MLflow) beside it.
- :mod:`~inception_bench.run.lr_find`: the learning-rate range test.

Importing this package imports nothing heavy (``ibench --help`` stays fast); import the modules you use.
"""
