//! Feature `serde`: the plain types round-trip through JSON, and a History is written as JSON.
#![cfg(feature = "serde")]

use backprop::prelude::*;
use backprop::{EpochStats, FitSettings, LayerConfig};
use nalgebra::DMatrix;

fn round_trip<V: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug>(v: &V) {
    let json = serde_json::to_string(v).unwrap();
    let back: V = serde_json::from_str(&json).unwrap();
    assert_eq!(&back, v, "{json}");
}

#[test]
fn plain_types_round_trip() {
    round_trip(&Init::Uniform { low: 0.0, high: 1.0 });
    round_trip(&Init::HeNormal);
    round_trip(&Schedule::Cosine { min_learning_rate: 0.0 });
    round_trip(&LayerConfig::new("dense").with("in_dim", 2).with("out_dim", 3));
    let config = FitConfig::<f64>::new(SquaredError::mean(), Sgd::new(0.1))
        .epochs(30)
        .batch_size(8)
        .validation_split(0.25)
        .early_stopping(3)
        .schedule(Schedule::Cosine { min_learning_rate: 0.0 });
    let settings: FitSettings = config.settings();
    round_trip(&settings);
    let stats = EpochStats {
        epoch: 3,
        loss: 0.5,
        accuracy: 0.75,
        val_loss: None,
        val_accuracy: None,
        learning_rate: 0.1,
        seconds: 0.01,
    };
    round_trip(&stats);
}

#[test]
fn history_as_json_beside_csv() {
    let x = DMatrix::from_row_slice(4, 2, &[0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0]);
    let t = DMatrix::from_row_slice(4, 1, &[0.0, 1.0, 1.0, 0.0]);
    let mut net = Sequential::<f64>::builder(2)
        .add(Dense::new(2, 3))
        .add(Tanh)
        .add(Dense::new(3, 1))
        .add(Sigmoid)
        .build(0)
        .unwrap();
    let mut config = FitConfig::new(SquaredError::half_sum(), Sgd::new(0.5)).epochs(20).validation_data(&x, &t);
    let history = net.fit(&x, &t, &mut config).unwrap();
    let dir = std::env::temp_dir().join(format!("backprop-serde-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    history.write_csv(dir.join("history.csv")).unwrap();
    history.write_json(dir.join("history.json")).unwrap();
    let json = std::fs::read_to_string(dir.join("history.json")).unwrap();
    let back: History = serde_json::from_str(&json).unwrap();
    assert_eq!(back, history);
    assert!(json.contains("\"val_loss\":[") && json.contains("\"first_epoch\":0"), "{json}");
    std::fs::remove_dir_all(&dir).unwrap();
    // NaN has no JSON form: an error, not a panic or a file of nulls.
    let mut bad = history.clone();
    bad.loss[0] = f64::NAN;
    assert!(matches!(bad.to_json(), Err(backprop::Error::InvalidConfig { .. })));
}

/// The diagnostics' numbers are checked as the lists are: a NaN would be written as `null`,
/// which does not read back as a number; the file already there stays as it was.
#[test]
fn history_json_refuses_non_finite_diagnostics() {
    let x = DMatrix::from_row_slice(4, 2, &[0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0]);
    let t = DMatrix::from_row_slice(4, 1, &[0.0, 1.0, 1.0, 0.0]);
    let mut net = Sequential::<f64>::builder(2).add(Dense::new(2, 3)).add(Tanh).add(Dense::new(3, 1)).build(0).unwrap();
    let diagnostics = backprop::diagnostics::Diagnostics::every_epoch().histograms(4);
    let mut config = FitConfig::new(SquaredError::half_sum(), Sgd::new(0.5)).epochs(2).diagnostics(diagnostics);
    let history = net.fit(&x, &t, &mut config).unwrap();
    let json = history.to_json().unwrap();
    assert_eq!(serde_json::from_str::<History>(&json).unwrap(), history);
    let path = std::env::temp_dir().join(format!("backprop-serde-diag-{}.json", std::process::id()));
    history.write_json(&path).unwrap();
    let mut bad = history.clone();
    bad.diagnostics[1].layers[0].mean = f64::NAN;
    let err = bad.write_json(&path).unwrap_err();
    assert!(err.to_string().contains("diagnostics mean NaN of 0 at epoch 2"), "{err}");
    let mut bad = history.clone();
    bad.diagnostics[0].params[0].update_ratio = Some(f64::INFINITY);
    let err = bad.to_json().unwrap_err();
    assert!(err.to_string().contains("update_ratio inf"), "{err}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), json);
    std::fs::remove_file(&path).unwrap();
}
