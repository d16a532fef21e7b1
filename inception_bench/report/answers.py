"""The paper's questions answered from committed studies: one row per question (the README's answers table,
written by ``scripts/answers.py``).

Conventions. Each question compares two variants of one study, ``a`` and ``b``, on the study's judged split (test
top-1 error when every run has a test score, else validation; :attr:`~inception_bench.report.load.Study.split`), in
percentage points, a - b: a negative effect means ``a`` errs less. The interval is the 95% one of
:func:`~inception_bench.report.stats.compare`: paired over the seeds both ran (same data order and initialisation
stream), Welch's where their seeds differ. Costs are ratios a / b: weights at inference (aux heads left out) and
multiply-adds per image (Table 1's conventions, ``ibench count``), the training images to the study's target
validation accuracy (:mod:`~inception_bench.report.tta`; median over seeds: how fast each learns, whatever the
machine), and, where the study folder has its benchmark (``bench.csv``), training images/s and the time to the
target (those images over those images/s). Speed comes from the benchmark, not from the runs: the runs of a study
share a machine with each other, sometimes with other work, and may span machines, so their own images/s compare
loads as much as variants; the benchmark times every variant in the same interleaved rounds.

Verdicts, at the study's scale and only from the interval:

- a claim that ``a`` is better (``better``): *confirmed* when the interval lies below 0, *contradicted* when it
  lies above 0, else *not seen*;
- a claim that ``a`` is no worse (``no-worse``): *confirmed* when the interval's top is below :data:`MARGIN`
  points, *contradicted* when its bottom is above it, else *not seen*; a confirmation whose interval lies wholly
  above 0 is said beside the effect (``a errs more, by less than the margin``): within the margin, but measurably
  worse;
- no claim in the paper (``none``): *no claim*;
- fewer than 2 seeds on either side: *running* (no interval yet).

Beside an effect, two things that may be in it besides the design: a and b tuned to different values (results.csv's
``tuned:`` columns, e.g. ``tuned apart: lr 0.6 vs 0.3``), and runs that did not all train at one precision (each
run's config.json records ``precision: auto`` as resolved on its machine: ``trained at a bf16, b bf16/fp32``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from inception_bench.errors import IbenchError
from inception_bench.report import tta
from inception_bench.report.load import Study, bench_source, bench_speeds, load_study, run_folder
from inception_bench.report.stats import Difference, compare

# points of top-1 error within which "no worse" holds: the gain the paper reports for its auxiliary heads (about
# 0.5%, "relatively minor", sec. 5), so a loss it would call minor is not counted against a design
MARGIN = 0.5

Claim = Literal["better", "no-worse", "none"]


@dataclass(frozen=True)
class Question:
    question: str
    paper: str  # what the paper says, with its section
    claim: Claim  # what the paper's words predict for a vs b
    study: str  # results/studies/<study>
    a: str
    b: str


QUESTIONS = [
    Question(
        "Do the 1x1 dimension reductions cost accuracy? (reduced vs naive modules, same widths)",
        "No: they cut the 3x3 and 5x5 convolutions' cost and keep the widths from blowing up stage after stage "
        "(sec. 4)",
        "no-worse",
        "paper",
        "module-reduced_aux.enabled-on",
        "module-naive_aux.enabled-on",
    ),
    Question(
        "At equal multiply-adds, are reduced modules more accurate than naive ones? (naive at width 0.08)",
        "Yes: the reductions let each stage be wider at the same cost; networks 2-3x faster than those without "
        "Inception at similar accuracy, i.e. less compute to an accuracy, not more images/s (sec. 4, 5)",
        "better",
        "paper",
        "module-reduced_aux.enabled-on",
        "naive-equal-macs",
    ),
    Question(
        "Do the auxiliary classifiers improve accuracy? (two heads at 4a and 4d, weight 0.3, vs none)",
        "Yes, a little: about 0.5% (sec. 5, its later control experiments)",
        "better",
        "paper",
        "module-reduced_aux.enabled-on",
        "module-reduced_aux.enabled-off",
    ),
    Question(
        "Is one auxiliary head (at 4d) as good as two (4a and 4d)?",
        "Yes: one of them was enough for the same effect (sec. 5)",
        "no-worse",
        "aux",
        "4d-only",
        "paper-4a-4d",
    ),
    Question(
        "The same, both at lr 0.3 (is the row above the heads or the rate?)",
        "Yes: one of them was enough for the same effect (sec. 5)",
        "no-worse",
        "aux-lr-check",
        "4d-only",
        "paper-4a-4d",
    ),
    Question(
        "Do reductions at half Table 1's widths cost accuracy? (#reduce and pool proj x0.5)",
        "Not tested in the paper",
        "none",
        "reduction",
        "reduce_mult-0.5",
        "reduce_mult-1.0",
    ),
    Question(
        "Does bf16 autocast (vs fp32) change accuracy? (the studies' baseline; `precision: auto` picks per machine)",
        "Not a question of the paper: a check on the studies, whose runs went to CPUs with and without native bf16",
        "none",
        "precision-check",
        "bf16",
        "fp32",
    ),
    # the successors' changes, each on GoogLeNet (with batch norm, the small spec's) alone, then all of them
    Question(
        "Does the 5x5 as two stacked 3x3 pay? (BN-Inception)",
        "Yes, with batch norm and other changes together (Ioffe & Szegedy 2015, sec. 5.1); two 3x3 lose no "
        "expressiveness (Szegedy et al. 2015, sec. 3.1)",
        "no-worse",
        "successors",
        "stacked-3x3",
        "googlenet",
    ),
    Question(
        "Do 1 x n + n x 1 factorised convolutions cost accuracy? (Inception-v3, every n x n of the modules)",
        "Good on medium grids (12 to 20), not on early layers (Szegedy et al. 2015, sec. 3.2)",
        "none",
        "successors",
        "factorize-nxn",
        "googlenet",
    ),
    Question(
        "Does grid reduction by parallel branches beat the max pool? (Inception-v3, Figure 10)",
        "It avoids a representational bottleneck at little cost (Szegedy et al. 2015, sec. 2 and 5)",
        "no-worse",
        "successors",
        "grid-branches",
        "googlenet",
    ),
    Question(
        "Does batch norm in the aux heads help? (Inception-v3's BN-auxiliary)",
        "Yes: 21.6% -> 21.2% top-1 error on ImageNet (Szegedy et al. 2015, sec. 7, Table 3)",
        "better",
        "successors",
        "aux-bn",
        "googlenet",
    ),
    Question(
        "Does label smoothing (0.1) help?",
        "Yes: about 0.2% top-1 on ImageNet (Szegedy et al. 2015, sec. 7)",
        "better",
        "successors",
        "label-smoothing",
        "googlenet",
    ),
    Question(
        "Do the successors' changes together beat GoogLeNet? (all five above)",
        "Yes: Inception-v2/v3 err markedly less than GoogLeNet (Szegedy et al. 2015, Table 3)",
        "better",
        "successors",
        "all",
        "googlenet",
    ),
]


@dataclass(frozen=True)
class Answer:
    question: Question
    seeds: tuple[int, int]  # completed runs of a and b
    difference: Difference | None  # a - b, points of top-1 error
    split: str
    costs: dict[str, float | None]  # a / b: weights, MACs, img/s, images and time to target (None: not known)
    target: float | None  # the time-to-accuracy target, a validation top-1 fraction
    verdict: str
    unreached: tuple[str, ...] = ()  # "a", "b": whose runs' median never reached the target
    speed_source: str | None = None  # where the study's bench.csv was measured (None: the study has none)
    unbenched: tuple[str, ...] = ()  # "a", "b": missing from the study's bench.csv
    tuned_apart: tuple[str, ...] = ()  # each tuned hyperparameter a and b were tuned to differently: "lr 0.6 vs 0.3"
    precisions: str | None = None  # when a's and b's runs did not all train at one precision: "a bf16, b bf16/fp32"


def verdict(claim: Claim, difference: Difference | None) -> str:
    """The module docstring's rule: the claim against the interval of a - b."""
    if claim == "none":
        return "no claim"
    if difference is None:
        return "running"
    low, high = difference.low, difference.high
    bound = 0.0 if claim == "better" else MARGIN
    if high < bound:
        return "confirmed"
    if low > bound:
        return "contradicted"
    return "not seen"


def _errors(study: Study, variant: str) -> dict[Any, float]:
    done = study.completed()
    mine = done[done["variant"] == variant]
    return {seed: 100 * (1 - float(v)) for seed, v in zip(mine["seed"], mine[f"{study.split}_top1"], strict=True)}


def _median(study: Study, variant: str, column: str) -> float | None:
    done = study.completed()
    values = done[done["variant"] == variant][column].dropna()
    return float(np.median(values)) if len(values) else None


def _tuned(study: Study, variant: str) -> dict[str, str]:
    """What a variant's completed runs were tuned to (results.csv's ``tuned:`` columns), each as text."""
    done = study.completed()
    mine = done[done["variant"] == variant]
    tuned = [str(c) for c in mine.columns if str(c).startswith("tuned:")]
    values = {
        c.removeprefix("tuned:"): sorted({f"{v:g}" if isinstance(v, float) else str(v) for v in mine[c].dropna()})
        for c in tuned
    }
    return {name: "/".join(found) for name, found in values.items() if found}


def _precisions(study: Study, variant: str) -> str:
    """The precisions a variant's completed runs trained at, as each resolved ``precision: auto`` on its machine
    (their config.json; a run without one is left out), joined by "/"."""
    done = study.completed()
    found = set()
    for row in done[done["variant"] == variant].itertuples():
        try:
            precision = run_folder(study, row).read_config().get("precision")
        except IbenchError:  # no config.json, or not readable
            continue
        if precision:
            found.add(str(precision))
    return "/".join(sorted(found))


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b and np.isfinite(a) and np.isfinite(b) else None


def answer(question: Question, study: Study) -> Answer:
    """``question`` answered from ``study`` (which must have run both variants: else an IbenchError)."""
    known = set(study.frame["variant"])
    for variant in (question.a, question.b):
        if variant not in known:
            raise IbenchError(f"{study.folder.path}: no variant {variant!r} (question: {question.question})")
    err_a, err_b = _errors(study, question.a), _errors(study, question.b)
    difference = compare(err_a, err_b)
    target = tta.default_target(study)
    images: dict[str, float | None] = {}
    if target is not None:
        reached = tta.reached_by_variant(study, target)
        for variant in (question.a, question.b):
            runs = reached.get(variant, [])
            images[variant] = tta.summary(runs)["tta_images"] if runs else None
    speed = bench_speeds(study)
    seconds = {v: _ratio(images.get(v), speed.get(v)) for v in (question.a, question.b)}
    costs = {
        "weights": _ratio(_median(study, question.a, "params"), _median(study, question.b, "params")),
        "MACs": _ratio(_median(study, question.a, "ops"), _median(study, question.b, "ops")),
        "img/s": _ratio(speed.get(question.a), speed.get(question.b)),
        "images to target": _ratio(images.get(question.a), images.get(question.b)),
        "time to target": _ratio(seconds[question.a], seconds[question.b]),
    }
    sides = (("a", question.a), ("b", question.b))
    unreached = tuple(k for k, v in sides if images.get(v) == np.inf)
    unbenched = tuple(k for k, v in sides if speed and v not in speed)
    tuned_a, tuned_b = _tuned(study, question.a), _tuned(study, question.b)
    apart = tuple(
        f"{name} {tuned_a.get(name, '-')} vs {tuned_b.get(name, '-')}"
        for name in sorted(tuned_a.keys() | tuned_b.keys())
        if tuned_a.get(name) != tuned_b.get(name)
    )
    trained = (_precisions(study, question.a), _precisions(study, question.b))
    known = {p for side in trained for p in side.split("/") if p}
    precisions = f"a {trained[0] or '?'}, b {trained[1] or '?'}" if len(known) > 1 else None
    return Answer(
        question,
        (len(err_a), len(err_b)),
        difference,
        study.split,
        costs,
        target,
        verdict(question.claim, difference),
        unreached,
        bench_source(study),
        unbenched,
        apart,
        precisions,
    )


def answers(root: Path, questions: list[Question] = QUESTIONS) -> list[Answer | Question]:
    """Each question answered from ``root/<study>``; a question whose study has no results yet stays a Question."""
    out: list[Answer | Question] = []
    studies: dict[str, Study | None] = {}
    for q in questions:
        if q.study not in studies:
            folder = root / q.study
            studies[q.study] = load_study(folder) if (folder / "results.csv").exists() else None
        study = studies[q.study]
        out.append(answer(q, study) if study is not None else q)
    return out


def _effect(a: Answer) -> str:
    runs_a, runs_b = a.seeds
    n = f"{runs_a} + {runs_b} runs" if runs_a != runs_b else f"{runs_a} seed" + "s" * (runs_a != 1)
    if a.difference is None:
        return f"- ({n} so far)"
    how = "paired" if a.difference.method == "paired" else "Welch"
    effect = f"{a.difference.diff:+.2f} [{a.difference.low:+.2f}, {a.difference.high:+.2f}] ({n}, {how}) on {a.split}"
    if a.question.claim == "no-worse" and a.verdict == "confirmed" and a.difference.low > 0:
        effect += f": a errs more, by less than the +{MARGIN} margin"
    if a.tuned_apart:
        effect += f"; tuned apart: {', '.join(a.tuned_apart)}"
    if a.precisions:
        effect += f"; trained at {a.precisions}"
    return effect


def _costs(a: Answer) -> str:
    parts = [f"{name} {value:.2f}x" for name, value in a.costs.items() if value is not None]
    parts += [f"{' and '.join(a.unreached)} short of the target (median over seeds)"] if a.unreached else []
    parts += [f"{' and '.join(a.unbenched)} not in bench.csv"] if a.unbenched else []
    return ", ".join(parts) if parts else "-"


def markdown(rows: list[Answer | Question], link: str = "results/studies") -> str:
    """The answers as a Markdown table (what the README shows), with the rules under it."""
    lines = [
        "| question | the paper | measured: a - b, top-1 error points [95% CI] | cost of a vs b | verdict | study |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        if isinstance(row, Question):
            lines.append(f"| {row.question} | {row.paper} | not run yet | - | - | [{row.study}]({link}/{row.study}) |")
            continue
        q = row.question
        lines.append(
            f"| {q.question} | {q.paper} | {_effect(row)} | "
            f"{_costs(row)} | **{row.verdict}** | "
            f"[{q.study}]({link}/{q.study}) |"
        )
    lines += [
        "",
        "a is the variant the question is about, b what it is compared with (e.g. reduced vs naive). A negative "
        "effect: a errs less. Costs: a / b of the weights at inference, the multiply-adds per image, the training "
        "images/s (the study's bench.csv: every variant timed in the same interleaved rounds, not the runs' own "
        "figures, which compare machine loads as much as variants), and the training images and time (those images "
        "at the bench's speed) to the study's target (its baseline's median final validation top-1 minus 1 point). "
        "Verdicts judge accuracy only (the costs stand beside them), from the interval alone: a claim that a is "
        "better is confirmed when the whole interval is below 0, contradicted when it is above 0; a claim that a is "
        f"no worse is confirmed when the interval's top is below +{MARGIN} points (the gain the paper calls "
        f"minor, its aux heads'), contradicted when its bottom is above +{MARGIN}; otherwise not seen, at this "
        "scale. A no-worse claim confirmed while the whole interval is above 0 says so beside the effect: a errs "
        'measurably more, but by less than the margin. "Tuned apart: lr 0.6 vs 0.3": the study tuned each variant '
        "and a and b trained at different rates, so the effect is the design's and the rate's together (at these "
        "studies' scale one seed's tuning cannot tell 0.3, 0.6 and 1.2 apart; aux-lr-check and the paper study's "
        'rate-check.md take such rows again at one rate). "Trained at a bf16, b bf16/fp32": the runs did not all '
        "train at one precision (`precision: auto` is bf16 autocast on CPUs with native bf16 and fp32 on others, "
        "and the study's runs went to more than one machine; its README says which seeds ran at which), so the "
        "effect may carry a precision effect too (the precision-check row measures one for the studies' baseline). "
        "An interval is "
        "paired over seeds when both sides completed the same seeds, else Welch's over every run. Images to target "
        "move in whole epochs (the runs are scored once an epoch), so equal learners read 1.00x; a side whose median "
        "run never reaches the target is said to fall short of it.",
    ]
    sources = {r.question.study: r.speed_source for r in rows if isinstance(r, Answer) and r.speed_source}
    if sources:
        lines += ["", "Speeds (bench.csv) measured on: " + "; ".join(f"{k}: {v}" for k, v in sources.items()) + "."]
    return "\n".join(lines)
