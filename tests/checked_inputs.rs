//! Inputs that used to be accepted (or abort the process) although they are wrong: each gives a
//! typed error that names what was expected and where the bad value is.

use backprop::data::{read_csv, CsvOptions, Standardizer};
use backprop::gradcheck::{check_loss, Tolerance};
use backprop::{
    accuracy, ConfusionMatrix, DataError, Dense, Error, FitConfig, Loss, Network, Schedule, Sequential, Sgd,
    SoftmaxCrossEntropy, SquaredError,
};
use nalgebra::DMatrix;

fn rows(r: usize, c: usize, values: &[f64]) -> DMatrix<f64> {
    DMatrix::from_row_slice(r, c, values)
}

// ---------------------------------------------------------------------------------------------
// 1. SoftmaxCrossEntropy: probability rows must be probabilities.

#[test]
fn softmax_cross_entropy_refuses_rows_that_do_not_sum_to_one() {
    let y = rows(2, 3, &[0.1, 0.2, 0.3, -1.0, 0.5, 2.0]);
    let t = rows(2, 3, &[1.0, 1.0, 0.0, 0.0, 0.5, 0.5]);
    let err = check_loss(&SoftmaxCrossEntropy, &y, &t, Tolerance::default()).unwrap_err();
    assert!(
        matches!(err, Error::TargetOutOfRange { loss: "softmax_cross_entropy", row: 0, value, .. } if value == 2.0),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.contains("row 0") && message.contains("sum") && message.contains("got 2"), "{message}");
    // Every public entry point that checks targets refuses them.
    let mut grad = DMatrix::zeros(0, 0);
    assert!(matches!(Loss::<f64>::loss(&SoftmaxCrossEntropy, &y, &t), Err(Error::TargetOutOfRange { row: 0, .. })));
    assert!(matches!(
        Loss::<f64>::loss_and_grad(&SoftmaxCrossEntropy, &y, &t, &mut grad),
        Err(Error::TargetOutOfRange { row: 0, .. })
    ));
    assert!(matches!(Loss::<f64>::check_targets(&SoftmaxCrossEntropy, 3, &t), Err(Error::TargetOutOfRange { .. })));
}

#[test]
fn softmax_cross_entropy_refuses_negative_probabilities_in_fit() {
    let mut net = Sequential::<f64>::builder(1).add(Dense::new(1, 2)).build(0).unwrap();
    let x = rows(3, 1, &[0.0, 1.0, 2.0]);
    // Row 1 sums to 1 but holds -3.
    let t = rows(3, 2, &[1.0, 0.0, -3.0, 4.0, 0.0, 1.0]);
    let before: Vec<f64> = net.params().iter().flat_map(|p| p.value().iter().copied().collect::<Vec<_>>()).collect();
    let err = net.fit(&x, &t, &mut FitConfig::new(SoftmaxCrossEntropy, Sgd::new(0.1)).epochs(2)).unwrap_err();
    assert!(matches!(err, Error::TargetOutOfRange { row: 1, col: 0, value, .. } if value == -3.0), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("row 1, column 0") && message.contains("-3"), "{message}");
    let after: Vec<f64> = net.params().iter().flat_map(|p| p.value().iter().copied().collect::<Vec<_>>()).collect();
    assert_eq!(before, after);
}

#[test]
fn softmax_cross_entropy_accepts_one_hot_and_f32_softmax_rows() {
    // One-hot rows, smoothed labels and softmax rows computed in f32 all pass.
    let logits = DMatrix::<f32>::from_fn(50, 100, |i, j| ((i * 31 + j * 17) % 23) as f32 * 0.37 - 4.0);
    let t = backprop::probabilities(&logits);
    let y = DMatrix::<f32>::zeros(50, 100);
    assert!(Loss::<f32>::loss(&SoftmaxCrossEntropy, &y, &t).is_ok());
    let one_hot = DMatrix::<f32>::from_fn(50, 100, |i, j| f32::from(u8::from(j == i % 100)));
    assert!(Loss::<f32>::loss(&SoftmaxCrossEntropy, &y, &one_hot).is_ok());
    let smoothed = DMatrix::<f32>::from_fn(50, 100, |i, j| if j == i { 0.9 + 0.1 / 100.0 } else { 0.1 / 100.0 });
    assert!(Loss::<f32>::loss(&SoftmaxCrossEntropy, &y, &smoothed).is_ok());
    // A row that sums to 1 and is valid gives a gradient that agrees with the loss.
    let y = rows(2, 3, &[0.1, 0.2, 0.3, -1.0, 0.5, 2.0]);
    let t = rows(2, 3, &[0.5, 0.5, 0.0, 0.0, 0.5, 0.5]);
    let report = check_loss(&SoftmaxCrossEntropy, &y, &t, Tolerance::default()).unwrap();
    assert!(report.passed(), "{report:?}");
}

// ---------------------------------------------------------------------------------------------
// 2. accuracy validates its targets as top_k_accuracy does.

#[test]
fn accuracy_refuses_labels_that_are_not_classes() {
    let y = rows(2, 3, &[0.1, 0.7, 0.2, 2.0, -1.0, 0.5]);
    for bad in [5.0, 0.5, f64::NAN, -1.0] {
        let t = rows(2, 1, &[1.0, bad]);
        let err = accuracy(&y, &t).unwrap_err();
        assert!(matches!(err, Error::LabelOutOfRange { row: 1, classes: 3, .. }), "{bad}: {err:?}");
        let message = err.to_string();
        assert!(message.contains("row 1") && message.contains("0..3"), "{message}");
        assert!(message.contains(&format!("label {bad}")), "{message}");
    }
    assert_eq!(accuracy(&y, &rows(2, 1, &[1.0, 0.0])).unwrap(), 1.0);
}

#[test]
fn accuracy_refuses_non_finite_targets() {
    // One output: a NaN target used to count as right.
    let err = accuracy(&rows(2, 1, &[0.0, 1.0]), &rows(2, 1, &[f64::NAN, 1.0])).unwrap_err();
    assert!(matches!(err, Error::NonFinite { row: 0, col: 0, .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("row 0, column 0") && message.contains("NaN"), "{message}");
    // One-hot rows.
    let y = rows(2, 2, &[0.0, 1.0, 1.0, 0.0]);
    let err = accuracy(&y, &rows(2, 2, &[0.0, 1.0, f64::INFINITY, 0.0])).unwrap_err();
    assert!(matches!(err, Error::NonFinite { row: 1, col: 0, .. }), "{err:?}");
    // Valid targets still count as before.
    assert_eq!(accuracy(&rows(2, 1, &[0.0, 1.0]), &rows(2, 1, &[0.0, 1.0])).unwrap(), 1.0);
    assert_eq!(accuracy(&y, &rows(2, 2, &[0.0, 1.0, 0.0, 1.0])).unwrap(), 0.5);
}

// ---------------------------------------------------------------------------------------------
// 3. ConfusionMatrix sizes its counts within the element limit.

#[test]
fn confusion_matrix_of_too_many_classes_is_too_large() {
    let err = ConfusionMatrix::new(1 << 17, &[0], &[0]).unwrap_err();
    assert!(
        matches!(err, Error::TooLarge { rows, cols, limit, .. } if rows == 1 << 17 && cols == 1 << 17 && limit == backprop::max_elements()),
        "{err:?}"
    );
    assert!(err.to_string().contains("131072x131072"), "{err}");
    let err = ConfusionMatrix::new(usize::MAX, &[0], &[0]).unwrap_err();
    assert!(matches!(err, Error::TooLarge { .. }), "{err:?}");
    assert_eq!(ConfusionMatrix::new(1000, &[3], &[3]).unwrap().accuracy(), 1.0);
}

// ---------------------------------------------------------------------------------------------
// 4. A CSV cell that overflows the scalar type is refused as "inf" is.

#[test]
fn csv_cell_overflowing_f32_is_a_bad_cell() {
    let path = std::env::temp_dir().join(format!("backprop-checked-inputs-{}.csv", std::process::id()));
    std::fs::write(&path, "1.0,2.0,0\n3.0,1e300,1\n").unwrap();
    let err = read_csv::<f32>(&path, &CsvOptions::new()).unwrap_err();
    let in_f64 = read_csv::<f64>(&path, &CsvOptions::new());
    std::fs::remove_file(&path).unwrap();
    assert!(
        matches!(&err, Error::Data(DataError::BadCell { line: 2, column: 2, text, .. }) if text == "1e300"),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.contains("line 2, column 2") && message.contains("\"1e300\""), "{message}");
    // In f64 the value fits.
    assert_eq!(in_f64.unwrap().0[(1, 1)], 1e300);
}

// ---------------------------------------------------------------------------------------------
// 5. Standardizer refuses a mean or deviation that overflows, as Whitener does.

#[test]
fn standardizer_refuses_an_overflowing_deviation() {
    let x = rows(2, 2, &[1.0, 1e308, 2.0, -1e308]);
    let err = Standardizer::fit(&x).unwrap_err();
    assert!(matches!(err, Error::NonFinite { col: 1, .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("column 1") && message.contains("standardizer"), "{message}");
    // A mean that overflows.
    let err = Standardizer::fit(&rows(2, 1, &[1.7e308, 1.0e308])).unwrap_err();
    assert!(matches!(err, Error::NonFinite { col: 0, .. }), "{err:?}");
    // A variance that overflows f64 (its deviation would be 1e300) is refused too, as Whitener
    // refuses a covariance that overflows.
    assert!(matches!(Standardizer::fit(&rows(2, 1, &[1e300, -1e300])), Err(Error::NonFinite { col: 0, .. })));
    // Large data whose variance fits still fits.
    let s = Standardizer::fit(&rows(2, 1, &[1e150, -1e150])).unwrap();
    assert_eq!(s.std(), [1e150]);
}

// ---------------------------------------------------------------------------------------------
// 6. Schedules.

#[test]
fn cosine_minimum_must_be_below_the_base_rate() {
    let schedule = Schedule::Cosine { min_learning_rate: 100.0 };
    let err = schedule.validate_for(0.1).unwrap_err();
    assert!(matches!(err, Error::InvalidConfig { name: "schedule min_learning_rate", .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("100") && message.contains("0.1"), "{message}");
    assert!(Schedule::Cosine { min_learning_rate: 0.1 }.validate_for(0.1).is_err());
    assert!(Schedule::Cosine { min_learning_rate: 0.0 }.validate_for(0.1).is_ok());
    assert!(Schedule::Cosine { min_learning_rate: 1e-4 }.validate_for(0.1).is_ok());
    // The settings checked without a base rate are checked too.
    assert!(matches!(
        Schedule::Exponential { gamma: 2.0 }.validate_for(0.1),
        Err(Error::InvalidConfig { name: "schedule gamma", .. })
    ));
    assert!(Schedule::Constant.validate_for(0.1).is_ok());
    // fit checks it against its optimizer's rate, before any update.
    let (x, t) = (rows(2, 1, &[0.0, 1.0]), rows(2, 1, &[0.0, 1.0]));
    let mut net = Sequential::<f64>::builder(1).add(Dense::new(1, 1)).build(0).unwrap();
    let before = net.to_bytes().unwrap();
    let mut config = FitConfig::new(SquaredError::mean(), Sgd::new(0.1)).epochs(3).schedule(schedule);
    let err = net.fit(&x, &t, &mut config).unwrap_err();
    assert!(matches!(err, Error::InvalidConfig { name: "schedule min_learning_rate", .. }), "{err:?}");
    assert_eq!(net.to_bytes().unwrap(), before);
}

#[test]
fn exponential_schedule_at_huge_epochs_decays() {
    let huge = 1usize << 31;
    let s = Schedule::Exponential { gamma: 0.5 };
    assert_eq!(s.rate(0.1, huge, huge + 1), Schedule::MIN_RATE);
    assert_eq!(Schedule::Exponential { gamma: 1.0 }.rate(0.1, huge, huge + 1), 0.1);
    assert_eq!(Schedule::Step { every: 1, gamma: 0.5 }.rate(0.1, huge, huge + 1), Schedule::MIN_RATE);
    // Normal epochs: as before, bit for bit.
    for epoch in [0usize, 1, 2, 7, 100, 1000] {
        // black_box: a constant-folded powi may round differently from the one at run time.
        let power = std::hint::black_box(0.96f64).powi(std::hint::black_box(epoch as i32));
        let expected = (0.1 * power).max(Schedule::MIN_RATE);
        assert_eq!(Schedule::Exponential { gamma: 0.96 }.rate(0.1, epoch, 2000).to_bits(), expected.to_bits());
    }
    // fit runs such an epoch (resumed there) instead of refusing the rate.
    let mut net = Sequential::<f64>::builder(1).add(Dense::new(1, 2)).build(0).unwrap();
    let x = rows(2, 1, &[0.0, 1.0]);
    let t = rows(2, 1, &[0.0, 1.0]);
    let mut config = FitConfig::new(SoftmaxCrossEntropy, Sgd::new(0.1)).schedule(s).start_epoch(huge).epochs(huge + 1);
    let history = net.fit(&x, &t, &mut config).unwrap();
    assert_eq!(history.epochs(), 1);
}

#[test]
fn a_histogram_of_more_bins_than_any_matrix_is_refused_before_training() {
    use backprop::diagnostics::Diagnostics;
    let huge = Diagnostics::every_epoch().histograms(usize::MAX);
    assert!(matches!(huge.validate(), Err(Error::InvalidConfig { name: "histogram bins", .. })));
    let (x, t) = (rows(2, 1, &[0.0, 1.0]), rows(2, 1, &[0.0, 1.0]));
    let mut net = Sequential::<f64>::builder(1).add(Dense::new(1, 1)).build(0).unwrap();
    let before = net.to_bytes().unwrap();
    let mut config =
        FitConfig::new(SquaredError::mean(), Sgd::new(0.1)).diagnostics(Diagnostics::every_epoch().histograms(1 << 60));
    let err = net.fit(&x, &t, &mut config).unwrap_err();
    assert!(matches!(err, Error::InvalidConfig { name: "histogram bins", .. }), "{err:?}");
    assert_eq!(net.to_bytes().unwrap(), before);
}

#[test]
fn the_last_epoch_numbers_print_without_overflow() {
    let mut history = backprop::History::default();
    history.loss.push(0.5);
    history.first_epoch = usize::MAX;
    let csv = history.to_csv();
    assert!(csv.lines().nth(1).unwrap().starts_with("18446744073709551616,0.5,"), "{csv}");
}

#[test]
fn a_layer_check_needs_rows_and_finite_inputs() {
    use backprop::gradcheck::check_layer;
    let mut dense = Dense::<f64>::new(2, 2);
    backprop::Layer::build(&mut dense, backprop::Shape::Flat(2), &mut backprop::seeded(0, backprop::Stream::Init))
        .unwrap();
    let err = check_layer(&mut dense, &DMatrix::zeros(0, 2), Tolerance::default()).unwrap_err();
    assert!(matches!(err, Error::EmptyInput { what: "x", .. }), "{err:?}");
    let err = check_layer(&mut dense, &rows(1, 2, &[0.5, f64::NAN]), Tolerance::default()).unwrap_err();
    assert!(matches!(err, Error::NonFinite { .. }), "{err:?}");
    assert!(check_layer(&mut dense, &rows(1, 2, &[0.5, 0.25]), Tolerance::default()).unwrap().passed());
}

#[test]
fn a_histogram_total_saturates() {
    use backprop::diagnostics::Diagnostics;
    let (x, t) = (rows(2, 1, &[0.0, 1.0]), rows(2, 1, &[0.0, 1.0]));
    let mut net = Sequential::<f64>::builder(1).add(Dense::new(1, 1)).build(0).unwrap();
    let mut config =
        FitConfig::new(SquaredError::mean(), Sgd::new(0.1)).diagnostics(Diagnostics::every_epoch().histograms(2));
    let history = net.fit(&x, &t, &mut config).unwrap();
    let mut histogram = history.diagnostics[0].layers[0].histogram.clone().unwrap();
    assert_eq!(histogram.total(), 2);
    histogram.counts = vec![u64::MAX, 1];
    assert_eq!(histogram.total(), u64::MAX);
}
