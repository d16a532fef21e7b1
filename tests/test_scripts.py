"""The GPU session's prepared scripts, run on the CPU with tiny settings so that they work when a device is lent
(device time is too scarce to debug them there)."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from conftest import ROOT, SMALL, TORCHVISION, invoke_ablate, write_ablation
from typer.testing import CliRunner

from inception_bench.cli import app


def _script(*args: str) -> str:
    result = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@pytest.mark.slow
def test_profile_step_names_every_convolution_and_sums_its_kinds():
    out = _script(
        "scripts/profile_step.py",
        str(TORCHVISION),
        "--set",
        "width_mult=0.25",
        "--image-size",
        "64",
        "--batch-size",
        "2",
        "--steps",
        "1",
        "--fuse-1x1",
        "--s2d-stem",
    )
    kinds = dict(re.findall(r"^  (\S.*?)\s+[\d.]+ ms\s+([\d.]+)%$", out, flags=re.M))
    # the kinds share the step out (how much each takes is timing, for the script's reader, not for a test)
    assert {"convolution / GEMM", "batch norm", "pooling", "concatenation"} <= set(kinds), out
    assert abs(sum(map(float, kinds.values())) - 100) < 0.5 and float(kinds["convolution / GEMM"]) > 0, out
    table = out.split("convolutions per step")[1].splitlines()[2:]
    rows = {line.split()[0]: line.split() for line in table if line.strip()}
    # conv1 (16 filters of 7x7 over 3 channels at width 0.25) as 4x4 over the blocks of a 64 + 6 px image
    assert rows["conv1"][1:3] == ["space-to-depth", "16x16x4x4"] and rows["conv1"][3] == "2x16x35x35"
    # the torchvision spec's nine modules each run their 1x1, 3x3 reduce and "5x5" reduce as one
    assert sum(" fused 1x1 " in line for line in table) == 9
    assert not any(line.startswith("?") for line in table)  # every convolution that ran is named


@pytest.mark.slow
def test_bench_targets_reads_a_bench_csv(tmp_path):
    csv = tmp_path / "bench.csv"
    tiny = ["--set", "width_mult=0.125", "--image-size", "32", "--batch-size", "2", "--steps", "1", "--warmup", "0"]
    tiny += ["--rounds", "1", "--no-compile"]
    result = CliRunner().invoke(app, ["bench", str(SMALL), *tiny, "-o", str(csv)])
    assert result.exit_code == 0, result.output
    out = _script("scripts/bench_targets.py", str(csv))
    for mode, target in (("train", "3.0"), ("infer", "4.0")):
        line = next(line for line in out.splitlines() if line.startswith(f"{mode} ("))
        assert "specs/googlenet-small.yaml, " in line and f"target {target}x" in line
        assert "the fp32 eager torchvision baseline" in line


@pytest.mark.slow
def test_stem_bench_times_the_three_ways_of_the_same_function():
    out = _script("scripts/stem_bench.py", "--batch-size", "2", "--image-size", "33", "--steps", "1", "--width", "8")
    assert float(re.search(r"relative difference (\S+)", out).group(1)) < 1e-5  # fp32: the same function
    rows = [line.split() for line in out.splitlines()[2:]]
    assert [r[:-4] for r in rows] == [["plain"], ["s2d"], ["s2d", "conv", "only"]]
    for r in rows:  # speed-up = plain's time / this way's time, forward and forward + backward (times printed
        # to 3 decimals of a ms, so a few % of rounding at this size)
        for time, speedup, plain in ((r[-4], r[-3], rows[0][-4]), (r[-2], r[-1], rows[0][-2])):
            assert float(speedup.rstrip("x")) == pytest.approx(float(plain) / float(time), rel=0.05)


@pytest.mark.parametrize(
    "kernel, kind",
    [  # kernel names from torch.profiler tables of CUDA runs (results/bench/gpu-2026-11-27) and of cuDNN/inductor
        ("void cutlass__5x_cudnn::Kernel<cutlass_tensorop_bf16_s16816fprop_optimized_bf16>", "convolution / GEMM"),
        ("sm90_xmma_fprop_implicit_gemm_bf16bf16_bf16f32_f32_nhwckrsc_nhwc", "convolution / GEMM"),
        ("nvjet_sm90_tst_64x512_64x2_1x2_h_ssched_bz_coopB_TNT", "convolution / GEMM"),
        ("void cudnn::cnn::wgrad_alg0_engine<float, 128, 6, 7, 3, 3, 5, false, 512>", "convolution / GEMM"),
        ("void cudnn::bn_fw_tr_1C11_kernel_NCHW<float, float, int, 512, true, 1>", "batch norm"),
        ("triton_red_fused__native_batch_norm_legit_functional_1", "batch norm"),
        ("triton_poi_fused__to_copy_convolution_relu_2", "inductor fused elementwise"),  # a convolution's epilogue
        ("triton_poi_fused_max_pool2d_with_indices_38", "pooling"),
        ("void nhwcAddPaddingKernel<__nv_bfloat16, __nv_bfloat16, float, true>", "padding to 8 channels"),
        ("void at::native::CatArrayBatchedCopy<float, unsigned int, 4, 64, 64>", "concatenation"),
        ("void at::native::_scatter_gather_elementwise_kernel<128, 4>", "other"),
        ("void at::native::multi_tensor_apply_kernel<FusedSgdMathFunctor>", "optimizer"),
        ("aten::mkldnn_convolution", "convolution / GEMM"),
    ],
)
def test_profile_kinds_of_kernels(kernel, kind):
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from profile_step import kind_of
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    assert kind_of(kernel) == kind


def test_colour_folder_has_both_polarities_at_40_px(tmp_path):
    import numpy as np
    from PIL import Image

    _script("scripts/make_image_folder.py", "colour", str(tmp_path / "f"))
    counts = {s: len(list((tmp_path / "f" / s).glob("*/*.jpg"))) for s in ("train", "val", "test")}
    assert counts == {"train": 4191, "val": 400, "test": 400}
    darker_ink = lighter_ink = 0
    for path in sorted((tmp_path / "f" / "train").glob("*/*.jpg"))[::40]:
        image = np.asarray(Image.open(path).convert("L"), dtype=float)
        assert image.shape == (40, 40)
        border = np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]]).mean()  # the background
        ink = image.max() if image.max() - border > border - image.min() else image.min()
        darker_ink += ink < border
        lighter_ink += ink > border
    assert darker_ink > 20 and lighter_ink > 20  # either polarity, as issue 25's folder


@pytest.mark.slow
def test_rerun_check_finds_a_run_reproduced_to_the_digit_and_names_a_figure_that_is_not(tmp_path):
    """scripts/rerun_check.py trains a finished run again from its request.json: on the same machine and code every
    figure is equal (a seed fixes data order, initialisation and augmentation); a record altered by hand is named."""
    recipe = {"epochs": 1, "batch_size": 64, "workers": 0, "device": "cpu"}
    raw = {"name": "r", "spec": str(SMALL), "data": "synthetic", "recipe": recipe, "seeds": [3],
           "set": {"width_mult": 0.125}, "variants": [{"name": "v"}]}  # fmt: skip
    result = invoke_ablate(write_ablation(tmp_path, raw), "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    run, work = tmp_path / "out" / "v" / "seed-3", tmp_path / "rerun"
    check = [sys.executable, "scripts/rerun_check.py", str(run), "--work", str(work)]
    same = subprocess.run(check, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert same.returncode == 0, same.stdout + same.stderr[-2000:]
    assert "all equal." in same.stdout and (work / "final.json").exists()
    # a committed figure that the rerun does not give (compared with the rerun already there, not trained again)
    lines = (run / "metrics.jsonl").read_text().splitlines()
    first = json.loads(lines[0])
    truth = first["val_top1"]
    first["val_top1"] = truth + 0.125
    (run / "metrics.jsonl").write_text("\n".join([json.dumps(first), *lines[1:]]) + "\n")
    before = (work / "final.json").stat().st_mtime_ns
    differs = subprocess.run(check, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert differs.returncode == 1 and (work / "final.json").stat().st_mtime_ns == before
    assert f"| epoch 1 | val_top1 | {truth + 0.125} | {truth} |" in differs.stdout and "1 differ:" in differs.stdout
    # a figure the committed record lacks (older code wrote fewer) is said so, not printed as None
    final = json.loads((run / "final.json").read_text())
    test_top5 = final.pop("test_top5")
    (run / "final.json").write_text(json.dumps(final))
    lacking = subprocess.run(check, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert lacking.returncode == 1 and f"| final.json | test_top5 | not recorded | {test_top5} |" in lacking.stdout
    # a folder that is not a finished run: one line naming it, exit 2
    bad = subprocess.run([sys.executable, "scripts/rerun_check.py", str(tmp_path)], cwd=ROOT, capture_output=True,
                         text=True)  # fmt: skip
    assert bad.returncode == 2 and "not a finished run folder (no request.json" in bad.stderr
    assert "Traceback" not in bad.stderr
