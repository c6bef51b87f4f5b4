"""Known-wrong answers for notebook 05 (training a CNN): the mistakes students really make.

Same format as :mod:`banks.nb01`: each mutant edits the instructor's answer of one solution cell
(or replaces it whole); autograded as a student, its target test cell ``test_<cell>`` must lose
its points and no other cell may. ``explains`` is text the self-check must print for it.
"""

from __future__ import annotations

from .nb01 import M, Mutant

ASSIGNMENT = "05_cnn_training"
# The capstone trains with the student's own train_one_epoch (issue 18): a loop that cannot train
# fails it too, and its self-check says so ("check ... that the loop trains").
CAPSTONE = ("final_model",)

MUTANTS: list[Mutant] = [
    # ---- softmax_cross_entropy
    M("softmax_cross_entropy", "softmax applied twice",
      ("log_probs = shifted - shifted.exp().sum(dim=1, keepdim=True).log()",
       "probs = shifted.exp() / shifted.exp().sum(dim=1, keepdim=True)\n"
       "    log_probs = torch.softmax(probs, dim=1).log()"), explains="softmax was applied twice"),
    M("softmax_cross_entropy", "no max shift",
      ("shifted = logits - logits.max(dim=1, keepdim=True).values", "shifted = logits"),
      explains="subtract each row's maximum"),
    M("softmax_cross_entropy", "sum over the batch", ("-(targets * log_probs).sum(dim=1).mean()", "-(targets * log_probs).sum()"),
      explains="mean over the N samples"),
    M("softmax_cross_entropy", "sign dropped", ("return -(targets", "return (targets"), explains="minus sign"),
    M("softmax_cross_entropy", "calls F.cross_entropy", source='''
def softmax_cross_entropy(logits, targets):
    return F.cross_entropy(logits, targets)
''', explains="from scratch"),
    M("softmax_cross_entropy", "F.log_softmax", ("log_probs = shifted - shifted.exp().sum(dim=1, keepdim=True).log()",
                                                 "log_probs = F.log_softmax(logits, dim=1)"), explains="from scratch"),
    M("softmax_cross_entropy", "log of softmax", ("log_probs = shifted - shifted.exp().sum(dim=1, keepdim=True).log()",
                                                  "log_probs = (shifted.exp() / shifted.exp().sum(dim=1, keepdim=True)).log()"),
      explains="log-sum-exp trick"),
    M("softmax_cross_entropy", "one max for the batch", ("logits.max(dim=1, keepdim=True).values", "logits.max()"),
      explains="each ROW's maximum"),
    # ---- build_cnn
    M("build_cnn", "softmax at the end", ("nn.Linear(64, 10))", "nn.Linear(64, 10), nn.Softmax(dim=1))"),
      explains="the model must return logits"),
    M("build_cnn", "no padding", ("nn.Conv2d(1, 16, 3, padding=1)", "nn.Conv2d(1, 16, 3)"), explains="padding=1 keeps the size"),
    M("build_cnn", "ReLU missing", ("nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(),", "nn.Conv2d(16, 32, 3, padding=1),"),
      explains="followed by a ReLU"),
    M("build_cnn", "flatten size", ("nn.Linear(128, 64)", "nn.Linear(512, 64)"), explains="32 * 2 * 2 = 128"),
    M("build_cnn", "dropout hard-coded", ("nn.Dropout(dropout)", "nn.Dropout(0.5)"), explains="use the dropout argument"),
    M("build_cnn", "calls helpers.training", source='''
def build_cnn(dropout=0.25):
    return training.digits_cnn(dropout)
''', explains="course's own"),
    # ---- train_one_epoch
    M("train_one_epoch", "no zero_grad", ("        optimizer.zero_grad()\n", ""), explains="optimizer.zero_grad()",
      breaks=CAPSTONE),
    M("train_one_epoch", "no model.train()", ("    model.train()\n", ""), explains="call model.train()"),
    M("train_one_epoch", "mean of batch means",
      ("total_loss += loss.item() * len(y)", "total_loss += loss.item()"),
      ("return total_loss / seen, correct / seen", "return total_loss / len(loader), correct / seen"),
      explains="average the loss over samples"),
    M("train_one_epoch", "no step", ("        optimizer.step()\n", ""), explains="call optimizer.step()",
      breaks=CAPSTONE),
    M("train_one_epoch", "accuracy as a count", ("return total_loss / seen, correct / seen", "return total_loss / seen, correct"),
      explains="fraction of correct predictions"),
    M("train_one_epoch", "batches not moved", ("        x, y = x.to(device), y.to(device)\n", ""),
      explains="moved to the model's device"),
    M("train_one_epoch", "loss as a tensor", ("total_loss += loss.item() * len(y)", "total_loss += loss.detach() * len(y)"),
      explains="Python float"),
    M("train_one_epoch", "calls helpers.training", source='''
def train_one_epoch(model, loader, loss_fn, optimizer):
    return training.train_epoch(model, loader, loss_fn, optimizer)
''', explains="course's own"),
    # ---- evaluate
    M("evaluate", "model.eval() forgotten", ("    model.eval()\n", ""), explains="call model.eval()"),
    M("evaluate", "mode not restored", ("    model.train(was_training)\n", ""), explains="restore it with model.train"),
    M("evaluate", "no_grad forgotten", ("    with torch.no_grad():\n", "    if True:\n"), explains="torch.no_grad()"),
    M("evaluate", "calls helpers.training.evaluate", source='''
def evaluate(model, loader, loss_fn):
    return training.evaluate(model, loader, loss_fn)
''', explains="yourself"),
    M("evaluate", "batches not moved", ("            x, y = x.to(device), y.to(device)\n", ""),
      explains="moved to the model's device"),
    M("evaluate", "always back in train mode", ("model.train(was_training)", "model.train()"), explains="not model.train()"),
    # ---- EarlyStopping
    M("EarlyStopping", "patience counter never reset",
      ("self.best_loss, self.best_epoch, self.counter = val_loss, self.epoch, 0",
       "self.best_loss, self.best_epoch = val_loss, self.epoch"), explains="go back to 0"),
    M("EarlyStopping", "best weights not restored", ("        model.load_state_dict(self.best_state)\n", ""),
      explains="restore(model) must load the best weights"),
    M("EarlyStopping", "state_dict not copied", ("copy.deepcopy(model.state_dict())", "model.state_dict()"),
      explains="keep a copy of the best weights"),
    M("EarlyStopping", "off by one", ("self.counter >= self.patience", "self.counter > self.patience"),
      explains="counter >= patience"),
    M("EarlyStopping", "ties improve", ("if val_loss < self.best_loss - self.min_delta:", "if val_loss <= self.best_loss - self.min_delta:"),
      explains="use <, not <="),
    M("EarlyStopping", "relative min_delta", ("if val_loss < self.best_loss - self.min_delta:",
                                              "if val_loss < self.best_loss * (1 - self.min_delta):"),
      explains="min_delta is an absolute amount"),
    M("EarlyStopping", "the course's class", source='''
class EarlyStopping(training.EarlyStopping):
    pass
''', explains="derives from the course's"),
    # ---- random_shift
    M("random_shift", "wraps around", source='''
def random_shift(x, max_shift, generator):
    offsets = torch.randint(-max_shift, max_shift + 1, (len(x), 2), generator=generator).tolist()
    return torch.stack([img.roll((dy, dx), dims=(-2, -1)) for img, (dy, dx) in zip(x, offsets)])
''', explains="pixels must not wrap around"),
    M("random_shift", "one shift for the batch",
      ("offsets = torch.randint(0, 2 * max_shift + 1, (n, 2), generator=generator).tolist()",
       "offsets = torch.randint(0, 2 * max_shift + 1, (1, 2), generator=generator).tolist() * n"),
      explains="every image must draw its own shift"),
    M("random_shift", "range one short", ("torch.randint(0, 2 * max_shift + 1,", "torch.randint(0, 2 * max_shift,"),
      explains="the upper end is excluded"),
    M("random_shift", "generator ignored", ("(n, 2), generator=generator)", "(n, 2))"), explains="generator argument"),
    M("random_shift", "calls helpers.augment", source='''
def random_shift(x, max_shift, generator):
    return augment.random_shift(x, max_shift, generator)
''', explains="from scratch"),
    # ---- final_model (the capstone's train_final_model)
    M("final_model", "evaluates instead of training", (
        "train_loss, train_acc = train_one_epoch(model, loader, F.cross_entropy, optimizer)",
        "train_loss, train_acc = evaluate(model, loader, F.cross_entropy)"), explains="the loop trains"),
    M("final_model", "learning rate far too high", ("lr=2e-3", "lr=5.0"), explains="learning rate"),
    M("final_model", "softmax at the end", ("nn.Linear(64 * 7 * 7, 10))", "nn.Linear(64 * 7 * 7, 10), nn.Softmax(dim=1))"),
      explains="ends in a softmax"),
    M("final_model", "trained on shuffled labels", ("fit_y[:images]", "fit_y[:images][torch.randperm(images)]"),
      explains="right labels"),
    M("final_model", "a custom module instead of nn.Sequential", ("    stopper.restore(model)\n    return model",
                                                                 "    stopper.restore(model)\n    return nn.ModuleList([model])"),
      explains="nn.Sequential"),
]
