"""Reads a network saved by backprop with only `safetensors` and NumPy, recomputes its forward
pass, and compares it with the crate's own predictions. Handles every built-in layer kind —
dense, activations, dropout, softmax, conv2d, max/avg pooling, global average pooling, batch
normalization (inference: running statistics) — and the nesting of chains and residual blocks.

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


def config(meta, path):
    """(kind, {setting: value}) of the layer at `path` ("0", "3.body.1")."""
    kind, *settings = meta[f"layer.{path}"].split()
    return kind, dict(s.split("=", 1) for s in settings)


def layer_configs(meta):
    """[(kind, {setting: value})] of the root layers layer.0, layer.1, ..."""
    return [config(meta, str(i)) for i in range(int(meta["layers"]))]


def parse_shape(text):
    """"784" -> (784,), "1x28x28" -> (1, 28, 28)."""
    return tuple(int(v) for v in text.split("x"))


def windows(x, kh, kw, stride):
    """(N, C, H, W) -> (N, C, OH, OW, kh, kw): every window, by NumPy's strided view."""
    view = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(2, 3))
    return view[:, :, ::stride, ::stride]


def forward_layer(meta, tensors, path, x, shape):
    """Inference of the layer at `path` on rows `x` of samples of `shape`; returns (y, shape).

    Images are rows flattened channel-first (C, H, W). Dense weights are stored [in, out], so
    y = x @ W + b; convolution filters [F, C*KH*KW], each row one filter (C, KH, KW) flattened.
    """
    kind, cfg = config(meta, path)
    t = lambda name: tensors[f"{path}.{name}"]
    n = x.shape[0]
    if kind == "chain":
        for i in range(int(cfg["layers"])):
            x, shape = forward_layer(meta, tensors, f"{path}.{i}", x, shape)
        return x, shape
    if kind == "residual":
        y, out_shape = forward_layer(meta, tensors, f"{path}.body", x, shape)
        if cfg["shortcut"] == "projection":
            s, _ = forward_layer(meta, tensors, f"{path}.shortcut", x, shape)
        else:
            s = x
        return y + s, out_shape
    if kind in ("conv2d", "max_pool2d", "avg_pool2d"):
        c, h, w = shape
        kh, kw, stride, pad = (int(cfg[k]) for k in ("kernel_h", "kernel_w", "stride", "padding"))
        img = x.reshape(n, c, h, w)
        fill = -np.inf if kind == "max_pool2d" else 0.0
        img = np.pad(img, [(0, 0), (0, 0), (pad, pad), (pad, pad)], constant_values=fill)
        win = windows(img, kh, kw, stride)
        if kind == "conv2d":
            f = int(cfg["filters"])
            y = np.einsum("nchwij,fcij->nfhw", win, t("weight").reshape(f, c, kh, kw))
            if cfg["bias"] == "true":
                y = y + t("bias").reshape(1, f, 1, 1)
        elif kind == "max_pool2d":
            y = win.max(axis=(4, 5))
        else:
            y = win.sum(axis=(4, 5)) / (kh * kw)
        return y.reshape(n, -1), y.shape[1:]
    if kind == "global_avg_pool":
        c, h, w = shape
        return x.reshape(n, c, h * w).mean(axis=2), (c,)
    if kind == "batch_norm":
        eps = float(cfg["eps"])
        scale = t("gamma") / np.sqrt(t("running_var") + eps)  # [1, features]
        shift = t("beta") - t("running_mean") * scale
        if len(shape) == 3:
            c, h, w = shape
            y = x.reshape(n, c, h * w) * scale.reshape(1, c, 1) + shift.reshape(1, c, 1)
            return y.reshape(n, -1), shape
        return x * scale + shift, shape
    if kind == "dense":
        x = x @ t("weight")
        if cfg["bias"] == "true":
            x = x + t("bias")
        return x, (x.shape[1],)
    if kind == "sigmoid":
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
        raise SystemExit(f"layer {path}: kind {kind!r} not handled by this script")
    return x, shape


def forward(x, meta, tensors):
    """Inference of the whole network, rows are samples."""
    shape = parse_shape(meta["input_shape"])
    for i in range(int(meta["layers"])):
        x, shape = forward_layer(meta, tensors, str(i), x, shape)
    return x


def main():
    model_path, io_path = sys.argv[1], sys.argv[2]
    meta = metadata(model_path)
    assert meta["format"] == "backprop", meta
    tensors = load_file(model_path)
    io = load_file(io_path)
    x, y_crate = io["x"], io["y"]
    y_numpy = forward(x, meta, tensors)
    tol = 1e-5 if meta["dtype"] == "F32" else 1e-10
    err = float(np.abs(y_numpy - y_crate).max())
    arch = json.dumps([k for k, _ in layer_configs(meta)])
    print(f"interop: {model_path} dtype={meta['dtype']} layers={arch} rows={len(x)} max_abs_diff={err:.3e} tol={tol:g}")
    if not err <= tol:
        raise SystemExit(f"interop: FAILED, max abs difference {err} > {tol}")


if __name__ == "__main__":
    main()
