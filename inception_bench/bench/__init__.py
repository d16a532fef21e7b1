"""``ibench bench``: throughput and memory of spec variants, with torchvision's twin of each (``googlenet``, or
``inception_v3`` for the ``inception-v3`` spec: the spec's ``torchvision_model``) measured alongside, each
in the fast path and against a baseline measured in the same command.

Conventions
-----------
- A *setup* is how a step runs: autocast precision, memory layout, ``torch.compile`` (and inductor settings), the
  execution options ``fuse_1x1`` and ``s2d_stem``. The *fast path* is the settings' setup; its defaults are
  precision ``auto`` (bf16 on CUDA and on CPUs with native bf16 matrix support), channels_last, and compile
  ``auto`` (:meth:`BenchSettings.compile_for`: inference compiled on the CPU with inductor freezing).
- The *baseline* (``baseline="fp32-eager"``, the default) is each model run in fp32, eager, contiguous layout,
  without execution options, measured in the same command: every model's row says how much faster its fast path
  is (``vs_fp32_eager``), and the spec's torchvision twin (``googlenet(weights=None)`` or ``inception_v3``) in that
  setup is what ``vs_torchvision`` compares against. ``baseline="same"`` compares with torchvision's model in the
  fast path instead (cheaper).
- A compiled setup is also measured eager (its *eager twin*): ``compile_gain`` is eager time / compiled time, and a
  compile that does not pay says so in ``note``. ``compile_s`` is the first step's time less a steady step's:
  the compilation, reported apart from the steady-state step time.
- Interleaved rounds: every setup first runs ``warmup`` untimed steps (at least one: the first compiles and
  finds a batch that fits), then ``rounds`` times in turn (A, B, C, then C, B, A, ...) ``steps`` timed steps
  each, so that the slow drift of a shared machine falls on all setups alike. Every step ends with a device
  synchronisation.
- Reported: median step time over all timed steps, its interquartile range, images/s = batch / median step time;
  each ratio is the median over rounds of the per-round ratio of images/s, with its range over rounds
  (``*_lo``, ``*_hi``).
- ``train`` steps are forward + loss (aux heads included, weighted as the spec says) + backward + SGD step
  (:func:`~inception_bench.run.engine.train_step`); ``infer`` steps are a forward pass in eval mode under
  ``torch.inference_mode``. ``detail`` splits training steps into forward (with the loss), backward and optimizer
  time, each phase ended by a device synchronisation (as timm's benchmark does).
- MACs are the network's multiply-adds per image at the benchmark's image size (``ibench count``
  conventions). The achieved multiply-add rate is MACs x images/s for inference and 3 x MACs x images/s for
  training (the backward pass costs about twice the forward), in 10^12 MAC/s; ``peak_fraction`` divides it
  by the device's dense peak for the precision when known (``--peak-tmacs`` or the table below).
- Memory (``step_memory_mb``): on CUDA, the most memory a setup's steps allocated beyond what was allocated
  before them (activations, gradients, workspaces; all setups' weights and optimizer states stay resident and are
  not counted); not measured on the CPU (the process's peak RSS says nothing about one setup).
- A batch that runs out of memory is stepped down gradually (:func:`decay_batch_step`: 64, 48, 32, 24, ...)
  until it fits, and then every setup runs the largest batch all of them fit, so that ratios compare equal work;
  the rows say so (``note``). A compile that fails under compile auto (no C++ compiler) is measured eager and says
  so.

Modules: :mod:`~inception_bench.bench.settings` (what to measure, torch-free), :mod:`~inception_bench.bench.setups`
(setups and rows), :mod:`~inception_bench.bench.steps`, :mod:`~inception_bench.bench.measure`,
:mod:`~inception_bench.bench.runner` (:func:`~inception_bench.bench.runner.bench`), :mod:`~inception_bench.bench.rows`
(tables and files). Importing this package imports nothing heavy; import the modules you use.
"""
