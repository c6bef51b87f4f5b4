"""helpers.backprop: every backward against torch autograd on random shapes, strides and paddings
(float64, on every device present), the matrix view, finite differences and the autograd Function."""

from __future__ import annotations

import random

import pytest
import torch
import torch.nn.functional as F

from helpers import backprop as bp
from test_conv import refusals


def _dtype(device: torch.device) -> torch.dtype:
    return torch.float32 if device.type == "mps" else torch.float64


def _tol(dtype: torch.dtype) -> dict:
    return {"rtol": 1e-4, "atol": 1e-4} if dtype == torch.float32 else {"rtol": 1e-10, "atol": 1e-10}


def _conv_configs(count: int, seed: int) -> list[dict]:
    rng, configs = random.Random(seed), []
    while len(configs) < count:
        k, s = rng.randint(1, 4), rng.randint(1, 3)
        p = rng.randint(0, k - 1)
        H, W = rng.randint(1, 10), rng.randint(1, 10)
        if H + 2 * p < k or W + 2 * p < k:
            continue
        configs.append(dict(N=rng.randint(1, 3), C=rng.randint(1, 3), O=rng.randint(1, 4), H=H, W=W, k=k, s=s, p=p))
    return configs


@pytest.mark.parametrize("cfg", _conv_configs(25, seed=4), ids=str)
def test_conv2d_backward_equals_autograd(cfg, device):
    dtype, gen = _dtype(device), torch.Generator().manual_seed(0)
    x = torch.randn(cfg["N"], cfg["C"], cfg["H"], cfg["W"], generator=gen, dtype=dtype).to(device).requires_grad_()
    w = torch.randn(cfg["O"], cfg["C"], cfg["k"], cfg["k"], generator=gen, dtype=dtype).to(device).requires_grad_()
    b = torch.randn(cfg["O"], generator=gen, dtype=dtype).to(device).requires_grad_()
    y = F.conv2d(x, w, b, stride=cfg["s"], padding=cfg["p"])
    dout = torch.randn_like(y)
    expected = torch.autograd.grad(y, (x, w, b), dout)
    got = bp.conv2d_backward(dout, x.detach(), w.detach(), cfg["s"], cfg["p"])
    for g, e in zip(got, expected):
        assert g.shape == e.shape and g.device == e.device
        torch.testing.assert_close(g, e, **_tol(dtype))
    torch.testing.assert_close(bp.conv2d_forward(x, w, b, cfg["s"], cfg["p"]), y, **_tol(dtype))


@pytest.mark.parametrize("k,s", [(2, None), (2, 1), (3, 2), (3, 3), (1, 1), (4, 2)])
@pytest.mark.parametrize("mode", ["max", "avg"])
def test_pool_backward_equals_autograd_with_ties_and_overlaps(k, s, mode, device):
    dtype = _dtype(device)
    x = torch.randint(0, 3, (2, 3, 9, 8), generator=torch.Generator().manual_seed(1)).to(device, dtype).requires_grad_()
    pool = F.max_pool2d if mode == "max" else F.avg_pool2d
    y = pool(x, k, s)
    dout = torch.randn_like(y)
    expected, = torch.autograd.grad(y, x, dout)
    backward = bp.max_pool2d_backward if mode == "max" else bp.avg_pool2d_backward
    torch.testing.assert_close(backward(dout, x.detach(), k, s), expected, **_tol(dtype))


def test_max_pool_tie_goes_to_the_first_maximum_in_row_major_order():
    x = torch.tensor([[[[2.0, 5.0], [5.0, 5.0]]]])
    dx = bp.max_pool2d_backward(torch.tensor([[[[7.0]]]]), x, 2)
    assert dx.tolist() == [[[[0.0, 7.0], [0.0, 0.0]]]]


def test_relu_backward_equals_autograd_and_is_zero_at_zero(device):
    x = torch.tensor([-1.0, 0.0, 2.0, 0.0, 3.0], device=device).requires_grad_()
    dout = torch.tensor([1.0, 2.0, 3.0, 4.0, -5.0], device=device)
    expected, = torch.autograd.grad(F.relu(x), x, dout)
    assert torch.equal(bp.relu_backward(dout, x.detach()), expected)
    assert bp.relu_backward(dout, x.detach()).tolist() == [0.0, 0.0, 3.0, 0.0, -5.0]
    assert torch.equal(bp.relu_forward(x.detach()), F.relu(x.detach()))


def test_seed_001_matrix_example():
    x = torch.tensor([[1.0, 3.0, 4.0], [9.0, 6.0, 7.0], [5.0, 0.0, 2.0]], dtype=torch.float64)
    coefficients = torch.stack([bp.conv_matrix(e.reshape(2, 2), 3, 3) @ x.flatten() for e in torch.eye(4, dtype=torch.float64)], 1)
    assert coefficients.tolist() == [[1, 3, 9, 6], [3, 4, 6, 7], [9, 6, 5, 0], [6, 7, 0, 2]]
    assert bp.conv_matrix(torch.ones(2, 2), 3, 3).shape == (4, 9)


@pytest.mark.parametrize("H,W,k,s,p", [(3, 3, 2, 1, 0), (6, 5, 3, 1, 1), (7, 7, 3, 2, 0), (5, 8, 2, 3, 1)])
def test_conv_matrix_is_the_convolution_and_its_transpose_the_input_gradient(H, W, k, s, p, device):
    dtype, gen = _dtype(device), torch.Generator().manual_seed(2)
    w = torch.randn(k, k, generator=gen, dtype=dtype).to(device)
    x = torch.randn(1, 1, H, W, generator=gen, dtype=dtype).to(device).requires_grad_()
    C = bp.conv_matrix(w, H, W, stride=s, padding=p)
    y = F.conv2d(x, w[None, None], stride=s, padding=p)
    torch.testing.assert_close(C @ x.detach().flatten(), y.detach().flatten(), **_tol(dtype))
    dy = torch.randn_like(y)
    dx, = torch.autograd.grad(y, x, dy)
    torch.testing.assert_close(C.T @ dy.flatten(), dx.flatten(), **_tol(dtype))
    if s == 1 and p == 0:
        torch.testing.assert_close(F.conv_transpose2d(dy, w[None, None]).flatten(), dx.flatten(), **_tol(dtype))


def test_conv_transpose_shape_of_seed_004():
    assert torch.nn.ConvTranspose2d(16, 33, 3)(torch.randn(20, 16, 50, 100)).shape == (20, 33, 52, 102)


def test_numerical_gradient_is_centred_accurate_and_leaves_x_unchanged():
    x = torch.randn(3, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    before = x.clone()
    grad = bp.numerical_gradient(lambda t: (t ** 3).sum() + torch.sin(t).prod(), x, 1e-5)
    xg = x.clone().requires_grad_()
    exact, = torch.autograd.grad((xg ** 3).sum() + torch.sin(xg).prod(), xg)
    assert bp.relative_error(grad, exact) < 1e-8
    assert torch.equal(x, before)
    # centred: the error of a cubic at eps = 1e-2 is eps^2 (tiny), a one-sided one would be 3 x eps
    assert bp.relative_error(bp.numerical_gradient(lambda t: (t ** 3).sum(), x, 1e-2), 3 * x ** 2) < 1e-4


def test_relative_error():
    assert bp.relative_error(torch.zeros(3), torch.zeros(3)) == 0.0
    assert bp.relative_error(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 2.0])) == 0.0
    assert bp.relative_error(torch.tensor([1.0]), torch.tensor([-1.0])) == 1.0


@pytest.mark.parametrize("s,p", [(1, 0), (2, 1), (3, 2)])
def test_autograd_function_passes_gradcheck(s, p, device):
    if _dtype(device) != torch.float64:
        pytest.skip("gradcheck needs float64")
    gen = torch.Generator().manual_seed(5)
    inputs = tuple(t.to(device).requires_grad_() for t in (torch.randn(2, 2, 7, 6, generator=gen, dtype=torch.float64),
                                                           torch.randn(3, 2, 3, 3, generator=gen, dtype=torch.float64),
                                                           torch.randn(3, generator=gen, dtype=torch.float64)))
    assert torch.autograd.gradcheck(lambda x, w, b: bp.conv2d(x, w, b, s, p), inputs)


_x, _w = torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 2, 2)


@refusals([
    (lambda: bp.conv2d_backward(torch.zeros(1, 1, 2, 2), _x, _w), ValueError, "conv2d_backward: dout must have"),
    (lambda: bp.conv2d_backward(torch.zeros(1, 1, 3, 3), _x, _w, stride=0), ValueError, "conv2d_backward: stride"),
    (lambda: bp.conv2d_backward(torch.zeros(1, 1, 3, 3), _x.long(), _w), TypeError, "conv2d_backward: x must hold"),
    (lambda: bp.max_pool2d_backward(torch.zeros(1, 1, 3, 3), _x, 2), ValueError, "max_pool2d_backward: dout must"),
    (lambda: bp.avg_pool2d_backward(torch.zeros(1, 1, 2, 2), _x, 0), ValueError, "avg_pool2d_backward: kernel_size"),
    (lambda: bp.relu_backward(torch.zeros(2), torch.zeros(3)), ValueError, "relu_backward: dout .* must have the same shape"),
    (lambda: bp.conv_matrix(torch.zeros(2, 2, 2), 3, 3), ValueError, "conv_matrix: w"),
    (lambda: bp.conv_matrix(torch.zeros(2, 2), 0, 3), ValueError, "conv_matrix: height"),
])
def test_bad_input_is_refused_with_a_message_naming_the_argument(call, error, message):
    with pytest.raises(error, match=message):
        call()
