"""The successors' changes as override axes on GoogLeNet (issue 28): BN-Inception's 5x5 as two stacked 3x3,
Inception-v3's n x n factorised into 1 x n and n x 1, and its batch-normalised aux head. Counts are checked against
arithmetic on the table's widths (read from the YAML here, not through the spec loader) and torch's FlopCounterMode;
shapes and state dicts against what each change must build."""

from __future__ import annotations

import pytest
import torch
import yaml
from conftest import BASE, SMALL
from torch.utils.flop_counter import FlopCounterMode

from inception_bench.count import totals
from inception_bench.models import build_model
from inception_bench.spec import load_spec
from inception_bench.spec.schema import Spec

SIZES = {"3": 28, "4": 14, "5": 7}  # the paper's stages at 224 px: each module's output side


def _modules() -> list[dict]:
    rows = yaml.safe_load(BASE.read_text())["layers"]
    return [r for r in rows if r["type"] == "inception"]


def _macs(model: torch.nn.Module, size: int) -> int:
    with FlopCounterMode(display=False) as counter:
        model.eval()(torch.zeros(1, 3, size, size, device="meta"))
    return counter.get_total_flops() // 2


@pytest.mark.parametrize(
    "overrides, per_module",
    [
        # the 5x5 branch (reduce r -> n): 25 r n weights become 9 r n + 9 n n
        (
            {"branch5x5": "stacked_3x3"},
            lambda m: 9 * m["5x5_reduce"] * m["5x5"] + 9 * m["5x5"] ** 2 - 25 * m["5x5_reduce"] * m["5x5"],
        ),
        # 3x3 (r -> n): 9 r n -> 3 r n + 3 n n; 5x5 (r -> n): 25 r n -> 5 r n + 5 n n
        (
            {"factorize_nxn": True},
            lambda m: 3 * m["3x3_reduce"] * m["3x3"] + 3 * m["3x3"] ** 2 - 9 * m["3x3_reduce"] * m["3x3"]
            + 5 * m["5x5_reduce"] * m["5x5"] + 5 * m["5x5"] ** 2 - 25 * m["5x5_reduce"] * m["5x5"],
        ),
        # both: the 5x5 is two 3x3, each as 1x3 + 3x1: 3 r n + 3 n n + 3 n n + 3 n n
        (
            {"branch5x5": "stacked_3x3", "factorize_nxn": True},
            lambda m: 3 * m["3x3_reduce"] * m["3x3"] + 3 * m["3x3"] ** 2 - 9 * m["3x3_reduce"] * m["3x3"]
            + 3 * m["5x5_reduce"] * m["5x5"] + 9 * m["5x5"] ** 2 - 25 * m["5x5_reduce"] * m["5x5"],
        ),
    ],
    ids=["stacked_3x3", "factorize_nxn", "both"],
)  # fmt: skip
def test_the_factorisations_change_weights_and_macs_by_the_tables_arithmetic(overrides, per_module):
    base, variant = load_spec(BASE).spec, load_spec(BASE, overrides).spec
    weights = sum(per_module(m) for m in _modules())
    macs = sum(per_module(m) * SIZES[m["id"][0]] ** 2 for m in _modules())
    assert totals(variant).params - totals(base).params == weights
    assert totals(variant).macs - totals(base).macs == macs
    with torch.device("meta"):  # the multiply-adds as torch's own counter sees the built network
        assert _macs(build_model(variant), 224) - _macs(build_model(base), 224) == macs


def test_the_factorised_branches_have_the_layers_the_papers_draw():
    spec = load_spec(SMALL, {"width_mult": 0.25, "branch5x5": "stacked_3x3", "factorize_nxn": True}).spec
    state = build_model(spec).state_dict()
    block = "stages.3.inception3a"
    r3 = state[f"{block}.branch3x3.reduce.conv.weight"].shape[0]
    n3 = state[f"{block}.branch3x3.conv.0.conv.weight"].shape[0]
    assert state[f"{block}.branch3x3.conv.0.conv.weight"].shape == (n3, r3, 1, 3)
    assert state[f"{block}.branch3x3.conv.1.conv.weight"].shape == (n3, n3, 3, 1)
    shapes = [state[f"{block}.branch5x5.conv.{i}.conv.weight"].shape[2:] for i in range(4)]
    assert shapes == [(1, 3), (3, 1), (1, 3), (3, 1)] and f"{block}.branch5x5.conv.4.conv.weight" not in state
    stacked = build_model(load_spec(SMALL, {"width_mult": 0.25, "branch5x5": "stacked_3x3"}).spec).state_dict()
    n5 = stacked[f"{block}.branch5x5.conv.0.conv.weight"].shape[0]
    assert stacked[f"{block}.branch5x5.conv.1.conv.weight"].shape == (n5, n5, 3, 3)
    # a 7x7 branch stacks three 3x3; the naive module factorises too
    seven = build_model(load_spec(SMALL, {"width_mult": 0.25, "branch5x5_kernel": 7, "branch5x5": "stacked_3x3"}).spec)
    assert sum(k.startswith(f"{block}.branch5x5.conv.") and k.endswith("conv.weight") for k in seven.state_dict()) == 3
    naive = build_model(load_spec(SMALL, {"width_mult": 0.25, "module": "naive", "factorize_nxn": True}).spec)
    assert naive.state_dict()[f"{block}.branch3x3.0.conv.weight"].shape[2:] == (1, 3)


@pytest.mark.parametrize(
    "overrides", [{"branch5x5": "stacked_3x3"}, {"factorize_nxn": True}, {"aux.batch_norm": True}], ids=str
)
def test_each_change_keeps_the_shapes_and_trains(overrides):
    torch.manual_seed(0)
    spec = load_spec(SMALL, {"width_mult": 0.125, **overrides}).spec
    model = build_model(spec).train()
    out = model(torch.randn(4, 3, 32, 32))
    assert out.logits.shape == (4, 10) and [a.shape for a in out.aux] == [(4, 10), (4, 10)]
    (out.logits.sum() + sum(a.sum() for a in out.aux)).backward()
    assert all(p.grad is not None for p in model.parameters())
    assert model.eval()(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_the_batch_normalised_aux_head():
    """aux.batch_norm true: batch norm after the head's conv and its fc (whose bias it replaces), on the paper's
    network that has none elsewhere; false: none, even where the network has batch norm; default: as before."""
    on = build_model(load_spec(BASE, {"aux.batch_norm": True}).spec).state_dict()
    assert "stages.4.aux1.fc_bn.weight" in on and "stages.4.aux1.fc.bias" not in on
    assert "stages.4.aux1.conv.bn.weight" in on and not any(".inception4a." in k and ".bn." in k for k in on)
    off = build_model(load_spec(SMALL, {"aux.batch_norm": False}).spec).state_dict()
    assert not any(".aux1." in k and "bn" in k for k in off) and "stages.4.aux1.fc.bias" in off
    default = build_model(load_spec(SMALL).spec).state_dict()
    assert "stages.4.aux1.conv.bn.weight" in default and "stages.4.aux1.fc_bn.weight" not in default


def test_the_aux_heads_batch_norm_trains_on_a_batch_of_one_and_starts_as_the_spec_says():
    """A batch of one image (an epoch's last short batch) has no batch statistics: the fc's batch norm normalises it
    by its running statistics and leaves them; its shift starts at bn_bias_heads (the classifier reads it), the
    conv's before it at bn_bias."""
    torch.manual_seed(0)
    spec = load_spec(SMALL, {"width_mult": 0.125, "aux.batch_norm": True, "bn_bias_heads": 0.5}).spec
    model = build_model(spec).train()
    head = model.layer("aux1")
    assert torch.all(head.fc_bn.bias == 0.5) and torch.all(head.conv.bn.bias == spec.bn_bias)
    before = head.fc_bn.running_mean.clone()
    out = model(torch.randn(1, 3, 32, 32))
    assert out.aux[0].shape == (1, 10) and torch.equal(head.fc_bn.running_mean, before)
    model(torch.randn(4, 3, 32, 32))  # a real batch updates them
    assert not torch.equal(head.fc_bn.running_mean, before)


def test_records_from_before_the_axes_compare_equal_to_todays_dump():
    """A spec recorded before these fields existed (a run folder's config; a module row's pool and stride) is the same
    network as today's default."""
    today = load_spec(SMALL).spec.to_raw()
    old = {k: v for k, v in today.items() if k not in ("branch5x5", "factorize_nxn", "grid_reduction")}
    old["aux"] = {k: v for k, v in today["aux"].items() if k != "batch_norm"}
    old["layers"] = [{k: v for k, v in row.items() if k not in ("pool", "stride")} for row in today["layers"]]
    assert Spec.recorded(old) == Spec.recorded(today)
    assert Spec.recorded(old)["layers"] == today["layers"] and Spec.recorded(old)["aux"] == today["aux"]
    assert Spec.recorded({**old, "factorize_nxn": True}) != Spec.recorded(today)


def test_bad_values_name_the_field():
    from inception_bench.errors import IbenchError

    with pytest.raises(IbenchError, match="branch5x5: Input should be 'single' or 'stacked_3x3'"):
        load_spec(SMALL, {"branch5x5": "triple"})
    with pytest.raises(IbenchError, match="stacked_3x3 needs branch5x5_kernel 3 or more"):
        load_spec(SMALL, {"branch5x5": "stacked_3x3", "branch5x5_kernel": 1})


def test_grid_reduction_by_branches_adds_the_conv_branch_and_widens_the_next_module():
    """grid_reduction=branches replaces the two max pools between stages (not the stem's) by Figure 10's module:
    the pool beside 1x1 (C/4) -> 3x3/2 (C/2), so the next module reads 1.5 C channels. The weights and MACs it
    adds, by hand from the table: the branch's two convs, and the next module's input-facing 1x1s reading C/2 more."""
    rows = yaml.safe_load(BASE.read_text())["layers"]
    modules = {r["id"]: r for r in rows if r["type"] == "inception"}

    def width(m: dict) -> int:
        return m["1x1"] + m["3x3"] + m["5x5"] + m["pool_proj"]

    def first_convs(m: dict) -> int:  # the convolutions that read a module's input
        return m["1x1"] + m["3x3_reduce"] + m["5x5_reduce"] + m["pool_proj"]

    weights = macs = 0
    for before, after, side in (("3b", "4a", 28), ("4e", "5a", 14)):
        c = width(modules[before])
        r, n, out = c // 4, c // 2, side // 2
        weights += c * r + 9 * r * n + n * first_convs(modules[after])
        macs += c * r * side**2 + 9 * r * n * out**2 + n * first_convs(modules[after]) * out**2
    base, variant = load_spec(BASE).spec, load_spec(BASE, {"grid_reduction": "branches"}).spec
    assert totals(variant).params - totals(base).params == weights
    assert totals(variant).macs - totals(base).macs == macs
    state = build_model(variant).state_dict()
    assert state["stages.3.maxpool3.conv.conv.conv.weight"].shape == (240, 120, 3, 3)
    assert not any(k.startswith("stem.") and "maxpool" in k for k in state)  # the stem's pools stay pools
    model = build_model(load_spec(SMALL, {"width_mult": 0.125, "grid_reduction": "branches"}).spec).train()
    out = model(torch.randn(2, 3, 32, 32))
    assert out.logits.shape == (2, 10) and len(out.aux) == 2


def test_grid_reduction_by_branches_refuses_a_pool_whose_size_the_conv_cannot_match():
    from inception_bench.errors import IbenchError

    with pytest.raises(
        IbenchError,
        match=r"maxpool3: grid_reduction=branches: the 3x3/2 conv branch gives 14x14 beside the pool's 13x13",
    ):
        totals(load_spec(BASE, {"grid_reduction": "branches", "layers.maxpool3.padding": 0}).spec)  # pool: 13x13


def test_valid_convolutions_give_inception_v3s_stem(tmp_path):
    """Convolution rows with padding 0 ('valid', as Inception-v3's stem): the stem of torchvision's inception_v3 as
    rows, its weights copied in order, computes torchvision's stem output (float64, eval mode): 299 -> 35x35x192."""
    import torchvision

    rows = [
        "{id: c1a, type: convolution, patch: 3x3/2, padding: 0, output: 149x149x32}",
        "{id: c2a, type: convolution, patch: 3x3/1, padding: 0, output: 147x147x32}",
        "{id: c2b, type: convolution, patch: 3x3/1, output: 147x147x64}",
        "{id: pool1, type: max pool, patch: 3x3/2, padding: 0, output: 73x73x64}",
        "{id: c3b, type: convolution, patch: 1x1/1, output: 73x73x80}",
        "{id: c4a, type: convolution, patch: 3x3/1, padding: 0, output: 71x71x192}",
        "{id: pool2, type: max pool, patch: 3x3/2, padding: 0, output: 35x35x192}",
        "{id: avgpool, type: avg pool, output: 1x1x192}",
        "{id: linear, type: linear, output: 1x1x1000}",
    ]
    text = "name: v3-stem\ninput_size: 299\nbatch_norm: true\nbn_eps: 0.001\naux: {enabled: false}\nlayers:\n"
    (tmp_path / "stem.yaml").write_text(text + "".join(f"  - {r}\n" for r in rows))
    ours = build_model(load_spec(tmp_path / "stem.yaml").spec).double().eval()  # its claims checked on load
    tv = torchvision.models.inception_v3(weights=None, aux_logits=False, init_weights=True).double().eval()
    theirs = [tv.Conv2d_1a_3x3, tv.Conv2d_2a_3x3, tv.Conv2d_2b_3x3, tv.Conv2d_3b_1x1, tv.Conv2d_4a_3x3]
    mine = [m for m in ours.stem.modules() if hasattr(m, "conv") and isinstance(m.conv, torch.nn.Conv2d)]
    assert len(mine) == len(theirs)
    with torch.no_grad():
        for a, b in zip(mine, theirs, strict=True):
            a.conv.weight.copy_(b.conv.weight)
            for name in ("weight", "bias", "running_mean", "running_var"):
                getattr(a.bn, name).copy_(getattr(b.bn, name))
        x = torch.randn(2, 3, 299, 299, dtype=torch.float64)
        expect = tv.maxpool2(
            tv.Conv2d_4a_3x3(tv.Conv2d_3b_1x1(tv.maxpool1(tv.Conv2d_2b_3x3(tv.Conv2d_2a_3x3(tv.Conv2d_1a_3x3(x))))))
        )
        got = ours.stem(x)
    assert got.shape == (2, 192, 35, 35)
    torch.testing.assert_close(got, expect, rtol=0, atol=1e-10)
