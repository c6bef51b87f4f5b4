"""Known-wrong answers for notebook 03 (pooling and invariance): the mistakes students really make.

Same format as :mod:`banks.nb01`: each mutant edits the instructor's answer of one solution cell
(or replaces it whole); autograded as a student, its target test cell ``test_<cell>`` must lose
its points and no other cell may. ``explains`` is text the self-check must print for it.
"""

from __future__ import annotations

from .nb01 import M, Mutant, course_version, hidden_from_the_profiler

ASSIGNMENT = "03_pooling"

# torch's pooling in place of the student's: caught by the from-scratch check of both exercises
CALLS_TORCH = '''
def {name}(x, kernel_size, stride=None, padding=0, mode="max"):
    if mode not in ("max", "avg"):
        raise ValueError(mode)
    pool = F.max_pool2d if mode == "max" else F.avg_pool2d
    return pool(x, kernel_size, stride, padding)
'''

POOL2D_LOOP = '''
def pool2d(x, kernel_size, stride=None, padding=0, mode="max"):
    if mode not in ("max", "avg"):
        raise ValueError(mode)
    k, p = kernel_size, padding
    s = k if stride is None else stride
    xp = F.pad(x, (p, p, p, p), value=float("-inf") if mode == "max" else 0.0)
    rows = []
    for i in range((xp.shape[2] - k) // s + 1):
        row = []
        for j in range((xp.shape[3] - k) // s + 1):
            window = xp[:, :, i * s:i * s + k, j * s:j * s + k]
            row.append(window.amax(dim=(2, 3)) if mode == "max" else window.mean(dim=(2, 3)))
        rows.append(torch.stack(row, dim=-1))
    return torch.stack(rows, dim=-2)
'''

MUTANTS: list[Mutant] = [
    # ---- pool_output_size
    M("pool_output_size", "ceil", ("(L + 2 * P - W) // S + 1", "-(-(L + 2 * P - W) // S) + 1"), explains="round down"),
    M("pool_output_size", "stride defaults to 1", ("S = W if S is None else S", "S = 1 if S is None else S"),
      explains="S=None must mean S = W"),
    M("pool_output_size", "padding once", ("L + 2 * P - W", "L + P - W")),
    M("pool_output_size", "true division", ("(L + 2 * P - W) // S + 1", "(L + 2 * P - W) / S + 1"),
      explains="floor division //"),
    M("pool_output_size", "no plus one", ("(L + 2 * P - W) // S + 1", "(L + 2 * P - W) // S"),
      explains="forgot the + 1"),
    course_version("pool_output_size", "pool_output_size(L, W, S=None, P=0)", "pooling.pool_output_size(L, W, S, P)"),
    # ---- pool2d_naive (loops)
    M("pool2d_naive", "torch.ops.aten pooling", explains="from scratch", source='''
def pool2d_naive(x, kernel_size, stride=None, padding=0, mode="max"):
    if mode not in ("max", "avg"):
        raise ValueError(mode)
    k, s, p = [kernel_size] * 2, [stride or kernel_size] * 2, [padding] * 2
    if mode == "max":
        return torch.ops.aten.max_pool2d(x, k, s, p)
    return torch.ops.aten.avg_pool2d(x, k, s, p)
'''),
    course_version("pool2d_naive", 'pool2d_naive(x, kernel_size, stride=None, padding=0, mode="max")',
                   "pooling.pool2d_naive(x, kernel_size, stride, padding, mode)"),
    M("pool2d_naive", "always float64", ("y = x.new_zeros(N, C, H_out, W_out)",
                                         "y = torch.zeros(N, C, H_out, W_out, dtype=torch.float64)"),
      explains="wrong dtype"),
    M("pool2d_naive", "mode not checked",
      ('    if mode not in ("max", "avg"):\n'
       '        raise ValueError(f"mode must be \'max\' or \'avg\', got {mode!r}")\n', ""), explains="expected a ValueError"),
    M("pool2d_naive", "calls F.max_pool2d", source=CALLS_TORCH.format(name="pool2d_naive"),
      explains="write it from scratch"),
    M("pool2d_naive", "calls nn.MaxPool2d", source='''
def pool2d_naive(x, kernel_size, stride=None, padding=0, mode="max"):
    if mode not in ("max", "avg"):
        raise ValueError(mode)
    layer = torch.nn.MaxPool2d if mode == "max" else torch.nn.AvgPool2d
    return layer(kernel_size, stride, padding)(x)
'''),
    M("pool2d_naive", "zero padding for max", ('fill = float("-inf") if mode == "max" else 0.0', "fill = 0.0"),
      explains="Pad with -inf"),
    M("pool2d_naive", "stride defaults to 1",
      ("s = k if stride is None else stride", "s = 1 if stride is None else stride"),
      explains="stride=None must mean stride = kernel_size"),
    M("pool2d_naive", "ceil", ("H_out, W_out = (H - k) // s + 1, (W - k) // s + 1",
                               "H_out, W_out = -(-(H - k) // s) + 1, -(-(W - k) // s) + 1")),
    M("pool2d_naive", "window one short", ("xp[:, :, i * s:i * s + k, j * s:j * s + k]",
                                           "xp[:, :, i * s:i * s + k - 1, j * s:j * s + k - 1]"),
      explains="one cell short"),
    M("pool2d_naive", "avg divides by k", ("window.sum(dim=(2, 3)) / (k * k)", "window.sum(dim=(2, 3)) / k"),
      explains="k * k, not by k"),
    M("pool2d_naive", "padding ignored", ("xp = F.pad(x, (p, p, p, p), value=fill)", "xp = x"),
      explains="the padding was ignored"),
    M("pool2d_naive", "square maps assumed", ("(W - k) // s + 1", "(H - k) // s + 1")),
    # ---- pool2d (vectorised)
    M("pool2d", "python loop", source=POOL2D_LOOP, explains="not vectorised"),
    M("pool2d", "calls F.max_pool2d", source=CALLS_TORCH.format(name="pool2d"), explains="write it from scratch"),
    M("pool2d", "stride ignored", (".unfold(2, k, s).unfold(3, k, s)", ".unfold(2, k, k).unfold(3, k, k)"),
      explains="the stride was ignored"),
    M("pool2d", "zero padding for max", ('fill = float("-inf") if mode == "max" else 0.0', "fill = 0.0"),
      explains="Pad with -inf"),
    M("pool2d", "padding excluded from the mean", source='''
def pool2d(x, kernel_size, stride=None, padding=0, mode="max"):
    if mode not in ("max", "avg"):
        raise ValueError(mode)
    k, p = kernel_size, padding
    s = k if stride is None else stride
    if mode == "max":
        return F.pad(x, (p, p, p, p), value=float("-inf")).unfold(2, k, s).unfold(3, k, s).amax(dim=(-2, -1))
    sums = F.pad(x, (p, p, p, p)).unfold(2, k, s).unfold(3, k, s).sum(dim=(-2, -1))
    counts = F.pad(torch.ones_like(x), (p, p, p, p)).unfold(2, k, s).unfold(3, k, s).sum(dim=(-2, -1))
    return sums / counts
''', explains="count the padded zeros"),
    M("pool2d", "modes swapped", ('windows.amax(dim=(-2, -1)) if mode == "max" else windows.mean(dim=(-2, -1))',
                                  'windows.mean(dim=(-2, -1)) if mode == "max" else windows.amax(dim=(-2, -1))'),
      explains="mode='max' takes the largest value"),
    M("pool2d", "mode not checked",
      ('    if mode not in ("max", "avg"):\n'
       '        raise ValueError(f"mode must be \'max\' or \'avg\', got {mode!r}")\n', "")),
    M("pool2d", "nn.AvgPool2d and nn.MaxPool2d", explains="from scratch", source='''
def pool2d(x, kernel_size, stride=None, padding=0, mode="max"):
    if mode not in ("max", "avg"):
        raise ValueError(mode)
    layer = torch.nn.MaxPool2d if mode == "max" else torch.nn.AvgPool2d
    return layer(kernel_size, stride, padding)(x)
'''),
    M("pool2d", "loop hidden from the profiler", explains="sys.setprofile",
      source=hidden_from_the_profiler(POOL2D_LOOP)),
    course_version("pool2d", 'pool2d(x, kernel_size, stride=None, padding=0, mode="max")',
                   "pooling.pool2d(x, kernel_size, stride, padding, mode)"),
    M("pool2d", "always float32", ("    fill = float(\"-inf\") if mode == \"max\" else 0.0\n    xp = F.pad(x,",
                                   "    fill = float(\"-inf\") if mode == \"max\" else 0.0\n    xp = F.pad(x.float(),"),
      explains="wrong dtype"),
    # ---- global_avg_pool
    M("global_avg_pool", "sum", ("x.mean(dim=(2, 3))", "x.sum(dim=(2, 3))"), explains="divide by H * W"),
    M("global_avg_pool", "wrong axes", ("x.mean(dim=(2, 3))", "x.mean(dim=(1, 2))"), explains="dims 2 and 3"),
    M("global_avg_pool", "kept dimensions", ("x.mean(dim=(2, 3))", "x.mean(dim=(2, 3), keepdim=True)"),
      explains="must be (N, C)"),
    M("global_avg_pool", "global max", ("x.mean(dim=(2, 3))", "x.amax(dim=(2, 3))"), explains="global max pooling"),
    M("global_avg_pool", "batch mixed", ("x.mean(dim=(2, 3))", "x.mean(dim=(0, 2, 3))"), explains="over the batch too"),
    course_version("global_avg_pool", "global_avg_pool(x)", "pooling.global_avg_pool(x)"),
    # ---- receptive_field
    M("receptive_field", "strides ignored", ("        jump *= s\n", ""), explains="strides were ignored"),
    M("receptive_field", "own stride counted", ("        r += (k - 1) * jump\n        jump *= s\n",
                                                "        jump *= s\n        r += (k - 1) * jump\n"),
      explains="own stride does not widen"),
    M("receptive_field", "no plus one", ("r, jump = 1, 1", "r, jump = 0, 1"), explains="output's own pixel"),
    M("receptive_field", "k not k - 1", ("(k - 1) * jump", "k * jump"), explains="not k * jump"),
    M("receptive_field", "strides added", ("jump *= s", "jump += s")),
    course_version("receptive_field", "receptive_field(layers)", "pooling.receptive_field(layers)"),
    # ---- shift_change
    M("shift_change", "features rolled", ("after = feature_fn(torch.roll(x, shifts=(dy, dx), dims=(2, 3)))",
                                          "after = torch.roll(before, shifts=(dy, dx), dims=(2, 3))"),
      explains="shifted the feature maps instead of the input"),
    M("shift_change", "whole batch", ("(after - before).flatten(1).norm(dim=1) / before.flatten(1).norm(dim=1)",
                                      "(after - before).norm() / before.norm()"),
      explains="one number for the whole batch"),
    M("shift_change", "axes swapped", ("dims=(2, 3)", "dims=(3, 2)"), explains="dy is along the rows"),
    M("shift_change", "absolute change", (" / before.flatten(1).norm(dim=1)", ""), explains="relative change"),
    M("shift_change", "divided by the shifted", ("/ before.flatten(1).norm(dim=1)", "/ after.flatten(1).norm(dim=1)"),
      explains="not of the shifted ones"),
    M("shift_change", "input compared", ("before = feature_fn(x)\n", "before = x\n")),
    M("shift_change", "shift reversed", ("shifts=(dy, dx)", "shifts=(-dy, -dx)"), explains="shifted the wrong way"),
]
