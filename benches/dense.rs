//! Dense-layer benchmarks. Run: `cargo bench --bench dense` (filter: `cargo bench -- dense`).
//!
//! `dense-784x128-b100-<T>`: one training pass of a `Dense(784 → 128)` with bias on a batch of
//! 100 rows — `forward_train`, then `backward` asked for `∂E/∂x` as an inner layer is — with the
//! output and gradient buffers reused from run to run, as a network reuses them.
//!
//! `gemm3-784x128-b100-<T>`: nalgebra's `gemm` for the same three products alone (`x·W`,
//! `xᵀ·g`, `g·Wᵀ`), with `xᵀ` and `Wᵀ` transposed once outside the timing — what the layer's
//! products would cost on nalgebra (the layer computes them with the crate's own packed kernels,
//! `src/matmul.rs`, on the default thread count).

mod harness;

use backprop::{seeded, Dense, Init, Layer, Real, Shape, Stream};
use harness::{Harness, Runs};
use nalgebra::DMatrix;

const BATCH: usize = 100;
const IN: usize = 784;
const OUT: usize = 128;
const RUNS: Runs = Runs { warmup: 20, timed: 200 };

fn random<T: Real>(rows: usize, cols: usize, rng: &mut backprop::SeededRng) -> DMatrix<T> {
    Init::Uniform { low: -1.0, high: 1.0 }.matrix(rows, cols, rng).expect("small matrix")
}

fn bench_dense<T: Real>(harness: &Harness) {
    let mut rng = seeded(0, Stream::Init);
    let mut dense = Dense::<T>::new(IN, OUT).with_bias_init(Init::HeNormal);
    dense.build(Shape::Flat(IN), &mut rng).expect("the layer builds");
    let x = random::<T>(BATCH, IN, &mut rng);
    let grad_y = random::<T>(BATCH, OUT, &mut rng);
    let (mut y, mut grad_x) = (DMatrix::zeros(0, 0), DMatrix::zeros(0, 0));
    let mut train_rng = seeded(0, Stream::Train);

    harness.bench(&format!("dense-{IN}x{OUT}-b{BATCH}-{}", T::NAME), RUNS, || {
        dense.forward_train(&x, &mut y, &mut train_rng).expect("forward");
        dense.backward(&x, &y, &grad_y, Some(&mut grad_x)).expect("backward");
        grad_x[(0, 0)]
    });
}

fn bench_gemm<T: Real>(harness: &Harness) {
    let mut rng = seeded(0, Stream::Init);
    let w = random::<T>(IN, OUT, &mut rng);
    let x = random::<T>(BATCH, IN, &mut rng);
    let g = random::<T>(BATCH, OUT, &mut rng);
    let (xt, wt) = (x.transpose(), w.transpose());
    let mut y = DMatrix::<T>::zeros(BATCH, OUT);
    let mut dw = DMatrix::<T>::zeros(IN, OUT);
    let mut dx = DMatrix::<T>::zeros(BATCH, IN);

    harness.bench(&format!("gemm3-{IN}x{OUT}-b{BATCH}-{}", T::NAME), RUNS, || {
        y.gemm(T::one(), &x, &w, T::zero());
        dw.gemm(T::one(), &xt, &g, T::zero());
        dx.gemm(T::one(), &g, &wt, T::zero());
        dx[(0, 0)]
    });
}

fn main() {
    let harness = Harness::from_args();
    bench_dense::<f32>(&harness);
    bench_dense::<f64>(&harness);
    bench_gemm::<f32>(&harness);
    bench_gemm::<f64>(&harness);
}
