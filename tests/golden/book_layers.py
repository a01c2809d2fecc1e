"""Golden values for the crate's CNN layers from a NumPy reference of *Deep Learning from
Scratch*'s `Convolution`, `Pooling` and `BatchNormalization` (common/layers.py, common/util.py),
written out here as the book has them.

Usage: python3 tests/golden/book_layers.py OUT.safetensors
Writes float64 matrices in the crate's layout (rows are samples; images flattened (C, H, W);
filters (F, C*KH*KW), as the book's W.reshape(FN, -1)); tests/golden.rs reads them and compares
the crate's outputs and gradients to 1e-10.
"""
import sys

import numpy as np
from safetensors.numpy import save_file


# --- common/util.py -------------------------------------------------------------------------
def im2col(input_data, filter_h, filter_w, stride=1, pad=0):
    N, C, H, W = input_data.shape
    out_h = (H + 2 * pad - filter_h) // stride + 1
    out_w = (W + 2 * pad - filter_w) // stride + 1
    img = np.pad(input_data, [(0, 0), (0, 0), (pad, pad), (pad, pad)], "constant")
    col = np.zeros((N, C, filter_h, filter_w, out_h, out_w))
    for y in range(filter_h):
        y_max = y + stride * out_h
        for x in range(filter_w):
            x_max = x + stride * out_w
            col[:, :, y, x, :, :] = img[:, :, y:y_max:stride, x:x_max:stride]
    return col.transpose(0, 4, 5, 1, 2, 3).reshape(N * out_h * out_w, -1)


def col2im(col, input_shape, filter_h, filter_w, stride=1, pad=0):
    N, C, H, W = input_shape
    out_h = (H + 2 * pad - filter_h) // stride + 1
    out_w = (W + 2 * pad - filter_w) // stride + 1
    col = col.reshape(N, out_h, out_w, C, filter_h, filter_w).transpose(0, 3, 4, 5, 1, 2)
    img = np.zeros((N, C, H + 2 * pad + stride - 1, W + 2 * pad + stride - 1))
    for y in range(filter_h):
        y_max = y + stride * out_h
        for x in range(filter_w):
            x_max = x + stride * out_w
            img[:, :, y:y_max:stride, x:x_max:stride] += col[:, :, y, x, :, :]
    return img[:, :, pad:H + pad, pad:W + pad]


# --- common/layers.py -----------------------------------------------------------------------
class Convolution:
    def __init__(self, W, b, stride=1, pad=0):
        self.W, self.b, self.stride, self.pad = W, b, stride, pad

    def forward(self, x):
        FN, C, FH, FW = self.W.shape
        N, C, H, W = x.shape
        out_h = 1 + int((H + 2 * self.pad - FH) / self.stride)
        out_w = 1 + int((W + 2 * self.pad - FW) / self.stride)
        col = im2col(x, FH, FW, self.stride, self.pad)
        col_W = self.W.reshape(FN, -1).T
        out = np.dot(col, col_W) + self.b
        out = out.reshape(N, out_h, out_w, -1).transpose(0, 3, 1, 2)
        self.x, self.col, self.col_W = x, col, col_W
        return out

    def backward(self, dout):
        FN, C, FH, FW = self.W.shape
        dout = dout.transpose(0, 2, 3, 1).reshape(-1, FN)
        self.db = np.sum(dout, axis=0)
        self.dW = np.dot(self.col.T, dout).transpose(1, 0).reshape(FN, C, FH, FW)
        dcol = np.dot(dout, self.col_W.T)
        return col2im(dcol, self.x.shape, FH, FW, self.stride, self.pad)


class Pooling:
    def __init__(self, pool_h, pool_w, stride=1, pad=0):
        self.pool_h, self.pool_w, self.stride, self.pad = pool_h, pool_w, stride, pad

    def forward(self, x):
        N, C, H, W = x.shape
        out_h = int(1 + (H - self.pool_h) / self.stride)
        out_w = int(1 + (W - self.pool_w) / self.stride)
        col = im2col(x, self.pool_h, self.pool_w, self.stride, self.pad)
        col = col.reshape(-1, self.pool_h * self.pool_w)
        arg_max = np.argmax(col, axis=1)
        out = np.max(col, axis=1)
        out = out.reshape(N, out_h, out_w, C).transpose(0, 3, 1, 2)
        self.x, self.arg_max = x, arg_max
        return out

    def backward(self, dout):
        dout = dout.transpose(0, 2, 3, 1)
        pool_size = self.pool_h * self.pool_w
        dmax = np.zeros((dout.size, pool_size))
        dmax[np.arange(self.arg_max.size), self.arg_max.flatten()] = dout.flatten()
        dmax = dmax.reshape(dout.shape + (pool_size,))
        dcol = dmax.reshape(dmax.shape[0] * dmax.shape[1] * dmax.shape[2], -1)
        return col2im(dcol, self.x.shape, self.pool_h, self.pool_w, self.stride, self.pad)


class BatchNormalization:
    def __init__(self, gamma, beta, momentum=0.9, running_mean=None, running_var=None):
        self.gamma, self.beta, self.momentum = gamma, beta, momentum
        self.input_shape = None
        self.running_mean, self.running_var = running_mean, running_var

    def forward(self, x, train_flg=True):
        self.input_shape = x.shape
        if x.ndim != 2:
            N, C, H, W = x.shape
            x = x.reshape(N, -1)
        out = self.__forward(x, train_flg)
        return out.reshape(*self.input_shape)

    def __forward(self, x, train_flg):
        if self.running_mean is None:
            N, D = x.shape
            self.running_mean = np.zeros(D)
            self.running_var = np.zeros(D)
        if train_flg:
            mu = x.mean(axis=0)
            xc = x - mu
            var = np.mean(xc ** 2, axis=0)
            std = np.sqrt(var + 10e-7)
            xn = xc / std
            self.batch_size, self.xc, self.xn, self.std = x.shape[0], xc, xn, std
            self.running_mean = self.momentum * self.running_mean + (1 - self.momentum) * mu
            self.running_var = self.momentum * self.running_var + (1 - self.momentum) * var
        else:
            xc = x - self.running_mean
            xn = xc / ((np.sqrt(self.running_var + 10e-7)))
        return self.gamma * xn + self.beta

    def backward(self, dout):
        if dout.ndim != 2:
            N, C, H, W = dout.shape
            dout = dout.reshape(N, -1)
        dx = self.__backward(dout)
        return dx.reshape(*self.input_shape)

    def __backward(self, dout):
        dbeta = dout.sum(axis=0)
        dgamma = np.sum(self.xn * dout, axis=0)
        dxn = self.gamma * dout
        dxc = dxn / self.std
        dstd = -np.sum((dxn * self.xc) / (self.std * self.std), axis=0)
        dvar = 0.5 * dstd / self.std
        dxc += (2.0 / self.batch_size) * self.xc * dvar
        dmu = np.sum(dxc, axis=0)
        dx = dxc - dmu / self.batch_size
        self.dgamma, self.dbeta = dgamma, dbeta
        return dx


# --- the cases ------------------------------------------------------------------------------
def flat(a):
    """(N, ...) -> (N, rest): the crate's rows."""
    return np.ascontiguousarray(a.reshape(a.shape[0], -1))


def row(v):
    return np.ascontiguousarray(np.asarray(v).reshape(1, -1))


def main():
    rng = np.random.default_rng(20240611)
    out = {}

    # Convolution: (N, C, H, W, FN, FH, FW, stride, pad)
    for name, (N, C, H, W, FN, FH, FW, stride, pad) in {
        "conv_a": (3, 2, 5, 6, 3, 3, 2, 2, 1),
        "conv_b": (4, 1, 9, 8, 2, 5, 5, 1, 0),
        "conv_c": (3, 3, 6, 7, 4, 1, 1, 2, 0),
    }.items():
        x = rng.standard_normal((N, C, H, W))
        Wt = rng.standard_normal((FN, C, FH, FW)) * 0.5
        b = rng.standard_normal(FN)
        conv = Convolution(Wt, b, stride, pad)
        y = conv.forward(x)
        dout = rng.standard_normal(y.shape)
        dx = conv.backward(dout)
        out.update({f"{name}.x": flat(x), f"{name}.weight": flat(Wt), f"{name}.bias": row(b), f"{name}.y": flat(y),
                    f"{name}.dout": flat(dout), f"{name}.dx": flat(dx), f"{name}.dweight": flat(conv.dW),
                    f"{name}.db": row(conv.db), f"{name}.geometry": row([C, H, W, FN, FH, FW, stride, pad])})

    # Max pooling (no padding: the book pads with zeros, which can win a window; the crate and
    # PyTorch never let padding win). Values drawn continuous: no ties.
    for name, (N, C, H, W, PH, PW, stride) in {
        "pool_a": (3, 2, 6, 8, 2, 2, 2),
        "pool_b": (3, 2, 7, 6, 3, 3, 1),
        "pool_c": (2, 3, 7, 7, 3, 2, 2),
    }.items():
        x = rng.standard_normal((N, C, H, W))
        pool = Pooling(PH, PW, stride)
        y = pool.forward(x)
        dout = rng.standard_normal(y.shape)
        dx = pool.backward(dout)
        out.update({f"{name}.x": flat(x), f"{name}.y": flat(y), f"{name}.dout": flat(dout), f"{name}.dx": flat(dx),
                    f"{name}.geometry": row([C, H, W, PH, PW, stride])})

    # Batch normalization, book preset. Per feature: the book's layer as is, a training step,
    # then inference with the running statistics it left. Per channel: the book's layer normalizes
    # each of C·H·W features of a 4-D input (it reshapes to (N, -1)); per channel is the same layer
    # on the (N·H·W, C) matrix of pixels.
    N, D = 5, 4
    x = rng.standard_normal((N, D)) * 2 + 1
    gamma, beta = rng.uniform(0.5, 1.5, D), rng.standard_normal(D)
    bn = BatchNormalization(gamma, beta)
    y = bn.forward(x, True)
    dout = rng.standard_normal(y.shape)
    dx = bn.backward(dout)
    x_inf = rng.standard_normal((3, D))
    y_inf = bn.forward(x_inf, False)
    out.update({"bn_flat.x": x, "bn_flat.gamma": row(gamma), "bn_flat.beta": row(beta), "bn_flat.y": y,
                "bn_flat.dout": dout, "bn_flat.dx": dx, "bn_flat.dgamma": row(bn.dgamma), "bn_flat.dbeta": row(bn.dbeta),
                "bn_flat.running_mean": row(bn.running_mean), "bn_flat.running_var": row(bn.running_var),
                "bn_flat.x_inference": x_inf, "bn_flat.y_inference": y_inf})

    N, C, H, W = 3, 2, 3, 4
    x = rng.standard_normal((N, C, H, W)) * 1.5 - 0.5
    gamma, beta = rng.uniform(0.5, 1.5, C), rng.standard_normal(C)
    pixels = lambda a: a.transpose(0, 2, 3, 1).reshape(-1, a.shape[1])
    images = lambda p, n, h, w: p.reshape(n, h, w, -1).transpose(0, 3, 1, 2)
    bn = BatchNormalization(gamma, beta)
    y = images(bn.forward(pixels(x), True), N, H, W)
    dout = rng.standard_normal(y.shape)
    dx = images(bn.backward(pixels(dout)), N, H, W)
    x_inf = rng.standard_normal((2, C, H, W))
    y_inf = images(bn.forward(pixels(x_inf), False), 2, H, W)
    out.update({"bn_image.x": flat(x), "bn_image.gamma": row(gamma), "bn_image.beta": row(beta), "bn_image.y": flat(y),
                "bn_image.dout": flat(dout), "bn_image.dx": flat(dx), "bn_image.dgamma": row(bn.dgamma),
                "bn_image.dbeta": row(bn.dbeta), "bn_image.running_mean": row(bn.running_mean),
                "bn_image.running_var": row(bn.running_var), "bn_image.x_inference": flat(x_inf),
                "bn_image.y_inference": flat(y_inf), "bn_image.geometry": row([C, H, W])})

    save_file({k: np.ascontiguousarray(v, dtype=np.float64) for k, v in out.items()}, sys.argv[1])
    print(f"golden: wrote {len(out)} arrays to {sys.argv[1]}")


if __name__ == "__main__":
    main()
