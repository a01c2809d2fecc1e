//! `fit_samples`: training on inputs given sample by sample (`features × samples`) is `fit` on
//! their transpose, bit for bit — minibatches, a full batch, a validation split, early stopping,
//! dropout, a first layer that reads samples in place and one that does not — and it copies
//! nothing of the data set, where `fit` copies it once per call. Its errors name `xs`.

use backprop::prelude::*;
use backprop::{seeded, BatchNorm, Error, Init, Real, Stream};
use nalgebra::DMatrix;

#[path = "support/counting_allocator.rs"]
mod counting_allocator;

/// `rows × cols` inputs in [0, 1), and class indices for `classes` classes that depend on them.
fn data<T: Real>(rows: usize, cols: usize, classes: usize) -> (DMatrix<T>, DMatrix<T>) {
    let x = Init::Uniform { low: 0.0, high: 1.0 }.matrix(rows, cols, &mut seeded(5, Stream::Init)).expect("small");
    let t = DMatrix::from_fn(rows, 1, |r, _| {
        let s: f64 = x.row(r).iter().take(3).map(|v: &T| v.to_f64()).sum();
        T::cast(((s * classes as f64 / 3.0) as usize).min(classes - 1) as f64)
    });
    (x, t)
}

/// A network whose first layer reads samples in place (Dense), with dropout; or one whose first
/// layer does not (batch norm).
fn network<T: Real>(inputs: usize, classes: usize, dense_first: bool) -> Sequential<T> {
    let builder = Sequential::<T>::builder(inputs);
    let builder = if dense_first { builder } else { builder.add(BatchNorm::new(inputs)) };
    builder
        .add(Dense::new(inputs, 12))
        .add(Relu)
        .add(Dropout::new(0.25).expect("a valid rate"))
        .add(Dense::new(12, classes))
        .build(11)
        .expect("the network builds")
}

/// Every parameter's value, as bits.
fn bits<T: Real>(net: &Sequential<T>) -> Vec<u64> {
    net.params().iter().flat_map(|p| p.value().iter().map(|v| v.to_f64().to_bits()).collect::<Vec<_>>()).collect()
}

/// A history's numbers, as bits.
fn history_bits(h: &History) -> Vec<u64> {
    [&h.loss, &h.accuracy, &h.val_loss, &h.val_accuracy, &h.learning_rate]
        .iter()
        .flat_map(|v| v.iter().map(|x| x.to_bits()))
        .collect()
}

/// `fit` on `x` and `fit_samples` on `xᵀ` from the same start, with configurations made by
/// `config`: the same history, the same best epoch and the same parameters, bit for bit.
fn same_run<T: Real>(dense_first: bool, config: impl Fn() -> FitConfig<T>, case: &str) {
    let (x, t) = data::<T>(97, 6, 3);
    let xs = x.transpose();
    let mut by_rows = network::<T>(6, 3, dense_first);
    let mut by_samples = network::<T>(6, 3, dense_first);
    let rows = by_rows.fit(&x, &t, &mut config()).expect("fit trains");
    let samples = by_samples.fit_samples(&xs, &t, &mut config()).expect("fit_samples trains");
    assert!(rows.loss.len() >= 2, "{case}: trained {} epochs", rows.loss.len());
    assert_eq!(history_bits(&rows), history_bits(&samples), "{case}: histories");
    assert_eq!((rows.best_epoch, rows.steps), (samples.best_epoch, samples.steps), "{case}");
    assert_eq!(bits(&by_rows), bits(&by_samples), "{case}: parameters");
    assert_ne!(bits(&by_samples), bits(&network::<T>(6, 3, dense_first)), "{case}: it trained");
}

fn cases<T: Real>() {
    for dense_first in [true, false] {
        let base = || FitConfig::<T>::new(SoftmaxCrossEntropy, Adam::new(0.01)).epochs(6).seed(3);
        let name = |what: &str| format!("{what}, dense first: {dense_first}");
        same_run(dense_first, || base().batch_size(16), &name("batch 16"));
        same_run(dense_first, || base().batch_size(10).shuffle(false), &name("batch 10, no shuffle"));
        same_run(dense_first, || base().batch_size(16).validation_split(0.25), &name("validation split"));
        same_run(
            dense_first,
            || base().batch_size(8).validation_split(0.2).early_stopping(1).epochs(30),
            &name("early stopping"),
        );
        same_run(dense_first, base, &name("full batch"));
        same_run(dense_first, || base().validation_split(0.3), &name("full batch, validation split"));
    }
}

#[test]
fn fit_samples_is_fit_on_the_transpose() {
    cases::<f32>();
    cases::<f64>();
}

/// Minibatches are gathered from `xs` itself: no allocation during `fit_samples` is half as large
/// as the data set, where `fit` allocates a copy of it (so the measure can tell them apart).
#[test]
fn fit_samples_copies_nothing_of_the_data_set() {
    // 16 MB: four times faer's 4 MiB product buffer, which a thread allocates at its first
    // product (once per thread, whatever the data).
    let (x, t) = data::<f32>(40_000, 100, 4);
    let data_bytes = x.len() * std::mem::size_of::<f32>();
    let xs = x.transpose();
    let config = || FitConfig::new(SoftmaxCrossEntropy, Sgd::new(0.05)).epochs(1).batch_size(100);

    let mut net = network::<f32>(100, 4, true);
    counting_allocator::reset_largest();
    net.fit_samples(&xs, &t, &mut config()).expect("fit_samples trains");
    let largest = counting_allocator::largest();
    assert!(largest < data_bytes / 2, "fit_samples allocated {largest} bytes at once; the data set is {data_bytes}");

    let mut net = network::<f32>(100, 4, true);
    counting_allocator::reset_largest();
    net.fit(&x, &t, &mut config()).expect("fit trains");
    let largest = counting_allocator::largest();
    assert!(largest >= data_bytes, "fit allocated at most {largest} bytes at once; the data set is {data_bytes}");
}

/// The data are checked as `fit` checks them, errors name `xs`, and nothing is changed.
#[test]
fn fit_samples_refuses_bad_data() {
    let (x, t) = data::<f64>(30, 6, 3);
    let xs = x.transpose();
    let config = || FitConfig::new(SoftmaxCrossEntropy, Sgd::new(0.1)).epochs(2).batch_size(8);
    let mut net = network::<f64>(6, 3, true);
    let before = bits(&net);

    // Rows given where samples are expected: 30 features for a 6-input network.
    let wrong = net.fit_samples(&x, &t, &mut config()).expect_err("rows are not samples");
    assert!(matches!(wrong, Error::FeatureMismatch { expected: 6, got: 30, .. }), "{wrong:?}");

    let short = net.fit_samples(&xs, &t.rows(0, 29).into_owned(), &mut config()).expect_err("29 targets");
    assert!(matches!(short, Error::RowCountMismatch { what: "xs", x_rows: 30, t_rows: 29 }), "{short:?}");
    assert_eq!(short.to_string(), "xs: 30 samples, but the targets have 29 (one row per sample)");

    let mut bad = xs.clone();
    bad[(4, 17)] = f64::NAN;
    let nan = net.fit_samples(&bad, &t, &mut config()).expect_err("a NaN");
    assert!(matches!(nan, Error::NonFinite { what: "xs", row: 4, col: 17, .. }), "{nan:?}");
    // In the validation part too, where it is.
    let nan = net.fit_samples(&bad, &t, &mut config().validation_split(0.5)).expect_err("a NaN to validate on");
    assert!(matches!(nan, Error::NonFinite { what: "xs", row: 4, col: 17, .. }), "{nan:?}");

    let empty = net.fit_samples(&DMatrix::zeros(6, 0), &DMatrix::zeros(0, 1), &mut config()).expect_err("no samples");
    assert!(matches!(empty, Error::EmptyInput { what: "xs", .. }), "{empty:?}");

    let labels = DMatrix::from_element(30, 1, 7.0);
    let label = net.fit_samples(&xs, &labels, &mut config()).expect_err("class 7 of 3");
    assert!(!matches!(label, Error::RowCountMismatch { .. } | Error::NonFinite { .. }), "{label:?}");

    assert_eq!(bits(&net), before, "the network is unchanged");
    assert_eq!(xs, x.transpose(), "the caller's data is unchanged");
}
