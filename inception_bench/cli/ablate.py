"""``ibench ablate`` and ``ibench report``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from inception_bench.cli.app import (
    AblateBackend,
    LogOpt,
    ProgressOpt,
    QuietOpt,
    _progress,
    app,
    user_errors,
)
from inception_bench.progress import ProgressMode
from inception_bench.store import AblationFolder, ReportFolder


@app.command(
    help="Run every (variant, seed) of an ablation; resumable, failure-isolated, parallel. Writes "
    f"DIR/{AblationFolder.RESULTS}."
)
def ablate(
    ctx: typer.Context,
    ablation: Annotated[
        Path, typer.Argument(help="Ablation YAML, or a shipped one's name (paper, quick, ...: specs/ablations/).")
    ],
    out: Annotated[Path | None, typer.Option("--out", help="Output folder. Default: runs/<ablation name>.")] = None,
    backend: Annotated[
        AblateBackend,
        typer.Option(
            help="local: one worker process per run on this machine; ray: one Ray task per run on a Ray cluster "
            "(pip install 'inception-bench\\[ray]')."
        ),
    ] = AblateBackend.local,
    jobs: Annotated[
        int | None,
        typer.Option(
            help="Runs at once. Default: 1 locally (one process each); with --backend ray, as many as the cluster "
            "has room for.",
            show_default=False,
        ),
    ] = None,
    devices: Annotated[
        str | None, typer.Option(help="GPUs to use, one run per GPU at a time, e.g. 0,1,2,3 (overrides --jobs).")
    ] = None,
    ray_address: Annotated[
        str | None,
        typer.Option(
            help="With --backend ray: the cluster to run on (auto, or HOST:PORT of its head). Default: RAY_ADDRESS "
            "if set, else start Ray on this machine."
        ),
    ] = None,
    cpus_per_run: Annotated[
        int | None,
        typer.Option(
            help="With --backend ray: CPUs per run (a run without a GPU: its torch threads). Runs ask for a GPU as "
            "well where the cluster has GPUs and the recipe's device is not cpu. Default: 1.",
            show_default=False,
        ),
    ] = None,
    max_retries: Annotated[
        int | None,
        typer.Option(
            help="With --backend ray: how often a run whose worker or node dies is retried (each retry resumes its "
            "checkpoint). Default: 2.",
            show_default=False,
        ),
    ] = None,
    shard: Annotated[str | None, typer.Option(help="Run only shard i of n (i/n), for splitting over machines.")] = None,
    retry_failed: Annotated[
        bool, typer.Option("--retry-failed", help="Redo failed, diverged and not-learning runs.")
    ] = False,
    rerun_changed: Annotated[
        bool, typer.Option("--rerun-changed", help="Discard and redo runs whose config no longer matches the file.")
    ] = False,
    reuse: Annotated[
        list[Path] | None,
        typer.Option(
            help="Another ablation's output folder (repeatable): each run of this one that is the same run as one "
            "finished there (same spec, recipe and seed: a shared baseline, say) is copied from it, not trained.",
            show_default=False,
        ),
    ] = None,
    log: LogOpt = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Check that every variant builds and (locally) its data loads, print the plan; run none.",
        ),
    ] = False,
    progress: ProgressOpt = ProgressMode.auto,
    quiet: QuietOpt = False,
) -> None:
    with user_errors(ctx):
        from inception_bench import ablate as abl
        from inception_bench.ablate.protocol import run_tuning, tuning_shard

        ablation = abl.ablation_path(ablation)
        engine = abl.make_backend(backend, jobs, devices, ray_address, cpus_per_run, max_retries)
        shown = _progress(progress, quiet)
        from inception_bench.run.tracking import Trackers

        Trackers.check(log or [])  # known and installed, before any run starts
        plan = abl.plan_ablation(ablation, out, log)
        reused = abl.Reuse(reuse, plan.out, plan.ablation.name) if reuse else None
        runs = abl.select_shard(plan.runs, shard)
        if shown != ProgressMode.none:
            typer.echo(abl.describe(plan) + (f"; shard {shard}: {len(runs)} runs" if shard else ""), err=True)
        starting = [
            r
            for r in tuning_shard(plan, shard) + runs
            if abl.will_run(r, retry_failed=retry_failed, rerun_changed=rerun_changed)
        ]
        Trackers.check(sorted({name for r in starting for name in r.recipe["log"]}))  # the file's recipe.log too
        if backend != AblateBackend.ray:  # under Ray the nodes load the data; a ray:// driver may not see it
            abl.check_data(plan, starting)  # (every variant was built when the plan was made)
        if dry_run:
            from rich.console import Console

            planned = tuning_shard(plan, shard) + runs
            copies = {run.folder.path for run, _, _ in reused.matches(planned)} if reused is not None else set()
            Console(width=160).print(abl.plan_table(plan, planned, copies))
            return
        tuning_changed: list[tuple[str, int]] = []
        copied = []
        with engine:  # a Ray backend stays connected from the tuning runs to the seeds
            if plan.tuning:  # first the tuning runs, rung by rung; then the seeds, at the values chosen
                tuned = run_tuning(
                    engine,
                    lambda: abl.plan_ablation(ablation, out, log),
                    shard,
                    retry_failed=retry_failed,
                    rerun_changed=rerun_changed,
                    progress=shown,
                    reuse=reused,
                )
                copied += tuned.copied
                for variant, _, status, error in tuned.failed:
                    typer.echo(f"  tuning run {status}: {variant}: {error}", err=True)
                tuning_changed = tuned.changed
                plan = tuned.plan
                runs = abl.select_shard(plan.runs, shard)
                if tuned.adopted and shown != ProgressMode.none:
                    typer.echo(
                        f"  {len(tuned.adopted)} first-seed runs are their variant's chosen tuning run (copied)",
                        err=True,
                    )
                waiting = sum(r.status == "waiting" for r in runs)
                if waiting and not tuning_changed:
                    typer.echo(
                        f"  {waiting} runs wait for tuning runs of other shards; run this again when they are done"
                    )
            copied += reused.adopt(runs) if reused is not None else []
            if copied and shown != ProgressMode.none:
                typer.echo(
                    f"  {len(copied)} runs copied from --reuse folders (the same runs, finished there)", err=True
                )
            summary = engine.run(
                plan, abl.seed_order(runs), retry_failed=retry_failed, rerun_changed=rerun_changed, progress=shown
            )
        typer.echo(
            f"{summary.completed}/{summary.total} runs completed ({summary.ran} run now, "
            f"{summary.seconds:.0f} s) -> {summary.results}"
        )
        for variant, seed, status, error in summary.failed:
            typer.echo(f"  {status}: {variant} seed {seed}: {error}", err=True)
        for variant, seed in summary.changed + tuning_changed:
            typer.echo(
                f"  changed: {variant} seed {seed}{' (tuning run)' if (variant, seed) in tuning_changed else ''}: its "
                "recorded config differs from the ablation file; not mixed in (use --rerun-changed to redo it)",
                err=True,
            )
        if summary.failed or summary.changed or tuning_changed:
            raise typer.Exit(1)


@app.command()
def report(
    ctx: typer.Context,
    folders: Annotated[
        list[Path], typer.Argument(help="`ibench ablate` --out folders, run directories, `ibench bench` CSV files.")
    ],
    out: Annotated[Path, typer.Option("--out", help="Report folder.")] = Path("report"),
    target_top1: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            max=100.0,
            help="Time to accuracy: the validation top-1 % runs are timed to. Default: each study's baseline's median "
            "final validation top-1 minus 1 point.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Tables, words and plots from ablations: report.md (+ PNGs), self-contained report.html, summary.csv."""
    with user_errors(ctx):
        from inception_bench.report import write_report

        result = write_report(folders, out, None if target_top1 is None else target_top1 / 100)
        files = f"{ReportFolder.MARKDOWN}, {ReportFolder.HTML} and {ReportFolder.SUMMARY}"
        typer.echo(f"wrote {out}/{files} ({len(result.summary)} variants)")
        if result.answers:
            typer.echo("\nAnswers:")
            for answer in result.answers:
                typer.echo("  " + answer.replace("**", "").replace("*", ""))
