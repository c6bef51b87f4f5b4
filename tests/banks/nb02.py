"""Known-wrong answers for notebook 02 (2D convolution and edge features); format as in nb01."""

from __future__ import annotations

from .nb01 import M, course_version, hidden_from_the_profiler

CONV2D_LOOP = '''
def conv2d_unfold(x, w, b=None, stride=1, padding=0, dilation=1):
    N, C_in, H, W = x.shape
    C_out, _, kH, kW = w.shape
    H_out = (H + 2 * padding - dilation * (kH - 1) - 1) // stride + 1
    W_out = (W + 2 * padding - dilation * (kW - 1) - 1) // stride + 1
    cols = F.unfold(x, (kH, kW), dilation=dilation, padding=padding, stride=stride)
    flat = w.reshape(C_out, -1)
    y = torch.stack([cols[..., k] @ flat.T for k in range(cols.shape[-1])], dim=-1)
    if b is not None:
        y = y + b[:, None]
    return y.reshape(N, C_out, H_out, W_out)
'''

ASSIGNMENT = "02_conv2d_edges"

MUTANTS = [
    # ---- conv_output_size
    M("conv_output_size", "ceil", ("(L + 2 * P - D * (W - 1) - 1) // S + 1", "-(-(L + 2 * P - D * (W - 1) - 1) // S) + 1"),
      explains="round down"),
    M("conv_output_size", "padding once", ("L + 2 * P", "L + P"), explains="use 2P"),
    M("conv_output_size", "dilation ignored", ("D * (W - 1) - 1", "(W - 1) - 1"), explains="dilation was ignored"),
    M("conv_output_size", "float division", ("// S + 1", "/ S + 1"), explains="expected a int"),
    course_version("conv_output_size", "conv_output_size(L, W, P=0, S=1, D=1)", "conv.output_size(L, W, P, S, D)"),
    # ---- conv_params
    M("conv_params", "bias missing", ("return weights + (d_out if bias else 0)", "return weights"),
      explains="one parameter per output channel"),
    M("conv_params", "groups ignored", ("(d_in // groups)", "d_in"), explains="divide by g"),
    M("conv_params", "bias always", ("(d_out if bias else 0)", "d_out"), explains="no bias term"),
    course_version("conv_params", "conv_params(w_k, h_k, d_in, d_out, bias=True, groups=1)",
                   "conv.conv_params(w_k, h_k, d_in, d_out, bias, groups)"),
    M("conv_params", "depth missing", ("w_k * h_k * (d_in // groups) * d_out", "w_k * h_k * d_out"),
      explains="multiply by d_in"),
    # ---- conv2d_naive
    M("conv2d_naive", "flipped", ("(window * w[o])", "(window * w[o].flip(-1, -2))"), explains="true convolution"),
    M("conv2d_naive", "stride ignored", ("r, c = i * stride, j * stride", "r, c = i, j")),
    M("conv2d_naive", "dilation ignored", ("r:r + span_h:dilation, c:c + span_w:dilation", "r:r + kH, c:c + kW"),
      explains="dilation was ignored in the window"),
    M("conv2d_naive", "bias missing", (" + (b[o] if b is not None else 0)", ""), explains="bias was not added"),
    M("conv2d_naive", "padding one side", ("xp[:, :, padding:padding + H, padding:padding + W] = x", "xp[:, :, :H, :W] = x"),
      explains="pad P on every side"),
    M("conv2d_naive", "channel sum missing", ("(window * w[o]).sum()", "(window[0] * w[o, 0]).sum()"),
      explains="only the first input channel"),
    M("conv2d_naive", "calls F.conv2d", explains="from scratch", source='''
def conv2d_naive(x, w, b=None, stride=1, padding=0, dilation=1):
    return F.conv2d(x, w, b, stride=stride, padding=padding, dilation=dilation)
'''),
    # issue 16 item 9 and issue 21: every way around "from scratch", and the course's own version
    M("conv2d_naive", "F.unfold", explains="aten.im2col",  # loops over positions, but F.unfold is banned here
      source=CONV2D_LOOP.replace("def conv2d_unfold(", "def conv2d_naive(")),
    M("conv2d_naive", "torch.ops.aten.convolution", explains="from scratch", source='''
def conv2d_naive(x, w, b=None, stride=1, padding=0, dilation=1):
    return torch.ops.aten.convolution(x, w, b, [stride] * 2, [padding] * 2, [dilation] * 2, False, [0, 0], 1)
'''),
    course_version("conv2d_naive", "conv2d_naive(x, w, b=None, stride=1, padding=0, dilation=1)",
                   "conv.conv2d_naive(x, w, b, stride, padding, dilation)"),
    # ---- conv2d_unfold
    M("conv2d_unfold", "bias missing", ("        y = y + b[:, None]\n", "        pass\n"), explains="bias was not added"),
    M("conv2d_unfold", "flipped", ("w.reshape(C_out, -1) @ cols", "w.flip(-1, -2).reshape(C_out, -1) @ cols"),
      explains="true convolution"),
    M("conv2d_unfold", "stride not passed", ("padding=padding, stride=stride)", "padding=padding)")),
    M("conv2d_unfold", "python loop", explains="not vectorised", source=CONV2D_LOOP),
    M("conv2d_unfold", "calls F.conv2d", explains="from scratch", source='''
def conv2d_unfold(x, w, b=None, stride=1, padding=0, dilation=1):
    return torch.nn.functional.conv2d(x, w, b, stride, padding, dilation)
'''),
    M("conv2d_unfold", "torch._convolution", explains="from scratch", source='''
def conv2d_unfold(x, w, b=None, stride=1, padding=0, dilation=1):
    return torch._convolution(x, w, b, [stride] * 2, [padding] * 2, [dilation] * 2, False, [0, 0], 1,
                              False, False, True, True)
'''),
    M("conv2d_unfold", "loop hidden from the profiler", explains="sys.setprofile",
      source=hidden_from_the_profiler(CONV2D_LOOP)),
    course_version("conv2d_unfold", "conv2d_unfold(x, w, b=None, stride=1, padding=0, dilation=1)",
                   "conv.conv2d_unfold(x, w, b, stride, padding, dilation)"),
    # ---- directional_kernels
    M("directional_kernels", "clockwise", ("values[(q - i) % 8]", "values[(q + i) % 8]"), explains="turn clockwise"),
    M("directional_kernels", "starts at 45", ("values[(q - i) % 8]", "values[(q - i - 1) % 8]"),
      explains="points at 45 degrees"),
    M("directional_kernels", "prewitt", ("[-2., 0., 2.]", "[-1., 0., 1.]"), explains="Sobel kernel"),
    M("directional_kernels", "signs", ("torch.tensor([[-1., 0., 1.], [-2., 0., 2.], [-1., 0., 1.]])",
                                       "torch.tensor([[1., 0., -1.], [2., 0., -2.], [1., 0., -1.]])"),
      explains="negative on the left"),
    course_version("directional_kernels", "directional_kernels()", "features.directional_kernels()"),
    # ---- edge_histogram
    M("edge_histogram", "no relu", ("maps.relu().sum(dim=(2, 3))", "maps.sum(dim=(2, 3))"), explains="apply ReLU"),
    M("edge_histogram", "abs", ("maps.relu().sum(dim=(2, 3))", "maps.abs().sum(dim=(2, 3))"), explains="positive part"),
    M("edge_histogram", "no padding", ("kernels[:, None], padding=1)", "kernels[:, None])"),
      explains="zero padding 1"),
    M("edge_histogram", "mean", ("maps.relu().sum(dim=(2, 3))", "maps.relu().mean(dim=(2, 3))"),
      explains="sum over all pixels"),
    course_version("edge_histogram", "edge_histogram(x, kernels)", "features.edge_histogram(x, kernels)"),
    # ---- patch_features
    M("patch_features", "kernel-major", ("sums.permute(0, 2, 3, 1).reshape(x.shape[0], -1)", "sums.reshape(x.shape[0], -1)"),
      explains="patch-major"),
    M("patch_features", "relu after sum", ("padding=1).relu()", "padding=1)"),
      (".sum(dim=(-2, -1))     # (N, K, rows, cols)", ".sum(dim=(-2, -1)).relu()"), explains="before summing"),
    M("patch_features", "column order", ("sums.permute(0, 2, 3, 1)", "sums.permute(0, 3, 2, 1)"), explains="row by row"),
    M("patch_features", "stride ignored", ("step = stride or patch", "step = patch"), explains="stride was ignored"),
    course_version("patch_features", "patch_features(x, kernels, patch=8, stride=None)",
                   "features.patch_features(x, kernels, patch, stride)"),
    # ---- shape classifier
    M("shape_classifier", "global features", ("patch_features(images, directional_kernels(), patch=8, stride=4).sqrt()",
                                              "edge_histogram(images, directional_kernels())"), explains="per-patch"),
    M("shape_classifier", "brightness only", ("patch_features(images, directional_kernels(), patch=8, stride=4).sqrt()",
                                              "images.mean(dim=(1, 2, 3))[:, None]")),
    M("shape_classifier", "one direction", ("patch_features(images, directional_kernels(), patch=8, stride=4).sqrt()",
                                            "edge_histogram(images, directional_kernels()[:2])")),
]
