"""Recomputes, with PyTorch alone, the parts of the model folders that need neither zennit nor LXT (maintainer tool;
see ../PROVENANCE.md).

For every model folder whose architecture torchvision (or a Sequential) builds: loads weights.safetensors into the
model in the folder's dtype, checks the model's logits for the stored input against `output`, and recomputes the
cases that use no composite and no canonizer: `gradient`, `integrated_gradients` and `occlusion`, with the semantics
of ../README.md. Also checks pth/: both .pth files load into the same DenseNet and give `expected.json`'s logits.
Each check passes by the folder's own criterion, max|actual - expected| <= atol + rtol * max|expected|.

The LRP cases (every case with a composite or a canonizer) and the llama_tiny folder are out of its reach: they need
zennit at the DenseNet pull request and LXT (../PROVENANCE.md says how they were made).

    /usr/bin/python3 tests/conformance/tools/plain_torch_cases.py

Exits 0 when every check passes, 1 otherwise.
"""
import itertools
import json
import pathlib
import struct
import sys

import numpy as np
import torch
import torchvision
from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet
from torchvision.models.vision_transformer import VisionTransformer

CONFORMANCE = pathlib.Path(__file__).resolve().parent.parent
DTYPES = {"F64": np.float64, "F32": np.float32, "I64": np.int64}


def read_safetensors(path):
    """The tensors of a safetensors file, by name."""
    data = path.read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + length])
    body = data[8 + length:]
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        start, end = entry["data_offsets"]
        array = np.frombuffer(body[start:end], dtype=DTYPES[entry["dtype"]]).reshape(entry["shape"])
        tensors[name] = torch.from_numpy(array.copy())
    return tensors


def sequential(layers):
    """A Sequential of the layers model.json lists, with PyTorch's defaults for missing fields."""
    modules = []
    for layer in layers:
        kind = layer["type"]
        if kind == "conv2d":
            modules.append(torch.nn.Conv2d(
                layer["in"], layer["out"], layer["kernel"], stride=layer.get("stride", 1),
                padding=layer.get("padding", 0), dilation=layer.get("dilation", 1), groups=layer.get("groups", 1),
                bias=layer.get("bias", True)))
        elif kind == "linear":
            modules.append(torch.nn.Linear(layer["in"], layer["out"], bias=layer.get("bias", True)))
        elif kind in ("batchnorm2d", "batchnorm1d"):
            norm = torch.nn.BatchNorm2d if kind == "batchnorm2d" else torch.nn.BatchNorm1d
            modules.append(norm(layer["features"], eps=layer.get("eps", 1e-5)))
        elif kind == "relu":
            modules.append(torch.nn.ReLU())
        elif kind in ("maxpool2d", "avgpool2d"):
            pool = torch.nn.MaxPool2d if kind == "maxpool2d" else torch.nn.AvgPool2d
            modules.append(pool(layer["kernel"], stride=layer.get("stride", layer["kernel"])))
        elif kind == "adaptive_avgpool2d":
            modules.append(torch.nn.AdaptiveAvgPool2d(layer["output"]))
        elif kind == "flatten":
            modules.append(torch.nn.Flatten())
        else:
            raise ValueError(f"unknown layer type {kind}")
    return torch.nn.Sequential(*modules)


def build(spec):
    """The model of a model.json, or None for an architecture this tool does not build."""
    arch = spec["arch"]
    if arch == "sequential":
        return sequential(spec["layers"])
    if arch == "densenet":
        return torchvision.models.DenseNet(
            growth_rate=spec["growth_rate"], block_config=tuple(spec["block_config"]),
            num_init_features=spec["num_init_features"], bn_size=spec["bn_size"], drop_rate=0,
            num_classes=spec["num_classes"])
    if arch == "resnet":
        block = {"basic": BasicBlock, "bottleneck": Bottleneck}[spec["block"]]
        return ResNet(block, spec["layers"], num_classes=spec["num_classes"], groups=spec.get("groups", 1),
                      width_per_group=spec.get("width_per_group", 64))
    if arch == "vit":
        return VisionTransformer(
            image_size=spec["image_size"], patch_size=spec["patch_size"], num_layers=spec["num_layers"],
            num_heads=spec["num_heads"], hidden_dim=spec["hidden_dim"], mlp_dim=spec["mlp_dim"],
            num_classes=spec["num_classes"], representation_size=spec.get("representation_size"))
    return None


def onehot(output, target):
    result = torch.zeros_like(output)
    result[:, target] = 1
    return result


def gradient(model, x, target):
    leaf = x.detach().requires_grad_(True)
    output = model(leaf)
    (grad,) = torch.autograd.grad(output, leaf, grad_outputs=onehot(output, target))
    return grad


def integrated_gradients(model, x, target, steps):
    # Steps alpha = 1/n ... 1 from a zero baseline; the alphas are float32, as torch.linspace makes them by default.
    total = torch.zeros_like(x)
    for alpha in torch.linspace(1.0 / steps, 1.0, steps):
        total += gradient(model, alpha * x, target) / steps
    return total * x


def occlusion(model, x, target, window, stride):
    # The window keeps its part of the input and the rest is filled with zeros; every position the window covers
    # receives the target score of that occluded input. Integer window and stride apply to every dimension but the
    # batch (capped at its size); the batch is taken whole.
    window = (x.shape[0],) + tuple(min(window, size) for size in x.shape[1:])
    stride = (x.shape[0],) + tuple(min(stride, size) for size in x.shape[1:])
    anchor = torch.zeros_like(x, dtype=torch.bool)
    anchor[tuple(slice(0, size) for size in window)] = True
    result = torch.zeros_like(x)
    offsets = itertools.product(*(range(0, size, step) for size, step in zip(x.shape, stride)))
    with torch.no_grad():
        for offset in offsets:
            mask = anchor.roll(offset, tuple(range(x.ndim)))
            output = model(torch.where(mask, x, torch.zeros_like(x)))
            score = (output * onehot(output, target)).sum(tuple(range(1, output.ndim)))
            result += mask * score.reshape((-1,) + (1,) * (x.ndim - 1))
    return result


def within(actual, expected, tolerance):
    error = (actual - expected).abs().max().item()
    allowed = tolerance["atol"] + tolerance["rtol"] * expected.abs().max().item()
    return error <= allowed, f"max_abs_err={error:.3e} allowed={allowed:.3e}"


def check_folder(folder, report):
    spec = json.loads((folder / "model.json").read_text())
    cases = json.loads((folder / "cases.json").read_text())
    model = build(spec)
    if model is None:
        print(f"skip  {folder.name}  architecture '{spec['arch']}' is not built by this tool")
        return
    dtype = {"float64": torch.float64, "float32": torch.float32}[cases["dtype"]]
    model = model.to(dtype).eval()
    model.load_state_dict(read_safetensors(folder / "weights.safetensors"), strict=True)
    expected = read_safetensors(folder / "expected.safetensors")
    x = expected[cases["input"]]
    tolerance = cases["tolerance"]
    with torch.no_grad():
        report(f"{folder.name}/output", *within(model(x), expected[cases["output"]], tolerance))
    for case in cases["cases"]:
        if case["composite"] is not None or case["canonizers"] or case["attr_output"] not in ("onehot", "output_onehot"):
            continue
        attributor = case["attributor"]
        if attributor["name"] == "gradient":
            actual = gradient(model, x, case["target"])
        elif attributor["name"] == "integrated_gradients":
            actual = integrated_gradients(model, x, case["target"], attributor["n_iter"])
        elif attributor["name"] == "occlusion":
            actual = occlusion(model, x, case["target"], attributor["window"], attributor["stride"])
        else:
            continue
        report(f"{folder.name}/{case['name']}", *within(actual, expected[case["expected"]], tolerance))


def check_pth(report):
    folder = CONFORMANCE / "pth"
    reference = json.loads((folder / "expected.json").read_text())
    x = torch.tensor(reference["input"], dtype=torch.float64).reshape(reference["input_shape"])
    expected = torch.tensor(reference["output"], dtype=torch.float64)
    spec = json.loads((folder / "model.json").read_text())
    for name in ("densenet_tiny.pth", "densenet_tiny_legacy_keys.pth"):
        state = torch.load(folder / name, map_location="cpu")
        # torchvision's published DenseNet checkpoints name denselayerN.norm1 as denselayerN.norm.1 (and so on).
        state = {key.replace(".norm.1.", ".norm1.").replace(".norm.2.", ".norm2.")
                 .replace(".relu.1.", ".relu1.").replace(".relu.2.", ".relu2.")
                 .replace(".conv.1.", ".conv1.").replace(".conv.2.", ".conv2."): value for key, value in state.items()}
        model = build(spec).eval()
        model.load_state_dict(state, strict=True)
        # The checkpoints hold float32 tensors and expected.json's logits have float32 precision (about 1e-7 of
        # their size off a recomputation here), so the check runs in float32 with the verify command's 1e-5.
        with torch.no_grad():
            actual = model(x.float()).double().reshape(expected.shape)
        report(f"pth/{name}", *within(actual, expected, {"atol": 0.0, "rtol": 1e-5}))


def main():
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}")
    results = []

    def report(name, passed, detail):
        results.append(passed)
        print(f"{'pass' if passed else 'FAIL'}  {name}  {detail}", flush=True)

    for cases in sorted(CONFORMANCE.glob("*/cases.json")):
        check_folder(cases.parent, report)
    check_pth(report)
    failed = results.count(False)
    print(f"{len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
