"""Known-wrong answers for notebook 07 (transfer learning): the mistakes students really make.

Same format as :mod:`banks.nb01`: each mutant edits the instructor's answer of one solution cell
(or replaces it whole); autograded as a student, its target test cell ``test_<cell>`` must lose
its points and no other cell may. ``explains`` is text the self-check must print for it.
"""

from __future__ import annotations

from .nb01 import M, Mutant

ASSIGNMENT = "07_transfer_learning"

NO_GRAD_LOOP = ("    with torch.no_grad():\n        h = x\n        for child in children:\n            h = child(h)\n",
                "    h = x\n    for child in children:\n        h = child(h)\n")
NEW_HEAD = "model.head = nn.Linear(old.in_features, n_classes).to(device=old.weight.device, dtype=old.weight.dtype)"
ADAM = "torch.optim.Adam(param_groups(model, lr_backbone, lr_head))"

MUTANTS: list[Mutant] = [
    # ---- freeze
    M("freeze", "BatchNorm still updating", ("        child.train(model.training and not frozen)\n", ""),
      explains="must also be put in eval mode"),
    M("freeze", "upto excluded", ("frozen = i <= last", "frozen = i < last"), explains="up to AND including"),
    M("freeze", "everything frozen", explains="only the blocks up to", source='''
def freeze(model, upto):
    model.requires_grad_(False)
    return model.eval()
'''),
    M("freeze", "weights only", ("child.requires_grad_(not frozen)",
                                 "for pname, p in child.named_parameters():\n"
                                 "            p.requires_grad_(not frozen or not pname.endswith('weight'))"),
      explains="scales and biases too"),
    M("freeze", "later blocks never unfrozen", explains="made trainable again", source='''
def freeze(model, upto):
    names = [name for name, _ in model.named_children()]
    for i, child in enumerate(model.children()):
        if i <= names.index(upto):
            child.requires_grad_(False)
            child.eval()
    return model
'''),
    M("freeze", "calls helpers.transfer", source='''
def freeze(model, upto):
    return transfer.freeze(model, upto)
''', explains="course's own"),
    M("freeze", "later blocks put in train mode", ("child.train(model.training and not frozen)", "child.train(not frozen)"),
      explains="a model handed over in eval mode stays in eval mode"),
    # ---- replace_head
    M("replace_head", "backbone left trainable", ('        freeze(model, "pool")\n', "        pass\n"),
      explains="the backbone was left trainable"),
    M("replace_head", "source classes kept", ("nn.Linear(old.in_features, n_classes)",
                                              "nn.Linear(old.in_features, old.out_features)"),
      explains="n_classes outputs"),
    M("replace_head", "stacked on the old head",
      (NEW_HEAD, "model.head = nn.Sequential(old, nn.Linear(old.out_features, n_classes).to(device=old.weight.device, "
                 "dtype=old.weight.dtype))"), explains="do not stack"),
    M("replace_head", "new head frozen", ('        freeze(model, "pool")\n', '        freeze(model, "head")\n'),
      explains="must stay trainable"),
    M("replace_head", "backbone BatchNorm not in eval",
      ('        freeze(model, "pool")\n',
       "        for child in list(model.children())[:-1]:\n            child.requires_grad_(False)\n"),
      explains="must be in eval mode too"),
    M("replace_head", "earlier freezing kept", ("    model.requires_grad_(True)\n", ""), explains="every parameter must be trainable"),
    M("replace_head", "the course's freeze", ('freeze(model, "pool")', 'transfer.freeze(model, "pool")'),
      explains="use your freeze"),
    # ---- extract_features
    M("extract_features", "taken after the head", ("[:names.index(layer) + 1]", "[:names.index(layer) + 2]"),
      explains="the layer after `layer`"),
    M("extract_features", "train mode", ("    model.eval()\n", ""), explains="computed in eval mode"),
    M("extract_features", "not flattened", ("return h.flatten(1)", "return h"), explains="flatten each image"),
    M("extract_features", "gradients tracked", NO_GRAD_LOOP, explains="still track gradients"),
    M("extract_features", "mode not restored", ("    model.train(was_training)\n", ""), explains="restore its mode"),
    M("extract_features", "always back in train mode", ("model.train(was_training)", "model.train()"),
      explains="restore it with model.train(was_training)"),
    M("extract_features", "calls helpers.transfer", source='''
def extract_features(model, x, layer="pool"):
    return transfer.extract_features(model, x, layer)
''', explains="course's own"),
    # ---- precision_at_k
    M("precision_at_k", "query included", ('    similarity.fill_diagonal_(float("-inf"))\n', ""),
      explains="the query itself was retrieved"),
    M("precision_at_k", "farthest", ('fill_diagonal_(float("-inf"))', 'fill_diagonal_(float("inf"))'),
      ("topk(k, dim=1)", "topk(k, dim=1, largest=False)"), explains="LEAST similar"),
    M("precision_at_k", "euclidean", explains="rank by cosine similarity", source='''
def precision_at_k(features, labels, k):
    distance = torch.cdist(features, features)
    distance.fill_diagonal_(float("inf"))
    nearest = distance.topk(k, dim=1, largest=False).indices
    return (labels[nearest] == labels[:, None]).float().mean().item()
'''),
    M("precision_at_k", "hits not divided by k", (".float().mean().item()", ".float().sum(dim=1).mean().item()"),
      explains="divide the count by k"),
    M("precision_at_k", "returns a tensor", (".float().mean().item()", ".float().mean()"), explains="Python float"),
    # ---- param_groups
    M("param_groups", "one learning rate", explains="one learning rate for all", source='''
def param_groups(model, lr_backbone, lr_head):
    return [{"params": [p for p in model.parameters() if p.requires_grad], "lr": lr_head}]
'''),
    M("param_groups", "swapped", ('"lr": lr_backbone}', '"lr": lr_head}'), ('"lr": lr_head}]', '"lr": lr_backbone}]'),
      explains="take the small lr_backbone"),
    M("param_groups", "head in both groups", ("p.requires_grad and id(p) not in head_ids", "p.requires_grad"),
      explains="exactly one group"),
    M("param_groups", "frozen included", ("if p.requires_grad and id(p) not in head_ids", "if id(p) not in head_ids"),
      explains="leave frozen parameters"),
    M("param_groups", "calls helpers.transfer", source='''
def param_groups(model, lr_backbone, lr_head):
    return transfer.param_groups(model, lr_backbone, lr_head)
''', explains="course's own"),
    # ---- fine_tune
    M("fine_tune", "one learning rate", (ADAM, "torch.optim.Adam(model.parameters(), lr=lr_head)"),
      explains="not one learning rate for all"),
    M("fine_tune", "learning rates swapped", ("param_groups(model, lr_backbone, lr_head)",
                                              "param_groups(model, lr_head, lr_backbone)"),
      explains="moved more than the head"),
    M("fine_tune", "head only", (ADAM, "torch.optim.Adam(model.head.parameters(), lr=lr_head)"),
      explains="did not move"),
    M("fine_tune", "one epoch", ("epochs=epochs", "epochs=1"), explains="did it train for `epochs` epochs"),
    M("fine_tune", "the course's param_groups", ("Adam(param_groups(", "Adam(transfer.param_groups("),
      explains="use your param_groups"),
    M("fine_tune", "transform dropped", (", transform=transform)", ")"), explains="transform argument was never applied"),
    M("fine_tune", "batches of 64", ("batch_size=32", "batch_size=64"), explains="batch_size=32"),
]
