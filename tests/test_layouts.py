"""Batch layout helpers: channels-last conversion and row gathers keep values and layout."""
import numpy as np
import pytest
import torch

from rlkit.buffers import take_rows
from rlkit.fast.cnn import to_channels_last


@pytest.mark.parametrize("shape", [(5, 4, 84, 84), (3, 2, 7, 9), (2, 1, 5, 5), (4, 6, 3, 3), (0, 4, 8, 8)])
def test_to_channels_last_keeps_values_and_gives_channels_last_memory(shape):
    obs = torch.from_numpy(np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8))
    out = to_channels_last(obs)
    assert out.shape == obs.shape and out.dtype == obs.dtype
    assert torch.equal(out, obs)
    assert out.is_contiguous(memory_format=torch.channels_last)


def test_to_channels_last_leaves_floats_and_channels_last_batches_to_torch():
    floats = torch.randn(2, 4, 6, 6)
    assert torch.equal(to_channels_last(floats), floats)
    already = floats.contiguous(memory_format=torch.channels_last)
    assert to_channels_last(already) is already


def test_take_rows_matches_indexing_and_keeps_channels_last():
    rng = np.random.default_rng(1)
    frames = torch.from_numpy(rng.integers(0, 256, (16, 4, 10, 10), dtype=np.uint8))
    rows = torch.randperm(16, generator=torch.Generator().manual_seed(0))
    channels_last = to_channels_last(frames)
    picked = take_rows(channels_last, rows)
    assert torch.equal(picked, frames[rows])
    assert picked.is_contiguous(memory_format=torch.channels_last)
    vectors = torch.randn(16, 3)
    assert torch.equal(take_rows(vectors, rows), vectors[rows])


@pytest.mark.parametrize("rows", [1, 8, 16, 32, 64])
def test_nature_cnn_features_do_not_depend_on_how_the_dense_layer_is_multiplied(rows):
    from rlkit.networks.encoders import NatureCNN

    torch.manual_seed(0)
    net = NatureCNN((4, 84, 84))
    obs = torch.from_numpy(np.random.default_rng(2).integers(0, 256, (rows, 4, 84, 84), dtype=np.uint8))
    x = net.convs(obs.float() / 255.0)  # the network's maths, written out with its own modules
    features = net(obs)
    reference = torch.relu(net.linear[0](x))
    torch.testing.assert_close(features, reference, rtol=1e-5, atol=1e-5)
    # and the gradients agree too (the update backpropagates through the same product)
    weights = torch.randn_like(reference)
    grad = torch.autograd.grad((net(obs) * weights).sum(), net.linear[0].weight)[0]
    grad_ref = torch.autograd.grad((reference * weights).sum(), net.linear[0].weight)[0]
    torch.testing.assert_close(grad, grad_ref, rtol=1e-4, atol=1e-4)


def test_nature_cnn_leaves_float_channels_last_input_untouched_and_scales_it_like_bytes():
    from rlkit.networks.encoders import NatureCNN

    torch.manual_seed(0)
    net = NatureCNN((4, 84, 84))
    frames = torch.from_numpy(np.random.default_rng(3).integers(0, 256, (2, 4, 84, 84), dtype=np.uint8))
    floats = frames.float().contiguous(memory_format=torch.channels_last)
    before = floats.clone()
    with torch.no_grad():
        torch.testing.assert_close(net(floats), net(frames))
    assert torch.equal(floats, before)  # the division did not happen in the caller's tensor


def test_nature_cnn_dense_gradient_written_in_place_is_autograd_s_even_for_a_weight_used_twice():
    from rlkit.networks.encoders import NatureCNN
    from rlkit.optim import FlatParameters

    torch.manual_seed(0)
    net = NatureCNN((4, 84, 84))
    flat = FlatParameters(net)
    assert flat.large  # the path that writes gradients in place
    rng = np.random.default_rng(4)
    obs_a, obs_b = (torch.from_numpy(rng.integers(0, 256, (n, 4, 84, 84), dtype=np.uint8)) for n in (32, 5))

    def reference(obs):  # the same maths through the plain modules and autograd's own backward
        return torch.relu(net.linear[0](net.convs(obs.float() / 255.0)))

    weights_a, weights_b = torch.randn(32, 512), torch.randn(5, 512)
    expected = torch.autograd.grad((reference(obs_a) * weights_a).sum() + (reference(obs_b) * weights_b).sum(), flat.params)
    flat.param.grad.fill_(7.0)  # stale contents must not leak into the new gradient
    dense_grad = net.linear[0].weight.grad
    flat.backward((net(obs_a) * weights_a).sum() + (net(obs_b) * weights_b).sum())  # the dense weight is used twice
    assert net.linear[0].weight.grad is dense_grad  # still the flat buffer's view
    for p, g in zip(flat.params, expected):  # equal up to fp32 rounding (conv1 scales its weights, not its input)
        assert float(torch.linalg.vector_norm(p.grad - g)) <= 1e-5 * float(torch.linalg.vector_norm(g)), p.shape


def test_nature_cnn_dense_gradient_accumulates_as_usual_outside_flat_parameters():
    from rlkit.networks.encoders import NatureCNN

    torch.manual_seed(0)
    net = NatureCNN((4, 84, 84))
    obs = torch.from_numpy(np.random.default_rng(5).integers(0, 256, (16, 4, 84, 84), dtype=np.uint8))
    weight = net.linear[0].weight
    expected = torch.autograd.grad(net(obs).sum(), weight)[0]
    weight.grad = torch.ones_like(weight)
    net(obs).sum().backward()
    torch.testing.assert_close(weight.grad, expected + 1.0)


@pytest.mark.parametrize("shape", [(4, 84, 84), (1, 84, 84), (3, 64, 96)])
def test_nature_cnn_one_stack_without_autograd_gives_the_convolutions_features(shape):
    from rlkit.fast.cnn import features_of_one, is_one_stack_to_act_on
    from rlkit.networks.encoders import NatureCNN

    torch.manual_seed(0)
    net = NatureCNN(shape)
    obs = torch.from_numpy(np.random.default_rng(6).integers(0, 256, (1, *shape), dtype=np.uint8))
    with torch.no_grad():
        assert is_one_stack_to_act_on(obs)  # the patch-product path (what an agent acting on one env runs)
        features = net(obs)
        reference = torch.relu(net.linear[0](net.convs(obs.float() / 255.0)))
        torch.testing.assert_close(features, reference, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(features_of_one(net, obs), net._activations(net._prepare(obs))[-1], rtol=1e-5, atol=1e-5)
        # two stacks, floats and non-contiguous frames take the convolutions
        assert not is_one_stack_to_act_on(obs.expand(2, *shape))
        assert not is_one_stack_to_act_on(obs.float())
        assert not is_one_stack_to_act_on(obs.transpose(2, 3))
    assert not is_one_stack_to_act_on(obs)  # with autograd on it stays differentiable
    assert net(obs).requires_grad
