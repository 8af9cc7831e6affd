#!/usr/bin/env python3
"""Exports the ONNX test models of RelevanceSharp.Onnx with PyTorch, with the exporter's own outputs beside them.

For maintainers; the tests read the committed files and never run Python. Needs Debian's python3-torch (1.13),
python3-torchvision (0.14) and python3-onnx (run with /usr/bin/python3 where another Python comes first on PATH).

    /usr/bin/python3 tests/RelevanceSharp.Tests/RelevanceSharp.Onnx/Models/export.py [CONFORMANCE-FOLDER]
    /usr/bin/python3 tests/RelevanceSharp.Tests/RelevanceSharp.Onnx/Models/export.py --fullsize OUT-FOLDER
    /usr/bin/python3 tests/RelevanceSharp.Tests/RelevanceSharp.Onnx/Models/export.py --fuzz-seeds fuzz/corpus/onnx

Writes into this script's folder, for each model and variant, NAME.onnx and NAME.safetensors; the second holds
"input" (the batch the model was run on) and "logits" (what PyTorch computed for it, in the model's dtype).

- The tiny conformance models (densenet_tiny, resnet_basic_tiny, sequential_bn): built from the conformance folder's
  model.json with torchvision's classes, loaded with its weights.safetensors, run on its reference input, in the
  dtype of its cases.json. Variants: batch norms kept as nodes (the exporter keeps them when asked to preserve the
  model's mode) at several operator sets, batch norms fused into the convolutions before them (the default export of
  a model in evaluation mode), and float32 copies of the float64 models (ONNX Runtime computes convolutions in
  float32 only).
- mobilenet_style and efficientnet_style: small networks with what those families export (depthwise convolutions,
  ReLU6, hardswish, SiLU, squeeze-and-excitation, residual sums, ceil-mode and padded pooling), random weights and
  batch-norm statistics, at several operator sets, some with an open batch dimension.

With --fuzz-seeds, writes the seed corpus of the fuzzer's onnx harness into OUT-FOLDER: graphs of a few hundred bytes
that together use every supported operator.

With --fullsize, exports torchvision's mobilenet_v2, efficientnet_b0, squeezenet1_1 and convnext_tiny (random
weights, float32, 224x224, opset 17) into OUT-FOLDER for the full-size check (not committed: tens of MB each), with two
PNG images and each model's logits for them (see fullsize below).
"""

import json
import os
import struct
import sys
import warnings

import onnx
import onnx.numpy_helper
import torch
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_CONFORMANCE = os.path.normpath(os.path.join(HERE, "..", "..", "..", "conformance"))

DTYPES = {"F64": torch.float64, "F32": torch.float32, "I64": torch.int64}
NAMES = {torch.float64: "F64", torch.float32: "F32", torch.int64: "I64"}


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + length])
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        raw = bytearray(data[8 + length + begin:8 + length + end])
        dtype = DTYPES[entry["dtype"]]
        tensors[name] = torch.frombuffer(raw, dtype=dtype).reshape(entry["shape"]).clone() if raw else torch.zeros(entry["shape"], dtype=dtype)
    return tensors


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, tensor in tensors.items():
        blob = tensor.detach().contiguous().cpu().numpy().tobytes()
        header[name] = {"dtype": NAMES[tensor.dtype], "shape": list(tensor.shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def sequential(spec):
    layers = []
    for layer in spec["layers"]:
        kind = layer["type"]
        if kind == "conv2d":
            layers.append(torch.nn.Conv2d(layer["in"], layer["out"], layer["kernel"], stride=layer.get("stride", 1),
                                          padding=layer.get("padding", 0), dilation=layer.get("dilation", 1),
                                          groups=layer.get("groups", 1), bias=layer.get("bias", True)))
        elif kind == "linear":
            layers.append(torch.nn.Linear(layer["in"], layer["out"], bias=layer.get("bias", True)))
        elif kind in ("batchnorm2d", "batchnorm1d"):
            cls = torch.nn.BatchNorm2d if kind == "batchnorm2d" else torch.nn.BatchNorm1d
            layers.append(cls(layer["features"], eps=layer.get("eps", 1e-5)))
        elif kind == "relu":
            layers.append(torch.nn.ReLU())
        elif kind == "maxpool2d":
            layers.append(torch.nn.MaxPool2d(layer["kernel"], layer.get("stride", layer["kernel"])))
        elif kind == "avgpool2d":
            layers.append(torch.nn.AvgPool2d(layer["kernel"], layer.get("stride", layer["kernel"])))
        elif kind == "adaptive_avgpool2d":
            layers.append(torch.nn.AdaptiveAvgPool2d(layer["output"]))
        elif kind == "flatten":
            layers.append(torch.nn.Flatten())
        else:
            raise ValueError(f"unknown layer type {kind}")
    return torch.nn.Sequential(*layers)


def conformance_model(folder):
    with open(os.path.join(folder, "model.json")) as f:
        spec = json.load(f)
    arch = spec["arch"]
    if arch == "densenet":
        model = torchvision.models.DenseNet(growth_rate=spec["growth_rate"], block_config=tuple(spec["block_config"]),
                                            num_init_features=spec["num_init_features"], bn_size=spec["bn_size"],
                                            num_classes=spec["num_classes"])
    elif arch == "resnet":
        block = {"basic": torchvision.models.resnet.BasicBlock, "bottleneck": torchvision.models.resnet.Bottleneck}[spec["block"]]
        model = torchvision.models.resnet.ResNet(block, spec["layers"], num_classes=spec["num_classes"],
                                                 groups=spec.get("groups", 1), width_per_group=spec.get("width_per_group", 64))
    elif arch == "sequential":
        model = sequential(spec)
    else:
        raise ValueError(f"unknown architecture {arch}")
    with open(os.path.join(folder, "cases.json")) as f:
        dtype = {"float64": torch.float64, "float32": torch.float32}[json.load(f)["dtype"]]
    model = model.to(dtype)
    model.load_state_dict(read_safetensors(os.path.join(folder, "weights.safetensors")), strict=True)
    return model.eval(), dtype


def externalize(path, weights):
    """
    Points every initializer of the ONNX file at PATH that is a tensor of the safetensors file WEIGHTS at that tensor's
    bytes there (ONNX external data: location, offset, length), after checking that the bytes are the same. The ONNX
    file then needs WEIGHTS beside it, under its own name.
    """
    with open(weights, "rb") as f:
        data = f.read()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + length])
    model = onnx.load(path)
    moved = 0
    for initializer in model.graph.initializer:
        entry = header.get(initializer.name)
        if entry is None:
            continue
        begin, end = entry["data_offsets"]
        start = 8 + length + begin
        if onnx.numpy_helper.to_array(initializer).tobytes() != data[start:8 + length + end]:
            raise ValueError(f"{initializer.name}: the exported values differ from {weights}")
        initializer.ClearField("raw_data")
        initializer.ClearField("float_data")
        initializer.data_location = onnx.TensorProto.EXTERNAL
        for key, value in (("location", os.path.basename(weights)), ("offset", str(start)), ("length", str(end - begin))):
            entry_proto = initializer.external_data.add()
            entry_proto.key = key
            entry_proto.value = value
        moved += 1
    onnx.save(model, path)
    return moved


def export(model, x, name, opset, fused, dynamic_batch):
    """Exports MODEL for input X as NAME.onnx and writes NAME.safetensors with X and PyTorch's logits."""
    model = model.eval()
    path = os.path.join(HERE, name + ".onnx")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model, x, path, opset_version=opset, input_names=["input"], output_names=["logits"],
            # Evaluation mode fuses each batch norm into the convolution before it; preserving the model's (evaluation)
            # mode keeps the batch norms as nodes.
            training=torch.onnx.TrainingMode.EVAL if fused else torch.onnx.TrainingMode.PRESERVE,
            do_constant_folding=True,
            dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}} if dynamic_batch else None)
    graph = onnx.load(path).graph
    norms = sum(1 for n in graph.node if n.op_type == "BatchNormalization")
    with torch.no_grad():
        logits = model(x)
    write_safetensors(os.path.join(HERE, name + ".safetensors"), {"input": x, "logits": logits})
    print(f"{name}.onnx: opset {opset}, {len(graph.node)} nodes, {norms} batch norms, {os.path.getsize(path)} bytes")


class InvertedResidual(torch.nn.Module):
    """MobileNetV2/V3's block: 1x1 expansion, depthwise 3x3, 1x1 projection, residual sum when shapes allow."""

    def __init__(self, cin, cout, stride, expand, activation):
        super().__init__()
        hidden = cin * expand
        self.use_residual = stride == 1 and cin == cout
        self.block = torch.nn.Sequential(
            torch.nn.Conv2d(cin, hidden, 1, bias=False), torch.nn.BatchNorm2d(hidden), activation(),
            torch.nn.Conv2d(hidden, hidden, 3, stride=stride, padding=1, groups=hidden, bias=False), torch.nn.BatchNorm2d(hidden),
            activation(),
            torch.nn.Conv2d(hidden, cout, 1, bias=False), torch.nn.BatchNorm2d(cout))

    def forward(self, x):
        y = self.block(x)
        return x + y if self.use_residual else y


class MobileNetStyle(torch.nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.stem = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False), torch.nn.BatchNorm2d(8), torch.nn.ReLU6())
        self.blocks = torch.nn.Sequential(
            InvertedResidual(8, 8, 1, 2, torch.nn.ReLU6),
            InvertedResidual(8, 12, 2, 3, torch.nn.ReLU6),
            InvertedResidual(12, 12, 1, 3, torch.nn.Hardswish),
            # ceil-mode max pool and a pool that does not count its padding: attributes the import must honour.
            torch.nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True),
            InvertedResidual(12, 16, 1, 2, torch.nn.Hardswish),
            torch.nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False))
        self.head = torch.nn.Sequential(torch.nn.Conv2d(16, 32, 1), torch.nn.BatchNorm2d(32), torch.nn.ReLU6(),
                                        torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Dropout(0.2),
                                        torch.nn.Linear(32, classes))

    def forward(self, x):
        return self.head(self.blocks(self.stem(x)))


class SqueezeExcitation(torch.nn.Module):
    def __init__(self, channels, squeezed):
        super().__init__()
        self.pool = torch.nn.AdaptiveAvgPool2d(1)
        self.reduce = torch.nn.Conv2d(channels, squeezed, 1)
        self.expand = torch.nn.Conv2d(squeezed, channels, 1)

    def forward(self, x):
        scale = torch.sigmoid(self.expand(torch.nn.functional.silu(self.reduce(self.pool(x)))))
        return scale * x


class MBConv(torch.nn.Module):
    """EfficientNet's block: expansion, depthwise convolution, squeeze-and-excitation, projection, residual."""

    def __init__(self, cin, cout, stride, expand, kernel):
        super().__init__()
        hidden = cin * expand
        self.use_residual = stride == 1 and cin == cout
        self.expand = torch.nn.Sequential(torch.nn.Conv2d(cin, hidden, 1, bias=False), torch.nn.BatchNorm2d(hidden), torch.nn.SiLU())
        self.depthwise = torch.nn.Sequential(
            torch.nn.Conv2d(hidden, hidden, kernel, stride=stride, padding=kernel // 2, groups=hidden, bias=False),
            torch.nn.BatchNorm2d(hidden), torch.nn.SiLU())
        self.se = SqueezeExcitation(hidden, max(1, cin // 4))
        self.project = torch.nn.Sequential(torch.nn.Conv2d(hidden, cout, 1, bias=False), torch.nn.BatchNorm2d(cout))

    def forward(self, x):
        y = self.project(self.se(self.depthwise(self.expand(x))))
        return x + y if self.use_residual else y


class EfficientNetStyle(torch.nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        # TensorFlow-style "same" padding of a strided convolution: one more row and column after than before.
        self.stem = torch.nn.Sequential(torch.nn.ZeroPad2d((0, 1, 0, 1)), torch.nn.Conv2d(3, 8, 3, stride=2, bias=False),
                                        torch.nn.BatchNorm2d(8), torch.nn.SiLU())
        self.blocks = torch.nn.Sequential(MBConv(8, 8, 1, 1, 3), MBConv(8, 16, 2, 4, 5), MBConv(16, 16, 1, 4, 3))
        self.head = torch.nn.Sequential(torch.nn.Conv2d(16, 32, 1, bias=False), torch.nn.BatchNorm2d(32), torch.nn.SiLU(),
                                        torch.nn.AdaptiveAvgPool2d(1))
        self.classifier = torch.nn.Linear(32, classes)

    def forward(self, x):
        # A reshape written with the batch taken from the input: exports as Shape/Gather/Unsqueeze/Concat/Reshape.
        features = self.head(self.blocks(self.stem(x)))
        return self.classifier(features.view(features.size(0), -1))


def randomize(model, seed):
    """Random weights and batch-norm statistics far from identity, so that a wrong merge or a wrong attribute shows."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                c = module.num_features
                module.weight.copy_(0.5 + torch.rand(c, generator=generator))
                module.bias.copy_(0.2 * torch.randn(c, generator=generator))
                module.running_mean.copy_(0.2 * torch.randn(c, generator=generator))
                module.running_var.copy_(0.5 + torch.rand(c, generator=generator))
    return model.eval()


def small_models():
    torch.manual_seed(20260)
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    mobilenet = randomize(MobileNetStyle(), 2)
    efficientnet = randomize(EfficientNetStyle(), 3)
    for opset in (9, 11, 13, 17):
        export(mobilenet, x, f"mobilenet_style_opset{opset}", opset, fused=opset != 13, dynamic_batch=opset >= 13)
        export(efficientnet, x, f"efficientnet_style_opset{opset}", opset, fused=opset != 11, dynamic_batch=opset in (11, 17))


def conformance_models(root):
    for name in ("densenet_tiny", "resnet_basic_tiny", "sequential_bn"):
        folder = os.path.join(root, name)
        model, dtype = conformance_model(folder)
        x = read_safetensors(os.path.join(folder, "expected.safetensors"))["input"].to(dtype)
        # resnet_basic_tiny has 20 MB of weights: its files keep the graph only and read the weights, as ONNX external
        # data, from the conformance folder's weights.safetensors (which the tests put beside them). Its fused export,
        # whose weights are not in that file, is left out.
        external = name == "resnet_basic_tiny"
        for opset in (9, 13, 17):
            export(model, x, f"{name}_opset{opset}", opset, fused=False, dynamic_batch=opset != 9)
            if external:
                moved = externalize(os.path.join(HERE, f"{name}_opset{opset}.onnx"), os.path.join(folder, "weights.safetensors"))
                print(f"  {moved} initializers read from weights.safetensors")
        if not external:
            export(model, x, f"{name}_fused", 13, fused=True, dynamic_batch=True)
        if dtype != torch.float32:
            export(model.float(), x.float(), f"{name}_float32", 13, fused=False, dynamic_batch=True)


def fullsize(out):
    """
    Full-size torchvision exports for the manual check of the README: each NAME.onnx with NAME.safetensors (a random
    normalized batch and PyTorch's logits for it), and for all of them two 224x224 PNG images, image-0.png and
    image-1.png, with each model's logits for them in NAME.images.json. At 224x224, `relevance predict --size 224
    --crop 224` resizes and crops nothing, so its input is exactly (pixel / 255 - mean) / std, as computed here.
    """
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    x = torch.rand(2, 3, 224, 224, generator=torch.Generator().manual_seed(4))
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    pixels = (torch.rand(2, 3, 224, 224, generator=torch.Generator().manual_seed(6)) * 255).round().to(torch.uint8)
    for i in range(2):
        torchvision.io.write_png(pixels[i], os.path.join(out, f"image-{i}.png"))
    images = (pixels.float() / 255 - mean) / std
    x = (x - mean) / std
    for name in ("mobilenet_v2", "efficientnet_b0", "squeezenet1_1", "convnext_tiny"):
        model = randomize(getattr(torchvision.models, name)(weights=None), 5)
        path = os.path.join(out, name + ".onnx")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(model, x, path, opset_version=17, input_names=["input"], output_names=["logits"],
                              dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
        with torch.no_grad():
            logits = model(x)
            image_logits = model(images)
        write_safetensors(os.path.join(out, name + ".safetensors"), {"input": x, "logits": logits})
        with open(os.path.join(out, name + ".images.json"), "w") as f:
            json.dump({f"image-{i}.png": image_logits[i].tolist() for i in range(2)}, f)
        print(f"{path}: {os.path.getsize(path)} bytes")


def fuzz_seeds(out):
    from onnx import TensorProto, helper

    os.makedirs(out, exist_ok=True)

    def weights(name, *shape):
        count = 1
        for d in shape:
            count *= d
        return helper.make_tensor(name, TensorProto.FLOAT, shape, [((i * 37) % 11 - 5) / 7.0 for i in range(count)])

    def ints(name, *values):
        return helper.make_tensor(name, TensorProto.INT64, [len(values)], list(values))

    def save(name, nodes, initializers, shape, opset, batch="N"):
        graph = helper.make_graph(nodes, name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch] + shape)],
                                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], initializers)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="seed")
        onnx.save(model, os.path.join(out, name + ".onnx"))

    n = helper.make_node
    save("conv_bn_relu_pool_gemm", [
        n("Conv", ["x", "w", "b"], ["c"], pads=[1, 0, 1, 1], strides=[2, 1]),
        n("BatchNormalization", ["c", "s", "t", "m", "v"], ["bn"], epsilon=1e-3),
        n("Relu", ["bn"], ["r"]),
        n("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], ceil_mode=1),
        n("GlobalAveragePool", ["p"], ["g"]),
        n("Flatten", ["g"], ["f"]),
        n("Gemm", ["f", "fc", "fb"], ["y"], transB=1, alpha=0.5)],
        [weights("w", 3, 2, 3, 2), weights("b", 3), weights("s", 3), weights("t", 3), weights("m", 3),
         helper.make_tensor("v", TensorProto.FLOAT, [3], [1.0, 2.0, 0.5]), weights("fc", 4, 3), weights("fb", 4)], [2, 6, 5], 11)
    save("shape_chain_reshape", [
        n("Shape", ["x"], ["sh"]),
        n("Gather", ["sh", "zero"], ["n"], axis=0),
        n("Unsqueeze", ["n", "axes"], ["n1"]),
        n("Concat", ["n1", "minus"], ["target"], axis=0),
        n("Reshape", ["x", "target"], ["flat"]),
        n("Softmax", ["flat"], ["y"], axis=1)],
        [helper.make_tensor("zero", TensorProto.INT64, [], [0]), ints("axes", 0), ints("minus", -1)], [2, 3, 3], 13)
    save("arithmetic_gates", [
        n("Sigmoid", ["x"], ["s"]),
        n("Mul", ["x", "s"], ["silu"]),
        n("Sub", ["silu", "mean"], ["centered"]),
        n("Div", ["centered", "std"], ["scaled"]),
        n("Add", ["scaled", "x"], ["sum"]),
        n("Clip", ["sum", "lo", "hi"], ["y"])],
        [weights("mean", 1, 2, 1, 1), helper.make_tensor("std", TensorProto.FLOAT, [1], [0.5]),
         helper.make_tensor("lo", TensorProto.FLOAT, [], [0.0]), helper.make_tensor("hi", TensorProto.FLOAT, [], [6.0])], [2, 3, 3], 13)
    save("split_slice_pad_concat", [
        n("Split", ["x"], ["a", "b"], axis=1, split=[1, 1]),
        n("Slice", ["a", "st", "en", "ax", "sp"], ["sl"]),
        n("Pad", ["b", "pads"], ["pd"], mode="reflect"),
        n("Transpose", ["pd"], ["tr"], perm=[0, 1, 3, 2]),
        n("Concat", ["sl", "tr"], ["cat"], axis=3),
        n("ReduceMean", ["cat"], ["y"], axes=[2, 3], keepdims=0)],
        [ints("st", 0), ints("en", 3), ints("ax", 3), ints("sp", 2), ints("pads", 0, 0, 1, 0, 0, 0, 0, 0)], [2, 4, 4], 11)
    save("matmul_layernorm_gelu", [
        n("MatMul", ["x", "w"], ["mm"]),
        n("Add", ["mm", "bias"], ["lin"]),
        n("LayerNormalization", ["lin", "g", "be"], ["ln"], axis=-1),
        n("Erf", ["ln"], ["e"]),
        n("Transpose", ["ln"], ["et"], perm=[0, 2, 1]),
        n("MatMul", ["e", "et"], ["y"])],
        [weights("w", 4, 4), weights("bias", 4), weights("g", 4), weights("be", 4)], [3, 4], 17)
    save("convtranspose_avgpool_old_opset", [
        n("ConvTranspose", ["x", "w"], ["ct"], strides=[2, 2], output_padding=[1, 0], pads=[0, 1, 1, 0]),
        n("AveragePool", ["ct"], ["ap"], kernel_shape=[3, 3], pads=[1, 1, 0, 0], count_include_pad=1),
        n("PRelu", ["ap", "slope"], ["pr"]),
        n("Dropout", ["pr"], ["y"], ratio=0.1)],
        [weights("w", 2, 3, 3, 3), weights("slope", 3, 1, 1)], [2, 4, 3], 9, batch=1)
    for name in sorted(os.listdir(out)):
        print(f"{name}: {os.path.getsize(os.path.join(out, name))} bytes")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--fullsize":
        fullsize(sys.argv[2])
    elif len(sys.argv) == 3 and sys.argv[1] == "--fuzz-seeds":
        fuzz_seeds(sys.argv[2])
    else:
        conformance_models(sys.argv[1] if len(sys.argv) > 1 else DEFAULT_CONFORMANCE)
        small_models()
