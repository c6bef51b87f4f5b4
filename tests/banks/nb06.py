"""Known-wrong answers for notebook 06 (case-study architectures): the mistakes students really make.

Same format as :mod:`banks.nb01`: each mutant edits the instructor's answer of one solution cell
(or replaces it whole); autograded as a student, its target test cell ``test_<cell>`` must lose
its points and no other cell may. ``explains`` is text the self-check must print for it.
"""

from __future__ import annotations

from .nb01 import M, Mutant

ASSIGNMENT = "06_architectures"

MUTANTS: list[Mutant] = [
    # ---- count_parameters
    M("count_parameters", "weights only", explains="biases are parameters too", source='''
def count_parameters(model, trainable_only=False):
    return sum(p.numel() for name, p in model.named_parameters()
               if name.endswith("weight") and (p.requires_grad or not trainable_only))
'''),
    M("count_parameters", "counted per module", explains="do not add up module.parameters()", source='''
def count_parameters(model, trainable_only=False):
    total = 0
    for module in model.modules():
        total += sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)
    return total
'''),
    M("count_parameters", "tensors not numbers", ("sum(p.numel() for p", "sum(1 for p"),
      explains="count the numbers in them (p.numel())"),
    M("count_parameters", "trainable_only ignored", (" if p.requires_grad or not trainable_only", ""),
      explains="with trainable_only=True count only"),
    M("count_parameters", "buffers counted", explains="buffers (batch norm's running mean and variance)", source='''
def count_parameters(model, trainable_only=False):
    return sum(t.numel() for t in model.state_dict().values())
'''),
    # ---- conv_multiplications
    M("conv_multiplications", "input size", ("return h_out * w_out *", "return h * w *"),
      explains="one dot product per *output* value"),
    M("conv_multiplications", "C_in missing", ("kernel_size * kernel_size * c_in", "kernel_size * kernel_size"),
      explains="each kernel spans all C_in input channels"),
    M("conv_multiplications", "bias counted", ("kernel_size * kernel_size * c_in", "(kernel_size * kernel_size * c_in + 1)"),
      explains="adding the bias is an addition"),
    M("conv_multiplications", "stride ignored", (" // stride + 1", " + 1"), explains="the stride was ignored"),
    M("conv_multiplications", "kernel not squared", ("kernel_size * kernel_size * c_in", "kernel_size * c_in"),
      explains="K * K weights per input channel"),
    M("conv_multiplications", "ceil", ("(h + 2 * padding - kernel_size) // stride + 1", "-(-(h + 2 * padding - kernel_size) // stride) + 1"),
      ("(w + 2 * padding - kernel_size) // stride + 1", "-(-(w + 2 * padding - kernel_size) // stride) + 1"),
      explains="rounds DOWN"),
    M("conv_multiplications", "true division", (" // stride + 1", " / stride + 1"), explains="floor division"),
    M("conv_multiplications", "calls helpers.inspect_models", source='''
def conv_multiplications(in_shape, out_channels, kernel_size, stride=1, padding=0):
    return inspect_models.conv_multiplications(in_shape, out_channels, kernel_size, stride, padding)
''', explains="helpers.models and helpers.inspect_models"),
    # ---- lenet5
    M("lenet5", "max pooling", ("nn.AvgPool2d(2)", "nn.MaxPool2d(2)"), explains="LeNet-5 pools by averaging"),
    M("lenet5", "ReLU", ("nn.Tanh()", "nn.ReLU()"), explains="LeNet-5 uses tanh"),
    M("lenet5", "padded first convolution", ("nn.Conv2d(1, 6, kernel_size=5)", "nn.Conv2d(1, 6, kernel_size=5, padding=2)"),
      explains="valid (no padding)"),
    M("lenet5", "no activation between the linear layers", ("nn.Linear(16 * 5 * 5, 120), nn.Tanh(),", "nn.Linear(16 * 5 * 5, 120),"),
      ("nn.Linear(120, 84), nn.Tanh(),", "nn.Linear(120, 84),"), explains="collapse into one"),
    M("lenet5", "calls helpers.models", source='''
def lenet5():
    return models.lenet5()
''', explains="helpers.models and helpers.inspect_models"),
    # ---- ResidualBlock
    M("ResidualBlock", "ReLU before the addition", ("return torch.relu(z + self.shortcut(a))",
                                                    "return torch.relu(z) + self.shortcut(a)"),
      explains="apply the ReLU after the addition"),
    M("ResidualBlock", "no projection for stride 2", ("if stride != 1 or in_channels != out_channels:",
                                                      "if in_channels != out_channels:"),
      explains="the shortcut must be a projection"),
    M("ResidualBlock", "stride on the second convolution",
      ("nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1", "nn.Conv2d(in_channels, out_channels, 3, stride=1, padding=1"),
      ("nn.Conv2d(out_channels, out_channels, 3, stride=1, padding=1", "nn.Conv2d(out_channels, out_channels, 3, stride=stride, padding=1"),
      explains="the stride belongs to the first convolution"),
    M("ResidualBlock", "no padding", ("3, stride=stride, padding=1", "3, stride=stride, padding=0"),
      ("3, stride=1, padding=1", "3, stride=1, padding=0"), explains="keep the size with padding=1"),
    M("ResidualBlock", "biases on the convolutions", ("padding=1, bias=False)", "padding=1)"),
      explains="have no bias (bias=False)"),
    M("ResidualBlock", "the course's class", source='''
class ResidualBlock(models.ResidualBlock):
    pass
''', explains="helpers.models and helpers.inspect_models"),
    # ---- Inception
    M("Inception", "concatenated along the batch", ("], dim=1)", "], dim=0)"), explains="concatenate along the channels, dim=1"),
    M("Inception", "pooling stride defaults to 3", ("nn.MaxPool2d(3, stride=1, padding=1)", "nn.MaxPool2d(3, padding=1)"),
      explains="its stride defaults to the kernel size"),
    M("Inception", "5x5 padding 1", ("nn.Conv2d(c5_reduce, c5, 5, padding=2)", "nn.Conv2d(c5_reduce, c5, 5, padding=1)"),
      explains="padding=2 for the 5x5"),
    M("Inception", "branches swapped", ("self.branch3(x), self.branch5(x)", "self.branch5(x), self.branch3(x)"),
      explains="in the order of the contract"),
    M("Inception", "no ReLU after the reductions", ("nn.Conv2d(in_channels, c3_reduce, 1), nn.ReLU(),", "nn.Conv2d(in_channels, c3_reduce, 1),"),
      ("nn.Conv2d(in_channels, c5_reduce, 1), nn.ReLU(),", "nn.Conv2d(in_channels, c5_reduce, 1),"),
      explains="the 1x1 reductions before"),
    # ---- UpBlock
    M("UpBlock", "skip first", ("torch.cat([up, skip], dim=1)", "torch.cat([skip, up], dim=1)"),
      explains="the upsampled map first"),
    M("UpBlock", "transposed kernel 3", ("kernel_size=2, stride=2", "kernel_size=3, stride=2"),
      explains="doubles H and W exactly"),
    M("UpBlock", "valid convolutions", ("3, padding=1)", "3)"), explains="need padding=1 to keep the size"),
    M("UpBlock", "concatenated along the batch", ("torch.cat([up, skip], dim=1)", "torch.cat([up, skip], dim=0)"),
      explains="along the channels (dim=1)"),
]
