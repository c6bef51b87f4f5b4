"""helpers.signals: the 1D references against independent NumPy / torch computations."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from helpers import signals as s
from helpers.device import available_devices

SIZES = [(7, 0), (9, 1), (16, 2), (31, 3), (50, 5)]  # (N, M): several signal and kernel sizes
NP_PAD = {"replicate": "edge", "reflect": "reflect"}


def _dtypes(device: torch.device) -> list[torch.dtype]:
    return [torch.float32] if device.type == "mps" else [torch.float32, torch.float64]


def _tol(dtype: torch.dtype) -> dict:
    return {"rtol": 1e-4, "atol": 1e-5} if dtype == torch.float32 else {"rtol": 1e-10, "atol": 1e-12}


def _tensor(a: np.ndarray, device, dtype) -> torch.Tensor:
    return torch.as_tensor(a, dtype=dtype, device=device)


def _assert_matches(got: torch.Tensor, expected: np.ndarray, like: torch.Tensor) -> None:
    """``got`` kept ``like``'s device and dtype and equals ``expected``."""
    assert got.device == like.device
    assert got.dtype == like.dtype
    assert tuple(got.shape) == expected.shape
    np.testing.assert_allclose(got.detach().cpu().double().numpy(), expected, **_tol(like.dtype))


def _numpy_correlate_same_length(xp: np.ndarray, w: np.ndarray, flip: bool) -> np.ndarray:
    """Sliding dot product over an already padded signal, by an explicit loop (no library call)."""
    K = len(w)
    kernel = w[::-1] if flip else w
    return np.array([np.dot(xp[j:j + K], kernel) for j in range(len(xp) - K + 1)])


# ============================================================================== kernels
@pytest.mark.parametrize("M", [0, 1, 2, 5, 20])
def test_kernels_have_length_2m_plus_1_and_sum_to_one(M, device):
    for make in (s.moving_average_kernel, s.triangle_kernel):
        w = make(M, dtype=torch.float64, device=device)
        assert w.shape == (2 * M + 1,)
        assert w.device == device
        assert w.dtype == torch.float64
        assert float(w.sum()) == pytest.approx(1.0, abs=1e-12)
        assert torch.equal(w, w.flip(0)), "centred kernels are symmetric"


def test_moving_average_kernel_values():
    np.testing.assert_allclose(s.moving_average_kernel(2, dtype=torch.float64).numpy(), np.full(5, 0.2))


def test_kernels_use_default_dtype():
    assert s.moving_average_kernel(1).dtype == torch.get_default_dtype()
    assert s.triangle_kernel(1).dtype == torch.get_default_dtype()


def test_triangle_kernel_seed_fact():
    assert s.triangle_kernel(1, dtype=torch.float64).tolist() == [0.25, 0.5, 0.25]


@pytest.mark.parametrize("M", [2, 3, 6])
def test_triangle_kernel_matches_formula(M):
    m = np.arange(-M, M + 1)
    expected = (M + 1 - np.abs(m)) / (M + 1) ** 2
    np.testing.assert_allclose(s.triangle_kernel(M, dtype=torch.float64).numpy(), expected, rtol=1e-12)


# ================================================================================== pad
@pytest.mark.parametrize("mode", ["zero", "replicate", "reflect"])
@pytest.mark.parametrize("N,M", [(1, 0), (2, 1), (5, 2), (8, 7), (20, 4)])
def test_pad_matches_numpy_pad(mode, N, M, device):
    if mode == "reflect" and M > N - 1:
        pytest.skip("reflect needs M <= N - 1")
    rng = np.random.default_rng(N * 100 + M)
    x = rng.standard_normal((3, N))
    np_mode = NP_PAD.get(mode, "constant")
    expected = np.pad(x, ((0, 0), (M, M)), mode=np_mode)
    for dtype in _dtypes(device):
        xt = _tensor(x, device, dtype)
        _assert_matches(s.pad(xt, M, mode), expected, xt)
        _assert_matches(s.pad(xt[0], M, mode), expected[0], xt)


def test_pad_examples_from_the_docstring():
    x = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0])
    assert s.pad(x, 2, "zero").tolist() == [0, 0, 1, 2, 3, 4, 5, 0, 0]
    assert s.pad(x, 2, "replicate").tolist() == [1, 1, 1, 2, 3, 4, 5, 5, 5]
    assert s.pad(x, 2, "reflect").tolist() == [3, 2, 1, 2, 3, 4, 5, 4, 3]


def test_pad_does_not_modify_its_input():
    x = torch.arange(6.0)
    s.pad(x, 3, "reflect")
    assert x.tolist() == [0, 1, 2, 3, 4, 5]


# ========================================================================= output_length
@pytest.mark.parametrize("N,M", [(5, 0), (9, 1), (30, 4), (9, 4)])
def test_output_length(N, M):
    K = 2 * M + 1
    assert s.output_length(N, K, "valid") == N - 2 * M
    assert s.output_length(N, K, "same") == N
    assert s.output_length(N, K, "full") == N + 2 * M
    assert len(np.convolve(np.ones(N), np.ones(K), "valid")) == s.output_length(N, K, "valid")
    assert len(np.convolve(np.ones(N), np.ones(K), "full")) == s.output_length(N, K, "full")


# =============================================================================== conv1d
def test_numpy_same_mode_centres_odd_kernels_like_ours():
    """The premise of the np.convolve comparison: 'same' is the centre N samples of 'full' for odd K."""
    rng = np.random.default_rng(0)
    for N, M in SIZES:
        x, w = rng.standard_normal(N), rng.standard_normal(2 * M + 1)
        full = np.convolve(x, w, "full")
        np.testing.assert_allclose(np.convolve(x, w, "same"), full[M:M + N])
        np.testing.assert_allclose(np.convolve(x, w, "valid"), full[2 * M:N])


@pytest.mark.parametrize("mode", ["valid", "same", "full"])
@pytest.mark.parametrize("N,M", SIZES)
def test_conv1d_true_convolution_matches_np_convolve(mode, N, M, device):
    rng = np.random.default_rng(1000 * N + M)
    x, w = rng.standard_normal(N), rng.standard_normal(2 * M + 1)
    expected = np.convolve(x, w, mode)
    for dtype in _dtypes(device):
        xt, wt = _tensor(x, device, dtype), _tensor(w, device, dtype)
        y = s.conv1d(xt, wt, mode, "zero", flip=True)
        assert y.shape[-1] == s.output_length(N, 2 * M + 1, mode) == len(expected)
        _assert_matches(y, expected, xt)


@pytest.mark.parametrize("mode", ["valid", "same", "full"])
@pytest.mark.parametrize("N,M", SIZES)
def test_conv1d_cross_correlation_matches_torch_conv1d(mode, N, M, device):
    gen = torch.Generator().manual_seed(N + 7 * M)
    x, w = torch.randn(4, N, generator=gen, dtype=torch.float64), torch.randn(2 * M + 1, generator=gen, dtype=torch.float64)
    P = {"valid": 0, "same": M, "full": 2 * M}[mode]
    expected = F.conv1d(x[:, None, :], w[None, None, :], padding=P)[:, 0, :].numpy()
    for dtype in _dtypes(device):
        xt, wt = x.to(device, dtype), w.to(device, dtype)
        _assert_matches(s.conv1d(xt, wt, mode, "zero", flip=False), expected, xt)


def test_conv1d_flip_matters_for_an_asymmetric_kernel():
    x = torch.tensor([0.0, 0.0, 1.0, 0.0, 0.0])  # an impulse returns the kernel, flipped or not
    w = torch.tensor([1.0, 2.0, 3.0])
    assert s.conv1d(x, w, flip=True).tolist() == [0, 1, 2, 3, 0]
    assert s.conv1d(x, w, flip=False).tolist() == [0, 3, 2, 1, 0]


@pytest.mark.parametrize("padding", ["replicate", "reflect"])
@pytest.mark.parametrize("mode", ["valid", "same", "full"])
@pytest.mark.parametrize("flip", [True, False])
@pytest.mark.parametrize("N,M", [(9, 1), (16, 2), (31, 3)])
def test_conv1d_with_edge_padding_matches_numpy(padding, mode, flip, N, M, device):
    rng = np.random.default_rng(N + 31 * M)
    x, w = rng.standard_normal(N), rng.standard_normal(2 * M + 1)
    P = {"valid": 0, "same": M, "full": 2 * M}[mode]
    expected = _numpy_correlate_same_length(np.pad(x, P, mode=NP_PAD[padding]), w, flip)
    for dtype in _dtypes(device):
        xt, wt = _tensor(x, device, dtype), _tensor(w, device, dtype)
        _assert_matches(s.conv1d(xt, wt, mode, padding, flip), expected, xt)


@pytest.mark.parametrize("padding", ["zero", "replicate", "reflect"])
@pytest.mark.parametrize("mode", ["valid", "same", "full"])
def test_conv1d_batched_equals_one_signal_at_a_time(padding, mode, device):
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(2, 3, 12, generator=gen, dtype=torch.float64).to(device)
    w = torch.randn(5, generator=gen, dtype=torch.float64).to(device)
    y = s.conv1d(x, w, mode, padding)
    assert y.shape == (2, 3, s.output_length(12, 5, mode))
    assert y.device == x.device and y.dtype == x.dtype
    for i in range(2):
        for j in range(3):
            torch.testing.assert_close(y[i, j], s.conv1d(x[i, j], w, mode, padding))
    expected = np.stack([np.convolve(row, w.cpu().numpy(), mode) for row in x.reshape(6, 12).cpu().numpy()])
    if padding == "zero":
        np.testing.assert_allclose(y.reshape(6, -1).cpu().numpy(), expected, rtol=1e-10, atol=1e-12)


def test_conv1d_valid_length_is_n_minus_2m():
    for N, M in SIZES:
        y = s.conv1d(torch.randn(N), torch.randn(2 * M + 1), "valid")
        assert len(y) == N - 2 * M


def test_conv1d_moving_average_of_a_constant_is_constant_with_replicate_padding():
    x = torch.full((10,), 3.5, dtype=torch.float64)
    for mode in ("same", "full"):
        torch.testing.assert_close(s.conv1d(x, s.moving_average_kernel(2, dtype=torch.float64), mode, "replicate"),
                                   torch.full((s.output_length(10, 5, mode),), 3.5, dtype=torch.float64))


@pytest.mark.parametrize("shift", [1, 3, 7])
@pytest.mark.parametrize("flip", [True, False])
def test_conv1d_is_shift_equivariant_away_from_the_borders(shift, flip, device):
    N, M = 40, 3
    gen = torch.Generator().manual_seed(shift)
    z = torch.randn(N + shift, generator=gen, dtype=torch.float64).to(device)
    w = torch.randn(2 * M + 1, generator=gen, dtype=torch.float64).to(device)
    x = z[:N]
    x_shifted = z[shift:]  # x_shifted[n] = x[n + shift]
    y, y_shifted = s.conv1d(x, w, "same", flip=flip), s.conv1d(x_shifted, w, "same", flip=flip)
    torch.testing.assert_close(y_shifted[M:N - M - shift], y[M + shift:N - M])
    # and the borders really do differ, so the slice above is the meaningful part
    assert not torch.allclose(y_shifted[:M], y[shift:shift + M])


def test_conv1d_is_linear():
    gen = torch.Generator().manual_seed(9)
    a, b, w = (torch.randn(n, generator=gen, dtype=torch.float64) for n in (20, 20, 5))
    for padding in ("zero", "replicate", "reflect"):
        torch.testing.assert_close(s.conv1d(2 * a - 3 * b, w, "full", padding),
                                   2 * s.conv1d(a, w, "full", padding) - 3 * s.conv1d(b, w, "full", padding))


# ========================================================================= causal_conv1d
def _causal_by_formula(x: np.ndarray, w: np.ndarray, bias, d: int) -> np.ndarray:
    """The docstring's formula, term by term."""
    n, c_in, L = x.shape
    c_out, _, K = w.shape
    y = np.zeros((n, c_out, L))
    for b in range(n):
        for o in range(c_out):
            for t in range(L):
                total = 0.0 if bias is None else bias[o]
                for c in range(c_in):
                    for i in range(K):
                        src = t - (K - 1 - i) * d
                        if src >= 0:
                            total += w[o, c, i] * x[b, c, src]
                y[b, o, t] = total
    return y


@pytest.mark.parametrize("n,c_in,c_out,L,K,d,with_bias", [
    (1, 1, 1, 8, 3, 1, False), (2, 3, 4, 17, 2, 2, True), (3, 2, 1, 12, 3, 4, True), (1, 2, 2, 5, 4, 3, False),
])
def test_causal_conv1d_matches_the_formula_and_nn_conv1d(n, c_in, c_out, L, K, d, with_bias, device):
    gen = torch.Generator().manual_seed(L * K + d)
    x = torch.randn(n, c_in, L, generator=gen, dtype=torch.float64)
    w = torch.randn(c_out, c_in, K, generator=gen, dtype=torch.float64)
    bias = torch.randn(c_out, generator=gen, dtype=torch.float64) if with_bias else None
    layer = torch.nn.Conv1d(c_in, c_out, K, dilation=d, bias=with_bias).double()
    with torch.no_grad():
        layer.weight.copy_(w)
        if with_bias:
            layer.bias.copy_(bias)
        expected = layer(F.pad(x, ((K - 1) * d, 0))).numpy()
    np.testing.assert_allclose(_causal_by_formula(x.numpy(), w.numpy(), None if bias is None else bias.numpy(), d),
                               expected, rtol=1e-10, atol=1e-12)
    for dtype in _dtypes(device):
        xt, wt = x.to(device, dtype), w.to(device, dtype)
        bt = None if bias is None else bias.to(device, dtype)
        y = s.causal_conv1d(xt, wt, bt, d)
        _assert_matches(y, expected, xt)


def test_causal_conv1d_impulse_shows_the_taps():
    x = torch.zeros(1, 1, 8)
    x[..., 0] = 1.0
    w = torch.tensor([[[3.0, 2.0, 1.0]]])
    assert s.causal_conv1d(x, w)[0, 0].tolist() == [1, 2, 3, 0, 0, 0, 0, 0]
    assert s.causal_conv1d(x, w, dilation=2)[0, 0].tolist() == [1, 0, 2, 0, 3, 0, 0, 0]


@pytest.mark.parametrize("t", [0, 5, 18])
@pytest.mark.parametrize("d", [1, 3])
def test_causal_conv1d_does_not_see_the_future(t, d, device):
    gen = torch.Generator().manual_seed(t + 100 * d)
    x = torch.randn(2, 3, 25, generator=gen).to(device)
    w = torch.randn(4, 3, 3, generator=gen).to(device)
    bias = torch.randn(4, generator=gen).to(device)
    changed = x.clone()
    changed[..., t + 1:] = torch.randn(2, 3, 25 - t - 1, generator=gen).to(device)
    before, after = s.causal_conv1d(x, w, bias, d), s.causal_conv1d(changed, w, bias, d)
    assert before.shape == (2, 4, 25)
    torch.testing.assert_close(after[..., :t + 1], before[..., :t + 1])
    assert not torch.allclose(after[..., t + 1:], before[..., t + 1:]), "the future part must change"


# ========================================================================= receptive field
@pytest.mark.parametrize("layers", range(0, 13))
def test_wavenet_receptive_field_is_2_to_the_layers(layers):
    dilations = s.wavenet_dilations(layers)
    assert dilations == [2**i for i in range(layers)]
    assert s.receptive_field(2, dilations) == 2**layers


def test_receptive_field_small_facts():
    assert s.receptive_field(3, [1, 1, 1]) == 7
    assert s.receptive_field(3, []) == 1
    assert s.receptive_field(5, (1, 3)) == 17
    assert s.receptive_field(1, [4, 8]) == 1
    assert s.receptive_field(2, iter([1, 2])) == 4  # any iterable


def _measured_receptive_field(K: int, dilations, device) -> int:
    """Width of the impulse response of a stack of causal all-ones convolutions."""
    L = s.receptive_field(K, dilations) + 10
    x = torch.zeros(1, 1, L, dtype=torch.float64, device=device)
    x[..., 0] = 1.0
    w = torch.ones(1, 1, K, dtype=torch.float64, device=device)
    for d in dilations:
        x = s.causal_conv1d(x, w, dilation=d)
    nonzero = (x[0, 0] != 0).nonzero().flatten()
    return int(nonzero.max()) + 1


@pytest.mark.parametrize("K,dilations", [(2, [1, 2, 4, 8]), (3, [1, 1, 1]), (3, [2, 5]), (5, [1, 3]), (2, []), (4, [3])])
def test_receptive_field_matches_measured_impulse_response(K, dilations, device):
    assert _measured_receptive_field(K, dilations, device) == s.receptive_field(K, dilations)


# ========================================================================== approval data
def test_approval_series_is_deterministic_for_a_seed():
    a, b, c = s.approval_series(seed=3), s.approval_series(seed=3), s.approval_series(seed=4)
    for field in ("t", "clean", "noisy"):
        assert torch.equal(getattr(a, field), getattr(b, field))
    assert not torch.equal(a.noisy, c.noisy)
    assert a.noisy.shape == a.clean.shape == a.t.shape == (365,)
    assert a.noisy.dtype == torch.float64


def test_approval_series_noise_level_and_zero_noise():
    series = s.approval_series(n_days=2000, noise=2.5, seed=1)
    assert float((series.noisy - series.clean).std()) == pytest.approx(2.5, rel=0.1)
    quiet = s.approval_series(n_days=50, noise=0.0, seed=1)
    assert torch.equal(quiet.noisy, quiet.clean)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("make", [s.moving_average_kernel, s.triangle_kernel])
def test_smoothing_reduces_rmse_against_the_clean_signal(seed, make, device):
    series = s.approval_series(seed=seed)
    noisy, clean = series.noisy.to(device), series.clean.to(device)
    smoothed = s.conv1d(noisy, make(3, dtype=torch.float64, device=device), "same", "replicate")
    assert smoothed.device == noisy.device
    assert s.rmse(smoothed, clean) < 0.7 * s.rmse(noisy, clean)


def test_rmse_against_numpy():
    rng = np.random.default_rng(5)
    a, b = rng.standard_normal((3, 10)), rng.standard_normal((3, 10))
    assert s.rmse(torch.from_numpy(a), torch.from_numpy(b)) == pytest.approx(np.sqrt(np.mean((a - b) ** 2)))
    assert s.rmse(torch.from_numpy(a), torch.from_numpy(a)) == 0.0
    assert isinstance(s.rmse(torch.from_numpy(a), torch.from_numpy(b)), float)


# ============================================================================ bad inputs
X = torch.randn(6)
W3 = torch.randn(3)


BAD_INPUTS = [
    (lambda: s.moving_average_kernel(-1), ValueError, r"moving_average_kernel: M must be >= 0"),
    (lambda: s.moving_average_kernel(1.5), TypeError, r"moving_average_kernel: M must be an int"),
    (lambda: s.triangle_kernel(-2), ValueError, r"triangle_kernel: M must be >= 0"),
    (lambda: s.triangle_kernel(True), TypeError, r"triangle_kernel: M must be an int"),
    (lambda: s.pad([1.0, 2.0], 1), TypeError, r"pad: x must be a torch.Tensor"),
    (lambda: s.pad(torch.arange(5), 1), TypeError, r"pad: x must hold floating-point"),
    (lambda: s.pad(X, -1), ValueError, r"pad: M must be >= 0"),
    (lambda: s.pad(X, 1, "circular"), ValueError, r"pad: mode must be one of"),
    (lambda: s.pad(X, 6, "reflect"), ValueError, r"pad: mode='reflect' needs M <= N - 1 = 5, got M=6"),
    (lambda: s.pad(torch.zeros(2, 0), 1), ValueError, r"pad: x is empty"),
    (lambda: s.output_length(0, 3, "same"), ValueError, r"output_length: N must be >= 1"),
    (lambda: s.output_length(5, 0, "same"), ValueError, r"output_length: K must be >= 1"),
    (lambda: s.output_length(5, 3, "circular"), ValueError, r"output_length: mode must be one of"),
    (lambda: s.conv1d(X, torch.randn(4)), ValueError, r"conv1d: w has even length 4"),
    (lambda: s.conv1d(X, W3, "wide"), ValueError, r"conv1d: mode must be one of"),
    (lambda: s.conv1d(X.tolist(), W3), TypeError, r"conv1d: x must be a torch.Tensor"),
    (lambda: s.conv1d(X, torch.tensor([1, 2, 1])), TypeError, r"conv1d: w must hold floating-point"),
    (lambda: s.conv1d(torch.arange(6), W3), TypeError, r"conv1d: x must hold floating-point"),
    (lambda: s.conv1d(X, torch.randn(1, 3)), ValueError, r"conv1d: w must have 1 dimensions"),
    (lambda: s.conv1d(X, W3.double()), ValueError, r"conv1d: w has dtype torch.float64 but x has torch.float32"),
    (lambda: s.conv1d(X[:2], W3, "valid"), ValueError, r"conv1d: mode='valid' needs N >= K"),
    (lambda: s.causal_conv1d(torch.randn(1, 2, 5), torch.randn(1, 3, 2)), ValueError,
     r"causal_conv1d: w has 3 input channels .* but x has 2"),
    (lambda: s.causal_conv1d(torch.randn(2, 5), torch.randn(1, 2, 2)), ValueError, r"causal_conv1d: x must have 3 dimensions"),
    (lambda: s.causal_conv1d(torch.randn(1, 1, 5), torch.randn(1, 1, 2), dilation=0), ValueError,
     r"causal_conv1d: dilation must be >= 1"),
    (lambda: s.causal_conv1d(torch.randn(1, 1, 5), torch.randn(2, 1, 2), torch.randn(3)), ValueError,
     r"causal_conv1d: bias must have shape \(2,\)"),
    (lambda: s.causal_conv1d(torch.randn(1, 1, 5), torch.randn(1, 1, 2), torch.randn(1).double()), ValueError,
     r"causal_conv1d: bias has dtype"),
    (lambda: s.causal_conv1d(torch.randn(1, 1, 5), torch.ones(1, 1, 2, dtype=torch.int64)), TypeError,
     r"causal_conv1d: w must hold floating-point"),
    (lambda: s.receptive_field(0, [1]), ValueError, r"receptive_field: kernel_size must be >= 1"),
    (lambda: s.receptive_field(2, [1, 0]), ValueError, r"receptive_field: each dilation must be >= 1"),
    (lambda: s.receptive_field(2, [1, 2.0]), TypeError, r"receptive_field: each dilation must be an int"),
    (lambda: s.wavenet_dilations(-1), ValueError, r"wavenet_dilations: layers must be >= 0"),
    (lambda: s.wavenet_dilations(3.0), TypeError, r"wavenet_dilations: layers must be an int"),
    (lambda: s.approval_series(n_days=1), ValueError, r"approval_series: n_days must be >= 2"),
    (lambda: s.approval_series(noise=-1.0), ValueError, r"approval_series: noise must be >= 0"),
    (lambda: s.approval_series(noise=float("nan")), ValueError, r"approval_series: noise must be >= 0"),
    (lambda: s.approval_series(seed="1"), TypeError, r"approval_series: seed must be an int"),
    (lambda: s.rmse(torch.zeros(3), torch.zeros(4)), ValueError, r"rmse: estimate has shape \(3,\) but truth has \(4,\)"),

]


@pytest.mark.parametrize("call,error,message", BAD_INPUTS,
                         ids=[re.sub(r"\W+", "_", m.split(" must")[0].split(" needs")[0])[:40] + f"-{i}"
                              for i, (_, _, m) in enumerate(BAD_INPUTS)])
def test_bad_input_is_refused_with_a_message_naming_function_and_argument(call, error, message):
    with pytest.raises(error, match=message):
        call()


ACCELERATORS = [d for d in available_devices() if d.type != "cpu"]


@pytest.mark.skipif(not ACCELERATORS, reason="needs a device besides the CPU")
def test_mismatched_devices_are_refused():
    other = ACCELERATORS[0]
    with pytest.raises(ValueError, match=r"conv1d: w is on .* but x is on cpu"):
        s.conv1d(X, W3.to(other))
    with pytest.raises(ValueError, match=r"causal_conv1d: w is on .* but x is on cpu"):
        s.causal_conv1d(torch.randn(1, 1, 5), torch.randn(1, 1, 2, device=other))


def test_conv1d_unknown_padding_names_conv1d_and_padding():
    with pytest.raises(ValueError, match=r"conv1d: padding"):
        s.conv1d(X, W3, "same", "circular")


def test_conv1d_reflect_with_too_long_kernel_names_conv1d():
    with pytest.raises(ValueError, match=r"conv1d: .*reflect"):
        s.conv1d(torch.randn(3), torch.randn(5), "full", "reflect")


def test_conv1d_unknown_padding_is_refused():
    with pytest.raises(ValueError, match=r"'circular'"):
        s.conv1d(X, W3, "same", "circular")
