"""``ibench bench`` on the CPU with tiny settings: fields, the torchvision ratio, MACs, OOM back-off."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import torch
import torchvision
from conftest import SMALL, TORCHVISION, reference_counts
from torch.utils.flop_counter import FlopCounterMode
from typer.testing import CliRunner

from inception_bench import bench as b
from inception_bench.cli import app
from inception_bench.errors import FieldError
from inception_bench.models import build_model
from inception_bench.settings import BenchSettings, parse
from inception_bench.spec import load_spec

runner = CliRunner()
TINY = ["--set", "width_mult=0.125", "--image-size", "32", "--batch-size", "4", "--steps", "2", "--warmup", "1"]


@pytest.fixture(scope="module")
def rows():
    result = runner.invoke(app, ["bench", str(SMALL), *TINY, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_fields_and_ratio(rows):
    assert [(r["model"], r["mode"]) for r in rows] == [
        ("specs/googlenet-small.yaml", "train"),
        ("torchvision googlenet", "train"),
        ("specs/googlenet-small.yaml", "infer"),
        ("torchvision googlenet", "infer"),
    ]
    for mode in ("train", "infer"):
        ours, tv = [r for r in rows if r["mode"] == mode]
        assert tv["vs_torchvision"] == 1.0
        assert ours["vs_torchvision"] == pytest.approx(ours["images_per_sec"] / tv["images_per_sec"])
        assert ours["images_per_sec"] == pytest.approx(4 / (ours["step_ms_median"] / 1000))
    for r in rows:
        assert r["peak_memory_mb"] > 0 and r["step_ms_iqr"] >= 0 and r["device"].startswith("cpu")
        assert r["peak_fraction"] is None  # no known peak for a CPU
        assert r["compile"] is False and r["compile_mode"] == ""
        factor = 3 if r["mode"] == "train" else 1
        assert r["tmacs_per_sec"] == pytest.approx(factor * r["macs"] * r["images_per_sec"] / 1e12)
    ours = rows[0]
    weights, macs, _ = reference_counts(build_model(load_spec(SMALL, {"width_mult": 0.125}).spec), 32)
    assert (ours["params"], ours["macs"]) == (weights, macs)


def test_torchvision_macs_are_independent_of_our_counting(rows):
    tv = torchvision.models.googlenet(weights=None, aux_logits=False, init_weights=True).eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        tv(torch.zeros(1, 3, 32, 32))
    assert rows[1]["macs"] == counter.get_total_flops() // 2


def test_oom_back_off():
    calls = []

    def step(n: int) -> None:
        calls.append(n)
        if n > 3:
            raise torch.OutOfMemoryError("simulated")

    m = b.measure(step, BenchSettings(batch_size=16, steps=2, warmup=1), torch.device("cpu"))
    assert m["batch"] == 2 and "backed off to 2" in m["note"] and "batch 16" in m["note"]
    assert calls[:3] == [16, 8, 4]

    def never(n: int) -> None:
        raise torch.OutOfMemoryError("simulated")

    with pytest.raises(FieldError, match="batch_size=4: out of memory even at batch 1"):
        b.measure(never, BenchSettings(batch_size=4, steps=1, warmup=0), torch.device("cpu"))


def test_append_and_bad_options(tmp_path):
    out = tmp_path / "bench.csv"
    for _ in range(2):
        result = runner.invoke(app, ["bench", str(SMALL), *TINY, "--mode", "infer", "--no-torchvision", "-o", str(out)])
        assert result.exit_code == 0, result.output
    frame = pd.read_csv(out)
    assert len(frame) == 2 and set(frame["mode"]) == {"infer"} and frame["vs_torchvision"].isna().all()
    report = runner.invoke(app, ["report", str(out), "--out", str(tmp_path / "rep")])  # ibench report shows it
    assert report.exit_code == 0, report.output
    md = (tmp_path / "rep" / "report.md").read_text()
    assert (
        f"## Throughput ({tmp_path.name}/bench.csv)" in md
        and md.count("| specs/googlenet-small.yaml | infer | fp32 |") == 2
    )
    for args, expect in [
        (["--precision", "bf16"], "--precision bf16: only on CUDA"),
        (["--mode", "sideways"], "--mode sideways"),
        (["--batch-size", "0"], "--batch-size 0"),
        (["--device", "cuda"], "--device cuda"),
        (["--compile", "--compile-mode", "fastest"], "--compile-mode fastest"),
        (["--s2d-stem"], "--s2d-stem: the space-to-depth stem needs a stride-2 conv1; this spec's is 3x3/1"),
    ]:
        result = runner.invoke(app, ["bench", str(SMALL), *TINY, *args])
        assert result.exit_code == 2 and expect in result.stderr, (args, result.output)


def test_fused_1x1_rows(fuse_1x1_calls):
    result = runner.invoke(app, ["bench", str(SMALL), *TINY, "--mode", "infer", "--fuse-1x1", "--format", "json"])
    assert result.exit_code == 0, result.output
    ours, tv = json.loads(result.stdout)
    assert fuse_1x1_calls == [True] and ours["fuse_1x1"] is True and tv["fuse_1x1"] is False  # tv runs as it is
    assert b.setup_label(ours) == "fp32 + fused 1x1" and b.setup_label(tv) == "fp32"
    naive = runner.invoke(
        app,
        [
            "bench",
            str(SMALL),
            *TINY,
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
    assert json.loads(naive.stdout)[0]["fuse_1x1"] is False  # naive modules have no 1x1 convolutions to fuse


def test_model_names_are_measured_as_their_spec_files():
    result = runner.invoke(app, ["bench", "small", *TINY, "--mode", "infer", "--no-torchvision", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert [r["model"] for r in json.loads(result.stdout)] == ["specs/googlenet-small.yaml"]


def test_s2d_stem_rows():
    # the torchvision-compatible spec has the paper's 7x7/2 conv1; the small spec's 3x3/1 is refused (above)
    result = runner.invoke(
        app,
        [
            "bench",
            str(TORCHVISION),
            *TINY,
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
    ours, tv = json.loads(result.stdout)
    assert ours["s2d_stem"] is True and tv["s2d_stem"] is False  # torchvision's model runs as it is
    assert b.setup_label(ours) == "fp32 + fused 1x1 + s2d stem" and b.setup_label(tv) == "fp32"
    # MACs stay the network's (the blocks' zero padding is not counted as work)
    model = build_model(load_spec(TORCHVISION, {"width_mult": 0.125, "input_size": 64}).spec)
    assert ours["macs"] == reference_counts(model, 64)[1]


def test_setup_label_reads_rows_and_old_csvs():
    row = {"precision": "bf16", "channels_last": True, "compile": True, "compile_mode": "reduce-overhead"}
    assert b.setup_label(row) == "bf16 + channels_last + compile (reduce-overhead)"
    assert b.setup_label({**row, "fuse_1x1": True}) == "bf16 + channels_last + fused 1x1 + compile (reduce-overhead)"
    assert b.setup_label({**row, "compile_mode": "default"}) == "bf16 + channels_last + compile"
    # a CSV read back by pandas: booleans as strings or numpy bools, no compile_mode column in older files
    assert b.setup_label({"precision": "fp32", "channels_last": "False", "compile": "True"}) == "fp32 + compile"
    assert (
        b.setup_label({"precision": "fp32", "channels_last": False, "compile": False, "compile_mode": float("nan")})
        == "fp32"
    )


def _step_changes_weights(mode: str, settings: BenchSettings) -> bool:
    spec = load_spec(SMALL, {"width_mult": 0.125}).spec
    model = build_model(spec)
    before = [p.detach().clone() for p in model.parameters()]
    step = b.make_step(model, mode, settings, torch.device("cpu"), spec.num_classes, spec.aux.loss_weight)
    step(2)
    return any(not torch.equal(p, q) for p, q in zip(model.parameters(), before, strict=True))


def test_train_steps_update_weights_and_infer_steps_do_not(monkeypatch):
    compiled = []

    def fake_compile(model, mode=None):  # the settings reach torch.compile; the step logic is what is tested
        compiled.append(mode)
        return model

    monkeypatch.setattr(torch, "compile", fake_compile)
    for compile_mode in ("default", "reduce-overhead"):
        settings = BenchSettings(image_size=32, compile=True, compile_mode=compile_mode)
        assert _step_changes_weights("train", settings)
        assert not _step_changes_weights("infer", settings)
    assert compiled == [None, None, "reduce-overhead", "reduce-overhead"]
    assert _step_changes_weights("train", BenchSettings(image_size=32))


def test_inductor_settings_are_checked_and_recorded():
    settings = parse(
        BenchSettings, {"compile": True, "compile_mode": "reduce-overhead", "inductor": {"freezing": True}}, "bench"
    )
    b.check_inductor(settings)
    assert settings.compile_label() == "reduce-overhead; freezing=True"
    assert BenchSettings().compile_label() == ""
    with pytest.raises(FieldError, match="bench.inductor=.*: applies to torch.compile only"):
        parse(BenchSettings, {"inductor": {"freezing": True}}, "bench")
    with pytest.raises(FieldError, match="inductor=fastest=1: not a torch._inductor.config setting"):
        b.check_inductor(BenchSettings(compile=True, inductor={"fastest": 1}))
    with pytest.raises(FieldError, match="inductor=freezing=abc: freezing takes true or false"):
        b.check_inductor(BenchSettings(compile=True, inductor={"freezing": "abc"}))
    with pytest.raises(FieldError, match="bench.compile_mode=reduce-overhead: applies to torch.compile only"):
        parse(BenchSettings, {"compile_mode": "reduce-overhead"}, "bench")
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
        got = b._peak(cuda, precision, None)
        assert got == (pytest.approx(expect, rel=0.01) if expect else None), (name, precision)
    monkeypatch.setattr(b, "_convs_use_tf32", lambda: False)  # strict fp32: the plain fp32 units, 67 TFLOPS
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device: "NVIDIA H100 80GB HBM3")
    assert b._peak(cuda, "fp32", None) == pytest.approx(67 / 2, rel=0.01)
    assert b._peak(cuda, "bf16", 100.0) == 100.0 and b._peak(torch.device("cpu"), "fp32", None) is None


def test_report_reads_bench_csvs_written_before_compile_mode(tmp_path):
    old = tmp_path / "old" / "bench.csv"
    old.parent.mkdir()
    frame = pd.read_csv(Path(__file__).parents[1] / "results" / "bench" / "cpu-torchvision-spec.csv")
    assert "compile_mode" not in frame
    frame.to_csv(old, index=False)
    result = runner.invoke(app, ["report", str(old), "--out", str(tmp_path / "rep")])
    assert result.exit_code == 0, result.output
    assert "| specs/googlenet-torchvision.yaml | train | fp32 | 16 |" in (tmp_path / "rep" / "report.md").read_text()
