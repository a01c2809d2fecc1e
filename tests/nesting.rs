//! Layers that hold layers: chains inside residual blocks inside networks. Paths name every
//! parameter the same way everywhere (files, `param`, gradient checks, errors); residual blocks
//! are gradient-checked, train, and round-trip through files; hostile nested files are typed
//! errors.

use backprop::gradcheck::{check_layer, check_network, Tolerance};
use backprop::prelude::*;
use backprop::registry::MAX_DEPTH;
use backprop::{seeded, FormatError, LayerId, Stream};
use nalgebra::DMatrix;
use std::collections::HashMap;

fn uniform(rows: usize, cols: usize, seed: u64) -> DMatrix<f64> {
    Init::Uniform { low: -1.0, high: 1.0 }.matrix(rows, cols, &mut seeded(seed, Stream::Init)).unwrap()
}

/// 4 → residual(identity, body 4-6-4 tanh) → residual(projection 4→3) → 2.
fn residual_mlp<T: Real>(seed: u64) -> Sequential<T> {
    let smooth_bias = Init::Uniform { low: -0.5, high: 0.5 };
    let body = Chain::new()
        .add(Dense::new(4, 6).with_bias_init(smooth_bias))
        .add(Tanh)
        .add(Dense::new(6, 4).with_bias_init(smooth_bias));
    let down = Chain::new().add(Dense::new(4, 3)).add(Sigmoid).add(Dense::new(3, 3));
    Sequential::<T>::builder(4)
        .add(Residual::identity(body))
        .add(Tanh)
        .add(Residual::projection(down, Dense::new(4, 3).without_bias()))
        .add(Tanh)
        .add(Dense::new(3, 2))
        .build(seed)
        .unwrap()
}

use backprop::Real;

#[test]
fn paths_name_every_parameter() {
    let net = residual_mlp::<f64>(1);
    let names: Vec<String> = net.named_params().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "0.body.0.weight",
            "0.body.0.bias",
            "0.body.2.weight",
            "0.body.2.bias",
            "2.body.0.weight",
            "2.body.0.bias",
            "2.body.2.weight",
            "2.body.2.bias",
            "2.shortcut.weight",
            "4.weight",
            "4.bias",
        ]
    );
    assert_eq!(net.param("2.shortcut.weight").map(|w| w.shape()), Some((4, 3)));
    assert!(net.param("2.shortcut.bias").is_none());
    assert!(net.layer_at::<Dense<f64>>("0.body.2").is_some());
    assert!(net.layer_at::<Dense<f64>>("0.body.1").is_none(), "a tanh");
    assert!(net.layer_at::<Chain<f64>>("2.body").is_some());

    // set_param by path, with typed errors naming the path.
    let mut net = net;
    let w = DMatrix::from_element(4, 3, 0.25);
    net.set_param("2.shortcut.weight", &w).unwrap();
    assert_eq!(net.param("2.shortcut.weight"), Some(&w));
    let err = net.set_param("2.shortcut.weight", &DMatrix::zeros(3, 3)).unwrap_err();
    assert!(
        matches!(&err, Error::ShapeMismatch { layer, .. } if *layer == LayerId::at("2.shortcut", "dense")),
        "{err:?}"
    );
    let err = net.set_param("2.shortcut.bias", &DMatrix::zeros(1, 3)).unwrap_err();
    assert!(matches!(&err, Error::NoSuchParam { path } if path == "2.shortcut.bias"), "{err:?}");
}

#[test]
fn gradcheck_of_residual_blocks_names_nested_paths() {
    // The identity block alone, as a layer.
    let body = Chain::new().add(Dense::new(3, 5)).add(Tanh).add(Dense::new(5, 3));
    let mut block = Residual::<f64>::identity(body);
    block.build(Shape::Flat(3), &mut seeded(2, Stream::Init)).unwrap();
    let r = check_layer(&mut block, &uniform(4, 3, 3), Tolerance::default()).unwrap();
    assert!(r.passed(), "{r}");
    assert!(r.smooth && r.kinks.is_empty(), "{r}");
    let names: Vec<&str> = r.tensors.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["input", "body.0.weight", "body.0.bias", "body.2.weight", "body.2.bias"]);

    // The projection block alone.
    let body = Chain::new().add(Dense::new(3, 2)).add(Sigmoid);
    let mut block = Residual::<f64>::projection(body, Dense::new(3, 2));
    block.build(Shape::Flat(3), &mut seeded(4, Stream::Init)).unwrap();
    let r = check_layer(&mut block, &uniform(4, 3, 5), Tolerance::default()).unwrap();
    assert!(r.passed(), "{r}");
    let names: Vec<&str> = r.tensors.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["input", "body.0.weight", "body.0.bias", "shortcut.weight", "shortcut.bias"]);

    // A whole network with both, through the public check, names equal to the file's names.
    let mut net = residual_mlp::<f64>(6);
    let x = uniform(5, 4, 7);
    let t = DMatrix::from_column_slice(5, 1, &[0.0, 1.0, 1.0, 0.0, 1.0]);
    let r = check_network(&mut net, &x, &t, &SoftmaxCrossEntropy, Tolerance::default()).unwrap();
    assert!(r.passed(), "{r}");
    assert!(r.max_rel_error() < 1e-6, "{r}");
    let checked: Vec<String> = r.tensors.iter().map(|t| t.name.clone()).collect();
    let saved: Vec<String> = net.named_params().into_iter().map(|(n, _)| n).collect();
    assert_eq!(checked, saved);
    assert!(checked.contains(&"2.shortcut.weight".to_string()));
}

#[test]
fn nested_chain_gradcheck() {
    let inner = Chain::new().add(Dense::new(3, 3)).add(Tanh);
    let outer = Chain::new().add(inner).add(Dense::new(3, 2)).add(Sigmoid);
    let mut net = Sequential::<f64>::builder(3).add(outer).add(Dense::new(2, 2)).build(8).unwrap();
    let x = uniform(4, 3, 9);
    let t = uniform(4, 2, 10);
    let r = check_network(&mut net, &x, &t, &SquaredError::half_sum(), Tolerance::default()).unwrap();
    assert!(r.passed(), "{r}");
    let names: Vec<&str> = r.tensors.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["0.0.0.weight", "0.0.0.bias", "0.1.weight", "0.1.bias", "1.weight", "1.bias"]);
}

/// A wrong backward is caught: a residual block whose shortcut gradient is dropped fails.
#[test]
fn gradcheck_catches_a_block_that_drops_the_shortcut_gradient() {
    #[derive(Debug)]
    struct NoShortcutGrad(Residual<f64>);
    impl Layer<f64> for NoShortcutGrad {
        fn kind(&self) -> &'static str {
            "broken"
        }
        fn build(&mut self, input: Shape, rng: &mut backprop::SeededRng) -> backprop::Result<Shape> {
            self.0.build(input, rng)
        }
        fn forward(&self, x: &DMatrix<f64>, y: &mut DMatrix<f64>) -> backprop::Result<()> {
            self.0.forward(x, y)
        }
        fn forward_train(
            &mut self,
            x: &DMatrix<f64>,
            y: &mut DMatrix<f64>,
            rng: &mut backprop::SeededRng,
        ) -> backprop::Result<()> {
            self.0.forward_train(x, y, rng)
        }
        fn backward(
            &mut self,
            x: &DMatrix<f64>,
            y: &DMatrix<f64>,
            g: &DMatrix<f64>,
            dx: Option<&mut DMatrix<f64>>,
        ) -> backprop::Result<()> {
            // Only the body's input gradient: the identity path's `+ g` is missing.
            self.0.backward(x, y, g, None)?;
            let body: &Chain<f64> = (self.0.body() as &dyn std::any::Any).downcast_ref().unwrap();
            let _ = body;
            if let Some(dx) = dx {
                *dx = DMatrix::zeros(x.nrows(), x.ncols());
            }
            Ok(())
        }
        fn visit_children<'a>(&'a self, f: &mut dyn FnMut(&dyn std::fmt::Display, &'a dyn Layer<f64>)) {
            self.0.visit_children(f)
        }
        fn visit_children_mut<'a>(&'a mut self, f: &mut dyn FnMut(&dyn std::fmt::Display, &'a mut dyn Layer<f64>)) {
            self.0.visit_children_mut(f)
        }
    }
    let mut broken = NoShortcutGrad(Residual::identity(Chain::new().add(Dense::new(2, 2)).add(Tanh)));
    broken.build(Shape::Flat(2), &mut seeded(11, Stream::Init)).unwrap();
    let r = check_layer(&mut broken, &uniform(3, 2, 12), Tolerance::default()).unwrap();
    assert!(!r.passed(), "{r}");
    assert!(r.tensors[0].failures > 0, "the input gradient is the wrong one: {r}");
}

#[test]
fn a_residual_mlp_trains_with_fit() {
    // Two-moons-like data: class = whether x0·x1 + 0.3·sin(3·x2) > 0.
    let x = uniform(200, 4, 13);
    let labels: Vec<f64> =
        (0..200).map(|i| f64::from(x[(i, 0)] * x[(i, 1)] + 0.3 * (3.0 * x[(i, 2)]).sin() > 0.0)).collect();
    let t = DMatrix::from_column_slice(200, 1, &labels);
    let mut net = residual_mlp::<f64>(14);
    let before = net.evaluate(&x, &t, &SoftmaxCrossEntropy).unwrap();
    let mut config = FitConfig::new(SoftmaxCrossEntropy, Adam::new(0.02)).epochs(150).batch_size(32).seed(1);
    let history = net.fit(&x, &t, &mut config).unwrap();
    let after = net.evaluate(&x, &t, &SoftmaxCrossEntropy).unwrap();
    assert!(history.final_loss().unwrap() < 0.5 * history.loss[0], "{:?}", history.loss);
    assert!(after.accuracy >= 0.9 && after.accuracy > before.accuracy, "{before:?} -> {after:?}");
}

#[test]
fn nested_networks_round_trip_bit_exactly() {
    let x = uniform(6, 4, 15);
    let mut net = residual_mlp::<f64>(16);
    let t = DMatrix::from_column_slice(6, 1, &[0.0, 1.0, 1.0, 0.0, 1.0, 0.0]);
    net.fit(&x, &t, &mut FitConfig::new(SoftmaxCrossEntropy, Adam::new(0.01)).epochs(5)).unwrap();
    let bytes = net.to_bytes().unwrap();
    let copy = Sequential::<f64>::from_bytes(&bytes).unwrap();
    let values = |n: &Sequential<f64>| -> Vec<(String, DMatrix<f64>)> {
        n.named_params().into_iter().map(|(path, p)| (path, p.value().clone())).collect()
    };
    assert_eq!(values(&copy), values(&net));
    assert_eq!(copy.predict(&x).unwrap(), net.predict(&x).unwrap());
    assert_eq!(copy.to_bytes().unwrap(), bytes, "the same network gives the same bytes");

    let net32 = residual_mlp::<f32>(17);
    let copy32 = Sequential::<f32>::from_bytes(&net32.to_bytes().unwrap()).unwrap();
    let x32 = x.map(|v| v as f32);
    assert_eq!(copy32.predict(&x32).unwrap(), net32.predict(&x32).unwrap());

    // The metadata describes the tree.
    let meta = metadata(&bytes);
    assert_eq!(meta["format_version"], "2");
    assert_eq!(meta["layers"], "5");
    assert_eq!(meta["layer.0"], "residual shortcut=identity");
    assert_eq!(meta["layer.0.body"], "chain layers=3");
    assert_eq!(meta["layer.2.shortcut"], "dense bias=false in_dim=4 out_dim=3");
}

fn metadata(bytes: &[u8]) -> HashMap<String, String> {
    let (_, header) = safetensors::SafeTensors::read_metadata(bytes).unwrap();
    header.metadata().clone().unwrap()
}

/// `net`'s file with its metadata edited by `edit` (tensors as they are).
fn edited(net: &Sequential<f64>, edit: impl FnOnce(&mut HashMap<String, String>)) -> Vec<u8> {
    let bytes = net.to_bytes().unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut meta = metadata(&bytes);
    edit(&mut meta);
    safetensors::serialize(file.tensors(), Some(meta)).unwrap()
}

fn format_error(bytes: &[u8]) -> FormatError {
    match Sequential::<f64>::from_bytes(bytes) {
        Err(Error::Format(e)) => e,
        other => panic!("expected a format error, got {other:?}"),
    }
}

#[test]
fn hostile_nested_files_are_typed_errors() {
    let net = residual_mlp::<f64>(18);

    // An unknown kind inside a block names its path.
    let e = format_error(&edited(&net, |m| {
        m.insert("layer.0.body.1".into(), "prelu width=6".into());
    }));
    assert!(matches!(&e, FormatError::UnknownLayer { path, kind } if path == "0.body.1" && kind == "prelu"), "{e:?}");

    // A child count that does not match: fewer children declared than entries and tensors...
    let e = format_error(&edited(&net, |m| {
        m.insert("layer.0.body".into(), "chain layers=2".into());
    }));
    assert!(matches!(&e, FormatError::BadMetadata { .. } | FormatError::SizeMismatch { .. }), "{e:?}");
    // ... more than there are entries, or absurdly many (refused before allocating anything) ...
    for n in ["4", "1000000", "18446744073709551615", "0"] {
        let e = format_error(&edited(&net, |m| {
            m.insert("layer.0.body".into(), format!("chain layers={n}"));
        }));
        assert!(matches!(&e, FormatError::BadMetadata { .. }), "layers={n}: {e:?}");
    }
    // ... a projection declared without its shortcut entry, or an identity with one left over.
    let e = format_error(&edited(&net, |m| {
        m.insert("layer.0".into(), "residual shortcut=projection".into());
    }));
    assert!(matches!(&e, FormatError::BadMetadata { key, .. } if key == "layer.0.shortcut"), "{e:?}");
    let e = format_error(&edited(&net, |m| {
        m.insert("layer.2".into(), "residual shortcut=identity".into());
    }));
    assert!(matches!(&e, FormatError::BadMetadata { .. } | FormatError::SizeMismatch { .. }), "{e:?}");
    let e = format_error(&edited(&net, |m| {
        m.insert("layer.2".into(), "residual shortcut=sideways".into());
    }));
    assert!(matches!(&e, FormatError::BadMetadata { key, .. } if key == "layer.2"), "{e:?}");

    // The dense sizes inside blocks are checked against the tensors before building.
    let e = format_error(&edited(&net, |m| {
        m.insert("layer.0.body.0".into(), "dense bias=true in_dim=4 out_dim=300000000".into());
    }));
    assert!(matches!(&e, FormatError::SizeMismatch { .. }), "{e:?}");
}

#[test]
fn nesting_deeper_than_the_limit_is_refused() {
    // Chains nested one level deeper than allowed, around one sigmoid (no tensors at all).
    let deep = |levels: usize| {
        let mut meta: HashMap<String, String> =
            [("format", "backprop"), ("format_version", "2"), ("dtype", "F64"), ("input_shape", "2"), ("layers", "1")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
        let mut path = "0".to_string();
        for _ in 0..levels {
            meta.insert(format!("layer.{path}"), "chain layers=1".into());
            path.push_str(".0");
        }
        meta.insert(format!("layer.{path}"), "sigmoid".into());
        let no_tensors: Vec<(String, safetensors::tensor::TensorView<'_>)> = Vec::new();
        safetensors::serialize(no_tensors, Some(meta)).unwrap()
    };
    // MAX_DEPTH segments in the deepest path load...
    let net = Sequential::<f64>::from_bytes(&deep(MAX_DEPTH - 1)).unwrap();
    assert_eq!(net.predict(&DMatrix::zeros(1, 2)).unwrap(), DMatrix::from_element(1, 2, 0.5));
    // ... one more does not.
    let e = format_error(&deep(MAX_DEPTH));
    assert!(matches!(&e, FormatError::TooDeep { limit, .. } if *limit == MAX_DEPTH), "{e:?}");
}

#[test]
fn build_errors_name_nested_paths() {
    let body = Chain::new().add(Dense::new(4, 5)).add(Tanh).add(Dense::new(6, 4));
    let err = Sequential::<f64>::builder(4).add(Dense::new(4, 4)).add(Residual::identity(body)).build(0).unwrap_err();
    assert!(matches!(&err, Error::LayerChain { layer, expected: 6, got: 5 } if layer.path() == "1.body.2"), "{err:?}");
    assert_eq!(err.to_string(), "layer 1.body.2 (dense) expects 6 input features, but the layers before it give 5");

    // A chain without layers, anywhere in the tree, is named by its path.
    let body = Chain::new().add(Dense::new(4, 4)).add(Chain::new());
    let err = Sequential::<f64>::builder(4).add(Tanh).add(Residual::identity(body)).build(0).unwrap_err();
    assert!(matches!(&err, Error::EmptyChain { layer } if layer.path() == "1.body.1"), "{err:?}");
    assert_eq!(err.to_string(), "layer 1.body.1 (chain) holds no layers; a chain needs at least one");

    let body = Chain::new().add(Dense::new(4, 3));
    let err = Sequential::<f64>::builder(4).add(Residual::identity(body)).build(0).unwrap_err();
    assert!(
        matches!(&err, Error::BranchMismatch { layer, body: Shape::Flat(3), shortcut: Shape::Flat(4) } if layer.path() == "0"),
        "{err:?}"
    );

    let empty = Sequential::<f64>::builder(4).add(Chain::new()).build(0).unwrap_err();
    assert!(matches!(&empty, Error::EmptyChain { layer } if layer.path() == "0"), "{empty:?}");
    let none = Sequential::<f64>::builder(4).build(0).unwrap_err();
    assert!(matches!(&none, Error::InvalidConfig { name: "layers", .. }), "{none:?}");
}

/// A layer with children and a parameter of its own is refused when built (the walk would not
/// see the parameter).
#[test]
fn a_layer_with_children_and_own_parameters_is_refused() {
    #[derive(Debug)]
    struct Both {
        inner: Dense<f64>,
        own: backprop::Param<f64>,
    }
    impl Layer<f64> for Both {
        fn kind(&self) -> &'static str {
            "both"
        }
        fn build(&mut self, input: Shape, rng: &mut backprop::SeededRng) -> backprop::Result<Shape> {
            self.inner.build(input, rng)
        }
        fn forward(&self, x: &DMatrix<f64>, y: &mut DMatrix<f64>) -> backprop::Result<()> {
            self.inner.forward(x, y)
        }
        fn backward(
            &mut self,
            x: &DMatrix<f64>,
            y: &DMatrix<f64>,
            g: &DMatrix<f64>,
            dx: Option<&mut DMatrix<f64>>,
        ) -> backprop::Result<()> {
            self.inner.backward(x, y, g, dx)
        }
        fn visit_children<'a>(&'a self, f: &mut dyn FnMut(&dyn std::fmt::Display, &'a dyn Layer<f64>)) {
            f(&"inner", &self.inner)
        }
        fn visit_params<'a>(&'a self, f: &mut dyn FnMut(&'a backprop::Param<f64>)) {
            f(&self.own)
        }
    }
    let both = Both {
        inner: Dense::new(2, 2),
        own: backprop::Param::new("gain", DMatrix::zeros(1, 1), backprop::Decay::Applies),
    };
    let err = Sequential::<f64>::builder(2).add(both).build(0).unwrap_err();
    assert!(matches!(&err, Error::InvalidConfig { .. }), "{err:?}");
}
