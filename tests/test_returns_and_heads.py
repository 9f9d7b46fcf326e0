import math

import numpy as np
import pytest
import torch

from rlkit.networks.heads import CategoricalHead, DiagGaussianHead
from rlkit.returns import compute_gae, discounted_returns


def _gae_by_hand(r, v, v_next, term, end, gamma, lam):
    adv, running = [0.0] * len(r), 0.0
    for t in reversed(range(len(r))):
        delta = r[t] + gamma * v_next[t] * (1 - term[t]) - v[t]
        running = delta + gamma * lam * (1 - end[t]) * running
        adv[t] = running
    return adv


def test_gae_matches_hand_computation_with_termination_and_truncation():
    # one env, 5 steps: terminated at t=1, truncated at t=3 (bootstraps from the final obs's value)
    r = [1.0, 2.0, 0.0, 3.0, 1.0]
    v = [0.5, 0.4, 0.9, 0.7, 0.2]  # values[t+1] is V(next obs of t); values[2] = V(final obs of step 1)
    last = 0.3
    term = [0, 1, 0, 0, 0]
    trunc = [0, 0, 0, 1, 0]
    gamma, lam = 0.9, 0.8
    adv, ret = compute_gae(
        np.array(r)[:, None], np.array(v)[:, None], np.array([last]),
        np.array(term, dtype=np.float32)[:, None], np.array(trunc, dtype=np.float32)[:, None], gamma, lam,
    )
    v_next = v[1:] + [last]
    ends = [max(a, b) for a, b in zip(term, trunc)]
    expected = _gae_by_hand(r, v, v_next, term, ends, gamma, lam)
    np.testing.assert_allclose(adv[:, 0], expected, rtol=1e-6)
    np.testing.assert_allclose(ret[:, 0], np.array(expected) + np.array(v), rtol=1e-6)
    # termination: no bootstrap; truncation: bootstrap from V(final obs) = v[4]
    assert adv[1, 0] == pytest.approx(2.0 - 0.4)
    assert adv[3, 0] == pytest.approx(3.0 + 0.9 * 0.2 - 0.7)


def test_gae_lambda_one_gives_discounted_return_minus_value():
    rng = np.random.default_rng(0)
    r, v = rng.standard_normal((6, 3)), rng.standard_normal((6, 3))
    zeros = np.zeros((6, 3))
    adv, ret = compute_gae(r, v, np.zeros(3), zeros, zeros, 0.99, 1.0)
    np.testing.assert_allclose(ret, discounted_returns(r, zeros, 0.99), rtol=1e-5)


def test_categorical_head_matches_torch_distributions():
    torch.manual_seed(0)
    logits, old = torch.randn(5, 4), torch.randn(5, 4)
    actions = torch.tensor([0, 1, 2, 3, 1])
    dist = torch.distributions.Categorical(logits=logits)
    torch.testing.assert_close(CategoricalHead.log_prob(logits, actions), dist.log_prob(actions))
    torch.testing.assert_close(CategoricalHead.entropy(logits), dist.entropy())
    kl = torch.distributions.kl_divergence(torch.distributions.Categorical(logits=old), dist)
    torch.testing.assert_close(CategoricalHead.kl(old, logits), kl)


def test_categorical_sampling_frequencies():
    torch.manual_seed(0)
    probs = torch.tensor([0.1, 0.2, 0.3, 0.4])
    samples = CategoricalHead.sample(probs.log().expand(200_000, 4))
    freq = torch.bincount(samples, minlength=4).float() / samples.numel()
    torch.testing.assert_close(freq, probs, atol=0.005, rtol=0)


def test_gaussian_head_matches_torch_distributions():
    torch.manual_seed(0)
    mean, log_std = torch.randn(5, 3), torch.randn(5, 3) * 0.3
    old = torch.cat([torch.randn(5, 3), torch.randn(5, 3) * 0.3], -1)
    params = torch.cat([mean, log_std], -1)
    actions = torch.randn(5, 3)
    dist = torch.distributions.Independent(torch.distributions.Normal(mean, log_std.exp()), 1)
    torch.testing.assert_close(DiagGaussianHead.log_prob(params, actions), dist.log_prob(actions))
    torch.testing.assert_close(DiagGaussianHead.entropy(params), dist.entropy())
    old_dist = torch.distributions.Independent(torch.distributions.Normal(old[:, :3], old[:, 3:].exp()), 1)
    torch.testing.assert_close(DiagGaussianHead.kl(old, params), torch.distributions.kl_divergence(old_dist, dist))
    assert math.isfinite(DiagGaussianHead.sample(params).sum().item())
