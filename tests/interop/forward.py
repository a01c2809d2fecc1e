"""Reads a network saved by backprop with only `safetensors` and NumPy, recomputes its forward
pass, and compares it with the crate's own predictions.

Usage: python3 tests/interop/forward.py MODEL.safetensors IO.safetensors
IO holds two tensors written by the crate: "x" (inputs) and "y" (its predictions for x).
Passes when |numpy - crate| <= 1e-5 (F32 files) or 1e-10 (F64 files); exits 1 otherwise.
"""
import json
import sys

import numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file


def metadata(path):
    with safe_open(path, framework="numpy") as f:
        return f.metadata()


def layer_configs(meta):
    """[(kind, {setting: value})] from the entries layer.0, layer.1, ..."""
    layers = []
    for i in range(int(meta["layers"])):
        kind, *settings = meta[f"layer.{i}"].split()
        layers.append((kind, dict(s.split("=", 1) for s in settings)))
    return layers


def forward(x, layers, tensors):
    """Inference, rows are samples; dense weights are stored [in, out] so y = x @ W + b."""
    for i, (kind, cfg) in enumerate(layers):
        if kind == "dense":
            x = x @ tensors[f"{i}.weight"]
            if cfg["bias"] == "true":
                x = x + tensors[f"{i}.bias"]
        elif kind == "sigmoid":
            x = 1.0 / (1.0 + np.exp(-x))
        elif kind == "tanh":
            x = np.tanh(x)
        elif kind == "relu":
            x = np.where(x > 0, x, 0)
        elif kind == "leaky_relu":
            x = np.where(x > 0, x, float(cfg["alpha"]) * x)
        elif kind == "identity":
            pass
        elif kind == "step":
            x = (x > 0).astype(x.dtype)
        elif kind == "softmax":
            e = np.exp(x - x.max(axis=1, keepdims=True))
            x = e / e.sum(axis=1, keepdims=True)
        elif kind == "dropout":
            if cfg["scaling"] == "at_inference":
                x = x * (1.0 - float(cfg["p"]))
        else:
            raise SystemExit(f"layer {i}: kind {kind!r} not handled by this script")
    return x


def main():
    model_path, io_path = sys.argv[1], sys.argv[2]
    meta = metadata(model_path)
    assert meta["format"] == "backprop", meta
    tensors = load_file(model_path)
    io = load_file(io_path)
    x, y_crate = io["x"], io["y"]
    y_numpy = forward(x, layer_configs(meta), tensors)
    tol = 1e-5 if meta["dtype"] == "F32" else 1e-10
    err = float(np.abs(y_numpy - y_crate).max())
    arch = json.dumps([k for k, _ in layer_configs(meta)])
    print(f"interop: {model_path} dtype={meta['dtype']} layers={arch} rows={len(x)} max_abs_diff={err:.3e} tol={tol:g}")
    if not err <= tol:
        raise SystemExit(f"interop: FAILED, max abs difference {err} > {tol}")


if __name__ == "__main__":
    main()
