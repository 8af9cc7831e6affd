"""Recomputes the fullsize/ and fullsize_vit/ reference files (maintainer tool; see ../PROVENANCE.md).

For each full-size torchvision architecture: builds the model with torchvision, fills every state-dict entry with
the hash-v1 filler (../README.md, "fullsize/"), runs the hash-v1 input through it in float64 and eval mode, and
compares the state-dict keys and shapes, the parameter count and the 1000 logits with the committed file (pass:
max|logits - expected| <= 1e-9 * max|expected|, the cases' own criterion). With --write DIR it also writes the
files it computed into DIR, in the committed files' format, for a maintainer to review and copy.

Debian 12 ships PyTorch 1.13 and torchvision 0.14 as python3-torch and python3-torchvision:

    /usr/bin/python3 tests/conformance/tools/fullsize_logits.py [--write DIR] [--threads N] [ARCH ...]

Exits 0 when every architecture reproduces its committed file, 1 otherwise.
"""
import argparse
import json
import math
import pathlib
import sys
import time

import numpy as np
import torch
import torchvision

HERE = pathlib.Path(__file__).resolve().parent
CONFORMANCE = HERE.parent
FOLDERS = ("fullsize", "fullsize_vit")
RTOL = 1e-9

FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3
MASK = (1 << 64) - 1


def seed(name):
    """FNV-1a 64 of the UTF-8 bytes of a state-dict name."""
    value = FNV_OFFSET
    for byte in name.encode("utf-8"):
        value = ((value ^ byte) * FNV_PRIME) & MASK
    return value


def hash_values(name, count):
    """The first `count` hash-v1 values of a name, float64 in [-1, 1), computed in wrapping uint64 arithmetic."""
    index = np.arange(1, count + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = np.uint64(seed(name)) + index * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return 2.0 * ((z >> np.uint64(11)).astype(np.float64) * 2.0**-53) - 1.0


def entry_values(name, shape):
    """The filler's value of one state-dict entry, as a float64 array of its shape."""
    count = math.prod(shape)
    leaf = name.rsplit(".", 1)[-1]
    if leaf == "num_batches_tracked":
        return np.zeros(shape)
    v = hash_values(name, count)
    if leaf == "running_mean":
        v = v * 0.1
    elif leaf == "running_var":
        v = v * v * 0.5 + 1.0
    elif leaf.endswith("bias"):  # also the attention's in_proj_bias
        v = v * 0.05
    elif len(shape) >= 2:  # weights, and the ViT's class token and position embedding
        v = v * math.sqrt(6.0 / (count // shape[0]))
    elif len(shape) == 1:  # batch-norm and layer-norm weights
        v = v * 0.1 + 1.0
    else:
        raise ValueError(f"hash-v1 has no rule for {name} with shape {shape}")
    return v.reshape(shape)


def recompute(arch):
    """The reference file's content for one architecture, as this machine's torch computes it."""
    model = getattr(torchvision.models, arch)(weights=None).double().eval()
    state = model.state_dict()
    filled = {
        name: torch.from_numpy(entry_values(name, tuple(tensor.shape))).to(tensor.dtype)
        for name, tensor in state.items()
    }
    model.load_state_dict(filled, strict=True)
    x = torch.from_numpy(hash_values("input", 3 * 224 * 224).reshape(1, 3, 224, 224))
    with torch.no_grad():
        logits = model(x)[0]
    return {
        "arch": arch,
        "filler": "hash-v1",
        "parameters": sum(p.numel() for p in model.parameters()),
        "input_shape": [1, 3, 224, 224],
        "logits": [float(value) for value in logits],
        "state_dict": [[name, list(tensor.shape)] for name, tensor in state.items()],
    }


def compare(computed, committed):
    """Problems found (empty when the file is reproduced) and the relative logit error."""
    problems = []
    if computed["state_dict"] != committed["state_dict"]:
        problems.append("state-dict keys or shapes differ")
    if computed["parameters"] != committed["parameters"]:
        problems.append(f"parameters {computed['parameters']} != {committed['parameters']}")
    expected = np.array(committed["logits"])
    actual = np.array(computed["logits"])
    if actual.shape != expected.shape:
        problems.append(f"{actual.size} logits, expected {expected.size}")
        return problems, math.inf
    relative = float(np.max(np.abs(actual - expected)) / np.max(np.abs(expected)))
    if not relative <= RTOL:
        problems.append(f"logits differ by {relative:.3e} of their largest value (allowed {RTOL:g})")
    return problems, relative


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("arch", nargs="*", help="architectures to recompute (default: every committed file)")
    parser.add_argument("--write", metavar="DIR", help="also write the recomputed files into DIR/<folder>/")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)

    assert hash_values("abc", 4).tolist() == [
        -0.6727547622645063, -0.4260318651478088, -0.9819274081762459, 0.2595651016050484,
    ], "hash-v1 does not give the README's values for 'abc'"

    files = {path.stem: path for folder in FOLDERS for path in sorted((CONFORMANCE / folder).glob("*.json"))}
    wanted = args.arch or list(files)
    unknown = [arch for arch in wanted if arch not in files]
    if unknown:
        parser.error(f"no committed file for {', '.join(unknown)}")

    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, numpy {np.__version__}, "
          f"{torch.get_num_threads()} threads")
    failed = 0
    for arch in wanted:
        path = files[arch]
        committed = json.loads(path.read_text())
        start = time.perf_counter()
        computed = recompute(arch)
        problems, relative = compare(computed, committed)
        seconds = time.perf_counter() - start
        identical = computed["logits"] == committed["logits"]
        verdict = "FAIL" if problems else "pass"
        detail = "; ".join(problems) if problems else f"logits within {relative:.2e} of their largest value" + (
            " (bit-identical)" if identical else "")
        print(f"{verdict}  {path.parent.name}/{arch}  {detail}  ({seconds:.0f} s)", flush=True)
        failed += bool(problems)
        if args.write:
            target = pathlib.Path(args.write) / path.parent.name / path.name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(computed))
    print(f"{len(wanted) - failed} reproduced, {failed} not")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
