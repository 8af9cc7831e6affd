"""Writes the torchvision ViT checkpoints of this folder (run with Debian's python3-torch and python3-torchvision).

vit_torchvision.pth is torch.save(model.state_dict()) of a small torchvision VisionTransformer with a pre-logits head;
vit_torchvision_legacy_keys.pth holds the same weights under torchvision's older MLP names (mlp.linear_1, mlp.linear_2).
expected.json holds an input (flattened, with its shape) and the logits both files must give (float32, eval mode).
"""
import json
from collections import OrderedDict

import torch
from torchvision.models.vision_transformer import VisionTransformer

spec = {"arch": "vit", "image_size": 32, "patch_size": 8, "num_layers": 2, "num_heads": 4, "hidden_dim": 32,
        "mlp_dim": 64, "num_classes": 5, "representation_size": 16}
torch.manual_seed(25)
model = VisionTransformer(**{k: v for k, v in spec.items() if k != "arch"}).eval()
with torch.no_grad():
    # torchvision zeroes the class token and the head: give every parameter values that show a wrong load.
    for name, p in model.named_parameters():
        p.copy_(torch.randn_like(p) * (0.3 if p.dim() > 1 else 0.1) + (1.0 if name.endswith("ln_1.weight") else 0.0))
state = model.state_dict()
torch.save(state, "vit_torchvision.pth")
legacy = OrderedDict((k.replace(".mlp.0.", ".mlp.linear_1.").replace(".mlp.3.", ".mlp.linear_2."), v) for k, v in state.items())
torch.save(legacy, "vit_torchvision_legacy_keys.pth")
x = torch.randn(1, 3, 32, 32)
with torch.no_grad():
    y = model(x)
with open("model.json", "w") as f:
    json.dump(spec, f, indent=1)
with open("expected.json", "w") as f:
    json.dump({"input": x.flatten().tolist(), "input_shape": list(x.shape), "output": y.flatten().tolist()}, f)
