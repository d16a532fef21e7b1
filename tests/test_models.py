"""The network built from a spec: structure, outputs, init, and equivalence with torchvision's googlenet."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
import torchvision
from conftest import BASE, DATA, SMALL, TORCHVISION
from torch import nn
from torch.overrides import TorchFunctionMode

from inception_bench.models import GoogLeNetOutputs, build_model
from inception_bench.models.blocks import (
    ConvBlock,
    FusedInceptionReduced,
    InceptionNaive,
    InceptionReduced,
    SpaceToDepthConvBlock,
    space_to_depth_conv,
    swapped,
)
from inception_bench.models.torchvision_compat import from_torchvision_state_dict
from inception_bench.spec import load_spec


def _model(path=SMALL, **overrides):
    return build_model(load_spec(path, overrides).spec)


def test_torchvision_state_dict_loads_strictly_and_outputs_match():
    torch.manual_seed(0)
    tv = torchvision.models.googlenet(weights=None, aux_logits=True, init_weights=True)
    ours = build_model(load_spec(TORCHVISION).spec)
    ours.load_state_dict(from_torchvision_state_dict(tv.state_dict(), ours), strict=True)
    # same parameter count as torchvision's model (aux heads included) and the paper notes' 6,624,904 without
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in tv.parameters())
    aux = sum(p.numel() for head in ours.aux_heads.values() for p in head.parameters())
    assert sum(p.numel() for p in ours.parameters()) - aux == 6_624_904
    tv.eval()
    ours.eval()
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), tv(x), rtol=0, atol=1e-5)
        # the aux heads compute the same function too (torchvision skips them in eval mode, so call them)
        feat4a = torch.randn(2, 512, 14, 14)
        torch.testing.assert_close(ours.layer("aux1")(feat4a), tv.aux1(feat4a), rtol=0, atol=1e-5)
        feat4d = torch.randn(2, 528, 14, 14)
        torch.testing.assert_close(ours.layer("aux2")(feat4d), tv.aux2(feat4d), rtol=0, atol=1e-5)


def test_training_returns_main_and_aux_logits_eval_returns_tensor():
    model = _model(width_mult=0.25)
    x = torch.randn(2, 3, 32, 32)
    model.train()
    out = model(x)
    assert isinstance(out, GoogLeNetOutputs)
    assert out.logits.shape == (2, 10) and len(out.aux) == 2 and all(a.shape == (2, 10) for a in out.aux)
    model.eval()
    assert isinstance(model(x), torch.Tensor)
    model = _model(width_mult=0.25, **{"aux.enabled": False})
    model.train()
    assert isinstance(model(x), torch.Tensor) and "aux1" not in model.paths and not model.aux_heads


def test_the_network_reads_like_table_1():
    # stem (the rows before the first Inception module), one stage per resolution keyed by Table 1's stage number
    # (its modules, the aux heads right after the module they read, the max pool that ends it), then the head
    model = build_model(load_spec(BASE).spec)
    assert [n for n, _ in model.named_children()] == ["stem", "stages", "head"]
    assert [n for n, _ in model.stem.named_children()] == ["conv1", "maxpool1", "conv2", "maxpool2"]
    assert {k: [n for n, _ in s.named_children()] for k, s in model.stages.items()} == {
        "3": ["inception3a", "inception3b", "maxpool3"],
        "4": ["inception4a", "aux1", "inception4b", "inception4c", "inception4d", "aux2", "inception4e", "maxpool4"],
        "5": ["inception5a", "inception5b"],
    }
    assert [n for n, _ in model.head.named_children()] == ["avgpool", "dropout", "flatten", "fc"]
    assert model.layer("inception4a") is model.stages["4"].inception4a
    assert set(model.aux_heads) == {"4a", "4d"} and model.aux_heads["4d"] is model.stages["4"].aux2
    # a removed module leaves its stage, a repeated one follows it in the same stage
    variant = _model(**{"layers.4b.repeat": 0, "layers.4c.repeat": 2, "width_mult": 0.25})
    assert [n for n, _ in variant.stages["4"].named_children()][:5] == [
        "inception4a",
        "aux1",
        "inception4c",
        "inception4c_2",
        "inception4d",
    ]
    assert variant.eval()(torch.randn(1, 3, 32, 32)).shape == (1, 10)


def test_aux_heads_follow_the_attach_order():
    # attach: [4d, 4a]: aux1 reads 4d and comes first in the outputs, aux2 reads 4a; each sits after its module
    model = _model(width_mult=0.25, **{"aux.attach": ["4d", "4a"]}).train()
    assert model.aux_heads == {"4d": model.layer("aux1"), "4a": model.layer("aux2")}
    names = [n for n, _ in model.stages["4"].named_children()]
    assert names.index("aux1") == names.index("inception4d") + 1 and names.index("aux2") == 1
    features = {}
    for name in ("inception4a", "inception4d"):
        model.layer(name).register_forward_hook(lambda m, i, o, n=name: features.setdefault(n, o))
    for head in ("aux1", "aux2"):
        model.layer(head).dropout.p = 0.0
    out = model(torch.randn(2, 3, 32, 32))
    torch.testing.assert_close(out.aux[0], model.layer("aux1")(features["inception4d"]))
    torch.testing.assert_close(out.aux[1], model.layer("aux2")(features["inception4a"]))
    # heads on but attached nowhere: plain logits, as with the heads off
    assert isinstance(_model(width_mult=0.25, **{"aux.attach": []}).train()(torch.randn(2, 3, 32, 32)), torch.Tensor)


def test_older_checkpoints_weights_load_into_the_nested_network():
    # tests/data/format1: a checkpoint written before the network had stages (layers at the top level, aux heads
    # last), by the code of 2026-11-28 (width 1/16 of the small spec). Its weights load strictly once re-keyed
    old = torch.load(DATA / "format1" / "checkpoint.pt", weights_only=True)
    assert "conv1.conv.weight" in old["model"] and "aux1.fc.weight" in old["model"]
    model = build_model(load_spec(SMALL, {"width_mult": 0.0625}).spec)
    model.load_state_dict(model.nest_keys(old["model"]), strict=True)
    assert torch.equal(model.stages["4"].aux1.fc.weight, old["model"]["aux1.fc.weight"])
    assert torch.equal(model.stem.conv2.conv.conv.weight, old["model"]["conv2.conv.conv.weight"])


def test_module_kinds_and_names_mirror_the_paper():
    reduced = build_model(load_spec(BASE).spec)
    assert isinstance(reduced.layer("inception3a"), InceptionReduced)
    names = {n for n, _ in reduced.layer("inception3a").named_children()}
    assert names == {"branch1x1", "branch3x3", "branch5x5", "branch_pool"}
    assert reduced.layer("inception3a").branch5x5.conv.conv.kernel_size == (5, 5)
    assert reduced.layer("inception3a").branch_pool.proj.conv.out_channels == 32
    naive = _model(module="naive", width_mult=0.25)
    assert isinstance(naive.layer("inception3a"), InceptionNaive)
    assert isinstance(naive.layer("inception3a").branch_pool, nn.MaxPool2d)
    assert naive.eval()(torch.randn(1, 3, 32, 32)).shape == (1, 10)


def test_batch_norm_kernel_and_stem_axes():
    bn = _model(batch_norm=True)
    convs = [m for m in bn.modules() if isinstance(m, nn.Conv2d)]
    assert all(c.bias is None for c in convs)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in bn.modules()) == len(convs)
    plain = _model(batch_norm=False)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in plain.modules())
    assert all(c.bias is not None for c in plain.modules() if isinstance(c, nn.Conv2d))
    k3 = _model(branch5x5_kernel=3)
    assert k3.layer("inception4e").branch5x5.conv.conv.kernel_size == (3, 3)
    sep = build_model(load_spec(BASE, {"stem": "separable"}).spec)
    # depthwise 7x7 x8 (3 -> 24) + 1x1 (24 -> 64): 7*7*24 + 24*64 weights
    weights = sum(m.weight.numel() for m in sep.layer("conv1").modules() if isinstance(m, nn.Conv2d))
    assert weights == 7 * 7 * 24 + 24 * 64 == 2712
    assert sep.layer("conv1").depthwise.groups == 3


def test_removed_branch_is_absent_and_output_width_follows():
    model = _model(**{"layers.4e.5x5": 0})
    assert model.layer("inception4e").branch5x5 is None
    feats = {}
    model.layer("inception4e").register_forward_hook(lambda m, i, o: feats.setdefault("4e", o))
    model.eval()
    model(torch.randn(1, 3, 32, 32))
    assert feats["4e"].shape[1] == 256 + 320 + 128


def test_init_schemes():
    torch.manual_seed(0)
    xavier = _model(batch_norm=False, init="xavier")
    w = xavier.layer("inception3a").branch1x1.conv.weight  # 192 -> 64, 1x1: xavier bound sqrt(6 / (192 + 64))
    bound = (6 / (192 + 64)) ** 0.5
    assert w.abs().max() <= bound and w.abs().max() > 0.9 * bound
    assert torch.all(xavier.layer("inception3a").branch1x1.conv.bias == 0.2)  # BVLC: conv biases start at 0.2
    assert torch.all(xavier.layer("fc").bias == 0)
    tn = build_model(load_spec(TORCHVISION).spec)
    w = tn.layer("inception4e").branch3x3.conv.conv.weight
    assert abs(w.std().item() - 0.01) < 0.001  # torchvision: trunc_normal_(std=0.01, a=-2, b=2)


@pytest.mark.parametrize("module", ["reduced", "naive"])
def test_backward_reaches_every_parameter(module):
    model = _model(module=module, width_mult=0.25)
    model.train()
    out = model(torch.randn(2, 3, 32, 32))
    (out.logits.sum() + sum(a.sum() for a in out.aux)).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing


class _Convs(TorchFunctionMode):
    """Records each F.conv2d call (nn.Conv2d's and the execution options' own) as (weight shape, stride)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if func is F.conv2d:
            stride = args[3] if len(args) > 3 else (kwargs or {}).get("stride", 1)
            self.calls.append((tuple(args[1].shape), stride))
        return func(*args, **(kwargs or {}))


def _train_step_each(models: list[nn.Module], x: torch.Tensor) -> tuple[list, list[list[tuple]]]:
    """A forward and backward pass of each model on ``x`` with the same dropout masks: their outputs and the
    F.conv2d calls of each forward."""
    outputs, convs = [], []
    for model in models:
        torch.manual_seed(1)
        with _Convs() as recorder:
            out = model(x)
        (out.logits.sum() + sum((i + 2) * a.sum() for i, a in enumerate(out.aux))).backward()
        outputs.append(out)
        convs.append(recorder.calls)
    return outputs, convs


@pytest.mark.parametrize(
    "path, overrides, fused_away",
    [
        (BASE, {}, 9 * 2),  # the paper's network: 3 input 1x1 convs -> 1 in each of the 9 modules
        (TORCHVISION, {"input_size": 64}, 9 * 2),  # batch norm: each branch keeps its own BN on its slice
        (SMALL, {"width_mult": 0.25, "layers.*.5x5": 0}, 9 * 1),  # no 5x5 branch: 2 convs -> 1
        (SMALL, {"width_mult": 0.25, "layers.*.1x1": 0, "layers.*.3x3": 0}, 0),  # one 1x1 left: nothing to fuse
    ],
)
def test_fused_1x1_computes_the_same_function(path, overrides, fused_away):
    torch.manual_seed(0)
    ref = build_model(load_spec(path, overrides).spec).double().train()
    fused = copy.deepcopy(ref).fuse_1x1()
    assert fused.state_dict().keys() == ref.state_dict().keys()
    kinds = [type(m) for m in fused.modules() if isinstance(m, InceptionReduced)]  # swapped in at build time
    assert kinds == [FusedInceptionReduced] * 9 and "FusedInceptionReduced" in repr(fused.layer("inception4a"))
    size = load_spec(path, overrides).spec.input_size
    x = torch.randn(2, 3, size, size, dtype=torch.float64)
    outputs, convs = _train_step_each([ref, fused], x)
    assert len(convs[0]) - len(convs[1]) == fused_away
    _assert_same_training_step(ref, fused, outputs, x)


def _close64(got: torch.Tensor, expect: torch.Tensor, name: str = "") -> None:
    # float64: only the summation order differs, ~1e-13 of the tensor's scale (float32 would be ~1e-5)
    scale = expect.abs().max().item()
    torch.testing.assert_close(got, expect, rtol=0, atol=1e-10 * max(scale, 1.0), msg=name)


def _assert_same_training_step(ref: nn.Module, other: nn.Module, outputs: list, x: torch.Tensor) -> None:
    """After one training step of each (``outputs``): same logits, aux logits, gradients, BN statistics, and
    the same eval-mode output."""
    for a, b in zip([outputs[0].logits, *outputs[0].aux], [outputs[1].logits, *outputs[1].aux], strict=True):
        _close64(b, a)
    for (name, p), q in zip(ref.named_parameters(), other.parameters(), strict=True):
        _close64(q.grad, p.grad, name)
    for (name, buf), b in zip(ref.named_buffers(), other.buffers(), strict=True):  # BN running statistics
        _close64(b.double(), buf.double(), name)
    ref.eval(), other.eval()
    with torch.inference_mode():
        _close64(other(x), ref(x))


@pytest.mark.parametrize(
    "kernel, padding, height, width",
    [(7, 3, 224, 224), (7, 3, 33, 20), (5, 2, 17, 18), (3, 1, 9, 9), (3, 0, 11, 10), (4, 1, 12, 13)],
)
def test_space_to_depth_conv_is_the_stride_2_convolution(kernel, padding, height, width):
    # against torch's own strided convolution: output and the gradients of input, weight and bias
    torch.manual_seed(0)
    conv = nn.Conv2d(3, 8, kernel, stride=2, padding=padding).double()
    x = torch.randn(2, 3, height, width, dtype=torch.float64, requires_grad=True)
    results = []
    for run in (conv, lambda t: space_to_depth_conv(t, conv)):
        out = run(x)
        grads = torch.autograd.grad(
            (out * torch.arange(out.numel()).view_as(out).sin()).sum(), (x, conv.weight, conv.bias)
        )
        results.append((out, *grads))
    assert results[1][0].shape == results[0][0].shape
    for got, expect in zip(results[1], results[0], strict=True):
        _close64(got, expect)


@pytest.mark.parametrize("path, overrides", [(BASE, {}), (TORCHVISION, {"input_size": 65})])
def test_s2d_stem_computes_the_same_function(path, overrides):
    # with the fused 1x1 path too, as the fast path runs them; the paper's spec, and torchvision's (batch norm)
    # at an odd image size (the blocks need one more row and column of padding)
    torch.manual_seed(0)
    spec = load_spec(path, overrides).spec
    ref = build_model(spec).double().train()
    fast = copy.deepcopy(ref).space_to_depth_stem().fuse_1x1()
    assert fast.s2d_stem and not ref.s2d_stem and fast.state_dict().keys() == ref.state_dict().keys()
    x = torch.randn(2, 3, spec.input_size, spec.input_size, dtype=torch.float64)
    outputs, convs = _train_step_each([ref, fast], x)
    # conv1: 64 filters of 7x7/2 over 3 channels, run as 4x4/1 over 2x2 blocks of 4 channels (one of zeros)
    assert [c[0] for c in convs] == [((64, 3, 7, 7), (2, 2)), ((64, 16, 4, 4), 1)]
    _assert_same_training_step(ref, fast, outputs, x)


def test_s2d_stem_needs_a_plain_stride_2_conv1():
    with pytest.raises(ValueError, match="stride-2 conv1; this spec's is 3x3/1"):
        _model(width_mult=0.25).space_to_depth_stem()  # the small spec's stem keeps 32x32 images at full size
    with pytest.raises(ValueError, match="not the separable stem"):
        _model(BASE, stem="separable").space_to_depth_stem()
    model = _model(BASE, width_mult=0.25).space_to_depth_stem().space_to_depth_stem(False)
    assert not model.s2d_stem


def test_fuse_1x1_leaves_naive_modules_alone_and_can_be_undone():
    naive = _model(module="naive", width_mult=0.25).eval()
    x = torch.randn(1, 3, 32, 32)
    with _Convs() as before:
        expect = naive(x)
    with _Convs() as after, torch.no_grad():
        got = naive.fuse_1x1()(x)
    assert len(before.calls) == len(after.calls) and torch.equal(got, expect)
    reduced = _model(width_mult=0.25).fuse_1x1().fuse_1x1(False)
    assert not reduced.fused_1x1 and not any(isinstance(m, FusedInceptionReduced) for m in reduced.modules())
    assert sum(type(m) is InceptionReduced for m in reduced.modules()) == 9


def _relative_error(got: torch.Tensor, expect: torch.Tensor) -> float:
    return ((got.double() - expect.double()).norm() / expect.double().norm()).item()


CL = torch.channels_last
DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA"))]


@pytest.mark.slow
@pytest.mark.parametrize("device", DEVICES)
def test_fast_path_options_under_bf16_autocast_and_channels_last(device):
    # the fast path's setting: unfused, fused, and fused with the space-to-depth stem are each as close to a
    # float64 reference as bf16 allows
    torch.manual_seed(0)
    ref = build_model(load_spec(BASE, {"width_mult": 0.25}).spec).train()
    x = torch.randn(4, 3, 224, 224)
    grads = {}
    for name in ("float64", "unfused", "fused", "fused+s2d"):
        model = copy.deepcopy(ref)
        if name == "float64":
            model, inputs, autocast = model.double(), x.double(), torch.autocast("cpu", enabled=False)
        else:
            model = model.fuse_1x1(name != "unfused").space_to_depth_stem(name == "fused+s2d")
            model = model.to(device, memory_format=torch.channels_last)
            inputs = x.to(device).contiguous(memory_format=torch.channels_last)
            autocast = torch.autocast(device, dtype=torch.bfloat16)
        model.layer("dropout").p = model.layer("aux1").dropout.p = model.layer("aux2").dropout.p = (
            0.0  # no masks to keep equal across devices
        )
        layouts: list[bool] = []
        model.layer("conv1").register_forward_hook(
            lambda m, i, o, seen=layouts: seen.append(o.is_contiguous(memory_format=CL))
        )
        with autocast:
            out = model(inputs)
        assert layouts == [name != "float64"], name  # conv1's output in the layout it was given (s2d included)
        (out.logits.float().sum() + sum(a.float().sum() for a in out.aux)).backward()
        grads[name] = torch.cat([p.grad.double().cpu().flatten() for p in model.parameters()])
        grads[name + " logits"] = out.logits.double().cpu()
    for what in ("", " logits"):
        expect = grads["float64" + what]
        errors = {name: _relative_error(grads[name + what], expect) for name in ("unfused", "fused", "fused+s2d")}
        assert errors["unfused"] < 0.05, (what, errors)
        assert max(errors["fused"], errors["fused+s2d"]) < max(2 * errors["unfused"], 1e-3), (what, errors)


@pytest.mark.slow
def test_fuse_1x1_flag_is_guarded_by_torch_compile():
    # switching the flag on a compiled model re-traces it: each graph has the conv calls of its own path
    convs_per_graph = []

    def recording_backend(gm, example_inputs):
        convs_per_graph.append(sum(n.op == "call_function" and n.target is F.conv2d for n in gm.graph.nodes))
        return gm.forward

    model = _model(width_mult=0.25).eval()
    compiled = torch.compile(model, backend=recording_backend)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        outs = [compiled(x), compiled(x)]
        model.fuse_1x1()
        outs += [compiled(x), compiled(x)]
    unfused = 1 + 2 + 9 * 6  # conv1, conv2 (reduce + 3x3), six convs per module; aux heads do not run in eval
    assert convs_per_graph == [unfused, unfused - 9 * 2]  # one graph each, the 2nd and 4th calls reuse them
    assert _relative_error(outs[2], outs[0]) < 1e-5


@pytest.mark.slow
def test_fused_1x1_traces_through_aot_autograd():
    # aot_eager: torch.compile's functionalisation (the in-place ReLU, the split) and autograd tracing, without
    # code generation (fast on a CPU); fused and compiled against unfused and eager, in float64 (in float32 the
    # small spec's batch norm over 2 images amplifies the summation-order difference to ~3e-4)
    torch.manual_seed(0)
    ref = _model(width_mult=0.25).double().train()
    fused = copy.deepcopy(ref).fuse_1x1()
    x = torch.randn(2, 3, 32, 32, dtype=torch.float64)
    results = []
    for model, runner in ((ref, ref), (fused, torch.compile(fused, backend="aot_eager"))):
        torch.manual_seed(1)
        out = runner(x)
        (out.logits.sum() + sum(a.sum() for a in out.aux)).backward()
        results.append(torch.cat([out.logits.flatten()] + [p.grad.flatten() for p in model.parameters()]))
    assert _relative_error(results[1], results[0]) < 1e-9


@pytest.mark.slow
def test_s2d_stem_traces_through_aot_autograd():
    # the padding, pixel_unshuffle and the weight's rearrangement under torch.compile's tracing, with gradients
    torch.manual_seed(0)
    block = ConvBlock(3, 16, 7, stride=2).double()
    s2d = swapped(copy.deepcopy(block), SpaceToDepthConvBlock)
    x = torch.randn(2, 3, 37, 40, dtype=torch.float64)
    results = []
    for model, runner in ((block, block), (s2d, torch.compile(s2d, backend="aot_eager"))):
        out = runner(x)
        out.pow(2).sum().backward()
        results.append(torch.cat([out.flatten()] + [p.grad.flatten() for p in model.parameters()]))
    assert _relative_error(results[1], results[0]) < 1e-12


def test_bn_bias_sets_the_trunks_shift_bn_bias_heads_the_classifiers_inputs_and_older_records_read_as_zero():
    from inception_bench.spec import Spec

    spec = load_spec(SMALL, {"width_mult": 0.125, "bn_bias": 0.5, "bn_bias_heads": -0.25}).spec
    model = build_model(spec)
    last = model.layer("inception5b")  # the main head's features: the last batch norm of each of its branches
    heads = [last.branch1x1.bn, last.branch3x3.conv.bn, last.branch5x5.conv.bn, last.branch_pool.proj.bn]
    heads += [m for head in model.aux_heads.values() for m in head.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert len(heads) == 4 + 2  # two aux heads, one conv each
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    trunk = [m for m in norms if all(m is not h for h in heads)]
    assert len(trunk) == len(norms) - 6 and all(bool((m.weight == 1.0).all()) for m in norms)
    assert all(bool((m.bias == 0.5).all()) for m in trunk) and all(bool((m.bias == -0.25).all()) for m in heads)
    every = build_model(load_spec(SMALL, {"width_mult": 0.125, "bn_bias": 1.0, "bn_bias_heads": None}).spec)
    assert all(bool((m.bias == 1.0).all()) for m in every.modules() if isinstance(m, torch.nn.BatchNorm2d))
    default = load_spec(SMALL, {"width_mult": 0.125}).spec.to_raw()
    assert (default["bn_bias"], default["bn_bias_heads"]) == (1.0, 0.0)  # the small spec's (docs/training.md, 7)
    older = {k: v for k, v in default.items() if k not in ("bn_bias", "bn_bias_heads")}  # written before the fields
    assert (Spec.recorded(older)["bn_bias"], Spec.recorded(older)["bn_bias_heads"]) == (0.0, None)
