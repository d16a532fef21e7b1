"""``ibench count`` against independent arithmetic (the paper notes) and torch's FlopCounterMode."""

from __future__ import annotations

import pytest
from conftest import BASE, ROOT, SMALL, TORCHVISION, reference_counts

from inception_bench.count import count, count_model, totals
from inception_bench.count.render import to_csv, to_markdown
from inception_bench.models import build_model
from inception_bench.spec import load_spec


# Weights of each row from the table's own channel numbers, computed by hand with the paper's formula
# c*#1x1 + c*#3x3red + 9*#3x3red*#3x3 + c*#5x5red + 25*#5x5red*#5x5 + c*poolproj (c = the input depth).
def _inception(c, n1, r3, n3, r5, n5, pp):
    return c * n1 + c * r3 + 9 * r3 * n3 + c * r5 + 25 * r5 * n5 + c * pp


EXPECTED_WEIGHTS = {
    "conv1": 7 * 7 * 3 * 64,
    "conv2": 64 * 64 + 64 * 9 * 192,
    "3a": _inception(192, 64, 96, 128, 16, 32, 32),
    "3b": _inception(256, 128, 128, 192, 32, 96, 64),
    "4a": _inception(480, 192, 96, 208, 16, 48, 64),
    "4b": _inception(512, 160, 112, 224, 24, 64, 64),
    "4c": _inception(512, 128, 128, 256, 24, 64, 64),
    "4d": _inception(512, 112, 144, 288, 32, 64, 64),
    "4e": _inception(528, 256, 160, 320, 32, 128, 128),
    "5a": _inception(832, 256, 160, 320, 32, 128, 128),
    "5b": _inception(832, 384, 192, 384, 48, 128, 128),
    "fc": 1024 * 1000,
}
SPATIAL = {"conv1": 112, "conv2": 56, "3a": 28, "3b": 28, "fc": 1, "5a": 7, "5b": 7}


def test_notes_table_values():
    # the paper notes' exact-values table, restated: a guard that the formula above is the notes' formula
    assert [EXPECTED_WEIGHTS[k] for k in ("conv1", "conv2", "3a", "4a", "4c", "5a", "5b")] == [
        9_408,
        114_688,
        163_328,
        375_552,
        509_440,
        1_042_432,
        1_442_816,
    ]
    assert sum(EXPECTED_WEIGHTS.values()) == 6_990_272


@pytest.fixture(scope="module")
def base_report():
    return count(load_spec(BASE))


def test_rows_match_independent_arithmetic(base_report):
    rows = {r.id: r for r in base_report.rows}
    for row_id, weights in EXPECTED_WEIGHTS.items():
        hw = SPATIAL.get(row_id, 14)
        assert rows[row_id].params == weights, row_id
        assert rows[row_id].ops == weights * hw * hw, row_id
    for row_id in ("maxpool1", "maxpool4", "avgpool", "dropout", "softmax"):
        assert rows[row_id].params == rows[row_id].ops == 0
    assert base_report.total["params"] == 6_990_272
    assert base_report.total["ops"] == sum(w * SPATIAL.get(k, 14) ** 2 for k, w in EXPECTED_WEIGHTS.items())
    # biases: every conv has one per output channel, and the linear layer 1000 (the notes: 8,280)
    assert base_report.total["params_all"] == 6_990_272 + 8_280


def test_paper_figures_and_discrepancies(base_report):
    rows = {r.id: r for r in base_report.rows}
    assert rows["3a"].paper_params == 159 * 1024 and rows["3a"].paper_ops == 128_000_000
    assert rows["conv1"].paper_params == round(2.7 * 1024)
    bad_params = {r.id for r in base_report.rows if r.params_match is False}
    bad_ops = {r.id for r in base_report.rows if r.ops_match is False}
    # 159K is 159 +- 1 K: the rows below differ by more than one printed unit (see the paper notes)
    assert bad_params == {"conv1", "4a", "4c", "4d", "4e", "5a", "5b"}
    assert bad_ops == {"conv1", "5a"}
    assert "separable" in rows["conv1"].explanation
    assert "do not follow from the row's own channel numbers" in rows["4c"].explanation
    assert "509,440" in rows["4c"].explanation
    assert rows["3a"].explanation == ""
    assert rows["4c"].params_diff_pct == pytest.approx((509_440 - 463 * 1024) / (463 * 1024) * 100)


def test_aux_heads_counted_apart(base_report):
    # avg pool 5x5/3 -> 4x4, 1x1 conv 128, fc 2048 -> 1024, linear 1024 -> 1000
    a4a = 512 * 128 + 128 * 16 * 1024 + 1024 * 1000
    a4d = 528 * 128 + 128 * 16 * 1024 + 1024 * 1000
    assert [a.params for a in base_report.aux] == [a4a, a4d]
    assert [a.ops for a in base_report.aux] == [
        512 * 128 * 16 + 2048 * 1024 + 1024 * 1000,
        528 * 128 * 16 + 2048 * 1024 + 1024 * 1000,
    ]
    assert base_report.total["params"] == 6_990_272  # aux heads are not in Table 1's total


def test_separable_stem_matches_the_paper_budget():
    report = count(load_spec(BASE, {"stem": "separable"}))
    conv1 = report.rows[0]
    assert conv1.params == 2_712 and conv1.ops == (7 * 7 * 24 + 24 * 64) * 112 * 112
    assert conv1.params_match and conv1.ops_match and conv1.explanation == ""
    assert report.total["params"] == 6_983_576  # the notes' figure for this stem
    assert round(report.total["ops"] / 1e9, 3) == 1.499


def test_torchvision_spec_counts():
    report = count(load_spec(TORCHVISION))
    assert report.total["params_all"] == 6_624_904  # torchvision's googlenet without aux heads
    assert count(load_spec(TORCHVISION, {"branch5x5_kernel": 5})).total["params_all"] == 7_005_832


VARIANTS = [
    (BASE, {}),
    (BASE, {"module": "naive"}),
    (BASE, {"aux.enabled": False, "stem": "separable"}),
    (TORCHVISION, {}),
    (SMALL, {"batch_norm": True, "branch5x5_kernel": 3}),
    (SMALL, {"width_mult": 0.5, "reduce_mult": 2.0}),
    (SMALL, {"layers.4e.5x5": 0, "layers.3a.pool_proj": 0, "layers.4b.repeat": 0, "layers.4c.repeat": 2}),
    (SMALL, {"module": "naive", "aux.attach": ["4d"]}),
]


@pytest.mark.parametrize(("path", "overrides"), VARIANTS)
def test_totals_agree_with_flop_counter_mode(path, overrides):
    # the per-row report (fvcore) and the cheap totals (meta device) against torch's counter on a real model
    loaded = load_spec(path, overrides)
    report = count(loaded)
    weights, macs, params_all = reference_counts(build_model(loaded.spec), loaded.spec.input_size)
    assert report.total["ops"] == macs and report.total["params"] == weights
    assert report.total["params_all"] == params_all
    cheap = totals(loaded.spec)
    assert (cheap.params, cheap.macs, cheap.params_all) == (weights, macs, params_all)
    assert (
        cheap.params_with_aux == report.total["params_all_with_aux"] and cheap.aux_params == report.total["aux_params"]
    )


def test_count_model_takes_any_classifier_and_leaves_it_as_it_was():
    # torchvision's googlenet: the paper notes' 6,624,904 parameters without aux heads (torchvision's own figure)
    import torchvision

    tv = torchvision.models.googlenet(weights=None, aux_logits=True, init_weights=True).train()
    counted = count_model(tv)
    assert counted.params_all == 6_624_904 and tv.training
    weights, macs, _ = reference_counts(tv, 224)
    assert (counted.params, counted.macs) == (weights, macs)
    assert counted.params_with_aux == sum(p.numel() for p in tv.parameters())
    small = build_model(load_spec(SMALL, {"width_mult": 0.25}).spec).double()
    assert count_model(small).input_size == 32 and count_model(small, input_size=64).macs > count_model(small).macs


def test_committed_results_are_current(base_report):
    md = (ROOT / "results/count/googlenet.md").read_text()
    csv = (ROOT / "results/count/googlenet.csv").read_text()
    assert to_csv(base_report) == csv, "results/count/googlenet.csv is stale: run `make results-count`"
    command = "ibench count --format markdown --output results/count/googlenet.md"
    assert to_markdown(base_report, command) == md, "results/count/googlenet.md is stale: run `make results-count`"
