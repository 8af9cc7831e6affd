"""LXT's AttnLRP and CP-LRP on torchvision's vit_b_16, the anchor for `bench --vit` (issue 25, item 9).

Times what `bench --vit` times, on the same architecture with random weights and random 224x224 images: the gradient
of one class score with respect to the input, and input x modified gradient with LXT's rules (efficient mode) for
AttnLRP and CP-LRP, each with zennit's Epsilon (1e-6) on dense layers and the patch embedding, or with Gamma
(linear_gamma 0.05 on dense layers, conv_gamma 0.25 on the patch embedding, LXT's example values), through LXT's patch
that makes zennit's rules fit its gradient x input framework.

torchvision's fused attention never calls its q, k and v projections as modules, so neither a zennit rule nor LXT's
uniform rule could reach them: as in the vit_tiny reference cases, each block's attention is rewritten here with q, k,
v and out projections as Linear layers (the same weights), then LXT's functions on the explicit attention: its
`divide_gradient` (q and k a quarter, v half: the uniform rule on the two products) for AttnLRP, `stop_gradient` on q and
k for CP-LRP, `layer_norm_forward` on the layer norms and `non_linear_forward` (the identity rule) on the GELUs.

LXT's package imports Hugging Face transformers (not installable here), so only its `lxt/efficient/rules.py`,
`patches.py` and `zennit_patches.py` are loaded, the package modules above them stubbed. Give the folders of an LXT
checkout (github.com/rachtibat/LRP-eXplains-Transformers) and of zennit's sources (github.com/chr5tphr/zennit, its
`src` folder, at revision 6b0bbdf or older: later ones need PyTorch 2.1) with --lxt / --zennit or LXT_PATH /
ZENNIT_PATH. Debian 12's PyTorch 1.13 and torchvision 0.14 run it;
install libopenblas0-pthread first (without it PyTorch's dense layers take the reference BLAS, about 10x slower):

    /usr/bin/python3 bench/reference/lxt_vit.py --lxt LXT --zennit ZENNIT/src [--batches 1,8] [--rounds 3] [--threads 2]
    /usr/bin/python3 bench/reference/lxt_vit.py --lxt LXT --zennit ZENNIT/src --check tests/conformance/vit_tiny

--check runs the same code on the vit_tiny reference model (float64) instead and prints how far each case is from the
reference results, so that the timed code is known to compute what the cases fix (measured: every case within 3e-15
of its largest value, with LXT f043441 and zennit 6b0bbdf).
"""
import argparse
import json
import math
import os
import sys
import time

import torch
from torch import nn
from torchvision.models.vision_transformer import VisionTransformer

# The loader of LXT's modules and the file helpers of the LLaMA anchor beside this file.
from lxt_llama import load_lxt_modules, peak_mb, read_safetensors

METHODS = (
    ("gradient", None, None),
    ("attnlrp", "attnlrp", None),
    ("attnlrp_gamma", "attnlrp", (0.25, 0.05)),
    ("cp_lrp", "cp_lrp", None),
    ("cp_lrp_gamma", "cp_lrp", (0.25, 0.05)),
)


class ExplicitAttention(nn.Module):
    """torchvision's self-attention with its projections as Linear layers; `mode` picks LXT's treatment of q, k, v."""

    def __init__(self, fused, rules):
        super().__init__()
        d = fused.embed_dim
        self.heads = fused.num_heads
        self.rules = rules
        self.mode = None
        self.q, self.k, self.v = (nn.Linear(d, d) for _ in range(3))
        self.out_proj = nn.Linear(d, d)
        with torch.no_grad():
            for i, layer in enumerate((self.q, self.k, self.v)):
                layer.weight.copy_(fused.in_proj_weight[i * d:(i + 1) * d])
                layer.bias.copy_(fused.in_proj_bias[i * d:(i + 1) * d])
            self.out_proj.weight.copy_(fused.out_proj.weight)
            self.out_proj.bias.copy_(fused.out_proj.bias)

    def forward(self, query, key, value, need_weights=False):
        b, t, d = query.shape
        h = self.heads

        def split(x):
            return x.view(b, t, h, d // h).transpose(1, 2)

        q, k, v = split(self.q(query)), split(self.k(query)), split(self.v(query))
        if self.mode == "attnlrp":
            q = self.rules.divide_gradient(q, 4)
            k = self.rules.divide_gradient(k, 4)
            v = self.rules.divide_gradient(v, 2)
        elif self.mode == "cp_lrp":
            q = self.rules.stop_gradient(q)
            k = self.rules.stop_gradient(k)
        weights = torch.softmax(torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(d // h), dim=-1)
        mixed = torch.matmul(weights, v).transpose(1, 2).reshape(b, t, d)
        return self.out_proj(mixed), None


def build(config):
    model = VisionTransformer(image_size=config["image_size"], patch_size=config["patch_size"], num_layers=config["num_layers"],
                              num_heads=config["num_heads"], hidden_dim=config["hidden_dim"], mlp_dim=config["mlp_dim"],
                              num_classes=config["num_classes"])
    return model.eval()


def make_explicit(model, rules):
    for block in model.encoder.layers:
        block.self_attention = ExplicitAttention(block.self_attention, rules)
    return model


def variant_classes(patches):
    """LayerNorm and GELU subclasses with LXT's forwards (its layer-norm rule, the identity rule)."""
    norm = type("LayerNormLxt", (nn.LayerNorm,), {})
    gelu = type("GELULxt", (nn.GELU,), {})
    patches.patch_method(patches.layer_norm_forward, norm)
    patches.patch_method(patches.non_linear_forward, gelu, keep_original=True)
    return norm, gelu


def use_mode(model, mode, patched):
    """Points the norms, activations and attentions at one mode's classes (weights shared)."""
    norm, gelu = patched if mode else (nn.LayerNorm, nn.GELU)
    for module in model.modules():
        if isinstance(module, nn.LayerNorm):
            module.__class__ = norm
        elif isinstance(module, nn.GELU):
            module.__class__ = gelu
        elif isinstance(module, ExplicitAttention):
            module.mode = mode


def composite(gammas):
    """zennit's Epsilon on dense layers and convolutions, or Gamma with (conv_gamma, linear_gamma)."""
    from zennit.composites import LayerMapComposite
    from zennit.rules import Epsilon, Gamma
    if gammas is None:
        return LayerMapComposite([(nn.Linear, Epsilon(1e-6)), (nn.Conv2d, Epsilon(1e-6))])
    conv_gamma, linear_gamma = gammas
    return LayerMapComposite([(nn.Linear, Gamma(linear_gamma, stabilizer=1e-6)), (nn.Conv2d, Gamma(conv_gamma, stabilizer=1e-6))])


def explain(model, x, target, mode):
    """The gradient (mode None) or LXT's relevance (input x modified gradient) of one class score, and the output."""
    x = x.detach().requires_grad_(True)
    output = model(x)
    seed = torch.zeros_like(output)
    seed[:, target] = 1
    output.backward(seed)
    return (x.grad if mode is None else x * x.grad), output


def check(rules, patches, folder):
    torch.set_default_dtype(torch.float64)
    config = json.load(open(os.path.join(folder, "model.json")))
    model = build(config)
    model.load_state_dict(read_safetensors(os.path.join(folder, "weights.safetensors")), strict=True)
    make_explicit(model, rules)
    patched = variant_classes(patches)
    expected = read_safetensors(os.path.join(folder, "expected.safetensors"))
    for case in json.load(open(os.path.join(folder, "cases.json")))["cases"]:
        mode = None if case["composite"] is None else case["composite"]["name"]
        args = {} if case["composite"] is None else case["composite"]["args"]
        gammas = (args["conv_gamma"], args["linear_gamma"]) if "linear_gamma" in args else None
        use_mode(model, mode, patched)
        if mode is None:
            relevance, output = explain(model, expected["input"], case["target"], mode)
        else:
            with composite(gammas).context(model):
                relevance, output = explain(model, expected["input"], case["target"], mode)
        reference = expected[case["expected"]]
        error = (relevance - reference).abs().max().item() / reference.abs().max().item()
        print(f"check {case['name']}: max error {error:.2e} of the largest value; output "
              f"{(output - expected['output']).abs().max().item():.2e}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--lxt", default=os.environ.get("LXT_PATH"), help="folder of an LXT checkout")
    parser.add_argument("--zennit", default=os.environ.get("ZENNIT_PATH"), help="zennit's source folder (with zennit/ in it)")
    parser.add_argument("--batches", default="1,8")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--check", help="the vit_tiny conformance folder: compare with its reference results instead")
    args = parser.parse_args()
    if not args.lxt or not args.zennit:
        sys.exit("error: give the folders of an LXT checkout (--lxt or LXT_PATH) and of zennit's sources (--zennit or ZENNIT_PATH)")
    sys.path.insert(0, args.zennit)
    rules, patches, zennit_patches = load_lxt_modules(args.lxt, ("rules", "patches", "zennit_patches"))
    zennit_patches.monkey_patch_zennit()
    torch.set_num_threads(args.threads)
    if args.check:
        check(rules, patches, args.check)
        return
    torch.manual_seed(0)
    config = {"image_size": 224, "patch_size": 16, "num_layers": 12, "num_heads": 12, "hidden_dim": 768, "mlp_dim": 3072,
              "num_classes": 1000}
    model = make_explicit(build(config), rules)
    # torchvision starts the head at zero, which would make every gradient zero: random values, as in bench --vit.
    with torch.no_grad():
        model.heads.head.weight.normal_(0, 0.02)
    for p in model.parameters():
        p.requires_grad_(False)
    patched = variant_classes(patches)
    print(f"LXT rules on torchvision's vit_b_16 (explicit attention): PyTorch {torch.__version__}, {torch.get_num_threads()} "
          f"threads, float32, 224x224, 1 warm-up + {args.rounds} timed rounds", flush=True)
    for batch in (int(b) for b in args.batches.split(",")):
        x = torch.randn(batch, 3, 224, 224, generator=torch.Generator().manual_seed(batch))
        times = {name: [] for name, _, _ in METHODS}
        for round_ in range(args.rounds + 1):
            for name, mode, gammas in METHODS:
                use_mode(model, mode, patched)
                if mode is None:
                    start = time.perf_counter()
                    explain(model, x, 1, mode)
                    elapsed = time.perf_counter() - start
                else:
                    # The composite's hooks are registered outside the timed call, as bench --vit does.
                    with composite(gammas).context(model):
                        start = time.perf_counter()
                        explain(model, x, 1, mode)
                        elapsed = time.perf_counter() - start
                if round_ > 0:
                    times[name].append(elapsed * 1000)
        best = {name: min(values) for name, values in times.items()}
        for name, _, _ in METHODS:
            print(f"lxt vit_b_16 b{batch} {name:<13} min {best[name]:.0f} ms / median {sorted(times[name])[len(times[name]) // 2]:.0f} ms", flush=True)
        print(f"lxt vit_b_16 b{batch} " + " ".join(f"{n}_ms={best[n]:.0f}" for n in best) + " "
              + " ".join(f"{n}_ratio={best[n] / best['gradient']:.2f}" for n in best if n != "gradient") + f" peak_mb={peak_mb():.0f}", flush=True)


if __name__ == "__main__":
    main()
