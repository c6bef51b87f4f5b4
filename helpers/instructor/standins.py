"""Library-call stand-ins for the course's answers, used in the student edition's ``helpers/``.

The student edition keeps each graded function's name, signature and docstring (the contract the
notebook states anyway) but not its from-scratch body. Where a working version is needed there
(a self-check binds the course's ``pad`` while it checks ``conv1d``; a demonstration falls back to
the course's version until the student's works), the body below replaces it: a call of the
library routine that the exercise's from-scratch rule already rejects as an answer, so reading it
gives nothing away. A graded function without an entry here raises ``NotImplementedError`` in the
student edition, unless ``STORED`` lists the arguments to store its outputs for.

``STANDINS`` maps ``(module, function)`` to the stand-in; :mod:`helpers.instructor.edition`
copies the stand-in's body (below its docstring) into the student copy of the module, under the
original ``def`` line. The stand-ins use the original's parameter names and import what they use.
"""

from __future__ import annotations


def _pad(x, M, mode="zero"):
    """``pad`` with ``F.pad`` (the pad exercise's self-check refuses the course's own ``pad``)."""
    import torch.nn.functional as F

    if mode not in ("zero", "replicate", "reflect"):
        raise ValueError(f"pad: mode must be 'zero', 'replicate' or 'reflect', got {mode!r}")
    flat = x.reshape(-1, 1, x.shape[-1])  # F.pad's replicate/reflect want a (batch, channel, length) input
    padded = F.pad(flat, (M, M), mode="constant" if mode == "zero" else mode)
    return padded.reshape(x.shape[:-1] + padded.shape[-1:])


def _conv1d(x, w, mode="same", padding="zero", flip=True):
    """``conv1d`` with ``F.conv1d``, which the from-scratch rule of conv1d refuses."""
    import torch.nn.functional as F

    kernel = w.flip(-1) if flip else w
    extra = ("valid", "same", "full").index(mode) * (len(w) // 2)  # samples added on each side
    signal = pad(x, extra, padding) if extra else x  # noqa: F821 (the module's own pad, the stand-in above)
    y = F.conv1d(signal.reshape(-1, 1, signal.shape[-1]), kernel.reshape(1, 1, -1))
    return y.reshape(x.shape[:-1] + y.shape[-1:])


def _conv2d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1, flip=False):
    """``conv2d_naive``/``conv2d_unfold`` with ``F.conv2d``, which their from-scratch rules refuse."""
    import torch.nn.functional as F

    return F.conv2d(x, w.flip(-2, -1) if flip else w, b, stride, padding, dilation, groups)


def _pool2d(x, kernel_size, stride=None, padding=0, mode="max"):
    """``pool2d_naive``/``pool2d`` with ``F.max_pool2d``/``F.avg_pool2d``, which their rules refuse."""
    import torch.nn.functional as F

    pools = {"max": F.max_pool2d, "avg": F.avg_pool2d}
    return pools[mode](x, kernel_size, kernel_size if stride is None else stride, padding)


def _conv2d_backward(dout, x, w, stride=1, padding=0):
    """``conv2d_backward`` by autograd through ``F.conv2d``, which its by-hand rule refuses."""
    import torch
    import torch.nn.functional as F

    leaves = [x.detach().requires_grad_(), w.detach().requires_grad_(),
              x.new_zeros(w.shape[0]).requires_grad_()]
    with torch.enable_grad():
        out = F.conv2d(leaves[0], leaves[1], leaves[2], stride, padding)
        grads = torch.autograd.grad(out, leaves, dout)
    return grads


def _col2im(cols, input_shape, kernel_size, stride=1, padding=0):
    """``col2im`` with ``F.fold``, which col2im's from-scratch rule refuses."""
    import torch.nn.functional as F

    return F.fold(cols, tuple(input_shape), tuple(kernel_size), padding=padding, stride=stride)


# ---- notebooks 02, 03 and 04 (02's conv_explorer, 03's pooling demonstrations, 04's conv_matrix preview) ----
def _directional_kernels(dtype=None, device=None):
    """``directional_kernels``: no library routine makes them, so the values its self-check compares with.

    The student edition ships them anyway as that check's stored expected value (and as edge_histogram's
    stored input); the instructor's edition computes them (the check's reference). Either way a student's
    ``directional_kernels`` doing the same is refused by the instructor's check: it calls the course's own.
    """
    import torch

    import helpers.checks.conv2d

    exercise = helpers.checks.conv2d.DIRECTIONAL_KERNELS
    stored = getattr(exercise, "stored", None)  # set by the student edition's checks (core.use_stored)
    kernels = exercise.reference() if stored is None else stored["expected"][0]
    return kernels.to(dtype=dtype or torch.get_default_dtype(), device=device)


def _edge_maps(x, kernels=None):
    """``edge_maps`` with ``F.conv2d``, which 02's feature exercises allow (their contracts state this
    computation; the course's own ``edge_maps`` and ``_maps`` are refused as their answers)."""
    import torch.nn.functional as F

    x = x if x.dim() == 4 else x[:, None]
    if kernels is None:
        kernels = directional_kernels(x.dtype, x.device)  # noqa: F821 (the module's own, a stand-in too)
    return F.conv2d(x, kernels[:, None], padding=(kernels.shape[1] // 2, kernels.shape[2] // 2)).relu()


def _conv_matrix(w, height, width, stride=1, padding=0):
    """``conv_matrix`` with ``F.conv2d`` of every one-pixel image (the columns of C), which its rule refuses."""
    import torch
    import torch.nn.functional as F

    pixels = torch.eye(height * width).to(w).reshape(height * width, 1, height, width)  # image q: pixel q is 1
    return F.conv2d(pixels, w[None, None], stride=stride, padding=padding).flatten(1).T  # column q: C @ image q


def _train_epoch(model, loader, loss_fn, optimizer, device=None):
    """``train_epoch`` with gradients from ``torch.func.grad`` over ``functional_call`` (which
    train_one_epoch's rule refuses: its exercise is ``loss.backward()``), so that ``fit`` trains in the
    edition (05's and 07's demonstrations, 07's fine_tune check) without 05's answer in the file."""
    import torch
    from torch.func import functional_call, grad

    where = _checked("train_epoch", model, loader, device)  # noqa: F821 (the module's own argument check)
    trainable = {name: p for name, p in model.named_parameters() if p.requires_grad}
    buffers = dict(model.named_buffers())   # BatchNorm's running statistics: updated in place, so passed in
    model.train()

    def objective(params, buffers, inputs, labels):
        scores = functional_call(model, (params, buffers), (inputs,))
        value = loss_fn(scores, labels)
        return value, (value.detach(), scores.detach())

    per_batch = []   # (summed loss, number right, batch size) of each batch
    for inputs, labels in loader:
        labels = labels.to(where)
        grads, (value, scores) = grad(objective, has_aux=True)(
            {name: p.detach() for name, p in trainable.items()}, buffers, inputs.to(where), labels)
        for name, p in trainable.items():
            p.grad = grads[name]
        optimizer.step()
        per_batch.append(torch.stack([value * len(labels), torch.eq(scores.argmax(1), labels).sum().to(value.dtype),
                                      value.new_tensor(len(labels))]))
    if not per_batch:
        raise ValueError("train_epoch: an empty loader (not one batch) has nothing to train on; give it data")
    summed, right, count = torch.stack(per_batch).sum(dim=0).tolist()
    return summed / count, right / count


STANDINS = {
    ("signals", "pad"): _pad,
    ("signals", "conv1d"): _conv1d,
    ("conv", "conv2d_naive"): _conv2d,
    ("conv", "conv2d_unfold"): _conv2d,
    ("pooling", "pool2d_naive"): _pool2d,
    ("pooling", "pool2d"): _pool2d,
    ("backprop", "conv2d_backward"): _conv2d_backward,
    ("backprop", "col2im"): _col2im,
    # notebooks 02, 03 and 04
    ("features", "directional_kernels"): _directional_kernels,
    ("features", "edge_maps"): _edge_maps,
    ("backprop", "conv_matrix"): _conv_matrix,
    # notebooks 05 and 07: fit's trainer (not a course version an Exercise names, so listed here to be replaced)
    ("training", "train_epoch"): _train_epoch,
}

# Graded functions a demonstration needs (the denoising widget's kernels) that no library routine
# computes: their float64 outputs for these first arguments are stored instead (each function
# takes ``(M, dtype=None, device=None)``), in the student edition's ``helpers/data/stored_outputs.pt``.
STORED = {
    ("signals", "moving_average_kernel"): range(61),
    ("signals", "triangle_kernel"): range(61),
}
