//! Classification conveniences, summaries and copies: predict_classes, predict_proba, the
//! confusion matrix, top-k accuracy, argmax_row's errors, evaluate_with, summary, Debug,
//! try_clone, and the Display of Evaluation and History.

use backprop::prelude::*;
use backprop::{argmax_row, classes, probabilities, top_k_accuracy, ConfusionMatrix, Error, Evaluation};
use nalgebra::DMatrix;

fn xor() -> (DMatrix<f64>, DMatrix<f64>) {
    let x = DMatrix::from_row_slice(4, 2, &[0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0]);
    let t = DMatrix::from_row_slice(4, 1, &[0.0, 1.0, 1.0, 0.0]);
    (x, t)
}

fn trained_xor() -> (Sequential<f64>, FitConfig<f64>) {
    let (x, t) = xor();
    let mut net = Sequential::<f64>::builder(2)
        .add(Dense::new(2, 4))
        .add(Tanh)
        .add(Dense::new(4, 1))
        .add(Sigmoid)
        .build(0)
        .unwrap();
    let mut config = FitConfig::new(SquaredError::half_sum(), Sgd::new(0.5)).epochs(2000);
    net.fit(&x, &t, &mut config).unwrap();
    (net, config)
}

#[test]
fn argmax_row_errors_instead_of_panicking() {
    let y = DMatrix::from_row_slice(2, 3, &[0.1, 0.7, 0.2, 2.0, -1.0, 0.5]);
    assert_eq!(argmax_row(&y, 1).unwrap(), 0);
    let e = argmax_row(&y, 99).unwrap_err();
    assert!(matches!(e, Error::IndexOutOfRange { what: "row", index: 99, len: 2 }), "{e:?}");
    assert_eq!(e.to_string(), "row 99 is out of range: there are 2");
    assert!(matches!(argmax_row(&DMatrix::<f64>::zeros(2, 0), 0), Err(Error::EmptyInput { .. })));
    assert!(matches!(argmax_row(&DMatrix::<f64>::zeros(0, 3), 0), Err(Error::IndexOutOfRange { .. })));
}

#[test]
fn predict_classes_and_proba() {
    let (net, config) = trained_xor();
    let (x, t) = xor();
    assert_eq!(net.predict_classes(&x).unwrap(), [0, 1, 1, 0]);
    // One output: the probabilities are the outputs.
    assert_eq!(net.predict_proba(&x).unwrap(), net.predict(&x).unwrap());
    let e = net.evaluate_with(&x, &t, &config).unwrap();
    assert_eq!(e, net.evaluate(&x, &t, &SquaredError::half_sum()).unwrap());
    assert_eq!(e.accuracy, 1.0);
    // Wrong inputs are errors, not panics.
    assert!(matches!(net.predict_classes(&DMatrix::zeros(1, 3)), Err(Error::FeatureMismatch { .. })));
    assert!(matches!(net.predict_proba(&DMatrix::from_element(1, 2, f64::NAN)), Err(Error::NonFinite { .. })));
    assert!(net.predict_classes(&DMatrix::zeros(0, 2)).unwrap().is_empty());

    // Several outputs: softmax rows summing to 1, classes by argmax.
    let net = Sequential::<f32>::builder(3).add(Dense::new(3, 4)).build(1).unwrap();
    let x = DMatrix::from_fn(5, 3, |i, j| (i as f32 - j as f32) * 0.3);
    let (p, y) = (net.predict_proba(&x).unwrap(), net.predict(&x).unwrap());
    for i in 0..5 {
        assert!((p.row(i).sum() - 1.0).abs() < 1e-6);
        assert_eq!(argmax_row(&p, i).unwrap(), argmax_row(&y, i).unwrap());
    }
    assert_eq!(net.predict_classes(&x).unwrap(), classes(&y).unwrap());
    // Stable for huge logits.
    let big = probabilities(&DMatrix::from_row_slice(1, 2, &[1000.0f64, 0.0]));
    assert_eq!((big[(0, 0)], big[(0, 1)]), (1.0, 0.0));
    assert!(matches!(classes(&DMatrix::<f64>::zeros(3, 0)), Err(Error::EmptyInput { .. })));
}

#[test]
fn confusion_matrix_counts_and_scores() {
    let m = ConfusionMatrix::new(3, &[0, 0, 1, 1, 2, 2], &[0, 1, 1, 1, 2, 0]).unwrap();
    assert_eq!(m.total(), 6);
    assert_eq!(m.count(2, 0), Some(1));
    assert_eq!(m.count(3, 0), None);
    assert_eq!(m.support(0), 2);
    assert_eq!(m.precision(0), Some(0.5));
    assert_eq!(m.recall(2), Some(0.5));
    assert_eq!(m.f1(2), Some(2.0 / 3.0));
    assert_eq!(m.precision(9), None);
    // scikit-learn: f1_score([0,0,1,1,2,2], [0,1,1,1,2,0], average="macro") = 0.6555...
    assert!((m.macro_f1() - (0.5 + 0.8 + 2.0 / 3.0) / 3.0).abs() < 1e-12);
    let text = m.to_string();
    assert!(text.contains("precision") && text.contains("accuracy 0.6667 of 6 samples"), "{text}");
    println!("{text}");

    // A class never predicted: precision undefined, shown as "-".
    let m = ConfusionMatrix::new(2, &[0, 1], &[0, 0]).unwrap();
    assert_eq!(m.precision(1), None);
    assert_eq!(m.f1(1), None);
    assert!(m.to_string().lines().any(|l| l.trim_start().starts_with("1 ") && l.contains('-')), "{m}");

    // Bad input: errors.
    assert!(matches!(ConfusionMatrix::new(2, &[0, 2], &[0, 0]), Err(Error::LabelOutOfRange { row: 1, .. })));
    assert!(matches!(ConfusionMatrix::new(2, &[0], &[0, 0]), Err(Error::RowCountMismatch { .. })));
    assert!(matches!(ConfusionMatrix::new(0, &[], &[]), Err(Error::InvalidConfig { .. })));

    // From a network: one-hot, class indices and a single sigmoid output agree.
    let y = DMatrix::from_row_slice(3, 2, &[0.9, 0.1, 0.2, 0.8, 0.6, 0.4]);
    let labels = DMatrix::from_row_slice(3, 1, &[0.0, 1.0, 1.0]);
    let one_hot = DMatrix::from_row_slice(3, 2, &[1.0, 0.0, 0.0, 1.0, 0.0, 1.0]);
    let a = ConfusionMatrix::from_outputs(&y, &labels).unwrap();
    assert_eq!(a, ConfusionMatrix::from_outputs(&y, &one_hot).unwrap());
    assert_eq!(a.count(1, 0), Some(1));
    let bad = DMatrix::from_row_slice(3, 1, &[0.0, 1.5, 1.0]);
    assert!(matches!(ConfusionMatrix::from_outputs(&y, &bad), Err(Error::LabelOutOfRange { row: 1, .. })));
    let (net, _) = trained_xor();
    let (x, t) = xor();
    let m = net.confusion_matrix(&x, &t).unwrap();
    assert_eq!((m.classes(), m.accuracy()), (2, 1.0));
}

#[test]
fn top_k_accuracy_counts_the_k_largest() {
    let y = DMatrix::from_row_slice(3, 3, &[0.5, 0.3, 0.2, 0.1, 0.2, 0.7, 0.3, 0.3, 0.4]);
    let labels = DMatrix::from_row_slice(3, 1, &[1.0, 0.0, 1.0]);
    assert_eq!(top_k_accuracy(&y, &labels, 1).unwrap(), 0.0);
    assert!((top_k_accuracy(&y, &labels, 2).unwrap() - 2.0 / 3.0).abs() < 1e-12); // a tie counts
    assert_eq!(top_k_accuracy(&y, &labels, 3).unwrap(), 1.0);
    assert_eq!(top_k_accuracy(&y, &labels, 30).unwrap(), 1.0);
    assert_eq!(backprop::accuracy(&y, &labels).unwrap(), top_k_accuracy(&y, &labels, 1).unwrap());
    assert!(matches!(top_k_accuracy(&y, &labels, 0), Err(Error::InvalidConfig { .. })));
    assert!(matches!(top_k_accuracy(&y, &DMatrix::zeros(2, 1), 1), Err(Error::RowCountMismatch { .. })));
    let out_of_range = DMatrix::from_row_slice(3, 1, &[1.0, 3.0, 1.0]);
    assert!(matches!(top_k_accuracy(&y, &out_of_range, 1), Err(Error::LabelOutOfRange { row: 1, .. })));
    assert!(matches!(top_k_accuracy(&DMatrix::<f64>::zeros(3, 1), &labels, 1), Err(Error::InvalidConfig { .. })));
}

#[test]
fn summary_debug_and_clone() {
    let net = Sequential::<f32>::builder(8)
        .add(Dense::new(8, 16))
        .add(Relu)
        .add(Residual::identity(Chain::new().add(Dense::new(16, 16)).add(Relu)))
        .add(Dropout::new(0.1).unwrap())
        .add(Dense::new(16, 3))
        .build(0)
        .unwrap();
    let s = net.summary();
    let paths: Vec<&str> = s.rows.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(paths, ["0", "1", "2", "2.body", "2.body.0", "2.body.1", "3", "4"]);
    assert_eq!(s.rows[0].params, 8 * 16 + 16);
    assert_eq!(s.rows[2].params, 16 * 16 + 16); // a container counts what is below it
    assert_eq!(s.rows[4].output, Some(Shape::Flat(16)));
    assert_eq!(s.rows[7].output, Some(Shape::Flat(3)));
    assert_eq!(s.trainable, net.num_params());
    assert_eq!(s.non_trainable, 0);
    let text = s.to_string();
    assert!(text.contains("total params: 467") && text.contains("(batch, 16)"), "{text}");
    println!("{text}");

    // Debug is short even after training on many rows.
    let mut net2 = net.try_clone().unwrap();
    let x = DMatrix::from_fn(2000, 8, |i, j| ((i * j) % 7) as f32 / 7.0);
    let t = DMatrix::from_fn(2000, 1, |i, _| (i % 3) as f32);
    net2.fit(&x, &t, &mut FitConfig::new(SoftmaxCrossEntropy, Adam::new(1e-3)).epochs(1)).unwrap();
    let debug = format!("{net2:?}");
    assert!(debug.len() < 400 && debug.contains("\"2.body.0\": \"dense\""), "{debug}");

    // A copy predicts as the original and trains on its own.
    let copy = net2.try_clone().unwrap();
    assert_eq!(copy.predict(&x).unwrap(), net2.predict(&x).unwrap());
    net2.fit(&x, &t, &mut FitConfig::new(SoftmaxCrossEntropy, Adam::new(1e-3)).epochs(1)).unwrap();
    assert_ne!(copy.predict(&x).unwrap(), net2.predict(&x).unwrap());
}

/// A custom layer that does not implement `clone_box`.
#[derive(Debug)]
struct Opaque;

impl Layer<f64> for Opaque {
    fn kind(&self) -> &'static str {
        "opaque"
    }
    fn build(&mut self, input: Shape, _rng: &mut backprop::SeededRng) -> backprop::Result<Shape> {
        Ok(input)
    }
    fn forward(&self, x: &DMatrix<f64>, y: &mut DMatrix<f64>) -> backprop::Result<()> {
        y.clone_from(x);
        Ok(())
    }
    fn backward(
        &mut self,
        _x: &DMatrix<f64>,
        _y: &DMatrix<f64>,
        g: &DMatrix<f64>,
        gx: Option<&mut DMatrix<f64>>,
    ) -> backprop::Result<()> {
        if let Some(gx) = gx {
            gx.clone_from(g);
        }
        Ok(())
    }
}

#[test]
fn a_layer_without_clone_box_is_named() {
    let net = Sequential::<f64>::builder(2)
        .add(Dense::new(2, 2))
        .add(Residual::identity(Chain::new().add(Tanh).add(Opaque)))
        .build(0)
        .unwrap();
    let e = net.try_clone().unwrap_err();
    assert!(matches!(&e, Error::NotCloneable { layer } if layer.path.as_deref() == Some("1.body.1")), "{e:?}");
    assert!(net.summary().to_string().contains("opaque"));
    // With several, the first one is named (not the last, nor a container holding it).
    let net = Sequential::<f64>::builder(2)
        .add(Chain::new().add(Tanh).add(Opaque))
        .add(Opaque)
        .add(Residual::identity(Chain::new().add(Opaque)))
        .build(0)
        .unwrap();
    let e = net.try_clone().unwrap_err();
    assert!(matches!(&e, Error::NotCloneable { layer } if layer.path.as_deref() == Some("0.1")), "{e:?}");
}

#[test]
fn evaluation_and_history_display() {
    let e = Evaluation { loss: 0.0612345, accuracy: 0.975 };
    assert_eq!(e.to_string(), "loss 0.061234  accuracy 0.9750");
    let (x, t) = xor();
    let mut net = Sequential::<f64>::builder(2).add(Dense::new(2, 1)).add(Sigmoid).build(0).unwrap();
    let history = net.fit(&x, &t, &mut FitConfig::new(SquaredError::half_sum(), Sgd::new(0.1)).epochs(3)).unwrap();
    let last = history.last().unwrap();
    assert_eq!((last.epoch, last.number()), (2, 3));
    assert_eq!(last.loss, history.loss[2]);
    let text = history.to_string();
    assert!(text.starts_with("3 epochs; last: epoch    3  loss "), "{text}");
    assert_eq!(backprop::History::default().to_string(), "no epochs");
}

#[test]
fn fit_config_copies_carry_the_optimizer_state() {
    let (x, t) = xor();
    let mut net = Sequential::<f64>::builder(2)
        .add(Dense::new(2, 4))
        .add(Tanh)
        .add(Dense::new(4, 1))
        .add(Sigmoid)
        .build(0)
        .unwrap();
    let mut config = FitConfig::new(SquaredError::half_sum(), Adam::new(0.01)).epochs(5);
    net.fit(&x, &t, &mut config).unwrap();
    // Two copies of the network and of the configuration go on identically.
    let mut copy_config = config.try_clone().unwrap();
    let mut copy_net = net.try_clone().unwrap();
    assert_eq!(copy_config.optimizer().state(), config.optimizer().state());
    net.fit(&x, &t, &mut config).unwrap();
    copy_net.fit(&x, &t, &mut copy_config).unwrap();
    assert_eq!(copy_net.predict(&x).unwrap(), net.predict(&x).unwrap());
    // A callback cannot be copied: an error naming it.
    let with_callback = FitConfig::<f64>::new(SquaredError::half_sum(), Sgd::new(0.1)).on_epoch(|_| Control::Continue);
    let e = with_callback.try_clone().unwrap_err();
    assert!(matches!(e, Error::InvalidConfig { name: "on_epoch callback", .. }), "{e:?}");
}
