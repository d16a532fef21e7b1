"""Issue 28: specs/inception-v3.yaml is torchvision's inception_v3. Expected figures come from torchvision (its
weight meta, its model's parameters, torch's FlopCounterMode on its model), never from our count; the logits are
compared in float64 with torchvision's weights loaded position by position (the two state dicts list the same
tensors in the same order)."""

from __future__ import annotations

import re

import pytest
import torch
import torchvision
from torch.utils.flop_counter import FlopCounterMode

from inception_bench.count import count, totals
from inception_bench.errors import IbenchError
from inception_bench.models import build_model, create_model, list_models
from inception_bench.spec import load_spec, resolve_spec

META = torchvision.models.Inception_V3_Weights.IMAGENET1K_V1.meta


def _torchvision(aux: bool = True) -> torch.nn.Module:
    torch.manual_seed(0)
    return torchvision.models.inception_v3(weights=None, aux_logits=aux, init_weights=True)


def _ours_with_their_weights(tv: torch.nn.Module, **overrides) -> torch.nn.Module:
    ours = build_model(resolve_spec("inception-v3", overrides).spec)
    theirs = tv.state_dict()
    assert len(ours.state_dict()) == len(theirs)
    mapped = {}
    for (key, mine), (their_key, value) in zip(ours.state_dict().items(), theirs.items(), strict=True):
        assert mine.shape == value.shape, (key, their_key)
        mapped[key] = value
    ours.load_state_dict(mapped, strict=True)
    return ours


def test_counts_are_torchvisions():
    loaded = resolve_spec("inception-v3")
    report = count(loaded)
    tv = _torchvision()
    assert report.total["params_all_with_aux"] == META["num_params"] == 27_161_264
    assert report.total["params_all_with_aux"] == sum(p.numel() for p in tv.parameters())
    without = sum(p.numel() for name, p in tv.named_parameters() if not name.startswith("AuxLogits."))
    assert report.total["params_all"] == without == 23_834_568
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        tv.eval()(torch.zeros(1, 3, 299, 299))
    macs = counter.get_total_flops() // 2  # conv and linear multiply-adds, the convention of our ops column
    assert report.total["ops"] == macs
    assert round(report.total["ops"] / 1e9, 3) == META["_ops"]
    assert totals(loaded.spec).macs == macs
    # without the aux head: torchvision's model built without it
    no_aux = count(resolve_spec("inception-v3", {"aux.enabled": False})).total
    assert no_aux["params_all_with_aux"] == sum(p.numel() for p in _torchvision(aux=False).parameters())


def test_logits_equal_torchvisions_in_float64():
    tv = _torchvision().double()
    ours = _ours_with_their_weights(tv).double()
    x = torch.randn(2, 3, 299, 299, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(ours.eval()(x), tv.eval()(x), rtol=0, atol=1e-10)
        # training mode: batch statistics, the same dropout draw, and the aux head's logits
        torch.manual_seed(1)
        theirs = tv.train()(x)
        torch.manual_seed(1)
        mine = ours.train()(x)
    torch.testing.assert_close(mine.logits, theirs.logits, rtol=0, atol=1e-10)
    assert len(mine.aux) == 1
    torch.testing.assert_close(mine.aux[0], theirs.aux_logits, rtol=0, atol=1e-10)
    # the running statistics moved the same way
    for a, b in zip(ours.state_dict().values(), tv.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-10)


def test_registered_and_scaled():
    assert "inception-v3" in list_models()
    model = create_model("inception-v3", num_classes=10, width_mult=0.25).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 299, 299)).shape == (1, 10)
    assert model.layer("inception7c").branches[0][0].conv.out_channels == 80  # 320 / 4
    # width_mult scales every conv; reduce_mult only the 1x1 reductions and the pool projections
    spec = resolve_spec("inception-v3", {"reduce_mult": 0.5}).spec
    branches = {b.split(" > ")[0]: b for b in map(str, build_model(spec).plan[7].branches)}
    assert branches == {
        "1x1 64": "1x1 64",  # the 1x1 branch is not a reduction
        "1x1 24": "1x1 24 > 5x5 64",
        "1x1 32": "1x1 32 > 3x3 96 > 3x3 96",
        "avg 3x3": "avg 3x3 > 1x1 16",
    }


@pytest.mark.parametrize(
    ("branch", "message"),
    [
        ("1x1 64 > {1x3 64 | 3x1 64} > 1x1 8", "a split {...} can only end a branch"),
        ("2x2 64", "an even kernel cannot keep the size"),
        ("3x3 sixty", "is not an operation"),
        ("max 3x2", "a pool's kernel is square"),
        ("{1x3/2 64 | 3x1 64}", "must give the same size"),
        ("max 2x2", "an even kernel cannot keep the size"),
        ("1x1 20000", "the width 1 to 16384"),
    ],
)
def test_bad_branches_are_one_line_errors(write_spec, branch, message):
    raw = resolve_spec("inception-v3").spec.to_raw()
    raw["layers"][7]["branches"][1] = branch
    with pytest.raises(IbenchError, match=r"layers\[7\] \(id 5b\)\.branches\.1: .*" + re.escape(message)):
        load_spec(write_spec(raw))


def test_branches_of_different_sizes_name_the_row(write_spec):
    raw = resolve_spec("inception-v3").spec.to_raw()
    raw["layers"][7]["branches"][0] = "3x3/2 64"
    with pytest.raises(IbenchError, match=r"layers\.5b\.branches: the branches give different sizes from 35x35"):
        load_spec(write_spec(raw))


def test_bench_compares_each_spec_with_its_torchvision_twin():
    """``ibench bench`` measures each spec's torchvision twin (``torchvision_model``) and compares with it; a
    GoogLeNet spec keeps torchvision's googlenet. One round of one step: each ratio is the two rows' images/s."""
    import json

    from typer.testing import CliRunner

    from inception_bench.cli import app

    small = str(resolve_spec("small").path)
    tiny = ["--mode", "infer", "--image-size", "75", "--batch-size", "2", "--rounds", "1", "--steps", "1"]
    tiny += ["--warmup", "1", "--no-compile", "--precision", "fp32", "--device", "cpu", "--format", "json"]
    v3_twin = ["--set", "width_mult=0.125", "--set", "torchvision_model=inception_v3"]
    result = CliRunner().invoke(app, ["bench", small, *v3_twin, *tiny])
    assert result.exit_code == 0, result.output
    rows = {(r["model"], r["role"]): r for r in json.loads(result.stdout)["rows"]}
    assert {model for model, _ in rows} == {"specs/googlenet-small.yaml", "torchvision inception_v3"}
    ours, twin = rows["specs/googlenet-small.yaml", "fast"], rows["torchvision inception_v3", "baseline"]
    assert ours["reference"] == twin["reference"] == "torchvision inception_v3"
    assert ours["vs_torchvision"] == pytest.approx(ours["images_per_sec"] / twin["images_per_sec"])
    # the twin counted as torchvision counts it: its weights without the aux head, FlopCounterMode's MACs at 75 px
    tv = _torchvision(aux=False).eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        tv(torch.zeros(1, 3, 75, 75))
    assert twin["macs"] == counter.get_total_flops() // 2
    weights = sum(m.weight.numel() for m in tv.modules() if isinstance(m, torch.nn.Conv2d | torch.nn.Linear))
    assert twin["params"] == weights


def test_aux_conv2_needs_a_5x5_map():
    with pytest.raises(IbenchError, match=r"aux\.conv2: its 5x5 'valid' convolution needs a 5x5 map.*3x3 at 6e"):
        totals(resolve_spec("inception-v3", {"input_size": 224}).spec)
    assert totals(resolve_spec("inception-v3", {"input_size": 224, "aux.enabled": False}).spec).macs > 0


def test_compare_needs_inception_rows():
    from typer.testing import CliRunner

    from inception_bench.cli import app

    result = CliRunner().invoke(app, ["count", "inception-v3", "--compare"])
    assert result.exit_code == 2
    assert "--compare: inception-v3 has no inception rows" in result.output


def test_bn_bias_heads_reaches_the_outputs_the_classifiers_read():
    """7c concatenates 1x1 320, two splits of two convs and the pool projection: 6 batch norms, plus the aux head's
    last (its 5x5 conv's)."""
    model = create_model("inception-v3", overrides={"bn_bias_heads": 1.0})
    at_one = [n for n, m in model.named_modules() if isinstance(m, torch.nn.BatchNorm2d) and bool((m.bias == 1).all())]
    assert len(at_one) == 7
    assert sum(".inception7c." in n for n in at_one) == 6 and sum(".aux1.conv2." in n for n in at_one) == 1


def test_googlenet_options_that_do_not_apply_say_so():
    with pytest.raises(IbenchError, match=r"layers\.\*\.5x5.*the table has no inception rows.*layers\.ID\.branches"):
        resolve_spec("inception-v3", {"layers.*.5x5": 0})
    with pytest.raises(ValueError, match="the space-to-depth stem needs a conv1 row; this spec has none"):
        create_model("inception-v3", s2d_stem=True)
    with pytest.raises(IbenchError, match=r"aux.*batch norm after the fc, but fc is 0"):
        resolve_spec("inception-v3", {"aux.batch_norm": True})


def test_by_position_loads_torchvisions_weights_and_names_a_misfit():
    from inception_bench.models.torchvision_compat import by_position

    tv = _torchvision(aux=False).eval()
    ours = create_model("inception-v3", overrides={"aux.enabled": False, "transform_input": True}).eval()
    tv.transform_input = True  # as its ImageNet weights are used
    ours.load_state_dict(by_position(tv.state_dict(), ours), strict=True)
    x = torch.randn(1, 3, 299, 299, dtype=torch.float64)
    with torch.no_grad():  # float64: torchvision's init gives logits of about 1e7
        torch.testing.assert_close(ours.double()(x), tv.double()(x), rtol=1e-10, atol=1e-6)
    with_aux = len(_torchvision(aux=True).state_dict())  # the aux head's 14 tensors more: 2 conv blocks of 6, fc 2
    assert with_aux == len(tv.state_dict()) + 14
    with pytest.raises(ValueError, match=f"the state dict has {with_aux - 14} tensors, the model {with_aux}"):
        by_position(tv.state_dict(), create_model("inception-v3"))
    narrow = create_model("inception-v3", overrides={"aux.enabled": False, "width_mult": 0.5})
    with pytest.raises(ValueError, match=r"Conv2d_1a_3x3\.conv\.weight \(32, 3, 3, 3\) does not fit"):
        by_position(tv.state_dict(), narrow)
