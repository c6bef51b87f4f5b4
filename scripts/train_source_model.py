"""Train the source network notebook 07 transfers from, and write the weights the course ships.

The source task: the 20 letters of ``helpers.data.SOURCE_GLYPHS`` rendered from the fonts that
ship with matplotlib, in random pose, size, contrast and noise (``helpers.data.glyph_images``).
Everything is seeded, so the run is reproducible (on the CPU, to the last bit on one machine):

    python scripts/train_source_model.py            # writes helpers/data/transfer_source.{pt,json}
    python scripts/train_source_model.py --check    # trains again, compares with the shipped record

It prints the accuracy on a held-out test set generated with another seed; that figure goes into
``transfer_source.json`` with the seed, the data and the schedule, and
tests/test_transfer.py checks that the shipped weights still reach it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.realpath(__file__))))

from helpers import data, seed_everything, transfer  # noqa: E402
from helpers.training import evaluate, fit, make_loader  # noqa: E402

SETUP = {"seed": 0, "classes": data.SOURCE_GLYPHS, "width": 16, "size": 28, "train_images": 30000,
         "train_seed": 1, "test_images": 2000, "test_seed": 2, "epochs": 15, "batch_size": 64, "lr": 2e-3,
         "optimizer": "Adam + cosine learning-rate decay", "data": "helpers.data.glyph_images (default pose and noise)"}


def test_set(setup: dict = SETUP) -> tuple[torch.Tensor, torch.Tensor]:
    """The held-out source test set the recorded accuracy is measured on: (N, 1, 28, 28), (N,)."""
    return data.glyph_images(setup["test_images"], setup["classes"], setup["size"], seed=setup["test_seed"])


def train(setup: dict = SETUP, progress: bool = True) -> tuple[transfer.SourceNet, float]:
    """Train a fresh SourceNet on the source task; return it (eval mode, CPU) and its test accuracy."""
    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
    seed_everything(setup["seed"])
    x, y = data.glyph_images(setup["train_images"], setup["classes"], setup["size"], seed=setup["train_seed"])
    model = transfer.SourceNet(len(setup["classes"]), setup["width"])
    optimizer = torch.optim.Adam(model.parameters(), lr=setup["lr"])
    loader = make_loader(x, y, batch_size=setup["batch_size"], seed=setup["seed"])
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=setup["epochs"])
    for epoch in range(setup["epochs"]):
        fit(model, loader, optimizer=optimizer, epochs=1, progress=progress, desc=f"source epoch {epoch + 1}")
        schedule.step()
    _, accuracy = evaluate(model, make_loader(*test_set(setup), batch_size=500, shuffle=False))
    return model.eval(), accuracy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="train again and compare with the shipped record")
    args = parser.parse_args()
    start = time.time()
    model, accuracy = train()
    print(f"source test accuracy: {accuracy:.4f}  ({time.time() - start:.0f} s)")
    if args.check:
        shipped = transfer.source_record()["test_accuracy"]
        print(f"shipped record: {shipped:.4f}; difference {accuracy - shipped:+.4f}")
        return
    torch.save(model.state_dict(), transfer.SOURCE_WEIGHTS)
    record = {**SETUP, "test_accuracy": round(accuracy, 4), "torch": torch.__version__,
              "parameters": sum(p.numel() for p in model.parameters()),
              "script": "scripts/train_source_model.py"}
    with open(transfer.SOURCE_RECORD, "w", encoding="utf-8") as f:
        json.dump(record, f, indent=2)
        f.write("\n")
    print(f"wrote {transfer.SOURCE_WEIGHTS} ({os.path.getsize(transfer.SOURCE_WEIGHTS) / 1e6:.2f} MB) and the record")


if __name__ == "__main__":
    main()
