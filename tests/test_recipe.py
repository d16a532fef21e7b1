"""The training recipe's defaults (issue 14): batch norm's statistics recomputed before evaluation, the per-step
schedule, the learning rate scaled with the batch, the weight average's horizon, the raw and averaged weights both
evaluated and the better one the headline, and the held-out test split scored once at the end."""

from __future__ import annotations

import json
import math
from contextlib import nullcontext

import pytest
import torch
from conftest import SMALL
from torch import nn

from inception_bench.data import load_data
from inception_bench.run.checkpoint import load_checkpoint, model_from_checkpoint
from inception_bench.run.engine import recompute_bn_stats
from inception_bench.run.settings import Recipe, portable_recipe
from inception_bench.run.setup import _scheduler, model_and_optimizer
from inception_bench.run.train import train
from inception_bench.spec import load_spec


def test_precise_bn_sets_running_statistics_to_the_average_over_the_given_batches():
    # a conv + BN: after the recompute, the running mean is the mean of the per-batch means of the conv's output
    # and the running variance the mean of the per-batch unbiased variances (a cumulative average, momentum None),
    # computed here by hand; the weights, the momentum and the training flag are left as they were
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Dropout(0.5))
    model[1].running_mean.fill_(100.0)  # stale statistics, as training leaves them
    model.eval()
    batches = [torch.randn(8, 3, 10, 10) * (i + 1) for i in range(3)]
    weight = model[0].weight.detach().clone()
    recompute_bn_stats(model, iter(batches), nullcontext)
    with torch.no_grad():
        outs = [nn.functional.conv2d(b, weight, model[0].bias) for b in batches]
    means = torch.stack([o.mean(dim=(0, 2, 3)) for o in outs]).mean(0)
    variances = torch.stack([o.transpose(0, 1).flatten(1).var(dim=1, unbiased=True) for o in outs]).mean(0)
    torch.testing.assert_close(model[1].running_mean, means, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(model[1].running_var, variances, rtol=1e-5, atol=1e-6)
    assert torch.equal(model[0].weight, weight) and model[1].momentum == 0.1 and not model.training


def test_the_cosine_schedule_warms_up_linearly_then_follows_the_cosine_to_zero_per_step():
    base, warm, total = 0.4, 5, 25
    optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=base)
    scheduler = _scheduler(optimizer, "cosine", warm, steps_per_epoch=5, total_steps=total)
    seen = []
    for _ in range(total):
        seen.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    # the formula, by hand: linear from base / (warm + 1) to base over `warm` steps, then half a cosine period
    start = 1 / (warm + 1)
    expect = [base * (start + (1 - start) * t / warm) for t in range(warm)]
    expect += [base * (1 + math.cos(math.pi * (t - warm) / (total - warm))) / 2 for t in range(warm, total)]
    assert seen == pytest.approx(expect, rel=1e-9, abs=1e-12)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-12)  # after the last step


def test_the_step_schedule_is_the_papers_per_epoch_decay_counted_in_steps():
    optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)
    scheduler = _scheduler(optimizer, "step", 0, steps_per_epoch=3, total_steps=60)
    seen = []
    for _ in range(60):
        seen.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert seen == pytest.approx([0.96 ** (t // (8 * 3)) for t in range(60)])


def test_recipe_resolution_follows_the_batch_and_the_run_length():
    recipe = Recipe(lr=0.2, lr_batch=256, batch_size=32)
    assert recipe.lr_for(32) == pytest.approx(0.025) and recipe.lr_for(512) == pytest.approx(0.4)
    assert recipe.lr_option(0.025, 32) == pytest.approx(0.2)
    assert recipe.ema_decay_for(10_000) == pytest.approx(1 - 1 / 500)  # a horizon of 1/20 of the steps
    assert recipe.ema_decay_for(40) == pytest.approx(0.9)  # at least 10 steps
    assert Recipe(ema_decay=0.5).ema_decay_for(10_000) == 0.5
    assert Recipe().schedule_for() == "cosine" and Recipe(recipe="paper").schedule_for() == "step"
    assert Recipe(recipe="paper", schedule="cosine").schedule_for() == "cosine"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("recipe") / "run"
    recipe = Recipe(data="digits", epochs=2, batch_size=32, precision="fp32", device="cpu", workers=0, seed=2)
    record = train(load_spec(SMALL, {"width_mult": 0.125}), recipe, out, progress="none")
    return out, recipe, record


def test_both_weights_are_evaluated_and_the_better_is_the_headline(run):
    out, _, record = run
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    for row in rows:
        assert row["val_top1"] == max(row["val_top1_raw"], row["val_top1_ema"])
        assert row["weights"] == ("ema" if row["val_top1_ema"] >= row["val_top1_raw"] else "raw")
        assert row["val_loss"] == row[f"val_loss_{row['weights']}"]
        assert row["grad_norm_max"] >= row["grad_norm"] > 0 and 0 <= row["clipped"] <= 1
    assert record.weights == rows[-1]["weights"] and record.val_top1 == rows[-1]["val_top1"]
    assert record.val_top1_raw == rows[-1]["val_top1_raw"] and record.val_top1_ema == rows[-1]["val_top1_ema"]


def test_the_test_split_is_scored_once_with_the_headline_weights(run):
    # the checkpoint's headline weights on digits' 360 test images, evaluated here independently of the trainer
    out, _, record = run
    model = model_from_checkpoint(load_checkpoint(out / "checkpoint.pt")).eval()
    images, labels = load_data("digits").test_tensors
    with torch.no_grad():
        top1 = float((model(images).argmax(1) == labels).double().mean())
    assert len(labels) == 360 and record.test_top1 == pytest.approx(top1, abs=1e-9)
    final = json.loads((out / "final.json").read_text())
    assert final["test_top1"] == record.test_top1 and final["weights"] == record.weights


def test_config_records_the_resolved_recipe(run):
    out, recipe, _ = run
    config = json.loads((out / "config.json").read_text())
    steps = math.ceil(1167 / 32)  # digits' training split at batch 32
    assert config["resolved"] == {
        "lr": pytest.approx(0.6 * 32 / 256),
        "schedule": "cosine",
        "warmup_steps": steps,
        "steps_per_epoch": steps,
        "ema_decay": pytest.approx(1 - 1 / max(10, 0.05 * 2 * steps)),
    }
    assert config["recipe"]["clip_grad_norm"] == recipe.clip_grad_norm and config["recipe"]["bn_images"] == 1024
    # each epoch records the learning rate of its first step: warm-up starts at lr / (warm-up steps + 1), and the
    # second epoch starts the cosine at the full rate
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert rows[0]["lr"] == pytest.approx(0.6 * 32 / 256 / (steps + 1)) and rows[1]["lr"] == pytest.approx(
        0.6 * 32 / 256
    )


@pytest.mark.parametrize(("options", "nesterov"), [({}, True), ({"nesterov": False}, False)])
def test_the_optimizer_takes_nesterov_steps_by_default(options, nesterov):
    """Two SGD steps on a constant gradient g, by hand: the buffer is b1 = g, b2 = m b1 + g; a Nesterov step moves
    by lr (g + m b), a plain one by lr b."""
    spec = load_spec(SMALL, {"width_mult": 0.125}).spec
    model, optimizer = model_and_optimizer(spec, Recipe(weight_decay=0.0, **options), torch.device("cpu"), lr=0.1)
    weight = next(model.parameters())
    start = weight.detach().clone()
    g = torch.randn_like(weight)
    for _ in range(2):
        for p in model.parameters():
            p.grad = g if p is weight else torch.zeros_like(p)
        optimizer.step()
    m, lr = 0.9, 0.1
    b1, b2 = g, m * g + g
    moved = (g + m * b1) + (g + m * b2) if nesterov else b1 + b2
    assert torch.allclose(weight.detach(), start - lr * moved, atol=1e-6)
    assert not model_and_optimizer(spec, Recipe(momentum=0.0), torch.device("cpu"), lr=0.1)[1].param_groups[0][
        "nesterov"
    ]  # torch refuses Nesterov without momentum: plain SGD then


def test_a_record_from_before_nesterov_reads_as_plain_momentum():
    old = Recipe(nesterov=False).model_dump()
    del old["nesterov"]  # what config.json held before the field existed
    assert portable_recipe(old)["nesterov"] is False
    assert portable_recipe(old) == portable_recipe(Recipe(nesterov=False).model_dump())
    assert portable_recipe(old) != portable_recipe(Recipe().model_dump())
