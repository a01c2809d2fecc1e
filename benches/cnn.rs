//! CNN benchmarks: SimpleConvNet (the book's §7.5 network, `../shared/bench/cnn_torch.py`'s
//! definition) and its parts, `f32`, batch 100. Run: `cargo bench --bench cnn` (filter:
//! `cargo bench --bench cnn -- conv1`).
//!
//! - `conv1-fwd-bwd-f32`: the first layer, [`Conv2d`] 1→30 filters of 5×5 over 1×28×28, one
//!   training forward pass and its backward (weight and bias gradients; no input gradient, which
//!   a first layer is not asked for).
//! - `maxpool-fwd-bwd-f32`: [`MaxPool2d`] 2×2, stride 2, over 30×24×24: forward (with the
//!   argmax kept) and backward with the input gradient.
//! - `gemm-simpleconvnet-f32`: the floor — the crate's product engine alone (what the layers
//!   call: faer, and the crate's small-K kernel for the convolution's forward product; same
//!   shapes and strides, single-threaded) for the eight products of one training step: the
//!   convolution's `X·Wᵀ` and `Gᵀ·X`, and each dense layer's `x·W`, `xᵀ·g` and `g·Wᵀ` (the
//!   first dense layer's input gradient too: the pooling before it needs it). 10 steps per run.
//!   The second line gives the step's GFLOP (0.4326), the rate, and the epoch floor: 600 steps'
//!   products (259.6 GFLOP) at that rate.
//! - `gemm-conv1-fwd-f32`: the convolution's forward product alone (`57600×25 · 25×30`, K = 25):
//!   its rate beside the floor's, the weight gradient's (K = 57600) and the first dense layer's
//!   forward product's (`gemm-dense1-fwd-f32`, K = 4320) says what the small K costs.
//! - `mnist-cnn-epoch-f32`: one epoch of SimpleConvNet on the 60000 MNIST training images
//!   (`fit`, Adam 0.001, batch 100, shuffled; building the network is not timed), median of 3;
//!   then its share of the floor measured above in the same run. Skipped, with a line saying so,
//!   when the files are missing.
//!
//! Data comes from [`data_dir`] (`$BACKPROP_DATA`, else `data/`).

mod harness;

use backprop::data::{data_dir, labels_column, load_mnist};
use backprop::prelude::*;
use backprop::{seeded, MaxPool2d, Stream};
use harness::{Harness, Runs};
use nalgebra::DMatrix;
use std::time::{Duration, Instant};

const BATCH: usize = 100;
const STEPS_PER_EPOCH: usize = 60_000 / BATCH;
/// SimpleConvNet's sizes: 30 filters of 5×5 over 1×28×28 → 30×24×24 → pooled 30×12×12 = 4320.
const FILTERS: usize = 30;
const K: usize = 25;
const POSITIONS: usize = 24 * 24;
const POOLED: usize = FILTERS * 12 * 12;
const HIDDEN: usize = 100;
const CLASSES: usize = 10;

fn image(c: usize, h: usize, w: usize) -> Shape {
    Shape::Image { channels: c, height: h, width: w }
}

fn random(rows: usize, cols: usize, seed: u64) -> DMatrix<f32> {
    Init::Uniform { low: -1.0, high: 1.0 }.matrix(rows, cols, &mut seeded(seed, Stream::Init)).expect("small matrix")
}

fn simple_conv_net() -> Sequential<f32> {
    Sequential::<f32>::builder_shaped(image(1, 28, 28))
        .add(Conv2d::new(1, FILTERS, (5, 5)))
        .add(Relu)
        .add(MaxPool2d::new((2, 2)))
        .add(Dense::new(POOLED, HIDDEN).with_init(Init::HeNormal))
        .add(Relu)
        .add(Dense::new(HIDDEN, CLASSES).with_init(Init::HeNormal))
        .build(0)
        .expect("SimpleConvNet builds")
}

fn bench_conv1(harness: &Harness) {
    let mut conv = Conv2d::<f32>::new(1, FILTERS, (5, 5));
    conv.build(image(1, 28, 28), &mut seeded(0, Stream::Init)).expect("conv builds");
    let x = random(BATCH, 784, 1).map(|v| v.abs());
    let g = random(BATCH, FILTERS * POSITIONS, 2);
    let mut y = DMatrix::zeros(0, 0);
    let mut rng = seeded(0, Stream::Train);
    harness.bench("conv1-fwd-bwd-f32", Runs { warmup: 5, timed: 41 }, || {
        conv.forward_train(&x, &mut y, &mut rng).expect("forward");
        conv.backward(&x, &y, &g, None).expect("backward");
        y[(0, 0)]
    });
}

fn bench_maxpool(harness: &Harness) {
    let mut pool = MaxPool2d::<f32>::new((2, 2));
    pool.build(image(FILTERS, 24, 24), &mut seeded(0, Stream::Init)).expect("pool builds");
    let x = random(BATCH, FILTERS * POSITIONS, 3);
    let g = random(BATCH, POOLED, 4);
    let (mut y, mut dx) = (DMatrix::zeros(0, 0), DMatrix::zeros(0, 0));
    let mut rng = seeded(0, Stream::Train);
    harness.bench("maxpool-fwd-bwd-f32", Runs { warmup: 5, timed: 41 }, || {
        pool.forward_train(&x, &mut y, &mut rng).expect("forward");
        pool.backward(&x, &y, &g, Some(&mut dx)).expect("backward");
        dx[(0, 0)]
    });
}

/// `c = op(a)·op(b)` by the crate's product engine (what its layers call: faer, or its own
/// small-K kernel for the convolution's forward product), on column-major storage: `a` is
/// `m × k` read with strides `(a_rs, a_cs)`, `b` is `k × n` with `(b_rs, b_cs)`, each stored
/// as is (row stride 1) or transposed (column stride 1). One thread: the floor is a single core's.
#[allow(clippy::too_many_arguments)]
fn gemm(
    c: &mut [f32],
    m: usize,
    n: usize,
    k: usize,
    a: &[f32],
    a_rs: usize,
    a_cs: usize,
    b: &[f32],
    b_rs: usize,
    b_cs: usize,
) {
    assert!(a.len() == m * k && b.len() == k * n && (a_rs == 1 || a_cs == 1) && (b_rs == 1 || b_cs == 1));
    backprop::bench_product(c, (m, n), a, a_rs != 1, b, b_rs != 1);
}

/// FLOP (2 per multiply-add) of one SimpleConvNet training step's products.
fn step_flop() -> f64 {
    let conv = 2 * (BATCH * POSITIONS) * K * FILTERS; // forward X·Wᵀ; backward Gᵀ·X the same
    let dense1 = 2 * BATCH * POOLED * HIDDEN; // forward, weight gradient, input gradient each
    let dense2 = 2 * BATCH * HIDDEN * CLASSES;
    (2 * conv + 3 * dense1 + 3 * dense2) as f64
}

/// Times the step's products, 10 steps a run; returns the median seconds of one step.
fn bench_gemm_floor(harness: &Harness) -> Option<f64> {
    const NAME: &str = "gemm-simpleconvnet-f32";
    const REPS: usize = 10;
    if !harness.selected(NAME) {
        return None;
    }
    // A single core's floor: the products on the calling thread alone.
    backprop::threads::set(1);
    let rows = BATCH * POSITIONS;
    let col = random(rows, K, 5);
    let wconv = random(FILTERS, K, 6);
    let gconv = random(rows, FILTERS, 7);
    let (x1, w1, g1) = (random(BATCH, POOLED, 8), random(POOLED, HIDDEN, 9), random(BATCH, HIDDEN, 10));
    let (x2, w2, g2) = (random(BATCH, HIDDEN, 11), random(HIDDEN, CLASSES, 12), random(BATCH, CLASSES, 13));
    let mut yconv = vec![0.0; rows * FILTERS];
    let mut dwconv = vec![0.0; FILTERS * K];
    let (mut y1, mut dw1, mut dx1) = (vec![0.0; BATCH * HIDDEN], vec![0.0; POOLED * HIDDEN], vec![0.0; BATCH * POOLED]);
    let (mut y2, mut dw2, mut dx2) =
        (vec![0.0; BATCH * CLASSES], vec![0.0; HIDDEN * CLASSES], vec![0.0; BATCH * HIDDEN]);
    let (c, w, g) = (col.as_slice(), wconv.as_slice(), gconv.as_slice());
    let mut step = || {
        gemm(&mut yconv, rows, FILTERS, K, c, 1, rows, w, FILTERS, 1); // X·Wᵀ
        gemm(&mut dwconv, FILTERS, K, rows, g, rows, 1, c, 1, rows); // Gᵀ·X
        let (b, p, h, o) = (BATCH, POOLED, HIDDEN, CLASSES);
        gemm(&mut y1, b, h, p, x1.as_slice(), 1, b, w1.as_slice(), 1, p); // x·W1
        gemm(&mut dw1, p, h, b, x1.as_slice(), b, 1, g1.as_slice(), 1, b); // xᵀ·g1
        gemm(&mut dx1, b, p, h, g1.as_slice(), 1, b, w1.as_slice(), p, 1); // g1·W1ᵀ
        gemm(&mut y2, b, o, h, x2.as_slice(), 1, b, w2.as_slice(), 1, h); // h·W2
        gemm(&mut dw2, h, o, b, x2.as_slice(), b, 1, g2.as_slice(), 1, b); // hᵀ·g2
        gemm(&mut dx2, b, h, o, g2.as_slice(), 1, b, w2.as_slice(), h, 1); // g2·W2ᵀ
        yconv[0] + dwconv[0] + dx1[0] + dx2[0] + y2[0] + dw2[0] + y1[0] + dw1[0]
    };
    let median = timed_median(harness, NAME, REPS, &mut step) / REPS as f64;
    let flop = step_flop();
    let gflops = flop / median / 1e9;
    let epoch_gflop = flop * STEPS_PER_EPOCH as f64 / 1e9;
    println!(
        "{NAME} step_gflop={:.4} gflops={gflops:.1} epoch_gflop={epoch_gflop:.1} floor_s={:.3}",
        flop / 1e9,
        epoch_gflop / gflops
    );

    let mut conv_fwd = || {
        gemm(&mut yconv, rows, FILTERS, K, c, 1, rows, w, FILTERS, 1);
        yconv[0]
    };
    let fwd = timed_median(harness, "gemm-conv1-fwd-f32", REPS, &mut conv_fwd) / REPS as f64;
    let mut conv_bwd = || {
        gemm(&mut dwconv, FILTERS, K, rows, g, rows, 1, c, 1, rows);
        dwconv[0]
    };
    let bwd = timed_median(harness, "gemm-conv1-dw-f32", REPS, &mut conv_bwd) / REPS as f64;
    let mut dense_fwd = || {
        gemm(&mut y1, BATCH, HIDDEN, POOLED, x1.as_slice(), 1, BATCH, w1.as_slice(), 1, POOLED);
        y1[0]
    };
    let dense = timed_median(harness, "gemm-dense1-fwd-f32", REPS, &mut dense_fwd) / REPS as f64;
    let conv_flop = (2 * rows * K * FILTERS) as f64;
    let dense_flop = (2 * BATCH * POOLED * HIDDEN) as f64;
    println!(
        "gemm-conv1 forward_gflops={:.1} weight_grad_gflops={:.1} dense1_forward_gflops={:.1} (K = {K} in the convolution's forward product, {POOLED} in the dense one's)",
        conv_flop / fwd / 1e9,
        conv_flop / bwd / 1e9,
        dense_flop / dense / 1e9
    );
    backprop::threads::set(0);
    Some(epoch_gflop / gflops)
}

/// Runs `work` `reps` times per timed run under the harness; the median run's seconds (NaN if
/// the case is not selected).
fn timed_median(harness: &Harness, name: &str, reps: usize, work: &mut dyn FnMut() -> f32) -> f64 {
    let mut times: Vec<Duration> = Vec::new();
    let runs = Runs { warmup: 3, timed: 21 };
    harness.bench(name, runs, || {
        let start = Instant::now();
        let mut last = 0.0;
        for _ in 0..reps {
            last = work();
        }
        times.push(start.elapsed());
        last
    });
    if times.len() <= runs.warmup {
        return f64::NAN; // not selected
    }
    let mut timed = times.split_off(runs.warmup);
    timed.sort_unstable();
    timed[timed.len() / 2].as_secs_f64()
}

fn bench_epoch(harness: &Harness, floor: Option<f64>) {
    const NAME: &str = "mnist-cnn-epoch-f32";
    if !harness.selected(NAME) {
        return;
    }
    let mnist = match load_mnist::<f32>(data_dir().join("mnist")) {
        Ok(m) => m,
        Err(e) => {
            println!("{NAME} skipped: {e}");
            return;
        }
    };
    let x = mnist.train_x / 255.0;
    let t = labels_column(&mnist.train_labels);
    let mut seconds = Vec::new();
    harness.bench_with_setup(
        NAME,
        Runs { warmup: 0, timed: 3 },
        || (simple_conv_net(), FitConfig::new(SoftmaxCrossEntropy, Adam::new(0.001)).epochs(1).batch_size(BATCH)),
        |(mut net, mut config)| {
            let start = Instant::now();
            let history = net.fit(&x, &t, &mut config).expect("training runs");
            seconds.push(start.elapsed().as_secs_f64());
            history.steps
        },
    );
    seconds.sort_by(f64::total_cmp);
    let median = seconds[seconds.len() / 2];
    match floor {
        Some(floor) => println!("{NAME} epoch_s={median:.3} floor_s={floor:.3} floor_share={:.2}", floor / median),
        None => println!("{NAME} epoch_s={median:.3} (floor not measured: select gemm-simpleconvnet-f32 too)"),
    }
}

fn main() {
    let harness = Harness::from_args();
    bench_conv1(&harness);
    bench_maxpool(&harness);
    let floor = bench_gemm_floor(&harness);
    bench_epoch(&harness, floor);
}
