//! Training diagnostics: every layer of a nested network is seen by its path (a layer written
//! here included), the numbers are the ones computed by hand, and switching them on changes
//! nothing about training.

use backprop::diagnostics::{activations, Diagnostics, Histogram};
use backprop::prelude::*;
use backprop::{ensure_shape, Error, History, Real, Result, SeededRng, WeightDecay};
use nalgebra::DMatrix;

/// A layer defined outside the crate, without parameters: `y = x + 1`.
#[derive(Debug, Clone)]
struct AddOne;

impl<T: Real> Layer<T> for AddOne {
    fn kind(&self) -> &'static str {
        "add_one"
    }

    fn build(&mut self, input: Shape, _rng: &mut SeededRng) -> Result<Shape> {
        Ok(input)
    }

    fn forward(&self, x: &DMatrix<T>, y: &mut DMatrix<T>) -> Result<()> {
        ensure_shape(y, x.nrows(), x.ncols());
        y.zip_apply(x, |yi, xi| *yi = xi + T::one());
        Ok(())
    }

    fn backward(
        &mut self,
        _x: &DMatrix<T>,
        _y: &DMatrix<T>,
        grad_y: &DMatrix<T>,
        grad_x: Option<&mut DMatrix<T>>,
    ) -> Result<()> {
        if let Some(dx) = grad_x {
            ensure_shape(dx, grad_y.nrows(), grad_y.ncols());
            dx.copy_from(grad_y);
        }
        Ok(())
    }

    fn clone_box(&self) -> Option<Box<dyn Layer<T>>> {
        Some(Box::new(self.clone()))
    }
}

/// Inputs of `rows × cols` from a fixed formula, roughly in [-1, 1].
fn inputs(rows: usize, cols: usize) -> DMatrix<f64> {
    DMatrix::from_fn(rows, cols, |i, j| ((i * 7 + j * 3) % 11) as f64 / 5.0 - 1.0)
}

/// One-hot targets of `classes` classes.
fn targets(rows: usize, classes: usize) -> DMatrix<f64> {
    DMatrix::from_fn(rows, classes, |i, j| if i % classes == j { 1.0 } else { 0.0 })
}

/// Dense, a residual block whose body holds [`AddOne`], tanh, and a chain of two layers.
fn nested() -> Sequential<f64> {
    let body = Chain::new().add(Dense::new(6, 6)).add(Relu).add(AddOne);
    Sequential::builder(4)
        .add(Dense::new(4, 6))
        .add(Residual::projection(body, Dense::new(6, 6)))
        .add(Tanh)
        .add(Chain::new().add(Dense::new(6, 3)).add(Sigmoid))
        .build(3)
        .unwrap()
}

#[test]
fn the_hook_sees_every_layer_of_a_nested_network_by_path() {
    let mut net = nested();
    let (x, t) = (inputs(10, 4), targets(10, 3));
    let mut config =
        FitConfig::new(SoftmaxCrossEntropy, Sgd::new(0.1)).epochs(2).diagnostics(Diagnostics::every_epoch());
    let history = net.fit(&x, &t, &mut config).unwrap();
    assert_eq!(history.diagnostics.len(), 2);
    let d = &history.diagnostics[1];
    assert_eq!(d.epoch, 1);
    let layers: Vec<(&str, &str)> = d.layers.iter().map(|l| (l.path.as_str(), l.kind.as_str())).collect();
    let expected = [
        ("0", "dense"),
        ("1", "residual"),
        ("1.body", "chain"),
        ("1.body.0", "dense"),
        ("1.body.1", "relu"),
        ("1.body.2", "add_one"),
        ("1.shortcut", "dense"),
        ("2", "tanh"),
        ("3", "chain"),
        ("3.0", "dense"),
        ("3.1", "sigmoid"),
    ];
    assert_eq!(layers, expected);
    let params: Vec<&str> = d.params.iter().map(|p| p.path.as_str()).collect();
    let paths: Vec<String> = net.named_params().into_iter().map(|(p, _)| p).collect();
    assert_eq!(params, paths);
    // The custom layer adds 1 to the ReLU's output: the same spread, the mean 1 higher.
    let (relu, add_one) = (d.layer("1.body.1").unwrap(), d.layer("1.body.2").unwrap());
    assert!((add_one.mean - relu.mean - 1.0).abs() < 1e-12);
    assert!((add_one.std - relu.std).abs() < 1e-12);
    // A chain's output is its last layer's; a residual block's is body + shortcut.
    assert_eq!(d.layer("3").unwrap().mean, d.layer("3.1").unwrap().mean);
    let (sum, body, shortcut) = (d.layer("1").unwrap(), d.layer("1.body").unwrap(), d.layer("1.shortcut").unwrap());
    assert!((sum.mean - body.mean - shortcut.mean).abs() < 1e-12);
}

/// `mean`, population `std` of `values`.
fn mean_std(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    (mean, (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt())
}

fn frobenius(m: &DMatrix<f64>) -> f64 {
    m.iter().map(|v| v * v).sum::<f64>().sqrt()
}

#[test]
fn the_statistics_are_the_ones_computed_by_hand() {
    // 3 inputs → 4 ReLU units (unit 0 dead: its weights are negative, the inputs positive)
    // → 2 sigmoid outputs, large weights so some saturate.
    let mut net = Sequential::<f64>::builder(3)
        .add(Dense::new(3, 4))
        .add(Relu)
        .add(Dense::new(4, 2))
        .add(Sigmoid)
        .build(0)
        .unwrap();
    let w1 = DMatrix::from_row_slice(3, 4, &[-1.0, 0.5, 0.2, -0.3, -2.0, -0.4, 0.9, 0.6, -0.5, 0.8, -0.7, 0.1]);
    let w2 = DMatrix::from_row_slice(4, 2, &[1.0, -1.0, 4.0, -6.0, 5.0, 7.0, -3.0, 2.0]);
    net.set_param("0.weight", &w1).unwrap();
    net.set_param("2.weight", &w2).unwrap();
    let x = DMatrix::from_fn(6, 3, |i, j| 0.25 + ((i * 5 + j * 2) % 7) as f64 * 0.5);
    let t = DMatrix::from_fn(6, 2, |i, j| ((i + j) % 2) as f64);
    let loss = SquaredError::half_sum();
    let grads = net.try_clone().unwrap().gradients(&x, &t, &loss).unwrap();
    let before: Vec<(String, DMatrix<f64>)> =
        net.named_params().into_iter().map(|(path, p)| (path, p.value().clone())).collect();

    let settings = Diagnostics::every_epoch().histograms(5);
    let mut config = FitConfig::new(loss, Sgd::new(0.3)).diagnostics(settings);
    let history = net.fit(&x, &t, &mut config).unwrap();
    let d = &history.diagnostics[0];

    // The layers, from the weights before the step (full batch: the only step).
    let h = &x * &w1; // the biases start at 0
    let a = h.map(|v| v.max(0.0));
    let z = &a * &w2;
    let s = z.map(|v| 1.0 / (1.0 + (-v).exp()));
    for (path, m) in [("0", &h), ("1", &a), ("2", &z), ("3", &s)] {
        let (mean, std) = mean_std(m.as_slice());
        let got = d.layer(path).unwrap();
        assert!((got.mean - mean).abs() < 1e-12 && (got.std - std).abs() < 1e-12, "{path}: {got:?}");
        // Histogram: 5 bins over [min, max], the maximum in the last.
        let (lo, hi) = m.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, u), &v| (l.min(v), u.max(v)));
        let mut counts = [0u64; 5];
        for &v in m.iter() {
            counts[(((v - lo) / (hi - lo) * 5.0).floor() as usize).min(4)] += 1;
        }
        let hist = got.histogram.as_ref().unwrap();
        assert_eq!((hist.low, hist.high, hist.counts.as_slice()), (lo, hi, &counts[..]), "{path}");
    }
    let dead_units = (0..4).filter(|&j| a.column(j).iter().all(|&v| v == 0.0)).count();
    assert_eq!(dead_units, 1);
    assert_eq!(d.layer("1").unwrap().dead, Some(0.25));
    let saturated = s.iter().filter(|&&v| !(0.01..=0.99).contains(&v)).count();
    assert!(saturated > 0 && saturated < s.len(), "{saturated} of {}", s.len());
    assert_eq!(d.layer("3").unwrap().saturated, Some(saturated as f64 / s.len() as f64));
    assert_eq!((d.layer("0").unwrap().dead, d.layer("0").unwrap().saturated), (None, None));

    // The parameters: gradient norms, and the update the step made.
    assert_eq!(d.params.len(), 4);
    for (p, (path, w0)) in d.params.iter().zip(&before) {
        assert_eq!(&p.path, path);
        let g = grads.get(path).unwrap();
        assert!((p.grad_norm - frobenius(g)).abs() < 1e-12 * frobenius(g).max(1.0), "{path}");
        let w1 = net.param(path).unwrap();
        let update = frobenius(&(w1 - w0));
        assert!((p.weight_norm - frobenius(w0)).abs() < 1e-12, "{path}");
        assert!((p.update_norm - update).abs() < 1e-12, "{path}");
        // Plain SGD: ΔW = −η·∂E/∂W.
        assert!((p.update_norm - 0.3 * frobenius(g)).abs() < 1e-12, "{path}");
        match path.ends_with("bias") {
            true => assert_eq!(p.update_ratio, None), // zero biases
            false => assert!((p.update_ratio.unwrap() - update / frobenius(w0)).abs() < 1e-12),
        }
    }
}

/// The history with its timings and diagnostics cleared.
fn without_timing(history: &History) -> History {
    let mut h = history.clone();
    h.seconds.clear();
    h.diagnostics.clear();
    h
}

#[test]
fn diagnostics_off_leave_history_and_csv_as_before() {
    let (x, t) = (inputs(12, 4), targets(12, 3));
    let config = || FitConfig::new(SoftmaxCrossEntropy, Sgd::new(0.1)).epochs(3).batch_size(5).validation_split(0.25);
    let off = nested().fit(&x, &t, &mut config()).unwrap();
    let on = nested().fit(&x, &t, &mut config().diagnostics(Diagnostics::every_epoch().histograms(4))).unwrap();
    assert!(off.diagnostics.is_empty());
    assert_eq!(on.diagnostics.len(), 3);
    assert_eq!(without_timing(&off), without_timing(&on));
    // The CSV has its columns of before, and nothing of diagnostics in it either way.
    let header = "epoch,loss,accuracy,val_loss,val_accuracy,learning_rate,seconds";
    for h in [&off, &on] {
        let csv = h.to_csv();
        assert_eq!(csv.lines().next(), Some(header));
        assert_eq!(csv.lines().count(), 4);
    }
    let drop_seconds = |csv: String| csv.lines().map(|l| l.rsplit_once(',').unwrap().0.to_string()).collect::<Vec<_>>();
    assert_eq!(drop_seconds(off.to_csv()), drop_seconds(on.to_csv()));
    assert_eq!(off.diagnostics_csv(), "epoch,path,kind,statistic,value\n");
    assert_eq!(off.histograms_csv(), "epoch,path,low,high,count\n");
}

#[test]
fn the_csv_holds_every_number() {
    let (x, t) = (inputs(10, 4), targets(10, 3));
    let mut net = nested();
    let mut config = FitConfig::new(SoftmaxCrossEntropy, Sgd::new(0.1))
        .epochs(2)
        .diagnostics(Diagnostics::every_epoch().histograms(3));
    let history = net.fit(&x, &t, &mut config).unwrap();
    let csv = history.diagnostics_csv();
    let d = &history.diagnostics[1];
    let relu = d.layer("1.body.1").unwrap();
    assert!(csv.contains(&format!("\n2,1.body.1,relu,dead,{}\n", relu.dead.unwrap())), "{csv}");
    assert!(csv.contains(&format!("\n2,3.1,sigmoid,saturated,{}\n", d.layer("3.1").unwrap().saturated.unwrap())));
    let w = d.param("3.0.weight").unwrap();
    assert!(csv.contains(&format!("\n2,3.0.weight,param,update_ratio,{}\n", w.update_ratio.unwrap())));
    // Every layer: mean and std, plus one share for relu, tanh and sigmoid; every parameter
    // (4 weights, 4 biases): four norms, but the biases are zero in the first epoch, so they
    // have no ratio then.
    let layer_lines = 2 * (11 * 2 + 3);
    let param_lines = 2 * 8 * 4 - 4;
    assert_eq!(csv.lines().count(), 1 + layer_lines + param_lines);
    // Histograms: 3 bins per layer, each bin's count the layer's entries in all.
    let hist = history.histograms_csv();
    assert_eq!(hist.lines().count(), 1 + 2 * 11 * 3);
    let counts: u64 = hist
        .lines()
        .skip(1)
        .filter(|l| l.starts_with("1,0,"))
        .map(|l| l.rsplit(',').next().unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(counts, 10 * 6);
}

#[test]
fn a_seeded_fit_trains_the_same_weights_with_diagnostics_on_and_off() {
    let (x, t) = (inputs(37, 4), targets(37, 3));
    let build = || {
        Sequential::<f32>::builder(4)
            .add(Dense::new(4, 8))
            .add(BatchNorm::new(8))
            .add(Relu)
            .add(Dropout::new(0.3).unwrap())
            .add(Residual::identity(Chain::new().add(Dense::new(8, 8)).add(Tanh)))
            .add(Dense::new(8, 3))
            .build(11)
            .unwrap()
    };
    let x = x.map(|v| v as f32);
    let t = t.map(|v| v as f32);
    let config = || {
        FitConfig::new(SoftmaxCrossEntropy, Adam::new(0.01).with_weight_decay(WeightDecay::L2(1e-3)))
            .epochs(5)
            .batch_size(8)
            .seed(9)
    };
    let (mut off, mut on) = (build(), build());
    let h_off = off.fit(&x, &t, &mut config()).unwrap();
    let h_on = on.fit(&x, &t, &mut config().diagnostics(Diagnostics::every(2).batch(1).histograms(10))).unwrap();
    assert_eq!(h_on.diagnostics.iter().map(|d| d.epoch).collect::<Vec<_>>(), [0, 2, 4]);
    assert_eq!(without_timing(&h_off), without_timing(&h_on));
    let bits = |net: &Sequential<f32>| {
        let mut all = Vec::new();
        net.visit_params(&mut |_, p| all.extend(p.value().iter().map(|v| v.to_bits())));
        net.visit_buffers(&mut |_, m| all.extend(m.iter().map(|v| v.to_bits())));
        all
    };
    assert_eq!(bits(&off), bits(&on));
}

#[test]
fn activations_are_what_fit_measures_and_change_nothing() {
    let net = nested();
    let x = inputs(10, 4);
    let settings = Diagnostics::every_epoch().histograms(6).histogram_range(-1.0, 1.0);
    let copy = net.try_clone().unwrap();
    let stats = activations(&net, &x, &settings).unwrap();
    assert_eq!(
        net.named_params().iter().map(|(_, p)| p.value()).collect::<Vec<_>>(),
        copy.named_params().iter().map(|(_, p)| p.value()).collect::<Vec<_>>()
    );
    let mut trained = copy;
    let mut config = FitConfig::new(SoftmaxCrossEntropy, Sgd::new(0.1)).diagnostics(settings);
    let history = trained.fit(&x, &targets(10, 3), &mut config).unwrap();
    assert_eq!(stats, history.diagnostics[0].layers);
    // A fixed range counts what falls outside it.
    let add_one = stats.iter().find(|s| s.path == "1.body.2").unwrap().histogram.as_ref().unwrap();
    assert_eq!(add_one.total() + add_one.below + add_one.above, 10 * 6);
    assert!(add_one.above > 0);
}

#[test]
fn bad_settings_and_inputs_are_errors_and_change_nothing() {
    let (x, t) = (inputs(10, 4), targets(10, 3));
    let mut net = nested();
    let before = net.param("0.weight").unwrap().clone();
    for bad in [
        Diagnostics::every(0),
        Diagnostics::every_epoch().histograms(4).histogram_range(1.0, 1.0),
        Diagnostics::every_epoch().histograms(4).histogram_range(0.0, f64::NAN),
        Diagnostics::every_epoch().histogram_range(0.0, 1.0),
    ] {
        let mut config = FitConfig::new(SoftmaxCrossEntropy, Sgd::new(0.1)).diagnostics(bad.clone());
        assert!(matches!(net.fit(&x, &t, &mut config), Err(Error::InvalidConfig { .. })), "{bad:?}");
        assert!(matches!(activations(&net, &x, &bad), Err(Error::InvalidConfig { .. })), "{bad:?}");
    }
    assert_eq!(net.param("0.weight").unwrap(), &before);
    let ok = Diagnostics::every_epoch();
    assert!(matches!(activations(&net, &inputs(3, 5), &ok), Err(Error::FeatureMismatch { .. })));
    assert!(matches!(activations(&net, &DMatrix::zeros(0, 4), &ok), Err(Error::EmptyInput { .. })));
    assert!(matches!(activations(&net, &DMatrix::from_element(2, 4, f64::NAN), &ok), Err(Error::NonFinite { .. })));
}

#[test]
fn histograms_follow_numpy() {
    // np.histogram([0, 1, 1, 2, 3, 3.5, 4], bins=4) → counts [1, 2, 1, 3], edges 0..4.
    let h = Histogram::new(&[0.0, 1.0, 1.0, 2.0, 3.0, 3.5, 4.0], 4, None);
    assert_eq!((h.low, h.high, h.counts.as_slice()), (0.0, 4.0, &[1, 2, 1, 3][..]));
    let same = Histogram::new(&[2.0, 2.0], 3, None);
    assert_eq!((same.low, same.high, same.total()), (1.5, 2.5, 2));
    let fixed = Histogram::new(&[-1.0, 0.5, f64::NAN, 9.0], 2, Some((0.0, 1.0)));
    assert_eq!((fixed.below, fixed.counts.as_slice(), fixed.above), (1, &[0, 1][..], 1));
}

#[test]
fn the_measured_batch_is_the_one_asked_for() {
    let d = Diagnostics::every(3).batch(4);
    assert!(d.measures(0, 4, 10) && d.measures(6, 4, 10));
    assert!(!d.measures(1, 4, 10) && !d.measures(0, 3, 10));
    // An epoch of fewer batches: its last.
    assert!(d.measures(3, 1, 2) && !d.measures(3, 0, 2));
}

#[cfg(feature = "serde")]
#[test]
fn json_leaves_out_empty_diagnostics_and_keeps_full_ones() {
    let (x, t) = (inputs(10, 4), targets(10, 3));
    let off = nested().fit(&x, &t, &mut FitConfig::new(SoftmaxCrossEntropy, Sgd::new(0.1))).unwrap();
    assert!(!off.to_json().unwrap().contains("diagnostics"));
    let mut config =
        FitConfig::new(SoftmaxCrossEntropy, Sgd::new(0.1)).diagnostics(Diagnostics::every_epoch().histograms(3));
    let on = nested().fit(&x, &t, &mut config).unwrap();
    let back: History = serde_json::from_str(&on.to_json().unwrap()).unwrap();
    assert_eq!(back, on);
}
