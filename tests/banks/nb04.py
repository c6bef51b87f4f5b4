"""Known-wrong answers for notebook 04 (backpropagation through convolution and pooling).

Same format as :mod:`banks.nb01`: each mutant edits the instructor's answer of one solution cell
(or replaces it whole); autograded as a student, its target test cell ``test_<cell>`` must lose
its points and no other cell may. ``explains`` is text the self-check must print for it.
"""

from __future__ import annotations

from .nb01 import M, Mutant

ASSIGNMENT = "04_conv_backprop"

# dx as a full convolution of dout with the kernel, but the kernel was not rotated 180 degrees
FULL_CONVOLUTION_UNROTATED = '''
def conv2d_backward(dout, x, w, stride=1, padding=0):
    kh, kw = w.shape[2:]
    H, W = x.shape[2:]
    spread = dout.new_zeros(*dout.shape[:2], (dout.shape[2] - 1) * stride + 1, (dout.shape[3] - 1) * stride + 1)
    spread[:, :, ::stride, ::stride] = dout                   # the outputs back at their window corners
    dxp = F.conv2d(spread, w.transpose(0, 1), padding=(kh - 1, kw - 1))
    dxp = F.pad(dxp, (0, W + 2 * padding - dxp.shape[3], 0, H + 2 * padding - dxp.shape[2]))
    dx = dxp[:, :, padding:padding + H, padding:padding + W]
    cols = F.unfold(x, (kh, kw), padding=padding, stride=stride)
    dw = torch.einsum("nol,nkl->ok", dout.flatten(2), cols).reshape(w.shape)
    return dx, dw, dout.sum(dim=(0, 2, 3))
'''

AUTOGRAD = '''
def conv2d_backward(dout, x, w, stride=1, padding=0):
    x, w = x.clone().requires_grad_(), w.clone().requires_grad_()
    b = torch.zeros(w.shape[0], dtype=w.dtype, requires_grad=True)
    y = F.conv2d(x, w, b, stride=stride, padding=padding)
    return torch.autograd.grad(y, (x, w, b), dout)
'''

# an answer that calls the course's own implementation (issue 21): never an answer
COURSE_CALL = """
def {name}({args}):
    return backprop.{name}({call})
"""

SCATTER = "g = torch.zeros_like(window).scatter_(2, winner, dout[:, :, i, j, None])"
MAX_ADD = "dx[:, :, i * s:i * s + k, j * s:j * s + k] += g.reshape(N, C, k, k)"

MUTANTS: list[Mutant] = [
    # ---- relu_backward
    M("relu_backward", "x >= 0", ("(x > 0)", "(x >= 0)"), explains="use x > 0, not x >= 0"),
    M("relu_backward", "mask from dout", ("dout * (x > 0)", "dout * (dout > 0)"), explains="not from the gradient dout"),
    M("relu_backward", "mask only", ("dout * (x > 0)", "(x > 0).to(dout.dtype)"), explains="multiply the mask by dout"),
    M("relu_backward", "forward instead", ("dout * (x > 0)", "x * (x > 0)")),
    M("relu_backward", "calls helpers.backprop", source=COURSE_CALL.format(name="relu_backward", args="dout, x", call="dout, x"),
      explains="the course's own"),
    # ---- conv2d_backward
    M("conv2d_backward", "kernel not rotated", source=FULL_CONVOLUTION_UNROTATED, explains="rotated 180 degrees"),
    M("conv2d_backward", "dw overwritten", ("dw += torch.einsum", "dw = torch.einsum"),
      explains="not keep only the last one"),
    M("conv2d_backward", "dw of the first image", ('torch.einsum("no,nchw->ochw", g, window)',
                                                   'torch.einsum("o,chw->ochw", g[0], window[0])'),
      explains="every image in the batch"),
    M("conv2d_backward", "stride ignored", ("window = xp[:, :, i * s:i * s + kh, j * s:j * s + kw]",
                                            "window = xp[:, :, i:i + kh, j:j + kw]"),
      ("dxp[:, :, i * s:i * s + kh, j * s:j * s + kw] +=", "dxp[:, :, i:i + kh, j:j + kw] +="),
      explains="the backward must use the stride too"),
    M("conv2d_backward", "padding not cropped", ("dx = dxp[:, :, p:p + x.shape[2], p:p + x.shape[3]]", "dx = dxp"),
      explains="crop the padding off"),
    M("conv2d_backward", "db of the first image", ("db = dout.sum(dim=(0, 2, 3))", "db = dout[0].sum(dim=(1, 2))"),
      explains="db sums dout over the batch"),
    M("conv2d_backward", "autograd", source=AUTOGRAD, explains="autograd (.backward(), torch.autograd)"),
    M("conv2d_backward", "dx ignores the stride", ("dxp[:, :, i * s:i * s + kh, j * s:j * s + kw] +=", "dxp[:, :, i:i + kh, j:j + kw] +="),
      explains="dx ignores the stride"),
    M("conv2d_backward", "calls helpers.backprop", source=COURSE_CALL.format(name="conv2d_backward", args="dout, x, w, stride=1, padding=0",
                                                                          call="dout, x, w, stride, padding"),
      explains="the course's own"),
    # ---- max_pool2d_backward
    M("max_pool2d_backward", "to every cell", (SCATTER, "g = dout[:, :, i, j, None].expand_as(window)"),
      explains="to the winning unit only"),
    M("max_pool2d_backward", "to every tie", (SCATTER, "g = (window == window.amax(dim=2, keepdim=True)) * dout[:, :, i, j, None]"),
      explains="only ONE unit wins"),
    M("max_pool2d_backward", "last tie", ("winner = window.argmax(dim=2, keepdim=True)",
                                          "winner = k * k - 1 - window.flip(2).argmax(dim=2, keepdim=True)"),
      explains="picked the last"),
    M("max_pool2d_backward", "overlaps overwritten", (MAX_ADD, MAX_ADD.replace("+=", "=")), explains="add their gradients"),
    M("max_pool2d_backward", "stride defaults to 1", ("s = k if stride is None else stride", "s = 1 if stride is None else stride"),
      explains="stride=None means stride = kernel_size"),
    M("max_pool2d_backward", "calls helpers.backprop",
      source=COURSE_CALL.format(name="max_pool2d_backward", args="dout, x, kernel_size, stride=None",
                                call="dout, x, kernel_size, stride"), explains="the course's own"),
    # ---- avg_pool2d_backward
    M("avg_pool2d_backward", "not divided", (" / (k * k)", ""), explains="dx = dout / k^2"),
    M("avg_pool2d_backward", "divided by k", ("/ (k * k)", "/ k"), explains="not by k"),
    M("avg_pool2d_backward", "overlaps overwritten", ("] += dout", "] = dout"), explains="add their gradients"),
    M("avg_pool2d_backward", "stride defaults to 1", ("s = k if stride is None else stride", "s = 1 if stride is None else stride"),
      explains="stride=None means stride = kernel_size"),
    # ---- conv_matrix
    M("conv_matrix", "transposed", ("    return C", "    return C.T"), explains="one ROW per output"),
    M("conv_matrix", "kernel flipped", ("= w[m, n]", "= w[kh - 1 - m, kw - 1 - n]"), explains="cross-correlation"),
    M("conv_matrix", "rows stepped by the output width", ("(i + m) * width + (j + n)", "(i + m) * w_out + (j + n)"),
      explains="step rows by the INPUT width"),
    M("conv_matrix", "float32 always", ("C = w.new_zeros(h_out * w_out, height * width)",
                                        "C = torch.zeros(h_out * w_out, height * width, dtype=torch.float32)"),
      explains="C must have the dtype of w"),
    M("conv_matrix", "calls helpers.backprop", source=COURSE_CALL.format(name="conv_matrix", args="w, height, width",
                                                                      call="w, height, width"),
      explains="the course's own"),
    M("conv_matrix", "square input assumed", ("h_out, w_out = height - kh + 1, width - kw + 1",
                                              "h_out, w_out = height - kh + 1, height - kh + 1")),
    # ---- col2im
    M("col2im", "overwritten", ("] += windows[", "] = windows["), explains="kept only the last window's"),
    M("col2im", "padding not cropped", ("return xp[:, :, p:p + H, p:p + W]", "return xp"),
      explains="crop the padding off"),
    M("col2im", "cropped at the wrong side", ("return xp[:, :, p:p + H, p:p + W]", "return xp[:, :, :H, :W]"),
      explains="not [:H, :W]"),
    M("col2im", "stride ignored", ("xp[:, :, i * s:i * s + kh, j * s:j * s + kw] +=", "xp[:, :, i:i + kh, j:j + kw] +="),
      explains="its values go back there"),
    M("col2im", "kernel order transposed", ("cols.reshape(N, C, kh, kw, h_out, w_out)",
                                            "cols.reshape(N, C, kw, kh, h_out, w_out).transpose(2, 3)"),
      explains="kernel positions transposed"),
    M("col2im", "positions column-major", ("cols.reshape(N, C, kh, kw, h_out, w_out)",
                                           "cols.reshape(N, C, kh, kw, w_out, h_out).transpose(4, 5)"),
      explains="column-major order"),
    M("col2im", "torch.zeros", ("cols.new_zeros(N, C, H + 2 * p, W + 2 * p)", "torch.zeros(N, C, H + 2 * p, W + 2 * p)"),
      explains="the dtype of cols"),
    M("col2im", "nn.Fold", source="""
def col2im(cols, input_shape, kernel_size, stride=1, padding=0):
    return nn.Fold(input_shape, kernel_size, padding=padding, stride=stride)(cols)
""", explains="write it from scratch"),
    # ---- numerical_gradient
    M("numerical_gradient", "forward difference", ("flat_x[i] = old - eps\n        f_minus", "flat_x[i] = old\n        f_minus"),
      ("/ (2 * eps)", "/ eps"), explains="use the centred difference"),
    M("numerical_gradient", "divided by eps", ("/ (2 * eps)", "/ eps"), explains="divide by 2 * eps"),
    M("numerical_gradient", "x not restored", ("        flat_x[i] = old\n        flat_grad", "        flat_grad")),
    M("numerical_gradient", "eps ignored", ("def numerical_gradient(f, x, eps=1e-6):", "def numerical_gradient(f, x, eps=1e-6):\n    eps = 1e-6"),
      explains="eps argument was ignored"),
    M("numerical_gradient", "autograd", source='''
def numerical_gradient(f, x, eps=1e-6):
    x = x.clone().requires_grad_()
    return torch.autograd.grad(f(x), x)[0]
'''),
    # ---- Conv2dFn
    M("Conv2dFn", "no bias gradient", ("return dx, dw, db, None, None", "return dx, dw, None, None, None"),
      explains="the bias gradient was missing"),
    M("Conv2dFn", "gradients in the wrong order", ("return dx, dw, db, None, None", "return dw, dx, db, None, None"),
      explains="one gradient per input of forward"),
    M("Conv2dFn", "stride not saved", ("        ctx.stride, ctx.padding = stride, padding\n", ""),
      ("conv2d_backward(dout, x, w, ctx.stride, ctx.padding)", "conv2d_backward(dout, x, w)"),
      explains="stride and padding that forward saved"),
    M("Conv2dFn", "three gradients only", ("return dx, dw, db, None, None", "return dx, dw, db")),
    M("Conv2dFn", "backward with torch.nn.grad",
      ("dx, dw, db = conv2d_backward(dout, x, w, ctx.stride, ctx.padding)",
       "dx = torch.nn.grad.conv2d_input(x.shape, w, dout, ctx.stride, ctx.padding)\n"
       "        dw = torch.nn.grad.conv2d_weight(x, w.shape, dout, ctx.stride, ctx.padding)\n"
       "        db = dout.sum(dim=(0, 2, 3))"), explains="never called your conv2d_backward"),
    M("Conv2dFn", "the course's Function", source="""
class Conv2dFn(backprop.Conv2dFunction):
    pass
""", explains="course's helpers.backprop.Conv2dFunction"),
    M("Conv2dFn", "forward without the bias", ("F.conv2d(x, w, b, stride", "F.conv2d(x, w, None, stride")),
]
