//! Training benchmarks. Run: `cargo bench --bench training` (filter: `cargo bench -- xor`).
//!
//! `xor-20000-f64`: the course's 실습 2 exactly as `examples/02_xor.rs` trains it — a 2-3-1
//! network, sigmoid on both layers, no bias, weights from U(0, 1) with seed 0, E = ½ Σ (y − t)²,
//! gradient descent with learning rate 0.1, 20000 full-batch epochs. Building the network and
//! the configuration is not timed; each timed run is one `net.fit` from the same fresh start.
//! It runs on the default thread count (`BACKPROP_THREADS`, else the machine's cores), then as
//! `xor-20000-f64-threads1` and `-threads2` ([`backprop::threads`]; its products are far too
//! small to split, so the counts should not differ beyond noise).

mod harness;

use backprop::prelude::*;
use backprop::threads;
use harness::{Harness, Runs};
use nalgebra::DMatrix;

fn xor_network() -> Sequential<f64> {
    let uniform = Init::Uniform { low: 0.0, high: 1.0 };
    Sequential::<f64>::builder(2)
        .add(Dense::new(2, 3).without_bias().with_init(uniform))
        .add(Sigmoid)
        .add(Dense::new(3, 1).without_bias().with_init(uniform))
        .add(Sigmoid)
        .build(0)
        .expect("the XOR network builds")
}

fn main() {
    let harness = Harness::from_args();

    let x = DMatrix::from_row_slice(4, 2, &[0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0]);
    let t = DMatrix::from_row_slice(4, 1, &[0.0, 1.0, 1.0, 0.0]);
    for (name, count) in [("xor-20000-f64", 0), ("xor-20000-f64-threads1", 1), ("xor-20000-f64-threads2", 2)] {
        threads::set(count);
        bench_xor(&harness, name, &x, &t);
    }
    threads::set(0);
}

fn bench_xor(harness: &Harness, name: &str, x: &DMatrix<f64>, t: &DMatrix<f64>) {
    harness.bench_with_setup(
        name,
        Runs { warmup: 3, timed: 30 },
        || {
            let config = FitConfig::new(SquaredError::half_sum(), Sgd::new(0.1)).epochs(20_000);
            (xor_network(), config)
        },
        |(mut net, mut config)| {
            let history = net.fit(x, t, &mut config).expect("XOR trains");
            assert_eq!(history.loss.len(), 20_000);
            (net, history)
        },
    );
}
