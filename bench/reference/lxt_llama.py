"""LXT's AttnLRP and CP-LRP on a plain-PyTorch decoder of LLaMA 3.2 1B's shape, for `bench --llm` (issue 28, target 7).

Times, on a model with random weights and a prompt of random tokens, what `bench --llm` times: the forward pass (all
logits), the gradient of the predicted next token's logit at the last position with respect to the token embeddings,
and AttnLRP and CP-LRP of the same logit with LXT's rules (efficient mode: input x modified gradient at the
embeddings). The decoder is written here in plain PyTorch with Hugging Face's module layout (RMSNorm with `weight` and
`variance_epsilon`, an MLP with `gate_proj`, `up_proj`, `down_proj`, `act_fn`, an attention that calls
`eager_attention_forward` through its modeling module), so that LXT's own patch functions apply to it unchanged:
`rms_norm_forward`, `gated_mlp_forward` / `cp_gated_mlp_forward`, `patch_attention` / `patch_cp_attention`. LXT's
package imports Hugging Face transformers (not installable here), so only its `lxt/efficient/rules.py` and
`lxt/efficient/patches.py` are loaded, with the two package modules above them stubbed.

LXT is not part of this repository: give the folder of a checkout (github.com/rachtibat/LRP-eXplains-Transformers) with
--lxt or LXT_PATH. Debian 12's PyTorch 1.13 (python3-torch) runs it:

    /usr/bin/python3 bench/reference/lxt_llama.py --lxt /path/to/LRP-eXplains-Transformers [--layers 16] [--tokens 128]
        [--rounds 3] [--threads 2]
    /usr/bin/python3 bench/reference/lxt_llama.py --lxt ... --check ../shared/conformance/llama_tiny

--check runs the same code on the llama_tiny reference model (float64) instead and prints how far its gradient, AttnLRP
and CP-LRP are from the reference results: about 2e-7 of the largest value, the float32 softmax of Hugging Face's
attention (a wrong rule is off by far more): the timed code computes what the cases fix.
"""
import argparse
import importlib.util
import json
import math
import os
import resource
import struct
import sys
import time
import types

import torch
from torch import nn


def load_lxt_modules(path, names):
    """The named modules of LXT's lxt/efficient folder, in order, without its package __init__ files (which import
    transformers)."""
    for name in ("lxt", "lxt.efficient"):
        package = types.ModuleType(name)
        package.__path__ = []
        sys.modules[name] = package
    for name in names:
        file = os.path.join(path, "lxt", "efficient", name + ".py")
        spec = importlib.util.spec_from_file_location("lxt.efficient." + name, file)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
    return tuple(sys.modules["lxt.efficient." + name] for name in names)


def load_lxt(path):
    """LXT's patches module (with the rules module it imports)."""
    return load_lxt_modules(path, ("rules", "patches"))[1]


class RMSNorm(nn.Module):
    def __init__(self, size, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(size))
        self.variance_epsilon = eps

    def forward(self, hidden_states):
        variance = hidden_states.pow(2).mean(-1, keepdim=True)
        return self.weight * (hidden_states * torch.rsqrt(variance + self.variance_epsilon))


class MLP(nn.Module):
    def __init__(self, hidden, intermediate):
        super().__init__()
        self.gate_proj = nn.Linear(hidden, intermediate, bias=False)
        self.up_proj = nn.Linear(hidden, intermediate, bias=False)
        self.down_proj = nn.Linear(intermediate, hidden, bias=False)
        self.act_fn = nn.SiLU()

    def forward(self, x):
        return self.down_proj(self.act_fn(self.gate_proj(x)) * self.up_proj(x))


def eager_attention_forward(module, query, key, value, attention_mask, scaling, dropout=0.0, **kwargs):
    """Hugging Face's eager attention: repeat the key/value heads, scaled scores, additive mask, softmax, mix."""
    groups = module.num_key_value_groups
    key = key.repeat_interleave(groups, 1)
    value = value.repeat_interleave(groups, 1)
    weights = torch.matmul(query, key.transpose(2, 3)) * scaling
    weights = weights + attention_mask
    weights = nn.functional.softmax(weights, dim=-1, dtype=torch.float32).to(query.dtype)
    output = torch.matmul(weights, value).transpose(1, 2).contiguous()
    return output, weights


def modeling_module():
    """A stand-in for transformers.models.llama.modeling_llama: what LXT's attention patches replace."""
    module = types.ModuleType("modeling_llama_standin")
    module.eager_attention_forward = eager_attention_forward
    module.ALL_ATTENTION_FUNCTIONS = {}
    return module


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class Attention(nn.Module):
    def __init__(self, config, modeling):
        super().__init__()
        hidden, heads, kv, d = config["hidden_size"], config["num_attention_heads"], config["num_key_value_heads"], config["head_dim"]
        bias = config.get("qkv_bias", False)
        self.q_proj = nn.Linear(hidden, heads * d, bias=bias)
        self.k_proj = nn.Linear(hidden, kv * d, bias=bias)
        self.v_proj = nn.Linear(hidden, kv * d, bias=bias)
        self.o_proj = nn.Linear(heads * d, hidden, bias=False)
        self.heads, self.kv, self.d = heads, kv, d
        self.num_key_value_groups = heads // kv
        self.scaling = d ** -0.5
        self.modeling = modeling

    def forward(self, x, cos, sin, mask):
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, self.heads, self.d).transpose(1, 2)
        k = self.k_proj(x).view(b, t, self.kv, self.d).transpose(1, 2)
        v = self.v_proj(x).view(b, t, self.kv, self.d).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        # Looked up at call time, as Hugging Face does: LXT's patches replace it in the modeling module.
        output, _ = self.modeling.eager_attention_forward(self, q, k, v, mask, scaling=self.scaling, dropout=0.0)
        return self.o_proj(output.reshape(b, t, self.heads * self.d))


class Layer(nn.Module):
    def __init__(self, config, modeling):
        super().__init__()
        self.input_layernorm = RMSNorm(config["hidden_size"], config["rms_norm_eps"])
        self.self_attn = Attention(config, modeling)
        self.post_attention_layernorm = RMSNorm(config["hidden_size"], config["rms_norm_eps"])
        self.mlp = MLP(config["hidden_size"], config["intermediate_size"])

    def forward(self, x, cos, sin, mask):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, mask)
        return x + self.mlp(self.post_attention_layernorm(x))


def inverse_frequencies(config):
    d, theta = config["head_dim"], config["rope_theta"]
    inv = theta ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
    scaling = config.get("rope_scaling")
    if scaling and scaling.get("rope_type") == "llama3":
        factor, low, high = scaling["factor"], scaling["low_freq_factor"], scaling["high_freq_factor"]
        old = scaling["original_max_position_embeddings"]
        wavelength = 2 * math.pi / inv
        scaled = torch.where(wavelength > old / low, inv / factor, inv)
        smooth = (old / wavelength - low) / (high - low)
        blended = (1 - smooth) * scaled / factor + smooth * scaled
        medium = (wavelength >= old / high) & (wavelength <= old / low)
        inv = torch.where(medium, blended, scaled)
    return inv


class Decoder(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.modeling = modeling_module()
        self.embed_tokens = nn.Embedding(config["vocab_size"], config["hidden_size"])
        self.layers = nn.ModuleList(Layer(config, self.modeling) for _ in range(config["num_hidden_layers"]))
        self.norm = RMSNorm(config["hidden_size"], config["rms_norm_eps"])
        self.lm_head = nn.Linear(config["hidden_size"], config["vocab_size"], bias=False)
        if config.get("tie_word_embeddings"):
            self.lm_head.weight = self.embed_tokens.weight

    def forward(self, embeddings):
        t = embeddings.shape[1]
        angles = torch.arange(t, dtype=torch.float64)[:, None] * inverse_frequencies(self.config)[None]
        angles = torch.cat((angles, angles), dim=-1)
        cos, sin = angles.cos().to(embeddings.dtype), angles.sin().to(embeddings.dtype)
        mask = torch.full((t, t), torch.finfo(embeddings.dtype).min, dtype=embeddings.dtype).triu(1)
        x = embeddings
        for layer in self.layers:
            x = layer(x, cos, sin, mask)
        return self.lm_head(self.norm(x))


def variant_classes(patches, mode):
    """RMSNorm and MLP subclasses and a modeling module patched by LXT for one mode (None: plain gradient)."""
    norm = type("RMSNorm_" + str(mode), (RMSNorm,), {})
    mlp = type("MLP_" + str(mode), (MLP,), {})
    modeling = modeling_module()
    if mode == "attnlrp":
        patches.patch_method(patches.rms_norm_forward, norm)
        patches.patch_method(patches.gated_mlp_forward, mlp)
        patches.patch_attention(modeling)
    elif mode == "cp_lrp":
        patches.patch_method(patches.rms_norm_forward, norm)
        patches.patch_method(patches.cp_gated_mlp_forward, mlp)
        patches.patch_cp_attention(modeling)
    return norm, mlp, modeling


def use_variant(model, variant):
    """Points the model's norms, MLPs and attentions at one variant's classes and modeling module (weights shared)."""
    norm, mlp, modeling = variant
    for module in model.modules():
        if isinstance(module, RMSNorm):
            module.__class__ = norm
        elif isinstance(module, MLP):
            module.__class__ = mlp
        elif isinstance(module, Attention):
            module.modeling = modeling


def explain(model, ids, target, mode):
    """Gradient (mode None) or LXT's relevance (input x modified gradient) at the embeddings, and the output."""
    embeddings = model.embed_tokens(ids).detach().requires_grad_(True)
    logits = model(embeddings)
    logits[:, -1, target].sum().backward()
    return (embeddings.grad if mode is None else embeddings * embeddings.grad), logits


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    length = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + length])
    kinds = {"F64": torch.float64, "F32": torch.float32, "I64": torch.int64}
    result = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        raw = bytearray(data[8 + length + begin:8 + length + end])
        result[name] = torch.frombuffer(raw, dtype=kinds[entry["dtype"]]).reshape(entry["shape"]).clone()
    return result


def check(patches, folder):
    config = json.load(open(os.path.join(folder, "model.json")))
    config["head_dim"] = config["hidden_size"] // config["num_attention_heads"]
    torch.set_default_dtype(torch.float64)
    model = Decoder(config).eval()
    weights = read_safetensors(os.path.join(folder, "weights.safetensors"))
    state = {k.replace("model.", "", 1): v for k, v in weights.items()}
    model.load_state_dict(state, strict=True)
    expected = read_safetensors(os.path.join(folder, "expected.safetensors"))
    cases = json.load(open(os.path.join(folder, "cases.json")))["cases"]
    for case in cases:
        mode = None if case["composite"] is None else case["composite"]["name"]
        use_variant(model, variant_classes(patches, mode))
        relevance, logits = explain(model, expected["input_ids"], case["target_token"], mode)
        reference = expected[case["expected"]]
        error = (relevance - reference).abs().max().item() / reference.abs().max().item()
        output = (logits - expected["output"]).abs().max().item()
        print(f"check {case['name']}: max error {error:.2e} of the largest value; logits {output:.2e}")


def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--lxt", default=os.environ.get("LXT_PATH"), help="folder of an LXT checkout")
    parser.add_argument("--layers", type=int, default=16)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--check", help="a llama_tiny conformance folder: compare with its reference results instead")
    args = parser.parse_args()
    if not args.lxt:
        sys.exit("error: give the folder of an LXT checkout with --lxt or LXT_PATH")
    patches = load_lxt(args.lxt)
    torch.set_num_threads(args.threads)
    if args.check:
        check(patches, args.check)
        return
    config = {
        "vocab_size": 128256, "hidden_size": 2048, "intermediate_size": 8192, "num_hidden_layers": args.layers,
        "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": 64, "rms_norm_eps": 1e-5,
        "rope_theta": 500000.0, "tie_word_embeddings": True,
        "rope_scaling": {"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                         "original_max_position_embeddings": 8192},
    }
    torch.manual_seed(0)
    model = Decoder(config).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    loaded = peak_mb()
    ids = torch.randint(config["vocab_size"], (1, args.tokens), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        target = model(model.embed_tokens(ids))[0, -1].argmax().item()
    variants = {mode: variant_classes(patches, mode) for mode in (None, "attnlrp", "cp_lrp")}
    print(f"LXT rules on a plain-PyTorch LLaMA 3.2 1B shape: {args.layers} layers, {args.tokens} tokens, PyTorch "
          f"{torch.__version__}, {torch.get_num_threads()} threads, float32; peak RSS after building {loaded:.0f} MB", flush=True)

    def forward():
        with torch.no_grad():
            model(model.embed_tokens(ids))

    def run(mode):
        def go():
            use_variant(model, variants[mode])
            explain(model, ids, target, mode)
        return go

    measurements = [("forward", forward), ("gradient", run(None)), ("attnlrp", run("attnlrp")), ("cp_lrp", run("cp_lrp"))]
    times = {name: [] for name, _ in measurements}
    for round_ in range(args.rounds + 1):
        for name, function in measurements:
            start = time.perf_counter()
            function()
            elapsed = (time.perf_counter() - start) * 1000
            if round_ > 0:  # the first round warms up
                times[name].append(elapsed)
    best = {name: min(values) for name, values in times.items()}
    for name, _ in measurements:
        print(f"lxt {name:<9} min {best[name]:.0f} ms / median {sorted(times[name])[len(times[name]) // 2]:.0f} ms", flush=True)
    print(f"lxt summary layers={args.layers} tokens={args.tokens} " + " ".join(f"{n}_ms={best[n]:.0f}" for n in best)
          + f" attnlrp_ratio={best['attnlrp'] / best['gradient']:.2f} cp_lrp_ratio={best['cp_lrp'] / best['gradient']:.2f}"
          + f" peak_mb={peak_mb():.0f}")


if __name__ == "__main__":
    main()
