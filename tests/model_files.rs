//! Saving and loading: bit-exact round trips, loading into networks built in code, atomic saves,
//! and hostile files (RELIABILITY.md §8 rows 27–34) — errors, never panics.

use backprop::prelude::*;
use backprop::{BatchNorm, FormatError, Layer};
use nalgebra::DMatrix;
use proptest::prelude::*;

fn mlp<T: backprop::Real>(seed: u64) -> Sequential<T> {
    Sequential::<T>::builder(3)
        .add(Dense::new(3, 4))
        .add(Relu)
        .add(Dropout::new(0.5).unwrap())
        .add(Dense::new(4, 2).without_bias())
        .add(Softmax)
        .build(seed)
        .unwrap()
}

fn values<T: backprop::Real>(net: &Sequential<T>) -> Vec<DMatrix<T>> {
    net.params().iter().map(|p| p.value().clone()).collect()
}

fn temp_path(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("backprop-model-files-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn round_trip_is_bit_exact_in_f32_and_f64() {
    let x = DMatrix::from_fn(5, 3, |i, j| (i as f64 - 2.0) * 0.3 + j as f64 * 0.1);
    let net = mlp::<f64>(1);
    let copy = Sequential::<f64>::from_bytes(&net.to_bytes().unwrap()).unwrap();
    assert_eq!(values(&copy), values(&net));
    assert_eq!(copy.predict(&x).unwrap(), net.predict(&x).unwrap());

    let net = mlp::<f32>(2);
    let copy = Sequential::<f32>::from_bytes(&net.to_bytes().unwrap()).unwrap();
    assert_eq!(values(&copy), values(&net));
    assert_eq!(copy.predict(&x.map(|v| v as f32)).unwrap(), net.predict(&x.map(|v| v as f32)).unwrap());
}

#[test]
fn save_and_load_through_a_file() {
    let path = temp_path("mlp.safetensors");
    let net = mlp::<f64>(3);
    net.save(&path).unwrap();
    let loaded = Sequential::<f64>::load(&path).unwrap();
    assert_eq!(values(&loaded), values(&net));
    let mut other = mlp::<f64>(4);
    assert_ne!(values(&other), values(&net));
    other.load_weights(&path).unwrap();
    assert_eq!(values(&other), values(&net));
}

#[test]
fn loading_another_scalar_type_is_a_typed_error() {
    let bytes = mlp::<f64>(1).to_bytes().unwrap();
    let err = Sequential::<f32>::from_bytes(&bytes).unwrap_err();
    assert!(matches!(err, Error::Format(FormatError::WrongDtype { .. })), "{err}");
    // It names the type to read it as, not a tensor called "file".
    assert_eq!(
        err.to_string(),
        "model file: the file holds f64 values, not f32: read it as it was saved (Sequential::<f64>)"
    );
}

#[test]
fn load_weights_into_another_architecture_names_the_tensor_and_changes_nothing() {
    let bytes = mlp::<f64>(1).to_bytes().unwrap();
    let mut wider = Sequential::<f64>::builder(3)
        .add(Dense::new(3, 5))
        .add(Relu)
        .add(Dropout::new(0.5).unwrap())
        .add(Dense::new(5, 2).without_bias())
        .add(Softmax)
        .build(9)
        .unwrap();
    let before = values(&wider);
    let err = wider.load_weights_from_bytes(&bytes).unwrap_err();
    match &err {
        Error::Format(FormatError::TensorShape { name, expected, got }) => {
            assert_eq!(name, "0.weight");
            assert_eq!((expected.as_slice(), got.as_slice()), ([3, 5].as_slice(), [3, 4].as_slice()));
        }
        other => panic!("expected a tensor shape error, got {other}"),
    }
    assert!(err.to_string().contains("0.weight"));
    assert_eq!(values(&wider), before);

    let mut no_bias = Sequential::<f64>::builder(3).add(Dense::new(3, 4).without_bias()).build(0).unwrap();
    let before = values(&no_bias);
    let err = no_bias.load_weights_from_bytes(&bytes).unwrap_err();
    assert!(matches!(err, Error::Format(FormatError::UnexpectedTensor { .. })), "{err}");
    assert_eq!(values(&no_bias), before);
}

#[test]
fn a_failed_save_leaves_the_existing_file_intact() {
    let path = temp_path("keep.safetensors");
    mlp::<f64>(1).save(&path).unwrap();
    let before = std::fs::read(&path).unwrap();
    let err = mlp::<f64>(2).save(path.join("not-a-dir").join("x.safetensors")).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), before);
    let missing = Sequential::<f64>::load(temp_path("missing.safetensors")).unwrap_err();
    assert!(matches!(missing, Error::Io { .. }));
}

/// A valid file with its metadata entry `key` replaced by `value` (re-serialized properly).
fn with_metadata(net: &Sequential<f64>, key: &str, value: Option<&str>) -> Vec<u8> {
    let bytes = net.to_bytes().unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let mut meta = header.metadata().clone().unwrap();
    match value {
        Some(v) => meta.insert(key.to_string(), v.to_string()),
        None => meta.remove(key),
    };
    let tensors: Vec<(String, safetensors::tensor::TensorView<'_>)> = file.tensors();
    safetensors::serialize(tensors, Some(meta)).unwrap()
}

#[test]
fn hostile_metadata_is_a_typed_error() {
    let net = mlp::<f64>(1);
    let cases: &[(&str, Option<&str>)] = &[
        ("format", Some("pytorch")),
        ("format", None),
        ("format_version", Some("3")),
        ("dtype", Some("F32")),
        ("input_shape", Some("banana")),
        ("input_shape", Some("4")),
        ("layers", Some("18446744073709551615")),
        ("layers", Some("-1")),
        ("layers", Some("4")),
        ("layer.0", Some("conv9d size=3")),
        ("layer.0", Some("dense in_dim=3 out_dim=4")),
        ("layer.0", Some("dense bias=true in_dim=3 out_dim=4000000000000")),
        ("layer.0", Some("dense bias=true in_dim=300000 out_dim=400000")),
        ("layer.2", Some("dropout p=1.5 scaling=inverted")),
        ("layer.2", Some("dropout p=0.5")),
        ("layer.1", Some("leaky_relu alpha=inf")),
        ("layer.1", None),
    ];
    for (key, value) in cases {
        let bytes = with_metadata(&net, key, *value);
        match Sequential::<f64>::from_bytes(&bytes) {
            Err(Error::Format(_)) | Err(Error::LayerChain { .. }) | Err(Error::InvalidConfig { .. }) => {}
            other => panic!("{key}={value:?}: expected a typed error, got {other:?}"),
        }
    }
    let unknown = Sequential::<f64>::from_bytes(&with_metadata(&net, "layer.0", Some("conv9d size=3")));
    assert!(matches!(unknown, Err(Error::Format(FormatError::UnknownLayer { .. }))));
}

#[test]
fn non_finite_weights_are_refused() {
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let mut net = mlp::<f64>(1);
        // set_weight refuses the value; write it in place to build the bad file.
        let dense = net.layer_mut::<Dense<f64>>(0).unwrap();
        dense.visit_params_mut(&mut |p| {
            if p.name() == "weight" {
                p.value_mut()[(1, 2)] = bad;
            }
        });
        let err = Sequential::<f64>::from_bytes(&net.to_bytes().unwrap()).unwrap_err();
        match err {
            Error::Format(FormatError::NonFinite { name, row, col, .. }) => {
                assert_eq!((name.as_str(), row, col), ("0.weight", 1, 2));
            }
            other => panic!("expected NonFinite, got {other}"),
        }
    }
}

#[test]
fn empty_file_every_truncation_and_a_lying_header_are_errors() {
    let bytes = mlp::<f64>(1).to_bytes().unwrap();
    assert!(matches!(Sequential::<f64>::from_bytes(&[]), Err(Error::Format(_))));
    for len in 0..bytes.len() {
        assert!(Sequential::<f64>::from_bytes(&bytes[..len]).is_err(), "prefix of {len} bytes loaded");
    }
    // A header claiming far more bytes than the file holds.
    let mut lying = bytes.clone();
    lying[..8].copy_from_slice(&(u64::MAX / 2).to_le_bytes());
    assert!(matches!(Sequential::<f64>::from_bytes(&lying), Err(Error::Format(_))));
    let mut trailing = bytes.clone();
    trailing.extend_from_slice(b"polyglot");
    assert!(Sequential::<f64>::from_bytes(&trailing).is_err());
}

#[test]
fn every_single_byte_corruption_is_an_error_or_a_valid_network() {
    let bytes = mlp::<f64>(1).to_bytes().unwrap();
    let mut tried = 0;
    for i in 0..bytes.len() {
        for flip in [0x01u8, 0x80, 0xff] {
            let mut bad = bytes.clone();
            bad[i] ^= flip;
            tried += 1;
            if let Ok(net) = Sequential::<f64>::from_bytes(&bad) {
                // A flip inside a weight's bytes gives another valid network of the same shape.
                assert_eq!(net.num_params(), mlp::<f64>(1).num_params());
            }
        }
    }
    println!("single-byte corruptions tried: {tried}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = Sequential::<f32>::from_bytes(&bytes);
    }

    #[test]
    fn random_truncations_and_corruptions_never_panic(cut in 0usize..2000, at in 0usize..2000, byte in any::<u8>()) {
        let bytes = mlp::<f32>(5).to_bytes().unwrap();
        let mut bad = bytes[..cut.min(bytes.len())].to_vec();
        if !bad.is_empty() {
            let i = at % bad.len();
            bad[i] = byte;
        }
        let _ = Sequential::<f32>::from_bytes(&bad);
    }
}

/// A network with every layer kind the crate has, and what it predicts for a few rows.
fn every_kind<T: backprop::Real>() -> (Sequential<T>, DMatrix<T>) {
    let net = Sequential::<T>::builder(3)
        .add(Dense::new(3, 4))
        .add(LeakyRelu { alpha: 0.2 })
        .add(Dropout::new(0.25).unwrap().with_scaling(backprop::DropoutScaling::AtInference))
        .add(Dense::new(4, 4).without_bias())
        .add(Tanh)
        .add(Sigmoid)
        .add(Relu)
        .add(Identity)
        .add(Step)
        .add(Dense::new(4, 2))
        .add(Softmax)
        .build(11)
        .unwrap();
    let x = DMatrix::from_fn(4, 3, |i, j| T::cast((i as f64 - 1.5) * 0.7 - j as f64 * 0.2));
    (net, x)
}

fn round_trip_every_kind<T: backprop::Real>() {
    let (net, x) = every_kind::<T>();
    let copy = Sequential::<T>::from_bytes(&net.to_bytes().unwrap()).unwrap();
    assert_eq!(values(&copy), values(&net));
    let configs = |n: &Sequential<T>| n.layers().map(|l| l.config()).collect::<Vec<_>>();
    assert_eq!(configs(&copy), configs(&net));
    assert_eq!(copy.predict(&x).unwrap(), net.predict(&x).unwrap());
}

#[test]
fn every_layer_kind_round_trips_bit_exactly() {
    round_trip_every_kind::<f32>();
    round_trip_every_kind::<f64>();
}

#[test]
fn parameters_can_be_read_and_replaced_by_position_and_name() {
    let mut net = mlp::<f64>(1);
    let w = net.param("0.weight").unwrap().clone();
    assert_eq!(w.shape(), (3, 4));
    assert_eq!(net.param("0.bias").unwrap().shape(), (1, 4));
    assert!(net.param("1.weight").is_none(), "ReLU has no parameters");
    assert!(net.param("9.weight").is_none());

    let doubled = &w * 2.0;
    net.set_param("0.weight", &doubled).unwrap();
    assert_eq!(net.param("0.weight").unwrap(), &doubled);

    let before = values(&net);
    let wrong = net.set_param("0.weight", &DMatrix::zeros(4, 3)).unwrap_err();
    assert!(matches!(wrong, Error::ShapeMismatch { .. }), "{wrong}");
    assert!(wrong.to_string().contains("layer 0 (dense)"), "{wrong}");
    let missing = net.set_param("3.bias", &DMatrix::zeros(1, 2)).unwrap_err();
    assert!(matches!(missing, Error::NoSuchParam { .. }), "{missing}");
    assert_eq!(values(&net), before);
}

/// Several threads saving different networks to one path while another thread loads it: every
/// save succeeds, and every load gives one of the saved networks whole, never a broken file.
#[test]
fn concurrent_saves_to_one_path_never_break_the_file() {
    let path = temp_path("concurrent.safetensors");
    let nets: Vec<Sequential<f64>> = (0..3).map(|seed| mlp::<f64>(seed + 10)).collect();
    let expected: Vec<Vec<DMatrix<f64>>> = nets.iter().map(values).collect();
    nets[0].save(&path).unwrap();
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        let savers: Vec<_> = nets
            .iter()
            .map(|net| {
                let path = &path;
                s.spawn(move || (0..60).map(|_| net.save(path)).filter(Result::is_err).count())
            })
            .collect();
        let reader = s.spawn(|| {
            let mut loads = 0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) || loads == 0 {
                let loaded = Sequential::<f64>::load(&path).expect("a whole file");
                assert!(expected.contains(&values(&loaded)), "a mix of two saves");
                loads += 1;
            }
            loads
        });
        let failures: usize = savers.into_iter().map(|h| h.join().unwrap()).sum();
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        assert_eq!(failures, 0, "every save succeeds");
        assert!(reader.join().unwrap() > 0);
    });
    // No temporary file is left behind.
    let dir = path.parent().unwrap();
    let stray: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".concurrent.safetensors"))
        .collect();
    assert!(stray.is_empty(), "{stray:?}");
}

/// Saving through a symbolic link replaces the file it points to, and keeps the link.
#[cfg(unix)]
#[test]
fn saving_through_a_symlink_writes_its_target() {
    let target = temp_path("symlink-target.safetensors");
    let link = temp_path("symlink.safetensors");
    let _ = std::fs::remove_file(&link);
    mlp::<f64>(1).save(&target).unwrap();
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let net = mlp::<f64>(2);
    net.save(&link).unwrap();
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "the link stays a link");
    assert_eq!(values(&Sequential::<f64>::load(&target).unwrap()), values(&net));
}

/// A container written outside the crate: `y = Σ branches(x)` over any number of branches, named
/// `0`, `1`, … (its configuration records how many).
#[derive(Debug)]
struct SumOf(Vec<Box<dyn Layer<f64>>>);

impl Layer<f64> for SumOf {
    fn kind(&self) -> &'static str {
        "sum_of"
    }
    fn build(&mut self, input: backprop::Shape, rng: &mut backprop::SeededRng) -> backprop::Result<backprop::Shape> {
        let mut out = None;
        for branch in &mut self.0 {
            let shape = branch.build(input, rng)?;
            if out.is_some_and(|o| o != shape) {
                return Err(Error::InvalidConfig {
                    name: "sum_of",
                    value: format!("{shape:?}"),
                    expected: "equal shapes",
                });
            }
            out = Some(shape);
        }
        out.ok_or(Error::InvalidConfig { name: "sum_of", value: "no branch".into(), expected: "a branch" })
    }
    fn forward(&self, x: &DMatrix<f64>, y: &mut DMatrix<f64>) -> backprop::Result<()> {
        let mut part = DMatrix::zeros(0, 0);
        for (i, branch) in self.0.iter().enumerate() {
            branch.forward(x, if i == 0 { &mut *y } else { &mut part })?;
            if i > 0 {
                *y += &part;
            }
        }
        Ok(())
    }
    fn backward(
        &mut self,
        _x: &DMatrix<f64>,
        _y: &DMatrix<f64>,
        _g: &DMatrix<f64>,
        _dx: Option<&mut DMatrix<f64>>,
    ) -> backprop::Result<()> {
        Err(Error::InvalidConfig { name: "sum_of", value: "backward".into(), expected: "inference only" })
    }
    fn visit_children<'a>(&'a self, f: &mut dyn FnMut(&dyn std::fmt::Display, &'a dyn Layer<f64>)) {
        self.0.iter().enumerate().for_each(|(i, b)| f(&i, b.as_ref()));
    }
    fn visit_children_mut<'a>(&'a mut self, f: &mut dyn FnMut(&dyn std::fmt::Display, &'a mut dyn Layer<f64>)) {
        self.0.iter_mut().enumerate().for_each(|(i, b)| f(&i, b.as_mut()));
    }
    fn config(&self) -> backprop::LayerConfig {
        backprop::LayerConfig::new("sum_of").with("branches", self.0.len())
    }
}

/// The registry entry of [`SumOf`]: as many children as its configuration says, refusing more
/// than the file has entries for.
fn sum_of_registry() -> backprop::Registry<f64> {
    backprop::Registry::new().register_container(
        "sum_of",
        |c: &backprop::LayerConfig, max| {
            let n: usize = c.setting("branches")?;
            if n == 0 || n > max {
                return Err(Error::InvalidConfig { name: "branches", value: n.to_string(), expected: "1 to max" });
            }
            Ok((0..n).map(|i| i.to_string()).collect())
        },
        |_, children| Ok(SumOf(children)),
    )
}

/// A container of your own loads, nested inside the crate's and holding them (a residual block,
/// batch normalization's buffers), bit for bit; its entry refuses hostile counts; without its
/// registration the file names the unknown kind.
#[test]
fn a_container_of_your_own_loads() {
    let branch = || Chain::new().add(Dense::new(3, 4)).add(BatchNorm::new(4)).add(Tanh);
    let block = SumOf(vec![
        Box::new(branch()),
        Box::new(Residual::identity(Chain::new().add(Dense::new(3, 3)).add(Relu).add(Dense::new(3, 3)))),
        Box::new(Dense::new(3, 4)),
    ]);
    // The residual branch gives 3 features: the sum refuses it; one of 4 instead.
    assert!(Sequential::<f64>::builder(3).add(block).build(0).is_err());
    let block = SumOf(vec![
        Box::new(branch()),
        Box::new(
            Chain::new().add(Residual::identity(Chain::new().add(Dense::new(3, 3)).add(Relu))).add(Dense::new(3, 4)),
        ),
        Box::new(Dense::new(3, 4)),
    ]);
    let mut net = Sequential::<f64>::builder(3).add(block).add(Dense::new(4, 2)).build(5).unwrap();
    // Buffers that are not the initial ones: batch normalization's running mean.
    let mut set = 0;
    net.visit_buffers_mut(&mut |path, m| {
        if path == "0.0.1.running_mean" {
            m.copy_from_slice(&[0.5, -0.25, 1.0, 2.0]);
            set += 1;
        }
    });
    assert_eq!(set, 1);
    let bytes = net.to_bytes().unwrap();

    let copy = Sequential::<f64>::from_bytes_with(&bytes, &sum_of_registry()).unwrap();
    assert_eq!(copy.to_bytes().unwrap(), bytes, "the same file again");
    let x = DMatrix::from_fn(6, 3, |i, j| (i as f64 * 0.37 - j as f64 * 0.61).sin());
    assert_eq!(copy.predict(&x).unwrap(), net.predict(&x).unwrap());
    let mut paths = Vec::new();
    copy.visit_params(&mut |path, _| paths.push(path.to_string()));
    assert!(paths.contains(&"0.1.0.body.0.weight".to_string()), "{paths:?}");

    let unknown = Sequential::<f64>::from_bytes(&bytes).unwrap_err();
    assert!(
        matches!(&unknown, Error::Format(FormatError::UnknownLayer { kind, .. }) if kind == "sum_of"),
        "{unknown:?}"
    );

    // Hostile counts: more branches than entries, and a registration that names more children
    // than the file has entries (the loader refuses them).
    for branches in ["4", "1000000000000", "0"] {
        let bad = rewrite(&bytes, "layer.0", &format!("sum_of branches={branches}"));
        let err = Sequential::<f64>::from_bytes_with(&bad, &sum_of_registry()).unwrap_err();
        assert!(matches!(err, Error::Format(_) | Error::InvalidConfig { .. }), "{branches}: {err:?}");
    }
    let greedy = backprop::Registry::new().register_container(
        "sum_of",
        |_: &backprop::LayerConfig, max| Ok((0..=max).map(|i| i.to_string()).collect()),
        |_, children| Ok(SumOf(children)),
    );
    let err = Sequential::<f64>::from_bytes_with(&bytes, &greedy).unwrap_err();
    assert!(matches!(err, Error::Format(FormatError::BadMetadata { .. })), "{err:?}");
}

/// The file's bytes with the metadata entry `key` set to `value`.
fn rewrite(bytes: &[u8], key: &str, value: &str) -> Vec<u8> {
    let file = safetensors::SafeTensors::deserialize(bytes).unwrap();
    let (_, header) = safetensors::SafeTensors::read_metadata(bytes).unwrap();
    let mut meta = header.metadata().clone().unwrap();
    meta.insert(key.to_string(), value.to_string());
    safetensors::serialize(file.tensors(), Some(meta)).unwrap()
}
