"""``ibench bench`` on the CPU with tiny settings: fields, the fast path against its fp32 eager baseline, the
torchvision ratio, interleaved rounds, MACs, the gradual OOM step-down, compile's eager twin, --detail."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import torchvision
from conftest import ROOT, SMALL, TORCHVISION, reference_counts, slow_first_compile
from torch import nn
from torch.utils.flop_counter import FlopCounterMode
from typer.testing import CliRunner

from inception_bench.bench import measure, setups, steps
from inception_bench.bench import rows as bench_rows
from inception_bench.bench import runner as bench_runner
from inception_bench.bench.settings import BenchSettings
from inception_bench.cli import app
from inception_bench.errors import FieldError
from inception_bench.models import build_model
from inception_bench.run.engine import autocast_for, train_step
from inception_bench.run.settings import parse
from inception_bench.spec import load_spec

runner = CliRunner()
TINY = ["--set", "width_mult=0.125", "--image-size", "32", "--batch-size", "4", "--steps", "2", "--warmup", "1"]
TINY += ["--rounds", "1", "--no-compile"]
PLAIN = ["--precision", "fp32", "--no-channels-last", "--baseline", "same"]  # one setup per model, as before


def cpu_flags() -> set[str]:
    """The CPU's feature flags as the kernel reports them (independent of torch's checks)."""
    info = Path("/proc/cpuinfo")
    if not info.exists():
        pytest.skip("no /proc/cpuinfo here")
    return {f for line in info.read_text().splitlines() if line.startswith("flags") for f in line.split()[2:]}


@pytest.fixture(scope="module")
def rows():
    result = runner.invoke(app, ["bench", str(SMALL), *TINY, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["rows"]


def test_fields_and_ratios_against_the_fp32_eager_baseline(rows):
    small, tv = "specs/googlenet-small.yaml", "torchvision googlenet"
    assert [(r["model"], r["mode"], r["role"]) for r in rows] == [
        (model, mode, role) for mode in ("train", "infer") for model in (small, tv) for role in ("fast", "baseline")
    ]
    native = bool({"avx512_bf16", "amx_bf16"} & cpu_flags())
    for r in rows:
        if r["role"] == "fast":  # the defaults: auto precision, channels_last, no compile (--no-compile)
            assert (r["precision"], r["channels_last"]) == ("bf16" if native else "fp32", True)
        else:  # the baseline: what PyTorch does by default
            assert (r["precision"], r["channels_last"], r["compile"], r["fuse_1x1"]) == ("fp32", False, False, False)
    for mode in ("train", "infer"):
        ours, ours_fp32, tv_fast, tv_fp32 = [r for r in rows if r["mode"] == mode]
        assert tv_fp32["vs_torchvision"] == tv_fp32["vs_fp32_eager"] == ours_fp32["vs_fp32_eager"] == 1.0
        # one round: each ratio is the ratio of the two rows' images/s
        assert ours["vs_torchvision"] == pytest.approx(ours["images_per_sec"] / tv_fp32["images_per_sec"])
        assert ours["vs_fp32_eager"] == pytest.approx(ours["images_per_sec"] / ours_fp32["images_per_sec"])
        assert tv_fast["vs_fp32_eager"] == pytest.approx(tv_fast["images_per_sec"] / tv_fp32["images_per_sec"])
        assert ours["images_per_sec"] == pytest.approx(4 / (ours["step_ms_median"] / 1000))
    for r in rows:
        assert r["step_memory_mb"] is None and r["step_ms_iqr"] >= 0 and r["device"].startswith("cpu")
        assert r["peak_fraction"] is None  # no known peak for a CPU
        assert r["compile"] is False and r["compile_mode"] == "" and r["compile_s"] is None
        assert r["vs_torchvision_lo"] == r["vs_torchvision"] == r["vs_torchvision_hi"]  # one round: no spread
        assert r["forward_ms"] is None  # no --detail
        factor = 3 if r["mode"] == "train" else 1
        assert r["tmacs_per_sec"] == pytest.approx(factor * r["macs"] * r["images_per_sec"] / 1e12)
    ours = rows[0]
    weights, macs, _ = reference_counts(build_model(load_spec(SMALL, {"width_mult": 0.125}).spec), 32)
    assert (ours["params"], ours["macs"]) == (weights, macs)


def test_torchvision_macs_are_independent_of_our_counting(rows):
    tv = torchvision.models.googlenet(weights=None, aux_logits=False, init_weights=True).eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        tv(torch.zeros(1, 3, 32, 32))
    assert rows[2]["macs"] == counter.get_total_flops() // 2


def test_decay_batch_step_loses_a_quarter_or_a_third_not_half():
    sequence, n = [], 64
    while n > 1:
        n = steps.decay_batch_step(n)
        sequence.append(n)
    assert sequence == [48, 32, 24, 16, 12, 8, 6, 4, 3, 2, 1]
    assert [steps.decay_batch_step(n) for n in (100, 65, 7, 5, 2)] == [96, 64, 6, 4, 1]


def _case(name: str, step, batch: int = 4) -> measure.Case:
    model = measure.Model(name, lambda setup: nn.Identity(), 10, 0, 0, 0.0)
    return measure.Case(model, setups.FP32_EAGER, "fast", step, False, False, batch=batch)


def test_out_of_memory_steps_the_batch_down_gradually():
    calls = []

    def step(n: int, mark=None) -> None:
        calls.append(n)
        if n > 5:
            raise torch.OutOfMemoryError("simulated")

    case = _case("m", step)
    measure.warm_up(case, 16, 2, torch.device("cpu"))
    assert calls == [16, 12, 8, 6, 4, 4] and case.batch == 4  # then one more warm-up step at the batch that fit
    assert case.note == "out of memory at batch 16; stepped down to 4"

    def never(n: int, mark=None) -> None:
        raise torch.OutOfMemoryError("simulated")

    with pytest.raises(FieldError, match="batch_size=4: out of memory even at batch 1"):
        measure.warm_up(_case("m", never), 4, 1, torch.device("cpu"))


def test_rounds_interleave_and_ratios_are_medians_over_rounds_with_their_range():
    order = []
    cases = [_case(name, lambda n, mark=None, name=name: order.append(name)) for name in "ABC"]
    settings = BenchSettings(rounds=3, steps=2, warmup=1)
    done = []  # the progress: one tick per case warmed up, one per case's round
    measure.prepare(cases, settings, torch.device("cpu"), remake=lambda c: c, done=lambda: done.append(order[-1]))
    measure.interleave(cases, settings, torch.device("cpu"), done=lambda: done.append(order[-1]))
    assert "".join(order) == "ABC" + "AABBCC" + "CCBBAA" + "AABBCC"  # warm-up, then rounds, alternating order
    assert "".join(done) == "ABC" + "ABC" + "CBA" + "ABC"
    a, ref = cases[0], cases[1]
    a.rounds, ref.rounds = [[0.1, 0.3], [0.2, 0.2], [0.5, 0.5]], [[0.4, 0.4], [0.1, 0.3], [0.2, 0.2]]
    a.batch, ref.batch = 4, 2
    # per round: images/s = batch / median step; ratios (4/0.2)/(2/0.4) = 4, (4/0.2)/(2/0.2) = 2, (4/0.5)/(2/0.2) = 0.8
    assert measure.ratio(a, ref) == pytest.approx((2.0, 0.8, 4.0))
    assert measure.ratio(a, None) == (None, None, None)


def test_append_and_bad_options(tmp_path):
    out = tmp_path / "bench.csv"
    for _ in range(2):
        result = runner.invoke(app, ["bench", str(SMALL), *TINY, "--mode", "infer", "--no-torchvision", "-o", str(out)])
        assert result.exit_code == 0, result.output
    frame = pd.read_csv(out)
    assert len(frame) == 4 and set(frame["mode"]) == {"infer"} and frame["vs_torchvision"].isna().all()
    assert list(frame["role"]) == ["fast", "baseline"] * 2
    report = runner.invoke(app, ["report", str(out), "--out", str(tmp_path / "rep")])  # ibench report shows it
    assert report.exit_code == 0, report.output
    md = (tmp_path / "rep" / "report.md").read_text()
    assert (
        f"## Throughput ({tmp_path.name}/bench.csv)" in md
        and md.count("| specs/googlenet-small.yaml | infer | fp32 |") == 2
    )
    for args, expect in [
        (["--precision", "fp16"], "--precision fp16: only on CUDA"),
        (["--precision", "fp8"], "--precision fp8"),
        (["--baseline", "yesterday"], "--baseline yesterday"),
        (["--mode", "sideways"], "--mode sideways"),
        (["--batch-size", "0"], "--batch-size 0"),
        (["--device", "cuda"], "--device cuda"),
        (["--compile", "--compile-mode", "fastest"], "--compile-mode fastest"),
        (["--s2d-stem"], "--s2d-stem: the space-to-depth stem needs a stride-2 conv1; this spec's is 3x3/1"),
    ]:
        result = runner.invoke(app, ["bench", str(SMALL), *TINY, *args])
        assert result.exit_code == 2 and expect in result.stderr, (args, result.output)


def test_an_output_that_cannot_take_the_rows_is_refused_before_measuring(tmp_path, monkeypatch):
    # a folder, or a file bench did not write: one line naming it, exit 2, nothing measured, the file untouched
    def measured(*args, **kwargs):
        raise AssertionError("measured before the output was checked")

    monkeypatch.setattr(bench_runner, "bench", measured)
    folder = tmp_path / "folder"
    folder.mkdir()
    files = {"other.csv": "a,b\n1,2\n", "other.json": '{"rows": [{"a": 1}]}', "bad.json": "[1, 2]"}
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    for name, expect in [
        ("folder", "--output " + str(folder) + ": is a folder; give a .csv or .json file name"),
        ("other.csv", "other.csv: not written by `ibench bench`"),
        ("other.json", "other.json: not written by `ibench bench`"),
        ("bad.json", "bad.json: "),
    ]:
        result = runner.invoke(app, ["bench", str(SMALL), *TINY, "--no-torchvision", "-o", str(tmp_path / name)])
        assert result.exit_code == 2 and expect in result.stderr, (name, result.output)
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output
    assert {name: (tmp_path / name).read_text() for name in files} == files


def test_rows_append_to_older_bench_files(tmp_path):
    # a CSV from before step_memory_mb (its peak_memory_mb column kept), and an empty JSON list
    old = tmp_path / "old.csv"
    shutil.copy(ROOT / "results" / "bench" / "cpu-torchvision-spec.csv", old)
    before = pd.read_csv(old)
    assert "peak_memory_mb" in before.columns and "step_memory_mb" not in before.columns
    empty = tmp_path / "empty.json"
    empty.write_text('{"rows": []}')
    for out in (old, empty):
        result = runner.invoke(app, ["bench", str(SMALL), *TINY, "--mode", "infer", "--no-torchvision", "-o", str(out)])
        assert result.exit_code == 0, result.output
    after = pd.read_csv(old)
    assert len(after) == len(before) + 2 and after["peak_memory_mb"].iloc[: len(before)].equals(
        before["peak_memory_mb"]
    )
    assert "step_memory_mb" in after.columns and (after["images_per_sec"].iloc[len(before) :] > 0).all()
    assert len(json.loads(empty.read_text())["rows"]) == 2


def test_fused_1x1_rows(fuse_1x1_calls):
    result = runner.invoke(
        app, ["bench", str(SMALL), *TINY, *PLAIN, "--mode", "infer", "--fuse-1x1", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    ours, tv = json.loads(result.stdout)["rows"]
    assert fuse_1x1_calls == [True] and ours["fuse_1x1"] is True and tv["fuse_1x1"] is False  # tv runs as it is
    assert bench_rows.setup_label(ours) == "fp32 + fused 1x1" and bench_rows.setup_label(tv) == "fp32"
    naive = runner.invoke(
        app,
        [
            "bench",
            str(SMALL),
            *TINY,
            *PLAIN,
            "--mode",
            "infer",
            "--module",
            "naive",
            "--fuse-1x1",
            "--no-torchvision",
            "--format",
            "json",
        ],
    )
    assert naive.exit_code == 0, naive.output
    assert json.loads(naive.stdout)["rows"][0]["fuse_1x1"] is False  # naive modules have no 1x1 convolutions to fuse


def test_model_names_are_measured_as_their_spec_files():
    result = runner.invoke(app, ["bench", "small", *TINY, "--mode", "infer", "--no-torchvision", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert [r["model"] for r in json.loads(result.stdout)["rows"]] == ["specs/googlenet-small.yaml"] * 2


def test_s2d_stem_rows():
    # the torchvision-compatible spec has the paper's 7x7/2 conv1; the small spec's 3x3/1 is refused (above)
    result = runner.invoke(
        app,
        [
            "bench",
            str(TORCHVISION),
            *TINY,
            *PLAIN,
            "--image-size",
            "64",
            "--mode",
            "infer",
            "--s2d-stem",
            "--fuse-1x1",
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    ours, tv = json.loads(result.stdout)["rows"]
    assert ours["s2d_stem"] is True and tv["s2d_stem"] is False  # torchvision's model runs as it is
    assert bench_rows.setup_label(ours) == "fp32 + fused 1x1 + s2d stem" and bench_rows.setup_label(tv) == "fp32"
    # MACs stay the network's (the blocks' zero padding is not counted as work)
    model = build_model(load_spec(TORCHVISION, {"width_mult": 0.125, "input_size": 64}).spec)
    assert ours["macs"] == reference_counts(model, 64)[1]


def test_setup_label_reads_rows_and_old_csvs():
    row = {"precision": "bf16", "channels_last": True, "compile": True, "compile_mode": "reduce-overhead"}
    assert bench_rows.setup_label(row) == "bf16 + channels_last + compile (reduce-overhead)"
    assert (
        bench_rows.setup_label({**row, "fuse_1x1": True})
        == "bf16 + channels_last + fused 1x1 + compile (reduce-overhead)"
    )
    assert bench_rows.setup_label({**row, "compile_mode": "default"}) == "bf16 + channels_last + compile"
    # a CSV read back by pandas: booleans as strings or numpy bools, no compile_mode column in older files
    assert (
        bench_rows.setup_label({"precision": "fp32", "channels_last": "False", "compile": "True"}) == "fp32 + compile"
    )
    assert (
        bench_rows.setup_label(
            {"precision": "fp32", "channels_last": False, "compile": False, "compile_mode": float("nan")}
        )
        == "fp32"
    )


def _step_changes_weights(mode: str, setup: setups.Setup) -> bool:
    spec = load_spec(SMALL, {"width_mult": 0.125}).spec
    model = build_model(spec)
    before = [p.detach().clone() for p in model.parameters()]
    step = steps.make_step(model, mode, setup, torch.device("cpu"), spec.num_classes, spec.aux.loss_weight, 32)
    step(2, None)
    return any(not torch.equal(p, q) for p, q in zip(model.parameters(), before, strict=True))


def test_train_steps_update_weights_and_infer_steps_do_not(monkeypatch):
    compiled = []

    def fake_compile(model, mode=None, dynamic=None):  # the settings reach torch.compile; the step logic is tested
        compiled.append((mode, dynamic))
        return model

    monkeypatch.setattr(torch, "compile", fake_compile)
    for compile_mode in ("default", "reduce-overhead"):
        setup = setups.Setup("fp32", channels_last=False, compile=True, compile_mode=compile_mode)
        assert _step_changes_weights("train", setup)
        assert not _step_changes_weights("infer", setup)
    # every graph specialised to its shapes: a second variant is not compiled with dynamic shapes
    assert compiled == [(None, False), (None, False), ("reduce-overhead", False), ("reduce-overhead", False)]
    assert _step_changes_weights("train", setups.FP32_EAGER)


def test_compile_auto_is_inference_on_the_cpu_with_an_eager_twin(monkeypatch):
    auto = BenchSettings()
    assert [auto.compile_for(m, d) for m in ("train", "infer") for d in ("cpu", "cuda")] == [False, False, True, False]
    assert auto.inductor_for("infer", "cpu") == {"freezing": True} and auto.inductor_for("train", "cpu") == {}
    forced = BenchSettings(compile=True)
    assert forced.compile_for("train", "cpu") and not BenchSettings(compile=False).compile_for("infer", "cpu")
    assert forced.inductor_for("infer", "cpu") == {"freezing": True} and forced.inductor_for("train", "cpu") == {}
    given = BenchSettings(inductor={"max_autotune": True})  # inductor settings (or a compile mode) turn it on
    assert given.compile_for("train", "cuda") and given.inductor_for("infer", "cpu") == {"max_autotune": True}
    seen: list[bool] = []
    monkeypatch.setattr(torch, "compile", slow_first_compile(2.0, seen))
    args = [a for a in TINY if a != "--no-compile"]
    result = runner.invoke(app, ["bench", str(SMALL), *args, "--no-torchvision", "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["rows"]
    assert [(r["mode"], r["role"], r["compile"]) for r in rows] == [
        ("train", "fast", False),
        ("train", "baseline", False),
        ("infer", "fast", True),
        ("infer", "eager", False),
        ("infer", "baseline", False),
    ]
    assert seen == [True]  # one compiled step, compiled with freezing on
    fast, eager = rows[2], rows[3]
    assert fast["compile_mode"] == "default; freezing=True" and bench_rows.setup_label(fast).endswith(
        "compile (freezing=True)"
    )
    assert (eager["precision"], eager["channels_last"]) == (fast["precision"], fast["channels_last"])
    assert fast["compile_gain"] == pytest.approx(fast["images_per_sec"] / eager["images_per_sec"])  # one round
    # the slow first call's 2 s sleep is in it, less a steady step's time (a tiny model's: milliseconds, even on a
    # loaded machine, whose slowness may fall on the first step or the later ones)
    assert fast["compile_s"] >= 1.0 and eager["compile_s"] is None
    assert ("compile does not pay here" in fast["note"]) == (fast["compile_gain"] < 1)
    assert "precision" in result.stderr and "interleaved rounds" in result.stderr  # the choice is printed


def test_baseline_same_compares_each_setup_with_torchvisions_in_that_setup(monkeypatch):
    monkeypatch.setattr(torch, "compile", lambda model, mode=None, dynamic=None: model)
    args = [a for a in TINY if a != "--no-compile"]
    result = runner.invoke(
        app, ["bench", str(SMALL), *args, "--mode", "infer", "--baseline", "same", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    ours, ours_eager, tv, tv_eager = json.loads(result.stdout)["rows"]
    assert [r["role"] for r in (ours, ours_eager, tv, tv_eager)] == ["fast", "eager", "fast", "eager"]
    assert ours["vs_torchvision"] == pytest.approx(ours["images_per_sec"] / tv["images_per_sec"])
    assert ours_eager["vs_torchvision"] == pytest.approx(ours_eager["images_per_sec"] / tv_eager["images_per_sec"])
    assert tv_eager["vs_torchvision"] == 1.0 and ours["vs_fp32_eager"] is None


def test_a_fast_setup_that_is_fp32_eager_is_its_own_baseline():
    result = runner.invoke(
        app,
        [
            "bench",
            str(SMALL),
            *TINY,
            "--mode",
            "infer",
            "--precision",
            "fp32",
            "--no-channels-last",
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    ours, tv = json.loads(result.stdout)["rows"]  # measured once each
    assert ours["vs_fp32_eager"] == tv["vs_fp32_eager"] == tv["vs_torchvision"] == 1.0
    assert ours["vs_torchvision"] == pytest.approx(ours["images_per_sec"] / tv["images_per_sec"])


def test_setups_run_one_common_batch_and_a_failed_auto_compile_is_measured_eager():
    def fits(limit: int):
        def step(n: int, mark=None) -> None:
            if n > limit:
                raise torch.OutOfMemoryError("simulated")

        return step

    cases = [_case("a", fits(5)), _case("b", fits(64))]
    measure.prepare(cases, BenchSettings(batch_size=16, warmup=1), torch.device("cpu"), remake=lambda c: c)
    assert [c.batch for c in cases] == [4, 4]
    assert cases[0].note == "out of memory at batch 16; stepped down to 4"
    assert cases[1].note == "run at batch 4, the largest every setup here fits"

    def broken(n: int, mark=None) -> None:
        raise torch._dynamo.exc.BackendCompilerFailed("inductor", RuntimeError("no C++ compiler"), None)

    compiled = replace(setups.FP32_EAGER, compile=True)
    cases = [replace(_case("c", broken), setup=compiled)]
    remade = _case("c", fits(64))
    measure.prepare(cases, BenchSettings(batch_size=8, warmup=1), torch.device("cpu"), remake=lambda c: remade)
    assert cases[0] is remade and "compile (auto) failed, measured eager" in remade.note and remade.batch == 8
    with pytest.raises(FieldError, match="compile=True: torch.compile failed"):
        measure.prepare(
            [replace(_case("c", broken), setup=compiled)],
            BenchSettings(batch_size=8, warmup=1, compile=True),
            torch.device("cpu"),
            remake=lambda c: remade,
        )


def test_detail_splits_a_training_step_into_its_phases():
    marks = []
    spec = load_spec(SMALL, {"width_mult": 0.125}).spec
    model = build_model(spec)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    scaler = torch.amp.GradScaler("cuda", enabled=False)
    images, target = torch.randn(2, 3, 32, 32), torch.tensor([1, 2])
    before = next(model.parameters()).detach().clone()

    def mark(phase: str) -> None:  # what each phase has done when it is marked
        grad = next(model.parameters()).grad
        changed = not torch.equal(next(model.parameters()).detach(), before)
        marks.append((phase, grad is not None, changed))

    train_step(model, images, target, optimizer, scaler, autocast_for(torch.device("cpu"), "fp32"), 0.3, mark)
    assert marks == [("forward", False, False), ("backward", True, False), ("optimizer", True, True)]
    result = runner.invoke(
        app, ["bench", str(SMALL), *TINY, "--detail", "--baseline", "same", "--no-torchvision", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    train, infer = json.loads(result.stdout)["rows"]
    assert all(train[f"{p}_ms"] > 0 for p in ("forward", "backward", "optimizer"))
    assert infer["forward_ms"] is None  # an inference step is one phase


def test_inductor_settings_are_checked_and_recorded():
    settings = parse(
        BenchSettings, {"compile": True, "compile_mode": "reduce-overhead", "inductor": {"freezing": True}}, "bench"
    )
    setups.check_inductor(settings)
    setup = setups.Setup.fast(settings, "train", torch.device("cpu"))
    assert setup.compile_label() == "reduce-overhead; freezing=True"
    assert setups.Setup.fast(BenchSettings(), "train", torch.device("cpu")).compile_label() == ""
    with pytest.raises(FieldError, match="bench.inductor=.*: applies to torch.compile only"):
        parse(BenchSettings, {"compile": False, "inductor": {"freezing": True}}, "bench")
    with pytest.raises(FieldError, match="inductor=fastest=1: not a torch._inductor.config setting"):
        setups.check_inductor(BenchSettings(compile=True, inductor={"fastest": 1}))
    with pytest.raises(FieldError, match="inductor=freezing=abc: freezing takes true or false"):
        setups.check_inductor(BenchSettings(compile=True, inductor={"freezing": "abc"}))
    with pytest.raises(FieldError, match="bench.compile_mode=reduce-overhead: applies to torch.compile only"):
        parse(BenchSettings, {"compile": False, "compile_mode": "reduce-overhead"}, "bench")
    for args, expect in [
        (["--compile", "--inductor", "nonsense"], "--inductor nonsense: expected KEY=VALUE"),
        (["--compile", "--inductor", "fastest=1"], "--inductor fastest=1: not a torch._inductor.config setting"),
        (["--inductor", "freezing=true"], "--inductor freezing=True: applies to torch.compile only"),
    ]:
        result = runner.invoke(app, ["bench", str(SMALL), *TINY, *args])
        assert result.exit_code == 2 and expect in result.stderr, result.output


def test_peak_by_device_name_and_tf32(monkeypatch):
    cuda = torch.device("cuda")
    for name, precision, expect in [  # vendor datasheets: dense TFLOPS / 2 = 10^12 MAC/s
        ("NVIDIA H100 80GB HBM3", "bf16", 989.4 / 2),
        ("NVIDIA H100 PCIe", "bf16", 756 / 2),
        ("NVIDIA H100 80GB HBM3", "fp32", 494.7 / 2),
        ("NVIDIA A100-SXM4-80GB", "bf16", 312 / 2),
        ("NVIDIA GeForce GTX 1080", "bf16", None),
    ]:
        monkeypatch.setattr(torch.cuda, "get_device_name", lambda device, n=name: n)
        got = bench_runner._peak(cuda, precision, None)
        assert got == (pytest.approx(expect, rel=0.01) if expect else None), (name, precision)
    monkeypatch.setattr(bench_runner, "_convs_use_tf32", lambda: False)  # strict fp32: the plain fp32 units, 67 TFLOPS
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device: "NVIDIA H100 80GB HBM3")
    assert bench_runner._peak(cuda, "fp32", None) == pytest.approx(67 / 2, rel=0.01)
    assert (
        bench_runner._peak(cuda, "bf16", 100.0) == 100.0
        and bench_runner._peak(torch.device("cpu"), "fp32", None) is None
    )


def test_report_reads_bench_csvs_written_before_compile_mode(tmp_path):
    old = tmp_path / "old" / "bench.csv"
    old.parent.mkdir()
    frame = pd.read_csv(Path(__file__).parents[1] / "results" / "bench" / "cpu-torchvision-spec.csv")
    assert "compile_mode" not in frame
    frame.to_csv(old, index=False)
    result = runner.invoke(app, ["report", str(old), "--out", str(tmp_path / "rep")])
    assert result.exit_code == 0, result.output
    assert "| specs/googlenet-torchvision.yaml | train | fp32 | 16 |" in (tmp_path / "rep" / "report.md").read_text()


def test_runtime_onnxruntime_times_each_model_exported_beside_torch(monkeypatch, tmp_path):
    """One more row per model (torchvision's too): its ONNX export in onnxruntime, fp32, with its ratio to the same
    model's fp32 eager baseline; the session runs the network's function (logits as torch's, checked here)."""
    pytest.importorskip("onnxruntime", reason="the dev extra installs onnxruntime")
    import shutil

    from inception_bench.evaluate import export

    sessions, folders = [], []
    real = export.write_onnx

    def spy(model, path, x):  # keep a copy of each file bench exports (it deletes its own)
        real(model, path, x)
        kept = tmp_path / f"model-{len(sessions)}.onnx"
        shutil.copy(path, kept)
        sessions.append((model, kept))
        folders.append(path.parent)

    monkeypatch.setattr(export, "write_onnx", spy)
    args = [*TINY, "--mode", "infer", "--runtime", "onnxruntime", "--device", "cpu", "--format", "json"]
    result = runner.invoke(app, ["bench", str(SMALL), *args])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["rows"]
    ort = [r for r in rows if r["runtime"] == "onnxruntime"]
    assert sorted(r["model"] for r in ort) == sorted({r["model"] for r in rows}) and len(ort) == 2
    for row in ort:
        setup = (row["role"], row["precision"], row["channels_last"], row["compile"])
        assert setup == ("onnxruntime", "fp32", False, False)
        assert row["images_per_sec"] > 0 and row["vs_fp32_eager"] is not None
        assert bench_rows.setup_label(row) == "onnxruntime + fp32"
    import onnxruntime

    for model, path in sessions:
        x = torch.randn(3, 3, 32, 32)
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        got = torch.from_numpy(session.run(None, {session.get_inputs()[0].name: x.numpy()})[0])
        with torch.no_grad():
            assert torch.allclose(got, model.eval()(x), atol=1e-4, rtol=1e-4)
    assert folders and not [f for f in folders if f.exists()]  # bench's own files are gone
    train = runner.invoke(app, ["bench", str(SMALL), *TINY, "--runtime", "onnxruntime"])
    assert train.exit_code == 2 and "--runtime onnxruntime: onnxruntime times inference only; add --mode infer" in (
        train.stderr
    )


def test_progress_lines_with_a_heartbeat_due_and_none_with_quiet(monkeypatch):
    from inception_bench import progress

    monkeypatch.setattr(progress, "HEARTBEAT_SECONDS", 0.0)  # each tick a minute later: a plain line each
    args = ["bench", str(SMALL), *TINY, *PLAIN, "--mode", "infer", "--no-torchvision", "--format", "json"]
    shown = runner.invoke(app, args)
    assert shown.exit_code == 0, shown.output
    ticks = [line for line in shown.stderr.splitlines() if line.startswith("infer: warm-ups and rounds: ")]
    assert len(ticks) == 1 and ticks[0].startswith("infer: warm-ups and rounds: 1/2, about ")  # not at 2/2
    quiet = runner.invoke(app, [*args, "--quiet"])
    assert quiet.exit_code == 0 and quiet.stderr == "" and json.loads(quiet.stdout)["rows"][0]["mode"] == "infer"


def test_runtime_openvino_times_each_model_converted_with_f32_and_bf16_hints(monkeypatch):
    """Per model one row with OpenVINO's f32 hint and, on a CPU with bf16 units, one with its bf16 hint, with their
    ratios to the model's fp32 eager torch baseline; the compiled model runs the network's function (its logits
    compared here with torch's, independently of the check the runner makes)."""
    ov = pytest.importorskip("openvino", reason="the dev extra installs openvino")
    from inception_bench.bench import steps

    compiled = []
    real = steps.openvino_step

    def spy(model, image_size, precision):
        compiled.append((model, precision))
        return real(model, image_size, precision)

    monkeypatch.setattr(bench_runner, "openvino_step", spy)
    args = [*TINY, "--mode", "infer", "--runtime", "openvino", "--device", "cpu", "--no-torchvision"]
    args += ["--format", "json"]
    result = runner.invoke(app, ["bench", str(SMALL), *args])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["rows"]
    has_bf16 = "BF16" in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    hints = ["fp32", "bf16"] if has_bf16 else ["fp32"]
    for model in {r["model"] for r in rows}:
        ovr = [r for r in rows if r["model"] == model and r["runtime"] == "openvino"]
        assert sorted(r["precision"] for r in ovr) == sorted(hints), model
        for row in ovr:
            assert (row["role"], row["channels_last"], row["compile"]) == ("openvino", False, False)
            assert row["images_per_sec"] > 0 and row["vs_fp32_eager"] is not None
            assert bench_rows.setup_label(row) == f"openvino + {row['precision']}"
    model, _ = compiled[0]
    x = torch.randn(5, 3, 32, 32)
    converted = ov.convert_model(model, example_input=x)
    got = ov.Core().compile_model(converted, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})(x.numpy())[0]
    with torch.no_grad():
        assert torch.allclose(torch.from_numpy(got), model.eval()(x), atol=1e-4, rtol=1e-4)
    train = runner.invoke(app, ["bench", str(SMALL), *TINY, "--runtime", "openvino"])
    assert train.exit_code == 2 and "--runtime openvino: openvino times inference only; add --mode infer" in (
        train.stderr
    )


def test_runtime_openvino_refuses_a_conversion_that_changes_the_logits(monkeypatch):
    """The runner's own check: a converted graph whose logits differ from torch's is one error line naming
    --runtime, not a timed row."""
    pytest.importorskip("openvino", reason="the dev extra installs openvino")
    import openvino as ov

    real = ov.Core.compile_model

    def wrong(self, model, device, config):  # the converted graph with its logits doubled
        from openvino import opset13 as ops

        result = model.get_results()[0].input_value(0)
        doubled = ops.multiply(result, ops.constant(2.0, dtype=np.float32))
        return real(self, ov.Model([doubled], model.get_parameters()), device, config)

    monkeypatch.setattr(ov.Core, "compile_model", wrong)
    args = [*TINY, "--mode", "infer", "--runtime", "openvino", "--device", "cpu", "--no-torchvision"]
    result = runner.invoke(app, ["bench", str(SMALL), *args])
    assert result.exit_code == 2, result.output
    assert "--runtime openvino: OpenVINO's fp32 logits differ from torch's by" in result.stderr
    assert "Traceback" not in result.output
