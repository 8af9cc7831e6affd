"""The plain gradient in PyTorch itself, for the benchmark's comparison (issue 19, target 2).

Times what `bench --quick --default-statistics` times as "gradient": torchvision's model in eval mode with its
batch norms at their initial statistics, float32, 224x224, the gradient of class 1's score with respect to a random
input. Debian 12 ships PyTorch 1.13 as `python3-torch` and `python3-torchvision`:

    /usr/bin/python3 bench/reference/pytorch_gradient.py [--threads 2] [--batches 1,8] [--rounds 5]
"""
import argparse
import time

import torch
import torchvision


def gradient_ms(model, batch, rounds):
    x = torch.randn(batch, 3, 224, 224)
    times = []
    for i in range(rounds + 1):
        start = time.perf_counter()
        leaf = x.detach().requires_grad_(True)
        out = model(leaf)
        (grad,) = torch.autograd.grad(out[:, 1].sum(), leaf)
        elapsed = (time.perf_counter() - start) * 1000
        if i > 0:  # the first round warms up
            times.append(elapsed)
    return min(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batches", default="1,8")
    parser.add_argument("--models", default="densenet121,resnet50,vgg16_bn")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads, oneDNN {torch.backends.mkldnn.is_available()}")
    for name in args.models.split(","):
        model = getattr(torchvision.models, name)().eval()
        for batch in (int(b) for b in args.batches.split(",")):
            print(f"{name} b{batch} pytorch_gradient_ms={gradient_ms(model, batch, args.rounds):.0f}", flush=True)


if __name__ == "__main__":
    main()
