"""specs/bn-inception.yaml (Ioffe & Szegedy 2015, Figure 5): its weights and multiply-adds by hand from the table's
widths (read from the YAML here), its parameter count against the public reproductions' 11,295,240, and the stride-2
modules (3c, 4e) with their pass-through pool."""

from __future__ import annotations

import torch
import yaml
from conftest import SPECS, reference_counts

from inception_bench.count import totals
from inception_bench.models import build_model, create_model, list_models
from inception_bench.spec import load_spec

SPEC = SPECS / "bn-inception.yaml"
REPRODUCTION_PARAMS = 11_295_240  # Caffe's BN-Inception ported to PyTorch: every conv also has a bias


def _by_hand() -> tuple[int, int, int]:
    """(conv and linear weights, multiply-adds, conv output channels) from the table: a reduced module's 1x1s read
    its input at the input's size; its 3x3 (and the double 3x3's second) run at the output's size, the double 3x3's
    first at the input's; stride-2 modules (3c, 4e) halve the size and pass the pooled input through."""
    rows = yaml.safe_load(SPEC.read_text())["layers"]
    weights = macs = channels = 0
    c, side = 3, 224

    def conv(c_in: int, c_out: int, k: int, out_side: int) -> None:
        nonlocal weights, macs, channels
        weights += c_in * c_out * k * k
        macs += c_in * c_out * k * k * out_side**2
        channels += c_out

    for row in rows:
        if row["type"] == "convolution":
            out = int(row["output"].split("x")[0])
            if "3x3_reduce" in row:
                conv(c, row["3x3_reduce"], 1, side)
                conv(row["3x3_reduce"], row["3x3"], 3, out)
                c = row["3x3"]
            else:
                c_out = int(row["output"].split("x")[2])
                conv(c, c_out, int(row["patch"][0]), out)
                c = c_out
            side = out
        elif row["type"] == "max pool":
            side = int(row["output"].split("x")[0])
        elif row["type"] == "inception":
            out = side // row.get("stride", 1)
            if row["1x1"]:
                conv(c, row["1x1"], 1, side)
            conv(c, row["3x3_reduce"], 1, side)
            conv(row["3x3_reduce"], row["3x3"], 3, out)
            conv(c, row["5x5_reduce"], 1, side)
            conv(row["5x5_reduce"], row["5x5"], 3, side)
            conv(row["5x5"], row["5x5"], 3, out)
            passes = row["pool_proj"] == "pass"
            if not passes:
                conv(c, row["pool_proj"], 1, side)
            c = row["1x1"] + row["3x3"] + row["5x5"] + (c if passes else row["pool_proj"])
            side = out
        elif row["type"] == "linear":
            weights += c * 1000
            macs += c * 1000
    return weights, macs, channels


def test_bn_inception_counts_by_hand_and_against_the_public_reproduction():
    spec = load_spec(SPEC).spec  # a spec file standing alone: every row's output claim is checked on load
    weights, macs, channels = _by_hand()
    got = totals(spec)
    assert (got.params, got.macs) == (weights, macs)  # 11,264,192 weights and 2.033G multiply-adds
    # the reproduction's conv layers also carry biases (redundant before batch norm): one per output channel
    assert got.params_all + channels == REPRODUCTION_PARAMS
    assert got.aux_params == 0 and got.params_with_aux == got.params_all


def test_count_sets_the_reproductions_totals_beside_ours_and_its_note_adds_up():
    from typer.testing import CliRunner

    from inception_bench.cli import app

    result = CliRunner().invoke(app, ["count", "bn-inception"], terminal_width=1000)
    assert result.exit_code == 0, result.output
    weights, macs, channels = _by_hand()
    ours = REPRODUCTION_PARAMS - channels  # theirs less the conv biases, one per conv output channel
    assert ours == weights + 2 * channels + 1000  # + batch norm's scale and shift per conv channel, the fc's bias
    assert "reference (public PyTorch ports of the Caffe BN-Inception" in result.output
    assert f"11,295,240 parameters, 2.05G multiply-adds; ours {ours:,} parameters, {macs / 1e9:.3f}G" in result.output
    assert f"{channels:,} more than ours" in result.output  # the conv biases
    # the note's ops: pooling windows, batch norm and ReLU outputs, one op per element, counted here by hooks
    model, counted = create_model("bn-inception").eval(), {"pool": 0, "bn": 0, "relu": 0}

    def hook(kind: str):
        def record(module, inputs, output):
            window = inputs[0].shape[-1] ** 2 if isinstance(module, torch.nn.AdaptiveAvgPool2d) else None
            if kind == "pool" and window is None:
                k = module.kernel_size
                window = k * k if isinstance(k, int) else k[0] * k[1]
            counted[kind] += output.numel() * (window or 1)

        return record

    for module in model.modules():
        kind = {torch.nn.MaxPool2d: "pool", torch.nn.AvgPool2d: "pool", torch.nn.AdaptiveAvgPool2d: "pool",
                torch.nn.BatchNorm2d: "bn", torch.nn.ReLU: "relu"}.get(type(module))  # fmt: skip
        if kind:
            module.register_forward_hook(hook(kind))
    with torch.no_grad():
        model(torch.zeros(1, 3, 224, 224))
    assert [round(counted[k] / 1e6, 1) for k in ("pool", "bn", "relu")] == [12.2, 3.7, 3.7]
    assert f"gives {(macs + sum(counted.values())) / 1e9:.3f}G, their about 2.05G" in result.output
    assert round((macs + sum(counted.values())) / 1e9, 2) == 2.05


def test_the_reference_is_the_tables_alone_and_not_part_of_the_network(tmp_path):
    from typer.testing import CliRunner

    from inception_bench.cli import app
    from inception_bench.spec import Spec

    runner = CliRunner()
    csv = runner.invoke(app, ["count", "bn-inception", "--format", "csv"]).output.splitlines()
    assert any(line.startswith("reference,") and ",11295240," in line for line in csv)
    # a variant (overrides) or a derived file (base:) is another network: the published totals are not printed
    varied = runner.invoke(app, ["count", "bn-inception", "--set", "stem=separable"], terminal_width=1000)
    assert varied.exit_code == 0 and "reference (" not in varied.output
    derived = tmp_path / "d.yaml"
    derived.write_text(f"base: {SPEC}\noverrides: {{width_mult: 0.5}}\n")
    assert load_spec(derived).spec.reference is None
    # a recorded spec from before the field (or with other words in it) is still the same network
    raw = load_spec(SPEC).spec.to_raw()
    older = {k: v for k, v in raw.items() if k != "reference"}
    reworded = {**raw, "reference": {**raw["reference"], "note": "other words"}, "description": "other words"}
    assert Spec.recorded(older) == Spec.recorded(raw) == Spec.recorded(reworded)
    assert Spec.recorded({**raw, "width_mult": 0.5}) != Spec.recorded(raw)


def test_compare_puts_naive_modules_beside_the_reduced_ones():
    from typer.testing import CliRunner

    from inception_bench.cli import app

    result = CliRunner().invoke(app, ["count", "bn-inception", "--compare", "--format", "csv"])
    assert result.exit_code == 0, result.output
    total = next(line.split(",") for line in result.output.splitlines() if line.startswith("total,"))
    weights, macs, _ = _by_hand()
    naive_weights, naive_macs, _ = reference_counts(build_model(load_spec(SPEC, {"module": "naive"}).spec), 224)
    assert [int(x) for x in total[4:6]] == [weights, naive_weights]  # reduced, naive
    assert [int(x) for x in total[7:9]] == [macs, naive_macs]


def test_the_stride_2_modules_halve_the_grid_and_pass_the_pooled_input_through():
    spec = load_spec(SPEC, {"width_mult": 0.125}).spec
    model = build_model(spec).eval()
    seen = {}
    for name in ("inception3b", "inception3c", "inception4e"):
        model.layer(name).register_forward_hook(lambda m, i, o, name=name: seen.update({name: (i[0].shape, o.shape)}))
    assert model(torch.randn(2, 3, 224, 224)).shape == (2, 1000)
    (_, c3b, _, _), (_, c3c, h3c, _) = seen["inception3b"][1], seen["inception3c"][1]
    assert h3c == 14 and seen["inception4e"][1][2] == 7
    module = model.layer("inception3c")
    assert module.branch1x1 is None and isinstance(module.branch_pool, torch.nn.MaxPool2d)  # no projection
    assert c3c == c3b + module.branch3x3.conv.conv.out_channels + module.branch5x5.conv[1].conv.out_channels
    assert module.branch3x3.conv.conv.stride == (2, 2) and module.branch5x5.conv[0].conv.stride == (1, 1)
    assert isinstance(model.layer("inception4a").branch_pool.pool, torch.nn.AvgPool2d)


def test_bn_inception_is_a_registered_model():
    assert "bn-inception" in list_models()
    assert create_model("bn-inception", width_mult=0.125).spec.name == "bn-inception"


def test_bad_module_columns_name_the_row_and_field():
    import pytest

    from inception_bench.errors import IbenchError

    with pytest.raises(IbenchError, match=r"3c.*a stride-2 module has no 1x1 branch"):
        load_spec(SPEC, {"layers.3c.1x1": 8})
    with pytest.raises(IbenchError, match=r"3a.*pool_proj"):
        load_spec(SPEC, {"layers.3a.pool_proj": "through"})
    with pytest.raises(IbenchError, match=r"3a.*pool"):
        load_spec(SPEC, {"layers.3a.pool": "median"})
