import copy

import pytest
import torch
from torch import nn

from rlkit.optim import FlatParameters


def _net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 2))


def _reference_and_flat():
    """Two copies of one net with Adam each: a reference with separate parameters, and one trained
    through FlatParameters."""
    reference, flat_net = _net(), _net()
    flat = FlatParameters(flat_net)
    return (reference, torch.optim.Adam(reference.parameters(), lr=1e-2),
            flat_net, flat, torch.optim.Adam([flat.param], lr=1e-2))


def _reference_step(reference: nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor):
    """One plain step (zero_grad, backward, clip to 0.5, Adam); the gradient norm before clipping."""
    optimizer.zero_grad()
    (reference(x) - y).pow(2).sum().backward()
    norm = nn.utils.clip_grad_norm_(reference.parameters(), 0.5)
    optimizer.step()
    return norm


def test_flat_parameters_train_exactly_like_separate_parameters():
    reference, ref_opt, flat_net, flat, flat_opt = _reference_and_flat()
    x, y = torch.randn(32, 4), torch.randn(32, 2)
    for _ in range(5):
        ref_norm = _reference_step(reference, ref_opt, x, y)
        flat.zero_grad()
        (flat_net(x) - y).pow(2).sum().backward()
        norm = flat.clip_grad_norm_(0.5)
        flat_opt.step()
        torch.testing.assert_close(norm, ref_norm)
        for a, b in zip(reference.parameters(), flat_net.parameters()):
            torch.testing.assert_close(a, b)
    # the module's parameters are still views of the flat buffer, and so are their gradients
    for p in flat_net.parameters():
        assert p.untyped_storage().data_ptr() == flat.param.untyped_storage().data_ptr()
        assert p.grad.untyped_storage().data_ptr() == flat.param.grad.untyped_storage().data_ptr()


def test_flat_parameters_survive_load_state_dict():
    net = _net()
    flat = FlatParameters(net)
    other = copy.deepcopy(_net())
    with torch.no_grad():
        for p in other.parameters():
            p.add_(1.0)
    net.load_state_dict(other.state_dict())
    torch.testing.assert_close(flat.param, torch.cat([p.reshape(-1) for p in other.parameters()]))


def test_flat_parameters_keep_channels_last_conv_weights_and_train_like_separate_parameters():
    def conv_net():
        torch.manual_seed(0)
        net = nn.Sequential(nn.Conv2d(4, 8, 3, stride=2), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 3 * 3, 2))
        return net.to(memory_format=torch.channels_last)

    reference, flat_net = conv_net(), conv_net()
    flat = FlatParameters(flat_net)
    conv = flat_net[0]
    # the views keep the layout the convolution reads, and still share the flat storage
    assert conv.weight.is_contiguous(memory_format=torch.channels_last) and not conv.weight.is_contiguous()
    assert conv.weight.grad.stride() == conv.weight.stride()
    assert conv.weight.untyped_storage().data_ptr() == flat.param.untyped_storage().data_ptr()
    ref_opt = torch.optim.Adam(reference.parameters(), lr=1e-2)
    flat_opt = torch.optim.Adam([flat.param], lr=1e-2)
    x = torch.randn(6, 4, 8, 8).contiguous(memory_format=torch.channels_last)
    y = torch.randn(6, 2)
    for _ in range(3):
        ref_opt.zero_grad()
        (reference(x) - y).pow(2).sum().backward()
        ref_opt.step()
        flat.step((flat_net(x) - y).pow(2).sum(), flat_opt, float("inf"))
        for a, b in zip(reference.parameters(), flat_net.parameters()):
            torch.testing.assert_close(a, b)


@pytest.mark.parametrize("large", [False, True])  # vector_norm, or the BLAS dot
def test_clip_grad_norm_leaves_small_gradients_alone_and_scales_large_ones(large):
    flat = FlatParameters(_net())
    flat.large = large
    flat.param.grad.copy_(torch.linspace(-1, 1, flat.param.numel()))
    before = flat.param.grad.clone()
    before_norm = float(torch.linalg.vector_norm(before))
    norm = flat.clip_grad_norm_(2 * before_norm)
    torch.testing.assert_close(norm, torch.tensor(before_norm))
    assert torch.equal(flat.param.grad, before)  # within the bound: untouched
    flat.clip_grad_norm_(0.5)
    torch.testing.assert_close(torch.linalg.vector_norm(flat.param.grad), torch.tensor(0.5))
    torch.testing.assert_close(flat.param.grad, before * (0.5 / (before_norm + 1e-6)))


@pytest.mark.parametrize("large", [False, True])  # zero + accumulate, or autograd.grad + copy
def test_flat_backward_replaces_the_gradient_and_zeros_parameters_the_loss_misses(large):
    torch.manual_seed(0)
    module = nn.ModuleDict({"net": nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 2)), "unused": nn.Linear(3, 3)})
    flat = FlatParameters(module)
    flat.large = large
    flat.param.grad.fill_(7.0)  # stale contents must not leak into the new gradient
    x, y = torch.randn(8, 4), torch.randn(8, 2)
    loss = (module["net"](x) - y).pow(2).sum()
    expected = torch.autograd.grad(loss, list(module["net"].parameters()), retain_graph=True)
    flat.backward(loss)
    for p, g in zip(module["net"].parameters(), expected):
        torch.testing.assert_close(p.grad, g, rtol=0, atol=0)
    for p in module["unused"].parameters():
        assert torch.count_nonzero(p.grad) == 0
    # the gradients written are the flat buffer's contents, in parameter order
    torch.testing.assert_close(flat.param.grad, torch.cat([p.grad.reshape(-1) for p in module.parameters()]))


@pytest.mark.parametrize("set_to_none", [True, False])
@pytest.mark.parametrize("large", [False, True])  # zero + accumulate, or autograd.grad + copy
def test_module_zero_grad_does_no_harm(set_to_none, large):
    """``module.zero_grad()`` unlinks (or zeros) the gradient views; ``step`` links them back and
    ``clip_grad_norm_`` keeps what a plain ``backward`` wrote meanwhile: training is unchanged."""
    reference, ref_opt, flat_net, flat, flat_opt = _reference_and_flat()
    flat.large = large
    x, y = torch.randn(32, 4), torch.randn(32, 2)
    for i in range(4):
        _reference_step(reference, ref_opt, x, y)
        flat_net.zero_grad(set_to_none=set_to_none)
        loss = (flat_net(x) - y).pow(2).sum()
        if i % 2:  # a hand-written step: plain backward, then the flat buffer's clipping
            loss.backward()
            flat.clip_grad_norm_(0.5)
            flat_opt.step()
        else:
            flat.step(loss, flat_opt, 0.5)
        for a, b in zip(reference.parameters(), flat_net.parameters()):
            torch.testing.assert_close(a, b)
        for p in flat_net.parameters():  # linked to the flat buffer again
            assert p.grad.untyped_storage().data_ptr() == flat.param.grad.untyped_storage().data_ptr()
