"""The ``ibench`` command line. Thin: each command parses its options and calls the module that does the
work. Heavy modules (torch, fvcore, pandas) are imported inside the commands so ``ibench --help`` and option
errors answer at once."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from inception_bench.errors import IbenchError

app = typer.Typer(
    help="GoogLeNet (Szegedy et al., 2014) from its architecture table: count, train, ablate, report.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """GoogLeNet (Szegedy et al., 2014) from its architecture table: count, train, ablate, report."""


class ModuleKind(StrEnum):
    reduced = "reduced"
    naive = "naive"


class CountFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"
    markdown = "markdown"


SpecArg = Annotated[
    Path | None,
    typer.Argument(
        help="Architecture spec YAML. Default: specs/googlenet.yaml (the paper's Table 1).", show_default=False
    ),
]
ModuleOpt = Annotated[
    ModuleKind | None,
    typer.Option("--module", help="Inception module: reduced (Figure 2b) or naive (Figure 2a). Default: the spec's."),
]
AuxOpt = Annotated[
    bool | None,
    typer.Option("--aux/--no-aux", help="Auxiliary classifiers on or off. Default: the spec's.", show_default=False),
]
CompileModeOpt = Annotated[
    str,
    typer.Option(
        help="torch.compile mode (with --compile): default | reduce-overhead (CUDA graphs) | max-autotune | "
        "max-autotune-no-cudagraphs."
    ),
]
Fuse1x1Opt = Annotated[
    bool,
    typer.Option(
        "--fuse-1x1",
        help="Run each reduced Inception module's three 1x1 convolutions on its input as one (same weights and "
        "arithmetic; naive modules have none to fuse).",
    ),
]
S2dStemOpt = Annotated[
    bool,
    typer.Option(
        "--s2d-stem",
        help="Run conv1 (stride 2) on 2x2 space-to-depth blocks of the image: a 4x4 stride-1 convolution over 16 "
        "channels, same weights and function (a GPU speed option).",
    ),
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        help="Override a spec field, repeatable: FIELD=V, aux.FIELD=V or layers.ID.COLUMN=V "
        "(e.g. --set width_mult=0.5 --set layers.4e.5x5=0).",
        show_default=False,
    ),
]


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn an :class:`IbenchError` into one line on stderr and exit code 2 (no traceback)."""
    try:
        yield
    except IbenchError as e:
        message = str(e)
        if "Original Traceback" in message:  # re-raised from a DataLoader worker: keep the error's own line
            message = message.strip().splitlines()[-1].split("IbenchError: ", 1)[-1]
        typer.echo(f"error: {message}", err=True)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        typer.echo("error: interrupted; run the same command again to continue (finished work is kept)", err=True)
        raise typer.Exit(130) from None


def _write_or_print(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text)
        return
    from inception_bench.results import atomic_write_text

    try:
        atomic_write_text(output, text)
    except OSError as e:
        raise IbenchError(f"--output {output}: cannot write ({e.strerror}); choose a writable path") from None
    typer.echo(f"wrote {output}", err=True)


@app.command()
def count(
    spec: SpecArg = None,
    module: ModuleOpt = None,
    aux: AuxOpt = None,
    set_: SetOpt = None,
    fmt: Annotated[CountFormat, typer.Option("--format", help="Output format.")] = CountFormat.table,
    compare: Annotated[
        bool, typer.Option("--compare", help="Naive vs reduced modules side by side, per row and in total.")
    ] = False,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Write to this file instead of stdout (format table is written as Markdown)."
        ),
    ] = None,
) -> None:
    """Parameters and multiply-adds per Table 1 row, against the paper's printed figures."""
    with user_errors():
        from inception_bench import count as counting
        from inception_bench.spec import load_spec, variant_overrides

        overrides = variant_overrides(module.value if module else None, aux, set_)
        if compare:
            reports = [counting.count(load_spec(spec, {**overrides, "module": kind})) for kind in ("reduced", "naive")]
            cmp = counting.compare(reports[0], reports[1], ("reduced", "naive"))
            if fmt is CountFormat.json:
                import json

                _write_or_print(json.dumps(cmp, indent=2) + "\n", output)
            elif fmt is CountFormat.csv:
                import csv
                import io

                buf = io.StringIO()
                writer = csv.DictWriter(buf, list(cmp["rows"][0]), lineterminator="\n")
                writer.writeheader()
                writer.writerows(cmp["rows"] + [{"id": "total", "name": "total", **cmp["total"]}])
                _write_or_print(buf.getvalue(), output)
            else:
                text = counting.compare_markdown(cmp) + "\n" + counting.compare_summary(cmp) + "\n"
                notes = "".join(f"note: {n}\n" for n in reports[1].notes)
                _write_or_print(notes + "\n" + text, output)
            return
        report = counting.count(load_spec(spec, overrides))
        if fmt is CountFormat.table and output is None:
            counting.render_table(report)
        elif fmt is CountFormat.json:
            _write_or_print(counting.to_json(report) + "\n", output)
        elif fmt is CountFormat.csv:
            _write_or_print(counting.to_csv(report), output)
        else:
            command = "ibench count " + " ".join(sys.argv[2:]) if output is not None else None
            _write_or_print(counting.to_markdown(report, command), output)


DEFAULT_TRAIN_SPEC = "specs/googlenet-small.yaml"


@app.command()
def train(
    spec: Annotated[
        Path | None,
        typer.Argument(
            help=f"Architecture spec YAML. Default: {DEFAULT_TRAIN_SPEC} (32x32 inputs).", show_default=False
        ),
    ] = None,
    module: ModuleOpt = None,
    aux: AuxOpt = None,
    set_: SetOpt = None,
    data: Annotated[
        str, typer.Option(help="digits | synthetic | cifar10 | cifar100 | imagenette | imagefolder:PATH")
    ] = "digits",
    data_root: Annotated[Path, typer.Option(help="Where downloadable data sets live.")] = Path("data"),
    recipe: Annotated[str, typer.Option(help="Augmentation: paper | plain | none | auto (plain <= 64 px).")] = "auto",
    image_size: Annotated[int | None, typer.Option(help="Training image side. Default: the spec's input_size.")] = None,
    epochs: Annotated[int, typer.Option(help="Epochs.")] = 30,
    batch_size: Annotated[int, typer.Option(help="Images per step and process.")] = 64,
    lr: Annotated[float, typer.Option(help="Learning rate (SGD, momentum 0.9).")] = 0.05,
    weight_decay: Annotated[float, typer.Option(help="Weight decay.")] = 2e-4,
    schedule: Annotated[str, typer.Option(help="step (x0.96 every 8 epochs, the paper) | cosine (warm-up).")] = "step",
    warmup_epochs: Annotated[int, typer.Option(help="Linear warm-up epochs (cosine).")] = 1,
    averaging: Annotated[str, typer.Option(help="ema (Polyak-style weight averaging, evaluated) | none.")] = "ema",
    ema_decay: Annotated[float, typer.Option(help="Decay of the weight average per step.")] = 0.99,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    device: Annotated[str, typer.Option(help="auto | cpu | cuda | cuda:N.")] = "auto",
    precision: Annotated[str, typer.Option(help="auto (bf16 on CUDA, fp32 on CPU) | fp32 | bf16 | fp16.")] = "auto",
    channels_last: Annotated[
        bool, typer.Option("--channels-last/--no-channels-last", help="channels_last memory format.")
    ] = True,
    compile_: Annotated[bool, typer.Option("--compile", help="torch.compile the model.")] = False,
    compile_mode: CompileModeOpt = "default",
    fuse_1x1: Fuse1x1Opt = False,
    s2d_stem: S2dStemOpt = False,
    workers: Annotated[int, typer.Option(help="DataLoader workers (streamed data sets).")] = 4,
    out: Annotated[Path, typer.Option("--out", help="Run directory.")] = Path("runs/train"),
    resume: Annotated[bool, typer.Option("--resume", help="Continue the run in --out from its checkpoint.")] = False,
) -> None:
    """Train a variant; writes config.json, metrics.jsonl, checkpoint.pt and final.json into --out.

    Several GPUs: torchrun --nproc_per_node N -m inception_bench train ... (batch size is per process)."""
    with user_errors():
        from inception_bench.spec import load_spec, variant_overrides
        from inception_bench.train import Recipe
        from inception_bench.train import train as run_training

        loaded = load_spec(spec or DEFAULT_TRAIN_SPEC, variant_overrides(module.value if module else None, aux, set_))
        r = Recipe(
            data=data, data_root=str(data_root), recipe=recipe, image_size=image_size, epochs=epochs,
            batch_size=batch_size, lr=lr, weight_decay=weight_decay, schedule=schedule, warmup_epochs=warmup_epochs,
            averaging=averaging, ema_decay=ema_decay, seed=seed, device=device, precision=precision,
            channels_last=channels_last, compile=compile_, compile_mode=compile_mode, fuse_1x1=fuse_1x1,
            s2d_stem=s2d_stem, workers=workers,
        )  # fmt: skip
        final = run_training(loaded, r, out, resume=resume)
        if final["status"] != "completed":
            typer.echo(f"error: {final['message']} (recorded in {out / 'final.json'})", err=True)
            raise typer.Exit(1)
        typer.echo(
            f"{final['status']}: val top-1 {final['val_top1']:.2%}, top-5 {final['val_top5']:.2%} after "
            f"{final['epochs']} epochs, {final['train_images_per_sec']:.0f} img/s, {final['wall_seconds']:.0f} s "
            f"-> {out}"
        )


@app.command("eval")
def eval_(
    checkpoints: Annotated[
        list[Path] | None, typer.Argument(help="checkpoint.pt files; several = an ensemble.")
    ] = None,
    data: Annotated[
        str | None,
        typer.Option(
            help="Data set whose validation split is evaluated. Default: the checkpoint's.", show_default=False
        ),
    ] = None,
    data_root: Annotated[Path, typer.Option(help="Where downloadable data sets live.")] = Path("data"),
    crops: Annotated[int, typer.Option(help="1 (center), 10 (TenCrop) or 144 (the paper's protocol).")] = 1,
    batch_size: Annotated[int, typer.Option(help="Crops per forward pass (rounded to whole images).")] = 256,
    device: Annotated[str, typer.Option(help="auto | cpu | cuda | cuda:N.")] = "auto",
    weights: Annotated[
        str | None, typer.Option(help="Add torchvision's googlenet: 'torchvision' (IMAGENET1K_V1) or a .pth path.")
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", help="JSON record. Default: eval-<crops>crop.json.")] = None,
) -> None:
    """Top-1/top-5 accuracy and error of checkpoints (softmax averaged over crops and models)."""
    with user_errors():
        from inception_bench.evaluate import evaluate

        target = out or Path(f"eval-{crops}crop.json")
        r = evaluate(
            checkpoints or [], data=data, data_root=str(data_root), crops=crops, batch_size=batch_size,
            device=device, weights=weights, out=target,
        )  # fmt: skip
        from rich.console import Console
        from rich.table import Table

        table = Table("models", "crops", "cost", "images", "top-1", "top-5", "top-1 error", "top-5 error")
        table.add_row(
            str(r["models"]), str(r["crops"]), str(r["cost"]), str(r["images"]), f"{r['top1']:.2%}",
            f"{r['top5']:.2%}", f"{r['top1_error']:.2%}", f"{r['top5_error']:.2%}",
        )  # fmt: skip
        Console(highlight=False).print(table)
        typer.echo(f"wrote {target}")


@app.command()
def ablate(
    ablation: Annotated[Path, typer.Argument(help="Ablation YAML (see specs/ablations/).")],
    out: Annotated[Path | None, typer.Option("--out", help="Output folder. Default: runs/<ablation name>.")] = None,
    jobs: Annotated[int, typer.Option(help="Runs at once (one process each).")] = 1,
    devices: Annotated[
        str | None, typer.Option(help="GPUs to use, one run per GPU at a time, e.g. 0,1,2,3 (overrides --jobs).")
    ] = None,
    shard: Annotated[str | None, typer.Option(help="Run only shard i of n (i/n), for splitting over machines.")] = None,
    retry_failed: Annotated[bool, typer.Option("--retry-failed", help="Redo failed and diverged runs.")] = False,
    rerun_changed: Annotated[
        bool, typer.Option("--rerun-changed", help="Discard and redo runs whose config no longer matches the file.")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan (params, ops, status); run nothing.")
    ] = False,
) -> None:
    """Run every (variant, seed) of an ablation; resumable, failure-isolated, parallel. Writes DIR/results.csv."""
    with user_errors():
        from inception_bench import ablate as abl

        if jobs < 1:
            raise IbenchError(f"--jobs {jobs}: must be at least 1")
        device_list = [d.strip() for d in devices.split(",") if d.strip()] if devices is not None else None
        if device_list is not None and (not device_list or not all(d.isdigit() for d in device_list)):
            raise IbenchError(f"--devices {devices}: use GPU indices separated by commas, e.g. --devices 0,1")
        plan = abl.plan_ablation(ablation, out)
        runs = abl.select_shard(plan.runs, shard)
        typer.echo(abl.describe(plan) + (f"; shard {shard}: {len(runs)} runs" if shard else ""), err=True)
        if dry_run:
            from rich.console import Console
            from rich.table import Table

            table = Table("variant", "seeds", "params", "MACs", "status", "overrides", title=f"plan -> {plan.out}")
            for row in abl.plan_rows(plan, runs):
                table.add_row(
                    row["variant"], row["seeds"], f"{row['params']:,}", f"{row['ops'] / 1e6:.1f}M", row["status"],
                    row["overrides"],
                )  # fmt: skip
            Console(width=160).print(table)
            return
        summary = abl.run_plan(
            plan, runs, jobs=jobs, devices=device_list, retry_failed=retry_failed, rerun_changed=rerun_changed
        )
        typer.echo(
            f"{summary['completed']}/{summary['total']} runs completed ({summary['ran']} run now, "
            f"{summary['seconds']:.0f} s) -> {summary['results']}"
        )
        for variant, seed, status, error in summary["failed"]:
            typer.echo(f"  {status}: {variant} seed {seed}: {error}", err=True)
        for variant, seed in summary["changed"]:
            typer.echo(
                f"  changed: {variant} seed {seed}: its recorded config differs from the ablation file; "
                "not mixed in (use --rerun-changed to redo it)",
                err=True,
            )
        if summary["failed"] or summary["changed"]:
            raise typer.Exit(1)


@app.command()
def report(
    folders: Annotated[
        list[Path], typer.Argument(help="`ibench ablate` --out folders, run directories, `ibench bench` CSV files.")
    ],
    out: Annotated[Path, typer.Option("--out", help="Report folder.")] = Path("report"),
) -> None:
    """Tables, words and plots from ablations: report.md (+ PNGs), self-contained report.html, summary.csv."""
    with user_errors():
        from inception_bench.report import write_report

        result = write_report(folders, out)
        typer.echo(f"wrote {out}/report.md, report.html and summary.csv ({result['variants']} variants)")


class BenchFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


@app.command("bench")
def bench_(
    spec: Annotated[
        Path | None,
        typer.Argument(
            help="A spec or an ablation YAML (all its variants). Default: the paper's spec and the "
            "torchvision-compatible one.",
            show_default=False,
        ),
    ] = None,
    module: ModuleOpt = None,
    aux: AuxOpt = None,
    set_: SetOpt = None,
    mode: Annotated[str, typer.Option(help="train | infer | both.")] = "both",
    batch_size: Annotated[int, typer.Option(help="Images per step (halved on out-of-memory).")] = 64,
    image_size: Annotated[int, typer.Option(help="Square image side (sets the specs' input_size).")] = 224,
    precision: Annotated[str, typer.Option(help="fp32 | bf16 | fp16 (autocast; CUDA only for 16-bit).")] = "fp32",
    channels_last: Annotated[bool, typer.Option("--channels-last", help="channels_last memory format.")] = False,
    compile_: Annotated[bool, typer.Option("--compile", help="torch.compile the models.")] = False,
    compile_mode: CompileModeOpt = "default",
    inductor: Annotated[
        list[str] | None,
        typer.Option(
            help="torch._inductor.config KEY=VALUE for --compile, repeatable (e.g. freezing=true for inference).",
            show_default=False,
        ),
    ] = None,
    fuse_1x1: Fuse1x1Opt = False,
    s2d_stem: S2dStemOpt = False,
    device: Annotated[str, typer.Option(help="auto | cpu | cuda | cuda:N.")] = "auto",
    steps: Annotated[int, typer.Option(help="Timed steps per measurement.")] = 20,
    warmup: Annotated[int, typer.Option(help="Untimed steps first.")] = 5,
    peak_tmacs: Annotated[
        float | None, typer.Option(help="Device peak in 10^12 MAC/s (default: known GPUs).", show_default=False)
    ] = None,
    torchvision: Annotated[
        bool, typer.Option("--torchvision/--no-torchvision", help="Measure torchvision's googlenet too.")
    ] = True,
    fmt: Annotated[BenchFormat, typer.Option("--format", help="Output format.")] = BenchFormat.table,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Append the rows to this CSV (or .json) file.")
    ] = None,
) -> None:
    """Throughput (images/s, step time), peak memory and MAC rate of variants, vs torchvision's googlenet."""
    with user_errors():
        from dataclasses import asdict

        from inception_bench import bench as b
        from inception_bench.spec import (
            SPEC_DIR,
            display_path,
            load_spec,
            parse_overrides,
            read_yaml,
            variant_overrides,
        )

        overrides = variant_overrides(module.value if module else None, aux, set_)
        if spec is None:
            variants = [
                ("googlenet (paper)", load_spec(None, overrides)),
                ("googlenet-torchvision spec", load_spec(SPEC_DIR / "googlenet-torchvision.yaml", overrides)),
            ]
        elif not {"grid", "variants", "seeds"} & set(read_yaml(spec)):
            variants = [(display_path(spec), load_spec(spec, overrides))]
        else:
            from inception_bench.ablate import plan_ablation

            plan = plan_ablation(spec, Path("/nonexistent-ibench-bench"))
            seen: dict[str, object] = {}
            for run in plan.runs:
                seen.setdefault(run.variant, load_spec(plan.spec_path, {**run.overrides, **overrides}))
            variants = list(seen.items())  # type: ignore[arg-type]
        settings = b.BenchSettings(
            mode=mode, batch_size=batch_size, image_size=image_size, precision=precision,
            channels_last=channels_last, compile=compile_, compile_mode=compile_mode,
            inductor=parse_overrides(inductor, "--inductor", "freezing=true"), fuse_1x1=fuse_1x1, s2d_stem=s2d_stem,
            device=device, steps=steps, warmup=warmup, peak_tmacs=peak_tmacs,
        )  # fmt: skip
        rows = b.bench(variants, settings, torchvision=torchvision)  # type: ignore[arg-type]
        if output is not None:
            b.append_rows(rows, output)
        if fmt is BenchFormat.json:
            import json

            sys.stdout.write(json.dumps([asdict(r) for r in rows], indent=2) + "\n")
        elif fmt is BenchFormat.csv:
            import pandas as pd

            sys.stdout.write(pd.DataFrame([asdict(r) for r in rows]).to_csv(index=False))
        else:
            from rich.console import Console
            from rich.table import Table

            r0 = rows[0]
            table = Table(*[label for _, label in b.COLUMNS],
                          title=f"{r0.device}, {r0.image_size}px, torch {r0.torch_version}")  # fmt: skip
            for cells in b.table_rows([asdict(r) for r in rows]):
                table.add_row(*cells)
            Console(width=max(Console().width, 150)).print(table)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
