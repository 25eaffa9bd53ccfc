"""The class U-Nets of lessons 04 and 05: the package's loop is the lesson's plain loop."""

from __future__ import annotations

import pytest
import torch

from depthnb.course.classroom import (
    CLASS_UNET_FILTERS,
    beats_constant,
    inverse_from_log,
    render_rooms,
    train_class_unet,
)
from depthnb.encodings import get_encoding
from depthnb.errors import ArgumentError
from depthnb.losses import l1_loss, ssi_loss
from depthnb.metrics.align import to_disparity
from depthnb.models import build_model, count_parameters

SIZE = (32, 48)


@pytest.fixture(scope="module")
def rooms() -> dict[str, torch.Tensor]:
    return render_rooms(6, SIZE, seed=3)


def _plain_loop(rooms, loss_fn, output, target, steps, batch_size, lr=3e-3):
    """Lesson 04's loop as the lesson writes it: the specification."""
    torch.manual_seed(0)
    model = build_model("unet", filters=(8, 16, 32, 64, 128))
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, lr, total_steps=steps, pct_start=0.2)
    order = torch.Generator().manual_seed(0)
    for _ in range(steps):
        index = torch.randint(len(rooms["image"]), (batch_size,), generator=order)
        pred = output(model(rooms["image"][index]))
        loss = loss_fn(pred, target(rooms["depth"][index]), rooms["valid"][index])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
    return model.eval()


def test_render_rooms_stacks_samples(rooms):
    assert rooms["image"].shape == (6, 3, *SIZE) and rooms["image"].dtype == torch.float32
    assert rooms["depth"].shape == (6, 1, *SIZE) and rooms["valid"].dtype == torch.bool
    assert 0 <= rooms["image"].min() and rooms["image"].max() <= 1
    assert (rooms["depth"][rooms["valid"]] > 0).all()


def test_inverse_from_log_is_densedepths_target():
    depth = torch.tensor([0.05, 0.1, 1.0, 2.5, 10.0, 40.0]).view(1, 1, 2, 3)
    assert torch.allclose(inverse_from_log(depth.log()), get_encoding("inverse").encode(depth))


@pytest.mark.parametrize(
    "loss_fn, output, target",
    [
        (l1_loss, inverse_from_log, get_encoding("inverse").encode),
        (ssi_loss, lambda log_depth: torch.exp(-log_depth), to_disparity),
    ],
    ids=["L1 on inverse depth", "SSI on disparity"],
)
def test_the_package_loop_is_the_plain_loop(rooms, loss_fn, output, target):
    torch.manual_seed(123)
    caller = torch.get_rng_state()
    model, seconds = train_class_unet(
        rooms, loss_fn, steps=3, batch_size=2, output=output, target=target
    )
    assert torch.equal(torch.get_rng_state(), caller), "the caller's generator is left alone"
    assert not model.training and seconds > 0
    plain = _plain_loop(rooms, loss_fn, output, target, steps=3, batch_size=2)
    for (name, ours), theirs in zip(model.state_dict().items(), plain.state_dict().values()):
        assert torch.equal(ours, theirs), name


def test_same_call_same_weights_and_training_moves_them(rooms):
    first, _ = train_class_unet(rooms, l1_loss, steps=2, batch_size=2)
    again, _ = train_class_unet(rooms, l1_loss, steps=2, batch_size=2)
    other_seed, _ = train_class_unet(rooms, l1_loss, steps=2, batch_size=2, seed=1)
    with torch.no_grad():
        out = first(rooms["image"][:2])
        assert torch.equal(out, again(rooms["image"][:2]))
        assert not torch.equal(out, other_seed(rooms["image"][:2]))
    untrained = build_model("unet", filters=CLASS_UNET_FILTERS)
    assert count_parameters(first) == count_parameters(untrained)
    assert out.shape == (2, 1, *SIZE)


def test_bad_arguments_say_what_to_pass(rooms):
    with pytest.raises(ArgumentError, match="steps >= 1"):
        train_class_unet(rooms, l1_loss, steps=0, batch_size=2)
    with pytest.raises(ArgumentError, match="render_rooms"):
        train_class_unet({"image": rooms["image"]}, l1_loss, steps=1, batch_size=2)


def test_beats_constant_needs_every_metric():
    constants = {"abs_rel": (2.0, 0.30), "rmse": (2.1, 1.0), "delta1": (1.9, 0.5)}
    assert beats_constant({"abs_rel": 0.2, "rmse": 0.9, "delta1": 0.6}, constants)
    assert not beats_constant({"abs_rel": 0.2, "rmse": 0.9, "delta1": 0.4}, constants)
    assert not beats_constant({"abs_rel": 0.35, "rmse": 0.9, "delta1": 0.6}, constants)
    assert beats_constant({"abs_rel": 0.2, "rmse": 2.0, "delta1": 0.6}, constants, ("abs_rel",))


def test_a_given_network_is_trained_in_place_of_a_fresh_one(rooms):
    """``model=``: another head on the class U-Net (lesson 14's bins head), its output mapped by
    ``output``; the same batches as the fresh network's."""
    from depthnb.models.heads import BinsHead

    torch.manual_seed(0)
    net = build_model("unet", filters=CLASS_UNET_FILTERS, encoding="metres")
    net.head = BinsHead(CLASS_UNET_FILTERS[0], bins=8, min_depth=0.25, max_depth=12.0)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    trained, _ = train_class_unet(
        rooms, l1_loss, steps=2, batch_size=2, output=torch.log, target=torch.log, model=net
    )
    assert trained is net and not trained.training
    assert not torch.equal(before["head.logits.weight"], net.state_dict()["head.logits.weight"])
    with torch.no_grad():
        depth = trained(rooms["image"][:1])
    assert depth.shape == (1, 1, *SIZE) and (depth >= 0.25).all() and (depth <= 12.0).all()
