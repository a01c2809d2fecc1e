//! Checkpoints and resuming: a run interrupted and resumed from a checkpoint ends bit-for-bit as
//! an uninterrupted one; optimizer state round trips; a checkpoint that does not fit (another
//! optimizer, another architecture, hostile bytes) is a typed error that changes nothing.

use backprop::prelude::*;
use backprop::{Decay, Dims, FormatError, Param, Real, StateMismatch};
use nalgebra::DMatrix;
use proptest::prelude::*;
use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};
use std::collections::HashMap;

const NAMES: [&str; 7] = ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw"];

/// Every optimizer by name, with weight decay for the stateful ones, so all their paths run.
fn optimizer(name: &str) -> Box<dyn Optimizer<f64>> {
    let l2 = WeightDecay::L2(1e-3);
    match name {
        "sgd" => Box::new(Sgd::new(0.1)),
        "momentum" => Box::new(Momentum::new(0.05).with_weight_decay(l2)),
        "nesterov" => Box::new(Nesterov::new(0.05)),
        "adagrad" => Box::new(AdaGrad::new(0.1).with_weight_decay(WeightDecay::Decoupled(1e-3))),
        "rmsprop" => Box::new(RmsProp::new(0.01)),
        "adam" => Box::new(Adam::new(0.01).with_weight_decay(l2)),
        "adamw" => Box::new(AdamW::new(0.01)),
        _ => unreachable!("unknown optimizer {name}"),
    }
}

/// Thirty points around three centres, labelled by centre.
fn blobs<T: Real>() -> (DMatrix<T>, DMatrix<T>) {
    let noise: DMatrix<f64> =
        Init::Uniform { low: -0.6, high: 0.6 }.matrix(30, 2, &mut backprop::seeded(4, backprop::Stream::Init)).unwrap();
    let centres = [(0.0, 0.0), (2.0, 0.0), (0.0, 2.0)];
    let x = DMatrix::from_fn(30, 2, |i, j| {
        let c = centres[i % 3];
        T::cast(if j == 0 { c.0 } else { c.1 } + noise[(i, j)])
    });
    let t = DMatrix::from_fn(30, 1, |i, _| T::cast((i % 3) as f64));
    (x, t)
}

/// A classifier with dropout, so that training draws random masks as well as shuffles.
fn network<T: Real>() -> Sequential<T> {
    Sequential::<T>::builder(2)
        .add(Dense::new(2, 8))
        .add(Relu)
        .add(Dropout::new(0.25).unwrap())
        .add(Dense::new(8, 3))
        .build(7)
        .unwrap()
}

/// Minibatches of 4 (the last one of 2), shuffled, seeded, with a learning-rate schedule.
fn config<T: Real>(optimizer: impl Optimizer<T> + 'static) -> FitConfig<T> {
    FitConfig::new(SoftmaxCrossEntropy, optimizer)
        .epochs(10)
        .batch_size(4)
        .seed(21)
        .schedule(Schedule::Cosine { min_learning_rate: 1e-4 })
}

/// Every parameter's bits.
fn bits<T: Real>(net: &Sequential<T>) -> Vec<Vec<u64>> {
    net.params().iter().map(|p| p.value().iter().map(|v| v.to_f64().to_bits()).collect()).collect()
}

/// Every state matrix's bits, by name.
fn state_bits<T: Real>(opt: &dyn Optimizer<T>) -> Vec<(String, Vec<u64>)> {
    let mut state: Vec<_> =
        opt.state().into_iter().map(|(n, m)| (n, m.iter().map(|v| v.to_f64().to_bits()).collect())).collect();
    state.sort();
    state
}

fn loss_bits(h: &History) -> Vec<u64> {
    h.loss.iter().map(|v| v.to_bits()).collect()
}

fn temp_path(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("backprop-checkpoints-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Ten epochs straight, against five epochs (stopped by a callback), a checkpoint file, a fresh
/// network and configuration loading it, and epochs 5..10: bit-for-bit the same.
fn resume_is_bitwise_identical<T: Real, O: Optimizer<T> + 'static>(make: impl Fn() -> O, file: &str) {
    let (x, t) = blobs::<T>();
    let mut straight = network::<T>();
    let mut straight_config = config(make());
    let straight_history = straight.fit(&x, &t, &mut straight_config).unwrap();
    assert_eq!(straight_history.epochs(), 10);

    let mut first = network::<T>();
    let mut first_config = config(make()).on_epoch(|s| if s.epoch == 4 { Control::Stop } else { Control::Continue });
    assert_eq!(first.fit(&x, &t, &mut first_config).unwrap().epochs(), 5);
    let path = temp_path(file);
    first.save_checkpoint(&path, &first_config, 5).unwrap();

    let mut resumed = network::<T>();
    let mut resumed_config = config(make());
    let epoch = resumed.load_checkpoint(&path, &mut resumed_config).unwrap();
    assert_eq!(epoch, 5);
    assert_eq!(bits(&resumed), bits(&first));
    assert_eq!(state_bits(resumed_config.optimizer()), state_bits(first_config.optimizer()));
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    let mut resumed_config = resumed_config.start_epoch(epoch).on_epoch(move |s| {
        log.lock().unwrap().push(s.epoch);
        Control::Continue
    });
    let history = resumed.fit(&x, &t, &mut resumed_config).unwrap();

    assert_eq!(bits(&resumed), bits(&straight), "{}: resumed parameters differ", straight_config.optimizer().name());
    assert_eq!(state_bits(resumed_config.optimizer()), state_bits(straight_config.optimizer()));
    assert_eq!(history.epochs(), 5, "the history holds the epochs run");
    assert_eq!(history.first_epoch, 5);
    assert!(history.to_csv().lines().nth(1).unwrap().starts_with("6,"), "CSV rows are numbered by true epoch");
    assert_eq!(*seen.lock().unwrap(), (5..10).collect::<Vec<_>>(), "epochs count from the start of the run");
    assert_eq!(loss_bits(&history), loss_bits(&straight_history)[5..]);
    assert_eq!(history.learning_rate, straight_history.learning_rate[5..], "the schedule uses the true epoch");

    // The optimizer's state matters: the weights alone do not resume the run.
    if !straight_config.optimizer().state().is_empty() {
        let mut weights_only = first.clone_via_bytes();
        weights_only.fit(&x, &t, &mut config(make()).start_epoch(5)).unwrap();
        assert_ne!(bits(&weights_only), bits(&straight));
    }
}

/// A copy of a network's parameters, through a model file.
trait CloneViaBytes {
    fn clone_via_bytes(&self) -> Self;
}

impl<T: Real> CloneViaBytes for Sequential<T> {
    fn clone_via_bytes(&self) -> Self {
        Sequential::from_bytes(&self.to_bytes().unwrap()).unwrap()
    }
}

#[test]
fn resuming_from_a_checkpoint_is_bitwise_identical_with_adam_and_momentum() {
    resume_is_bitwise_identical::<f64, _>(|| Adam::new(0.01), "adam.safetensors");
    resume_is_bitwise_identical::<f64, _>(|| Momentum::new(0.05), "momentum.safetensors");
    resume_is_bitwise_identical::<f32, _>(|| Adam::new(0.01), "adam32.safetensors");
    resume_is_bitwise_identical::<f32, _>(|| Momentum::new(0.05), "momentum32.safetensors");
}

#[test]
fn resuming_is_bitwise_identical_with_every_optimizer() {
    for name in NAMES {
        resume_is_bitwise_identical::<f64, _>(|| optimizer(name), &format!("{name}.safetensors"));
    }
}

#[test]
fn a_checkpoint_before_any_step_resumes_from_epoch_0() {
    let (x, t) = blobs::<f64>();
    let net = network::<f64>();
    let bytes = net.checkpoint_to_bytes(&config(Adam::new(0.01)), 0).unwrap();
    let mut resumed = network::<f64>();
    let mut resumed_config = config(Adam::new(0.01));
    assert_eq!(resumed.load_checkpoint_from_bytes(&bytes, &mut resumed_config).unwrap(), 0);
    assert!(resumed_config.optimizer().state().is_empty());
    resumed.fit(&x, &t, &mut resumed_config).unwrap();
    let mut straight = network::<f64>();
    straight.fit(&x, &t, &mut config(Adam::new(0.01))).unwrap();
    assert_eq!(bits(&resumed), bits(&straight));
}

#[test]
fn start_epoch_at_or_past_the_end_is_an_invalid_config() {
    let (x, t) = blobs::<f64>();
    let mut net = network::<f64>();
    let before = bits(&net);
    for start in [10, 11, usize::MAX] {
        let mut c = config(Sgd::new(0.1)).start_epoch(start);
        let err = net.fit(&x, &t, &mut c).unwrap_err();
        assert!(matches!(err, Error::InvalidConfig { name: "start_epoch", .. }), "{err}");
    }
    assert_eq!(bits(&net), before);
    let h = net.fit(&x, &t, &mut config(Sgd::new(0.1)).start_epoch(9)).unwrap();
    assert_eq!(h.epochs(), 1);
}

/// A network trained for a few steps with `name`, its configuration, and its checkpoint.
fn trained(name: &str) -> (Sequential<f64>, FitConfig<f64>, Vec<u8>) {
    let (x, t) = blobs::<f64>();
    let mut net = network::<f64>();
    let mut c = config(optimizer(name)).epochs(2);
    net.fit(&x, &t, &mut c).unwrap();
    let bytes = net.checkpoint_to_bytes(&c, 2).unwrap();
    (net, c, bytes)
}

/// Loads `bytes` into a network and a configuration that have trained already, and checks that
/// a failed load changed neither. Returns the load's result.
fn load_into_trained(bytes: &[u8], name: &str) -> backprop::Result<usize> {
    let (mut net, mut c, _) = trained(name);
    let (params, state) = (bits(&net), state_bits(c.optimizer()));
    let result = net.load_checkpoint_from_bytes(bytes, &mut c);
    if result.is_err() {
        assert_eq!(bits(&net), params, "a failed load changed the network");
        assert_eq!(state_bits(c.optimizer()), state, "a failed load changed the optimizer");
    }
    result
}

/// A checkpoint is a model file plus the optimizer's state: it opens as a network for
/// inference, and its weights load into one, the state left aside (both were refused: "the
/// architecture needs 103 numbers but the file stores 298", "tensor optimizer.0.bias.m has no
/// place"). A model file holding an optimizer-like tensor is still refused.
#[test]
fn a_checkpoint_opens_as_a_network() {
    let (net, _, bytes) = trained("adam");
    let (x, _) = blobs::<f64>();
    let opened = Sequential::<f64>::from_bytes(&bytes).unwrap();
    assert_eq!(bits(&opened), bits(&net));
    assert_eq!(opened.predict(&x).unwrap(), net.predict(&x).unwrap());
    let mut other = network::<f64>();
    other.load_weights_from_bytes(&bytes).unwrap();
    assert_eq!(bits(&other), bits(&net));

    // Not a checkpoint (no epoch entry): an "optimizer." tensor is one too many.
    let (meta, mut tensors) = {
        let model = net.to_bytes().unwrap();
        let file = safetensors::SafeTensors::deserialize(&model).unwrap();
        let (_, header) = safetensors::SafeTensors::read_metadata(&model).unwrap();
        let meta = header.metadata().clone().unwrap();
        let tensors: Vec<(String, Vec<u8>, Vec<usize>)> =
            file.tensors().into_iter().map(|(n, v)| (n, v.data().to_vec(), v.shape().to_vec())).collect();
        (meta, tensors)
    };
    tensors.push(("optimizer.steps".into(), 1.0f64.to_le_bytes().to_vec(), vec![1, 1]));
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = tensors
        .iter()
        .map(|(n, d, s)| {
            (n.clone(), safetensors::tensor::TensorView::new(safetensors::Dtype::F64, s.clone(), d).unwrap())
        })
        .collect();
    let extra = safetensors::serialize(views, Some(meta)).unwrap();
    let err = Sequential::<f64>::from_bytes(&extra).unwrap_err();
    assert!(matches!(err, Error::Format(FormatError::SizeMismatch { declared: 51, stored: 52 })), "{err:?}");
    let err = network::<f64>().load_weights_from_bytes(&extra).unwrap_err();
    assert!(
        matches!(&err, Error::Format(FormatError::UnexpectedTensor { name }) if name == "optimizer.steps"),
        "{err:?}"
    );
}

#[test]
fn another_optimizer_is_a_typed_error_and_changes_nothing() {
    let (_, _, adam) = trained("adam");
    for other in ["sgd", "momentum", "adamw"] {
        let err = load_into_trained(&adam, other).unwrap_err();
        match &err {
            Error::Format(FormatError::BadMetadata { key, value, .. }) => {
                assert_eq!((key.as_str(), value.as_str()), ("checkpoint.optimizer", "adam"));
            }
            other => panic!("expected the optimizer's name to be refused, got {other}"),
        }
    }
    // A model file is not a checkpoint.
    let model = network::<f64>().to_bytes().unwrap();
    let err = load_into_trained(&model, "adam").unwrap_err();
    assert!(matches!(err, Error::Format(FormatError::MissingMetadata { key: "checkpoint.optimizer" })), "{err}");
}

#[test]
fn another_architecture_names_the_tensor_and_changes_nothing() {
    let (_, _, bytes) = trained("momentum");
    let wider = || {
        Sequential::<f64>::builder(2)
            .add(Dense::new(2, 9))
            .add(Relu)
            .add(Dropout::new(0.25).unwrap())
            .add(Dense::new(9, 3))
            .build(7)
            .unwrap()
    };
    let mut net = wider();
    let mut c = config(optimizer("momentum")).epochs(1);
    let (x, t) = blobs::<f64>();
    net.fit(&x, &t, &mut c).unwrap();
    let (params, state) = (bits(&net), state_bits(c.optimizer()));
    let err = net.load_checkpoint_from_bytes(&bytes, &mut c).unwrap_err();
    match &err {
        Error::Format(FormatError::TensorShape { name, expected, got }) => {
            assert_eq!(name, "0.weight");
            assert_eq!((expected.as_slice(), got.as_slice()), ([2, 9].as_slice(), [2, 8].as_slice()));
        }
        other => panic!("expected a tensor shape error, got {other}"),
    }
    assert!(err.to_string().contains("0.weight"), "{err}");
    assert_eq!((bits(&net), state_bits(c.optimizer())), (params, state));

    // The same tensors, another activation: the layer's description is refused.
    let mut tanh = Sequential::<f64>::builder(2)
        .add(Dense::new(2, 8))
        .add(Tanh)
        .add(Dropout::new(0.25).unwrap())
        .add(Dense::new(8, 3))
        .build(7)
        .unwrap();
    let before = bits(&tanh);
    let mut c = config(optimizer("momentum"));
    let err = tanh.load_checkpoint_from_bytes(&bytes, &mut c).unwrap_err();
    assert!(matches!(&err, Error::Format(FormatError::BadMetadata { key, .. }) if key == "layer.1"), "{err}");
    assert_eq!(bits(&tanh), before);
    assert!(c.optimizer().state().is_empty());

    // A missing bias: the file's bias has no place.
    let mut no_bias = Sequential::<f64>::builder(2)
        .add(Dense::new(2, 8).without_bias())
        .add(Relu)
        .add(Dropout::new(0.25).unwrap())
        .add(Dense::new(8, 3))
        .build(7)
        .unwrap();
    let err = no_bias.load_checkpoint_from_bytes(&bytes, &mut config(optimizer("momentum"))).unwrap_err();
    assert!(matches!(&err, Error::Format(FormatError::UnexpectedTensor { name }) if name == "0.bias"), "{err}");
}

/// The tensors and the metadata of a checkpoint, to edit and serialize again.
struct Parts {
    tensors: Vec<(String, Dtype, Vec<usize>, Vec<u8>)>,
    metadata: HashMap<String, String>,
}

impl Parts {
    fn of(bytes: &[u8]) -> Self {
        let file = SafeTensors::deserialize(bytes).unwrap();
        let (_, header) = SafeTensors::read_metadata(bytes).unwrap();
        let tensors =
            file.tensors().into_iter().map(|(n, v)| (n, v.dtype(), v.shape().to_vec(), v.data().to_vec())).collect();
        Parts { tensors, metadata: header.metadata().clone().unwrap() }
    }

    fn tensor(&mut self, name: &str) -> &mut (String, Dtype, Vec<usize>, Vec<u8>) {
        self.tensors.iter_mut().find(|t| t.0 == name).unwrap()
    }

    /// Replaces a tensor with an f64 matrix.
    fn set(mut self, name: &str, m: &DMatrix<f64>) -> Self {
        let data = m.transpose().iter().flat_map(|v| v.to_le_bytes()).collect();
        *self.tensor(name) = (name.to_string(), Dtype::F64, vec![m.nrows(), m.ncols()], data);
        self
    }

    fn remove(mut self, name: &str) -> Self {
        self.tensors.retain(|t| t.0 != name);
        self
    }

    fn rename(mut self, from: &str, to: &str) -> Self {
        self.tensor(from).0 = to.to_string();
        self
    }

    fn meta(mut self, key: &str, value: &str) -> Self {
        self.metadata.insert(key.to_string(), value.to_string());
        self
    }

    fn bytes(&self) -> Vec<u8> {
        let views: Vec<(String, TensorView<'_>)> = self
            .tensors
            .iter()
            .map(|(n, d, s, data)| (n.clone(), TensorView::new(*d, s.clone(), data).unwrap()))
            .collect();
        safetensors::serialize(views, Some(self.metadata.clone())).unwrap()
    }
}

#[test]
fn bad_optimizer_tensors_are_typed_errors_and_change_nothing() {
    let (_, c, bytes) = trained("adam");
    let state: HashMap<String, DMatrix<f64>> = c.optimizer().state().into_iter().collect();
    let m0 = &state["0.m"];
    let shape = |e: &Error| match e {
        Error::Format(FormatError::TensorShape { name, .. }) => name.clone(),
        _ => String::new(),
    };

    let wrong_shape = Parts::of(&bytes).set("optimizer.0.weight.m", &DMatrix::zeros(3, 2)).bytes();
    let err = load_into_trained(&wrong_shape, "adam").unwrap_err();
    assert_eq!(shape(&err), "optimizer.0.weight.m", "{err}");

    let missing = Parts::of(&bytes).remove("optimizer.0.bias.v").bytes();
    let err = load_into_trained(&missing, "adam").unwrap_err();
    assert!(
        matches!(&err, Error::Format(FormatError::MissingTensor { name }) if name == "optimizer.0.bias.v"),
        "{err}"
    );

    let extra = Parts::of(&bytes).rename("optimizer.0.weight.m", "optimizer.4.weight.m").bytes();
    let err = load_into_trained(&extra, "adam").unwrap_err();
    assert!(
        matches!(&err, Error::Format(FormatError::UnexpectedTensor { name }) if name == "optimizer.4.weight.m"),
        "{err}"
    );

    let mut negative = state["0.v"].clone();
    negative[(1, 1)] = -1e-3;
    let mut non_integer = state["steps"].clone();
    non_integer[(0, 0)] = 2.5;
    let mut nan = m0.clone();
    nan[(0, 0)] = f64::NAN;
    let cases = [
        ("negative second moment", Parts::of(&bytes).set("optimizer.0.weight.v", &negative).bytes()),
        ("step count 2.5", Parts::of(&bytes).set("optimizer.steps", &non_integer).bytes()),
        ("step count -1", Parts::of(&bytes).set("optimizer.steps", &DMatrix::from_element(1, 1, -1.0)).bytes()),
        ("step count 1x2", Parts::of(&bytes).set("optimizer.steps", &DMatrix::from_element(1, 2, 2.0)).bytes()),
        ("no step count", Parts::of(&bytes).remove("optimizer.steps").bytes()),
        ("an unknown slot", Parts::of(&bytes).rename("optimizer.steps", "optimizer.velocity").bytes()),
        (
            "moments of one parameter only",
            Parts::of(&bytes).remove("optimizer.0.bias.m").remove("optimizer.0.bias.v").bytes(),
        ),
    ];
    for (what, bad) in &cases {
        match load_into_trained(bad, "adam") {
            Err(Error::OptimizerState { optimizer: "adam", .. }) | Err(Error::Format(_)) => {}
            other => panic!("{what}: expected a typed error, got {other:?}"),
        }
    }
    let err = load_into_trained(&Parts::of(&bytes).set("optimizer.0.weight.m", &nan).bytes(), "adam").unwrap_err();
    assert!(
        matches!(&err, Error::Format(FormatError::NonFinite { name, .. }) if name == "optimizer.0.weight.m"),
        "{err}"
    );
    for (key, value) in [("checkpoint.epoch", "-1"), ("checkpoint.epoch", "five"), ("format_version", "3")] {
        let err = load_into_trained(&Parts::of(&bytes).meta(key, value).bytes(), "adam").unwrap_err();
        assert!(matches!(&err, Error::Format(FormatError::BadMetadata { .. })), "{key}={value}: {err}");
    }
    // Sgd keeps no state: optimizer tensors in an "sgd" checkpoint are refused.
    let (_, _, sgd) = trained("sgd");
    let mut with_state = Parts::of(&sgd);
    with_state.tensors.push(("optimizer.steps".into(), Dtype::F64, vec![1, 1], 1.0f64.to_le_bytes().to_vec()));
    let err = load_into_trained(&with_state.bytes(), "sgd").unwrap_err();
    assert!(
        matches!(&err, Error::OptimizerState { optimizer: "sgd", mismatch: StateMismatch::UnknownTensor { name } } if name == "steps"),
        "{err}"
    );
}

#[test]
fn every_truncation_is_an_error_and_changes_nothing() {
    let (_, _, bytes) = trained("adam");
    assert!(load_into_trained(&[], "adam").is_err());
    for len in 0..bytes.len() {
        assert!(load_into_trained(&bytes[..len], "adam").is_err(), "prefix of {len} bytes loaded");
    }
    let mut trailing = bytes.clone();
    trailing.extend_from_slice(b"tail");
    assert!(load_into_trained(&trailing, "adam").is_err());
    assert_eq!(load_into_trained(&bytes, "adam").unwrap(), 2);
}

#[test]
fn every_single_byte_corruption_is_an_error_or_a_valid_checkpoint() {
    let (reference, reference_config, bytes) = trained("momentum");
    let shapes = |net: &Sequential<f64>| net.params().iter().map(|p| p.value().shape()).collect::<Vec<_>>();
    let mut loaded = 0;
    for i in 0..bytes.len() {
        for flip in [0x01u8, 0x80, 0xff] {
            let mut bad = bytes.clone();
            bad[i] ^= flip;
            let (mut net, mut c, _) = trained("momentum");
            let (params, state) = (bits(&net), state_bits(c.optimizer()));
            match net.load_checkpoint_from_bytes(&bad, &mut c) {
                Ok(_) => {
                    // A flip inside a number's bytes gives another valid checkpoint.
                    loaded += 1;
                    assert_eq!(shapes(&net), shapes(&reference));
                    assert_eq!(c.optimizer().state().len(), reference_config.optimizer().state().len());
                }
                Err(_) => {
                    assert_eq!(bits(&net), params, "byte {i} ^ {flip:#x}: the network changed");
                    assert_eq!(state_bits(c.optimizer()), state, "byte {i} ^ {flip:#x}: the optimizer changed");
                }
            }
        }
    }
    assert!(loaded > 0);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let mut net = network::<f64>();
        let _ = net.load_checkpoint_from_bytes(&bytes, &mut config(Adam::new(0.01)));
    }

    #[test]
    fn random_truncations_and_corruptions_never_panic(cut in 0usize..4000, at in 0usize..4000, byte in any::<u8>()) {
        let (_, _, bytes) = trained("adam");
        let mut bad = bytes[..cut.min(bytes.len())].to_vec();
        if !bad.is_empty() {
            let i = at % bad.len();
            bad[i] = byte;
        }
        let mut net = network::<f64>();
        let _ = net.load_checkpoint_from_bytes(&bad, &mut config(Adam::new(0.01)));
    }
}

#[test]
fn saving_is_atomic_and_reading_a_missing_file_is_an_io_error() {
    let (net, c, bytes) = trained("adam");
    let path = temp_path("keep-checkpoint.safetensors");
    net.save_checkpoint(&path, &c, 2).unwrap();
    // The same tensors and metadata (the metadata's order in the header may differ).
    let saved = std::fs::read(&path).unwrap();
    let same = |a: &[u8], b: &[u8]| {
        let (a, b) = (Parts::of(a), Parts::of(b));
        let sorted = |p: Parts| {
            let mut t = p.tensors;
            t.sort_by(|x, y| x.0.cmp(&y.0));
            t
        };
        a.metadata == b.metadata && sorted(a) == sorted(b)
    };
    assert!(same(&saved, &bytes));
    let err = net.save_checkpoint(path.join("not-a-dir").join("x.safetensors"), &c, 2).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), saved);
    let mut other = network::<f64>();
    let err = other.load_checkpoint(temp_path("missing.safetensors"), &mut config(Adam::new(0.01)));
    assert!(matches!(err, Err(Error::Io { .. })));
    // A checkpoint is a model file with more in it: its metadata describes the network.
    let file = SafeTensors::deserialize(&bytes).unwrap();
    assert!(file.names().contains(&"optimizer.steps"));
    let (_, header) = SafeTensors::read_metadata(&bytes).unwrap();
    let meta = header.metadata().as_ref().unwrap();
    assert_eq!((meta["checkpoint.epoch"].as_str(), meta["checkpoint.optimizer"].as_str()), ("2", "adam"));
    assert_eq!(meta["layer.0"], "dense bias=true in_dim=2 out_dim=8");
}

// === Optimizer state on its own ===

/// Two parameters with gradients for step `k` (the same inputs for every optimizer and run).
fn params_for_step(values: &[DMatrix<f64>], k: usize) -> Vec<Param<f64>> {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let mut p = Param::new(
                if i == 0 { "weight" } else { "bias" },
                v.clone(),
                if i == 0 { Decay::Applies } else { Decay::Exempt },
            );
            *p.grad_mut() = v.map(|w| (w * 1.7 + (k + i) as f64 * 0.3).sin());
            p
        })
        .collect()
}

/// Takes a step with gradients for step `k`; returns the new values.
fn step(opt: &mut dyn Optimizer<f64>, values: &[DMatrix<f64>], k: usize) -> Vec<DMatrix<f64>> {
    let mut params = params_for_step(values, k);
    let mut refs: Vec<&mut Param<f64>> = params.iter_mut().collect();
    opt.step(&mut refs).unwrap();
    params.iter().map(|p| p.value().clone()).collect()
}

fn start() -> Vec<DMatrix<f64>> {
    vec![DMatrix::from_fn(3, 2, |i, j| i as f64 * 0.4 - j as f64 * 0.3), DMatrix::from_row_slice(1, 2, &[0.1, -0.2])]
}

fn value_bits(values: &[DMatrix<f64>]) -> Vec<u64> {
    values.iter().flat_map(|m| m.iter().map(|v| v.to_bits())).collect()
}

#[test]
fn state_round_trips_into_a_fresh_optimizer_and_the_next_step_is_identical() {
    for name in NAMES {
        let mut opt = optimizer(name);
        assert!(opt.state().is_empty(), "{name}: no state before the first step");
        let mut values = start();
        for k in 0..2 {
            values = step(opt.as_mut(), &values, k);
        }
        let state = opt.state();
        let mut names: Vec<&str> = state.iter().map(|(n, _)| n.as_str()).collect();
        names.sort_unstable();
        let expected: &[&str] = match name {
            "sgd" => &[],
            "momentum" | "nesterov" => &["0.velocity", "1.velocity"],
            "adagrad" => &["0.sum_squares", "1.sum_squares"],
            "rmsprop" => &["0.mean_square", "1.mean_square"],
            _ => &["0.m", "0.v", "1.m", "1.v", "steps"],
        };
        assert_eq!(names, expected, "{name}");
        if let Some((_, steps)) = state.iter().find(|(n, _)| n == "steps") {
            assert_eq!(steps, &DMatrix::from_element(1, 1, 2.0));
        }

        // Reversed order: names, not positions, place the matrices.
        let mut fresh = optimizer(name);
        fresh.set_state(state.into_iter().rev().collect()).unwrap();
        assert_eq!(state_bits(fresh.as_ref()), state_bits(opt.as_ref()), "{name}");
        let next = step(opt.as_mut(), &values, 2);
        let from_fresh = step(fresh.as_mut(), &values, 2);
        assert_eq!(value_bits(&from_fresh), value_bits(&next), "{name}: the step after set_state differs");
        assert_eq!(state_bits(fresh.as_ref()), state_bits(opt.as_ref()), "{name}");

        // An empty state is "no step taken yet".
        fresh.set_state(Vec::new()).unwrap();
        assert!(fresh.state().is_empty(), "{name}");
        let after_reset = step(fresh.as_mut(), &start(), 0);
        assert_eq!(value_bits(&after_reset), value_bits(&step(optimizer(name).as_mut(), &start(), 0)), "{name}");
    }
}

/// An optimizer's exported state.
type State = Vec<(String, DMatrix<f64>)>;

#[test]
fn bad_state_is_refused_and_changes_nothing() {
    for name in NAMES.into_iter().filter(|n| *n != "sgd") {
        let mut opt = optimizer(name);
        let mut values = start();
        for k in 0..2 {
            values = step(opt.as_mut(), &values, k);
        }
        let good = opt.state();
        let before = state_bits(opt.as_ref());
        let first = good[0].0.clone();
        let edit = |f: &dyn Fn(&mut State)| {
            let mut s = good.clone();
            f(&mut s);
            s
        };
        let unknown = |name: &str| StateMismatch::UnknownTensor { name: name.to_string() };
        // The first buffer holds squares (≥ 0) in AdaGrad and RMSProp, signed values otherwise.
        let finite = if matches!(name, "adagrad" | "rmsprop") { "finite values >= 0" } else { "finite values" };
        let cases: Vec<(&str, State, StateMismatch)> = vec![
            (
                "one missing",
                edit(&|s| {
                    s.remove(0);
                }),
                StateMismatch::MissingTensor { name: first.clone() },
            ),
            (
                "one twice",
                edit(&|s| {
                    let again = s[0].clone();
                    s[1] = again;
                }),
                StateMismatch::Duplicate { name: first.clone() },
            ),
            ("a foreign name", edit(&|s| s[0].0 = "0.momentum_buffer".into()), unknown("0.momentum_buffer")),
            ("a leading zero", edit(&|s| s[0].0 = format!("0{first}")), unknown(&format!("0{first}"))),
            ("no index", edit(&|s| s[0].0 = "velocity".into()), unknown("velocity")),
            (
                "an index past the end",
                edit(&|s| s[0].0 = first.replacen('0', "9", 1)),
                StateMismatch::MissingTensor { name: first.clone() },
            ),
            (
                "a huge index",
                edit(&|s| s[0].0 = first.replacen('0', "18446744073709551616", 1)),
                unknown(&first.replacen('0', "18446744073709551616", 1)),
            ),
            (
                "infinity",
                edit(&|s| s[0].1[(1, 0)] = f64::INFINITY),
                StateMismatch::BadValue { name: first.clone(), row: 1, col: 0, value: f64::INFINITY, expected: finite },
            ),
            ("an extra matrix", edit(&|s| s.push(("2.x".into(), DMatrix::zeros(1, 1)))), unknown("2.x")),
        ];
        let refused = |opt: &mut dyn Optimizer<f64>, bad: State| match opt.set_state(bad) {
            Err(Error::OptimizerState { optimizer, mismatch }) => {
                assert_eq!(optimizer, name);
                mismatch
            }
            other => panic!("{name}: expected OptimizerState, got {other:?}"),
        };
        for (what, bad, expected) in cases {
            assert_eq!(refused(opt.as_mut(), bad), expected, "{name}, {what}");
            assert_eq!(state_bits(opt.as_ref()), before, "{name}, {what}: the state changed");
        }
        let nan = refused(opt.as_mut(), edit(&|s| s[0].1[(0, 0)] = f64::NAN));
        assert!(
            matches!(&nan, StateMismatch::BadValue { name: n, row: 0, col: 0, value, expected } if *n == first && value.is_nan() && *expected == finite),
            "{name}: {nan:?}"
        );
        if matches!(name, "adagrad" | "rmsprop" | "adam" | "adamw") {
            let slot = good
                .iter()
                .position(|(n, _)| n.ends_with("sum_squares") || n.ends_with("mean_square") || n.ends_with(".v"))
                .unwrap();
            let bad = edit(&|s| s[slot].1[(0, 1)] = -0.5);
            let expected = "finite values >= 0";
            let name_of_slot = good[slot].0.clone();
            assert_eq!(
                refused(opt.as_mut(), bad),
                StateMismatch::BadValue { name: name_of_slot, row: 0, col: 1, value: -0.5, expected },
                "{name}: a negative sum of squares"
            );
            assert_eq!(state_bits(opt.as_ref()), before);
        }
        if matches!(name, "adam" | "adamw") {
            for steps in [-1.0, 0.5, 1e30] {
                let bad = edit(&|s| s.iter_mut().find(|(n, _)| n == "steps").unwrap().1[(0, 0)] = steps);
                let expected = StateMismatch::BadCounter { name: "steps", shape: Dims(1, 1), value: steps };
                assert_eq!(refused(opt.as_mut(), bad), expected, "{name}: steps {steps}");
            }
            let bad = edit(&|s| s.iter_mut().find(|(n, _)| n == "steps").unwrap().1[(0, 0)] = f64::NAN);
            let nan = refused(opt.as_mut(), bad);
            assert!(matches!(nan, StateMismatch::BadCounter { name: "steps", value, .. } if value.is_nan()), "{nan:?}");
            let wide =
                edit(&|s| s.iter_mut().find(|(n, _)| n == "steps").unwrap().1 = DMatrix::from_element(1, 2, 2.0));
            let expected = StateMismatch::BadCounter { name: "steps", shape: Dims(1, 2), value: 2.0 };
            assert_eq!(refused(opt.as_mut(), wide), expected, "{name}: steps 1x2");
            let only_steps = vec![("steps".to_string(), DMatrix::from_element(1, 1, 3.0))];
            let missing = |name: &str| StateMismatch::MissingTensor { name: name.to_string() };
            assert_eq!(refused(opt.as_mut(), only_steps), missing("0.m"), "{name}: steps without moments");
            let no_steps = edit(&|s| s.retain(|(n, _)| n != "steps"));
            assert_eq!(refused(opt.as_mut(), no_steps), missing("steps"), "{name}: moments without steps");
            let another_shape = edit(&|s| s[0].1 = DMatrix::zeros(2, 3));
            let err = opt.set_state(another_shape).unwrap_err();
            assert!(err.to_string().contains("0.m\" of shape 2x3"), "{err}");
            let expected = StateMismatch::BufferShape {
                name: "0.v".into(),
                got: Dims(3, 2),
                reference: "0.m".into(),
                expected: Dims(2, 3),
            };
            assert!(matches!(&err, Error::OptimizerState { mismatch, .. } if *mismatch == expected), "{err:?}");
            assert_eq!(state_bits(opt.as_ref()), before);
        }
    }
    let mut sgd = Sgd::new(0.1);
    let err = Optimizer::<f64>::set_state(&mut sgd, vec![("0.velocity".into(), DMatrix::zeros(1, 1))]).unwrap_err();
    assert!(
        matches!(&err, Error::OptimizerState { optimizer: "sgd", mismatch: StateMismatch::UnknownTensor { name } } if name == "0.velocity"),
        "{err}"
    );
    Optimizer::<f64>::set_state(&mut sgd, Vec::new()).unwrap();
}

#[test]
fn imported_state_is_checked_against_the_next_step_s_parameters() {
    let mut opt = optimizer("momentum");
    opt.set_state(vec![("0.velocity".into(), DMatrix::zeros(2, 2))]).unwrap();
    let mut p = Param::new("weight", DMatrix::zeros(3, 2), Decay::Applies);
    *p.grad_mut() = DMatrix::zeros(3, 2);
    let err = opt.step(&mut [&mut p]).unwrap_err();
    let expected = StateMismatch::ParamShape { index: 0, expected: Dims(2, 2), got: Dims(3, 2) };
    assert!(
        matches!(&err, Error::OptimizerState { optimizer: "momentum", mismatch } if *mismatch == expected),
        "{err}"
    );
}

/// An optimizer written outside the crate, with neither `state` nor `set_state`: it compiles,
/// exports nothing and accepts only an empty state.
#[derive(Debug)]
struct Halving;

impl Optimizer<f64> for Halving {
    fn name(&self) -> &'static str {
        "halving"
    }
    fn learning_rate(&self) -> f64 {
        0.5
    }
    fn set_learning_rate(&mut self, _: f64) -> backprop::Result<()> {
        Ok(())
    }
    fn step(&mut self, params: &mut [&mut Param<f64>]) -> backprop::Result<()> {
        for p in params.iter_mut() {
            if let Some((mut value, grad)) = p.take_update() {
                value.zip_apply(&grad, |w, g| *w -= 0.5 * g);
            }
        }
        Ok(())
    }
}

#[test]
fn an_optimizer_from_outside_the_crate_gets_the_defaults_and_checkpoints() {
    let mut halving = Halving;
    assert!(halving.state().is_empty());
    assert!(halving.set_state(Vec::new()).is_ok());
    assert!(halving.set_state(vec![("steps".into(), DMatrix::zeros(1, 1))]).is_err());
    let (x, t) = blobs::<f64>();
    let mut net = network::<f64>();
    let mut c = config(Halving).epochs(3);
    net.fit(&x, &t, &mut c).unwrap();
    let bytes = net.checkpoint_to_bytes(&c, 3).unwrap();
    let mut other = network::<f64>();
    assert_eq!(other.load_checkpoint_from_bytes(&bytes, &mut config(Halving)).unwrap(), 3);
    assert_eq!(bits(&other), bits(&net));
}

/// An optimizer written outside the crate whose state has counters with dots in their names,
/// and a per-parameter slot with one (`"<index>.ema.fast"`).
#[derive(Debug, Default)]
struct Dotted {
    scale: f64,
    fast: Vec<DMatrix<f64>>,
}

impl Optimizer<f64> for Dotted {
    fn name(&self) -> &'static str {
        "dotted"
    }
    fn learning_rate(&self) -> f64 {
        0.1
    }
    fn set_learning_rate(&mut self, _: f64) -> backprop::Result<()> {
        Ok(())
    }
    fn step(&mut self, params: &mut [&mut Param<f64>]) -> backprop::Result<()> {
        self.scale += 1.0;
        self.fast = params.iter().map(|p| p.value() * 0.5).collect();
        for p in params.iter_mut() {
            if let Some((mut value, grad)) = p.take_update() {
                value.zip_apply(&grad, |w, g| *w -= 0.1 * g);
            }
        }
        Ok(())
    }
    fn state(&self) -> Vec<(String, DMatrix<f64>)> {
        let counter = DMatrix::from_element(1, 1, self.scale);
        let fast = self.fast.iter().enumerate().map(|(i, m)| (format!("{i}.ema.fast"), m.clone()));
        vec![("lr.scale".into(), counter.clone()), ("ema_1.0".into(), counter)].into_iter().chain(fast).collect()
    }
    fn set_state(&mut self, mut state: Vec<(String, DMatrix<f64>)>) -> backprop::Result<()> {
        state.sort_by(|a, b| a.0.cmp(&b.0));
        let names: Vec<&str> = state.iter().map(|(n, _)| n.as_str()).collect();
        let fast: Vec<String> = (0..self.fast.len().max(4)).map(|i| format!("{i}.ema.fast")).collect();
        let expected: Vec<&str> = fast
            .iter()
            .map(String::as_str)
            .take(names.len().saturating_sub(2))
            .chain(["ema_1.0", "lr.scale"])
            .collect();
        if names != expected {
            return Err(Error::InvalidConfig {
                name: "dotted state",
                value: format!("{names:?}"),
                expected: "its two counters and a fast average per parameter",
            });
        }
        self.scale = state[state.len() - 1].1[(0, 0)];
        self.fast = state[..state.len() - 2].iter().map(|(_, m)| m.clone()).collect();
        Ok(())
    }
}

/// Counters whose names hold dots ("lr.scale") round-trip through a checkpoint: they were saved
/// and then refused as tensors "with no place in the network"; so do per-parameter slots whose
/// names hold dots ("0.ema.fast"), which were saved and then refused.
#[test]
fn counters_with_dots_in_their_names_round_trip() {
    let (x, t) = blobs::<f64>();
    let mut net = network::<f64>();
    let mut c = config(Dotted::default()).epochs(2);
    net.fit(&x, &t, &mut c).unwrap();
    let bytes = net.checkpoint_to_bytes(&c, 2).unwrap();
    let mut other = network::<f64>();
    let mut resumed = config(Dotted::default());
    assert_eq!(other.load_checkpoint_from_bytes(&bytes, &mut resumed).unwrap(), 2);
    assert_eq!(bits(&other), bits(&net));
    let sorted = |mut s: Vec<(String, DMatrix<f64>)>| {
        s.sort_by(|a, b| a.0.cmp(&b.0));
        s
    };
    let state = sorted(c.optimizer().state());
    assert!(state.iter().any(|(n, _)| n == "3.ema.fast"), "{:?}", state.iter().map(|(n, _)| n).collect::<Vec<_>>());
    assert_eq!(sorted(resumed.optimizer().state()), state);
}
