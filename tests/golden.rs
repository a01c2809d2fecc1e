//! Golden tests: the crate's Conv2d, MaxPool2d and BatchNorm against a NumPy reference of the
//! book's `Convolution`, `Pooling` and `BatchNormalization` (tests/golden/book_layers.py), to
//! 1e-10 in f64 — outputs, input gradients, parameter gradients, running statistics.
//!
//! The values are read from `$BACKPROP_GOLDEN` when set (`.ci/run` regenerates them with NumPy
//! into a temporary file first), else from the copy the script wrote into tests/fixtures/.

use backprop::io::load_matrices;
use backprop::{seeded, BatchNorm, Conv2d, Layer, MaxPool2d, Shape, Stream};
use nalgebra::DMatrix;
use std::collections::HashMap;

const TOL: f64 = 1e-10;

fn golden() -> HashMap<String, DMatrix<f64>> {
    let path = std::env::var("BACKPROP_GOLDEN").unwrap_or_else(|_| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/golden_book_layers.safetensors").into()
    });
    load_matrices::<f64>(&path).unwrap_or_else(|e| panic!("{path}: {e}")).into_iter().collect()
}

fn get<'a>(g: &'a HashMap<String, DMatrix<f64>>, case: &str, name: &str) -> &'a DMatrix<f64> {
    g.get(&format!("{case}.{name}")).unwrap_or_else(|| panic!("no {case}.{name}"))
}

fn ints(m: &DMatrix<f64>) -> Vec<usize> {
    m.iter().map(|&v| v as usize).collect()
}

fn assert_close(case: &str, what: &str, got: &DMatrix<f64>, expected: &DMatrix<f64>) {
    assert_eq!(got.shape(), expected.shape(), "{case} {what}");
    let err = (got - expected).amax();
    assert!(backprop::approx::abs_diff_eq!(got, expected, epsilon = TOL), "{case} {what}: max abs difference {err:e}");
}

/// Forward, then backward with the reference's `dout`; returns `y` and `dx`.
fn run<L: Layer<f64>>(layer: &mut L, x: &DMatrix<f64>, dout: &DMatrix<f64>) -> (DMatrix<f64>, DMatrix<f64>) {
    let mut y = DMatrix::zeros(0, 0);
    layer.forward_train(x, &mut y, &mut seeded(0, Stream::Train)).unwrap();
    let mut dx = DMatrix::zeros(0, 0);
    layer.backward(x, &y, dout, Some(&mut dx)).unwrap();
    (y, dx)
}

fn grad<L: Layer<f64>>(layer: &L, name: &str) -> DMatrix<f64> {
    let mut out = None;
    layer.visit_params(&mut |p| {
        if p.name() == name {
            out = p.grad().cloned();
        }
    });
    out.unwrap()
}

fn set<L: Layer<f64>>(layer: &mut L, name: &str, value: &DMatrix<f64>) {
    layer.visit_params_mut(&mut |p| {
        if p.name() == name {
            p.value_mut().copy_from(value);
        }
    });
}

#[test]
fn convolution_matches_the_book() {
    let g = golden();
    for case in ["conv_a", "conv_b", "conv_c"] {
        let [c, h, w, f, kh, kw, stride, pad] = ints(get(&g, case, "geometry"))[..] else { panic!() };
        let mut conv = Conv2d::new(c, f, (kh, kw)).with_stride(stride).with_padding(pad);
        conv.build(Shape::Image { channels: c, height: h, width: w }, &mut seeded(0, Stream::Init)).unwrap();
        set(&mut conv, "weight", get(&g, case, "weight"));
        set(&mut conv, "bias", get(&g, case, "bias"));
        let (y, dx) = run(&mut conv, get(&g, case, "x"), get(&g, case, "dout"));
        assert_close(case, "y", &y, get(&g, case, "y"));
        assert_close(case, "dx", &dx, get(&g, case, "dx"));
        assert_close(case, "dW", &grad(&conv, "weight"), get(&g, case, "dweight"));
        assert_close(case, "db", &grad(&conv, "bias"), get(&g, case, "db"));
    }
}

#[test]
fn max_pooling_matches_the_book() {
    let g = golden();
    for case in ["pool_a", "pool_b", "pool_c"] {
        let [c, h, w, ph, pw, stride] = ints(get(&g, case, "geometry"))[..] else { panic!() };
        let mut pool = MaxPool2d::new((ph, pw)).with_stride(stride);
        pool.build(Shape::Image { channels: c, height: h, width: w }, &mut seeded(0, Stream::Init)).unwrap();
        let (y, dx) = run(&mut pool, get(&g, case, "x"), get(&g, case, "dout"));
        assert_close(case, "y", &y, get(&g, case, "y"));
        assert_close(case, "dx", &dx, get(&g, case, "dx"));
    }
}

#[test]
fn batch_normalization_matches_the_book() {
    let g = golden();
    for case in ["bn_flat", "bn_image"] {
        let input = match g.get(&format!("{case}.geometry")) {
            Some(geometry) => {
                let [c, h, w] = ints(geometry)[..] else { panic!() };
                Shape::Image { channels: c, height: h, width: w }
            }
            None => Shape::Flat(get(&g, case, "x").ncols()),
        };
        let features = get(&g, case, "gamma").ncols();
        let mut bn = BatchNorm::book(features);
        bn.build(input, &mut seeded(0, Stream::Init)).unwrap();
        set(&mut bn, "gamma", get(&g, case, "gamma"));
        set(&mut bn, "beta", get(&g, case, "beta"));
        let (y, dx) = run(&mut bn, get(&g, case, "x"), get(&g, case, "dout"));
        assert_close(case, "y", &y, get(&g, case, "y"));
        assert_close(case, "dx", &dx, get(&g, case, "dx"));
        assert_close(case, "dgamma", &grad(&bn, "gamma"), get(&g, case, "dgamma"));
        assert_close(case, "dbeta", &grad(&bn, "beta"), get(&g, case, "dbeta"));
        assert_close(case, "running mean", bn.running_mean(), get(&g, case, "running_mean"));
        assert_close(case, "running var", bn.running_var(), get(&g, case, "running_var"));
        let mut y = DMatrix::zeros(0, 0);
        bn.forward(get(&g, case, "x_inference"), &mut y).unwrap();
        assert_close(case, "inference y", &y, get(&g, case, "y_inference"));
    }
}
