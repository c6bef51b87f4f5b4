"""Build the Fashion-MNIST subset the course ships, from the Debian package's files.

    sudo apt-get install dataset-fashion-mnist       # /usr/share/datasets/fashion-mnist/*.gz
    python scripts/build_fashion_subset.py            # writes helpers/data/fashion_mnist/
    python scripts/build_fashion_subset.py --check    # rebuilds in memory, compares with what ships

The subset: a seeded, stratified choice of 1,200 training and 200 test images of each of the 10
classes (12,000 + 2,000), stored as uint8 in ``fashion_subset.npz`` (compressed, about 5 MB) with
the index of each image in the original file. ``manifest.json`` records the SHA-256 of the four
source files and of the output, the seed and the counts; ``helpers.data.load_fashion_mnist``
checks the output's SHA-256 before reading it. ``LICENSE`` is the dataset's MIT licence.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import zipfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.realpath(__file__))))

from helpers import data  # noqa: E402

SEED = 0
PER_CLASS = {"train": 1200, "test": 200}
SOURCE = "https://github.com/zalandoresearch/fashion-mnist (Debian package dataset-fashion-mnist)"


def choose(labels: np.ndarray, per_class: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of ``per_class`` images of each class, drawn without replacement, in a shuffled order: (10 * per_class,)."""
    picks = [rng.choice(np.flatnonzero(labels == k), per_class, replace=False) for k in range(10)]
    return rng.permutation(np.concatenate(picks)).astype(np.int32)


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """A compressed .npz whose bytes depend only on the arrays (every zip entry dated 1980-01-01)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, array in arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, np.ascontiguousarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, member.getvalue(), compresslevel=9)
    return buffer.getvalue()


def select(source_dir: str = data.FASHION_DEBIAN_DIR) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """The subset's arrays (``x_/y_/index_`` + ``train``/``test``) and the SHA-256 of each source file."""
    rng = np.random.default_rng(SEED)
    arrays, sources = {}, {}
    for split, (images_file, labels_file) in data.FASHION_FILES.items():
        paths = [os.path.join(source_dir, name) for name in (images_file, labels_file)]
        images, labels = (data.read_idx(path) for path in paths)
        index = choose(labels, PER_CLASS[split], rng)
        arrays.update({f"x_{split}": images[index], f"y_{split}": labels[index], f"index_{split}": index})
        sources.update({os.path.basename(p): data.sha256_file(p) for p in paths})
    return arrays, sources


def build(source_dir: str = data.FASHION_DEBIAN_DIR) -> tuple[bytes, dict]:
    """The subset's .npz bytes and its manifest (without the output's checksum)."""
    arrays, sources = select(source_dir)
    manifest = {"dataset": "Fashion-MNIST", "source": SOURCE, "licence": "MIT, Copyright (c) 2017 Zalando SE (LICENSE)",
                "classes": list(data.FASHION_CLASSES), "seed": SEED, "per_class": PER_CLASS,
                "arrays": {name: [str(a.dtype), list(a.shape)] for name, a in arrays.items()},
                "sources_sha256": sources, "built_by": "scripts/build_fashion_subset.py"}
    return npz_bytes(arrays), manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source-dir", default=data.FASHION_DEBIAN_DIR)
    parser.add_argument("--check", action="store_true", help="rebuild and compare with the shipped files")
    args = parser.parse_args()
    blob, manifest = build(args.source_dir)
    manifest["output"] = {"file": os.path.basename(data.FASHION_SUBSET), "bytes": len(blob),
                          "sha256": __import__("hashlib").sha256(blob).hexdigest()}
    if args.check:
        with open(data.FASHION_MANIFEST) as f:
            same = json.load(f) == manifest and data.sha256_file(data.FASHION_SUBSET) == manifest["output"]["sha256"]
        print("the shipped subset matches a fresh build" if same else "MISMATCH: the shipped subset differs")
        sys.exit(0 if same else 1)
    os.makedirs(data.FASHION_SUBSET_DIR, exist_ok=True)
    with open(data.FASHION_SUBSET, "wb") as f:
        f.write(blob)
    with open(data.FASHION_MANIFEST, "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    print(f"wrote {data.FASHION_SUBSET} ({len(blob) / 1e6:.1f} MB) and {data.FASHION_MANIFEST}")


if __name__ == "__main__":
    main()
