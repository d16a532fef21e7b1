"""The spec loader: Table 1 as YAML, its validation and the variant overrides."""

from __future__ import annotations

import pytest
from conftest import BASE, SMALL, TORCHVISION, row

from inception_bench.errors import IbenchError, SpecError
from inception_bench.spec import (
    InceptionRow,
    PaperFigure,
    Patch,
    Shape,
    Spec,
    load_spec,
    parse_overrides,
    variant_overrides,
)
from inception_bench.spec.plan import plan

# Table 1 as printed: (id, output, #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj, params, ops)
TABLE1 = [
    ("3a", "28x28x256", 64, 96, 128, 16, 32, 32, "159K", "128M"),
    ("3b", "28x28x480", 128, 128, 192, 32, 96, 64, "380K", "304M"),
    ("4a", "14x14x512", 192, 96, 208, 16, 48, 64, "364K", "73M"),
    ("4b", "14x14x512", 160, 112, 224, 24, 64, 64, "437K", "88M"),
    ("4c", "14x14x512", 128, 128, 256, 24, 64, 64, "463K", "100M"),
    ("4d", "14x14x528", 112, 144, 288, 32, 64, 64, "580K", "119M"),
    ("4e", "14x14x832", 256, 160, 320, 32, 128, 128, "840K", "170M"),
    ("5a", "7x7x832", 256, 160, 320, 32, 128, 128, "1072K", "54M"),
    ("5b", "7x7x1024", 384, 192, 384, 48, 128, 128, "1388K", "71M"),
]


def test_base_spec_is_table1_row_by_row():
    spec = load_spec(BASE).spec
    types = [r.type for r in spec.layers]
    assert types == [
        "convolution",
        "max pool",
        "convolution",
        "max pool",
        "inception",
        "inception",
        "max pool",
        "inception",
        "inception",
        "inception",
        "inception",
        "inception",
        "max pool",
        "inception",
        "inception",
        "avg pool",
        "dropout",
        "linear",
        "softmax",
    ]
    inception = [r for r in spec.layers if isinstance(r, InceptionRow)]
    got = [
        (
            r.id,
            str(r.output),
            r.n1x1,
            r.n3x3_reduce,
            r.n3x3,
            r.n5x5_reduce,
            r.n5x5,
            r.pool_proj,
            str(r.params),
            str(r.ops),
        )
        for r in inception
    ]
    assert got == TABLE1
    assert spec.row("dropout").rate == 0.4
    assert spec.aux.attach == ["4a", "4d"] and spec.aux.loss_weight == 0.3
    assert (spec.aux.pool, spec.aux.conv, spec.aux.fc, spec.aux.dropout) == (Patch(5, 3), 128, 1024, 0.7)
    assert spec.row("conv2").reduce == 64 and spec.row("conv2").width == 192


def test_plan_reproduces_the_output_column():
    spec = load_spec(BASE).spec
    outputs = {p.row.id: p.out_shape for p in plan(spec)}
    assert outputs["conv1"] == (64, 112, 112)
    assert outputs["maxpool1"] == (64, 56, 56)
    assert outputs["maxpool4"] == (832, 7, 7)
    assert outputs["5b"] == (1024, 7, 7)
    assert outputs["fc"] == (1000, 1, 1)


def test_paper_figures_convert_with_k_1024_and_m_1e6():
    assert PaperFigure.parse("2.7K").exact == round(2.7 * 1024)
    assert PaperFigure.parse("1072K").exact == 1072 * 1024
    assert PaperFigure.parse("34M").exact == 34_000_000
    assert PaperFigure.parse("159K").resolution == 1024
    assert PaperFigure.parse("2.7K").resolution == pytest.approx(102.4)


def test_text_columns_are_typed_once_and_written_back_as_the_table():
    spec = load_spec(BASE).spec
    conv1, avgpool, row3a = spec.row("conv1"), spec.row("avgpool"), spec.row("3a")
    assert conv1.patch == Patch(kernel=7, stride=2) and conv1.output == Shape(height=112, width=112, depth=64)
    assert conv1.params == PaperFigure(2.7, "K", 1) and row3a.ops == PaperFigure(128.0, "M", 0)
    assert avgpool.patch == Patch(7, 1) and row3a.output.chw == (256, 28, 28)
    raw = spec.to_raw()  # the table's text again, so run records and checkpoints read like the YAML
    assert raw["layers"][0]["patch"] == "7x7/2" and raw["layers"][0]["output"] == "112x112x64"
    assert raw["layers"][0]["params"] == "2.7K" and raw["layers"][4]["ops"] == "128M" and raw["aux"]["pool"] == "5x5/3"
    assert Spec.model_validate(raw) == spec
    assert load_spec(TORCHVISION).spec.to_raw()["aux"]["pool"] == "adaptive"


def test_variants_are_made_in_memory(tmp_path):
    small = load_spec(SMALL)
    naive = small.with_overrides({"module": "naive", "layers.4e.5x5": 0})
    before, after = small.spec.to_raw(), naive.spec.to_raw()
    changed = {k for k in before if before[k] != after[k]}
    assert changed == {"module", "layers"} and after["module"] == "naive"
    rows = [(a["id"], k) for a, b in zip(before["layers"], after["layers"], strict=True) for k in a if a[k] != b[k]]
    assert rows == [("4e", "5x5")] and after["layers"][11]["5x5"] == 0
    assert naive.overrides == {"module": "naive", "layers.4e.5x5": 0} and naive.derived and naive.path == small.path
    # overriding a key again moves it to the end: the recorded overrides replay to the same spec
    again = naive.with_overrides({"module": "reduced"})
    assert list(again.overrides) == ["layers.4e.5x5", "module"] and again.spec.module == "reduced"
    assert small.spec.module == "reduced"  # the base is left alone
    assert small.with_overrides({"width_mult": 0.5}).spec.width_mult == 0.5
    copy = tmp_path / "small.yaml"  # no file is read again: the variant of a spec whose file is gone
    copy.write_text(SMALL.read_text().replace("googlenet.yaml", str(BASE)))
    loaded = load_spec(copy)
    copy.unlink()
    assert loaded.with_overrides({"module": "naive"}).spec.module == "naive"
    with pytest.raises(SpecError, match="with module=fancy: module: Input should be 'reduced' or 'naive'"):
        small.with_overrides({"module": "fancy"})


@pytest.mark.parametrize(
    ("edit", "expect"),
    [
        (lambda r: row(r, "3a").update(output="28x28x255"), "layers.3a.output: claims 28x28x255"),
        (lambda r: row(r, "3b").update({"1x1": 100}), "layers.3b.output"),  # 3b now outputs 452, not 480
        (lambda r: row(r, "maxpool3").update(output="14x14x512"), "layers.maxpool3.output"),  # channel consistency
        (lambda r: row(r, "maxpool1").update(output="55x55x64"), "layers.maxpool1.output"),
        (lambda r: row(r, "avgpool").update(patch="5x5/1"), "layers.avgpool.patch"),
        (lambda r: row(r, "avgpool").update(patch=""), "(id avgpool).patch: patch must look like"),  # fuzz-found
        (lambda r: row(r, "maxpool1").update(patch="3x3"), "(id maxpool1).patch: patch must look like"),
        (lambda r: row(r, "4e").update({"5x5": -1}), "layers[11] (id 4e).5x5"),
        (lambda r: row(r, "4e").update({"5x5": "wide"}), "layers[11] (id 4e).5x5"),
        (lambda r: row(r, "4e").update(colour=1), "unknown field 'colour'"),
        (lambda r: row(r, "4e").update(type="dense"), "unknown row type"),
        (lambda r: row(r, "4e").pop("pool_proj"), "pool_proj: Field required"),
        (lambda r: row(r, "conv1").update(patch="7x5/2"), "layers[0] (id conv1).patch"),
        (lambda r: row(r, "3a").update(params="lots"), "paper figure must look like"),
        (lambda r: r["aux"].update(attach=["4z"]), "aux.attach: '4z' is not an inception or module row id"),
        (lambda r: r.update(module="fancy"), "module: Input should be 'reduced' or 'naive'"),
        (lambda r: r.update(branch5x5_kernel=4), "branch5x5_kernel: must be odd"),
        (lambda r: r["layers"].append(dict(r["layers"][4])), "row ids must be unique"),
        (lambda r: r.pop("layers"), "layers: Field required"),
        (lambda r: r["aux"].update(pool="5x5"), "aux.pool: patch must look like '3x3/2'"),
        (lambda r: r["aux"].update(pool=[5]), "aux.pool: expected text like '3x3/2'"),
    ],
)
def test_bad_spec_gets_one_line_naming_file_and_field(base_raw, write_spec, edit, expect):
    edit(base_raw)
    path = write_spec(base_raw)
    with pytest.raises(SpecError) as e:
        load_spec(path)
    message = str(e.value)
    assert message.startswith(str(path)), message
    assert expect in message, message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("text", "expect"),
    [
        ("name: x\nlayers: [\n", "line"),
        ("- just\n- a list\n", "must be a YAML mapping"),
        ("", "must be a YAML mapping"),
        ("base: missing.yaml\n", r"\.yaml: base: missing.yaml: no such spec file \(looked for "),
        ("name: x\noverrides: {module: naive}\nlayers: []\n", "'overrides' needs a 'base'"),
        ("name: x\nlayers: []\nname: y\n", "line 3: 'name' is given twice in one mapping"),  # PyYAML keeps the last
        ("base: small.yaml\nset: {width_mult: 0.25, width_mult: 0.5}\n", "line 2: 'width_mult' is given twice"),
    ],
)
def test_unreadable_spec_files(write_spec, text, expect):
    with pytest.raises(SpecError, match=expect):
        load_spec(write_spec(text))


def test_missing_file_names_it(tmp_path):
    with pytest.raises(SpecError, match="nope.yaml: spec file not found"):
        load_spec(tmp_path / "nope.yaml")


def test_overrides_parse_yaml_values():
    assert parse_overrides(["aux.enabled=false", "width_mult=0.5", "aux.attach=[4d]", "stem=separable"]) == {
        "aux.enabled": False,
        "width_mult": 0.5,
        "aux.attach": ["4d"],
        "stem": "separable",
    }
    with pytest.raises(IbenchError, match="set=width_mult: expected KEY=VALUE"):
        parse_overrides(["width_mult"])
    with pytest.raises(IbenchError, match="not valid YAML"):
        parse_overrides(["aux.attach=[4d"])
    assert variant_overrides("naive", False, ["batch_norm=true"]) == {
        "module": "naive",
        "aux.enabled": False,
        "batch_norm": True,
    }


def _out(spec, row_id):
    return next(p for p in plan(spec) if p.row.id == row_id).out_shape


def test_naive_module_widths_grow():
    spec = load_spec(BASE, {"module": "naive"}).spec
    # Figure 2a: the pool branch passes the input through: 3a = 64 + 128 + 32 + 192 (its input) = 416
    assert _out(spec, "3a")[0] == 64 + 128 + 32 + 192
    assert _out(spec, "3b")[0] == 128 + 192 + 96 + 416
    assert _out(spec, "4a")[0] == 192 + 208 + 48 + 832
    assert _out(spec, "5b")[0] > 4 * 1024
    widths = next(p for p in plan(spec) if p.row.id == "3a").widths
    assert widths["3x3_reduce"] == widths["5x5_reduce"] == 0


def test_multipliers_and_branch_removal():
    spec = load_spec(BASE, {"reduce_mult": 0.5}).spec
    w = next(p for p in plan(spec) if p.row.id == "3a").widths
    assert (w["1x1"], w["3x3_reduce"], w["3x3"], w["5x5_reduce"], w["5x5"], w["pool_proj"]) == (64, 48, 128, 8, 32, 16)
    spec = load_spec(BASE, {"width_mult": 0.5}).spec
    assert _out(spec, "3a") == (128, 28, 28) and _out(spec, "conv1")[0] == 32
    spec = load_spec(BASE, {"layers.3a.5x5": 0}).spec
    assert _out(spec, "3a")[0] == 256 - 32
    spec = load_spec(BASE, {"layers.4a.pool_proj": 0}).spec
    assert _out(spec, "4a")[0] == 512 - 64
    spec = load_spec(BASE, {"layers.*.1x1": 0}).spec  # every module loses its 1x1 branch
    assert [_out(spec, i)[0] for i in ("3a", "4e", "5b")] == [256 - 64, 832 - 256, 1024 - 384]
    with pytest.raises(SpecError, match="every branch has width 0"):
        load_spec(BASE, {"layers.3a.1x1": 0, "layers.3a.3x3": 0, "layers.3a.5x5": 0, "layers.3a.pool_proj": 0})
    with pytest.raises(SpecError, match="3x3_reduce: is 0 while 3x3 is 128"):
        load_spec(BASE, {"layers.3a.3x3_reduce": 0})


def test_repeat_removes_or_repeats_a_module():
    spec = load_spec(BASE, {"layers.4b.repeat": 0, "layers.4c.repeat": 2}).spec
    attrs = [p.attr for p in plan(spec)]
    assert "inception4b" not in attrs
    assert attrs.count("inception4c") == 1 and "inception4c_2" in attrs
    with pytest.raises(SpecError, match="aux.attach: 4a is removed"):
        load_spec(BASE, {"layers.4a.repeat": 0})


def test_aux_input_and_classes_axes():
    spec = load_spec(BASE, {"aux.enabled": False, "num_classes": 10, "input_size": 160}).spec
    assert not spec.aux.enabled and _out(spec, "fc") == (10, 1, 1) and _out(spec, "5b")[1] == 5
    spec = load_spec(BASE, {"aux.attach": ["4d"], "aux.loss_weight": 1.0}).spec
    assert spec.aux.attach == ["4d"] and spec.aux.loss_weight == 1.0
    with pytest.raises(SpecError, match="aux.pool: 5x5/3 needs at least a 5x5 input"):
        load_spec(BASE, {"input_size": 64})
    with pytest.raises(SpecError, match="spatial size shrinks"):
        load_spec(TORCHVISION, {"input_size": 8, "aux.enabled": False})  # unpadded pools: 4 -> 2 -> 1 -> 0
    with pytest.raises(SpecError, match="no row with id 'zz'"):
        load_spec(BASE, {"layers.zz.1x1": 3})


def test_linear_layer_needs_a_pooled_input(base_raw, write_spec):
    base_raw["layers"] = [r for r in base_raw["layers"] if r["id"] != "avgpool"]
    with pytest.raises(SpecError, match="layers.fc: the linear layer needs a 1x1 input, got 7x7; add an avg pool row"):
        load_spec(write_spec(base_raw))


def test_derived_specs():
    small = load_spec(SMALL)
    assert small.derived and small.spec.input_size == 32 and small.spec.num_classes == 10
    # the Inception modules are the paper's; stages run at 16x16, 8x8, 4x4 (maxpool2 an identity)
    assert [_out(small.spec, i)[1:] for i in ("conv2", "maxpool2", "3b", "4e", "5b")] == [(16, 16)] * 3 + [
        (8, 8),
        (4, 4),
    ]
    assert [_out(small.spec, i)[0] for i in ("3a", "4e", "5b")] == [256, 832, 1024]
    tv = load_spec(TORCHVISION).spec
    assert (tv.batch_norm, tv.bn_eps, tv.branch5x5_kernel, tv.ceil_mode) == (True, 0.001, 3, True)
    assert tv.row("dropout").rate == 0.2 and tv.aux.pool == "adaptive"
    assert _out(tv, "maxpool4") == (832, 7, 7)  # the 2x2/2 pool with ceil_mode
