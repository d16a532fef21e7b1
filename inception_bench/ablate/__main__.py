"""``python -m inception_bench.ablate RUN_DIR``: the ablation worker (:mod:`inception_bench.ablate.worker`)."""

from inception_bench.ablate.worker import main
from inception_bench.errors import run_script

if __name__ == "__main__":
    run_script(main)
