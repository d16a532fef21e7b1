"""Parameters and multiply-adds against the paper's Table 1.

- :mod:`~inception_bench.count.totals`: whole-network totals, cheap (meta device, torch's FlopCounterMode);
  :func:`count_model` for any model, :func:`totals` for a spec.
- :mod:`~inception_bench.count.table`: ``ibench count``'s per-row report (fvcore) with the paper's figures.
- :mod:`~inception_bench.count.render`: that report as CSV, JSON, Markdown or a terminal table.
"""

from inception_bench.count.table import CountReport, compare, compare_modules, count
from inception_bench.count.totals import Totals, count_model, totals

__all__ = ["CountReport", "Totals", "compare", "compare_modules", "count", "count_model", "totals"]
