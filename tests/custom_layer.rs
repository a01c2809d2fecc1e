//! A layer written outside the crate works everywhere a built-in one does: gradient checks,
//! networks, nested blocks, training, reading its parameters back, saving, and loading through a
//! registry that knows its kind.

use backprop::gradcheck::{check_layer, check_network, Tolerance};
use backprop::Decay;
use backprop::{
    ensure_shape, seeded, Chain, Dense, Dims, Error, FitConfig, FormatError, Init, Layer, LayerConfig, LayerId,
    Network, Param, Real, Registry, Relu, Residual, Result, SeededRng, Sequential, Sgd, Shape, SoftmaxCrossEntropy,
    SquaredError, Stream, Tanh,
};
use nalgebra::DMatrix;

const KIND: &str = "scale";

/// A learnable scale per feature: `y = x ⊙ s`, with `s` one row of `width` values.
///
/// Backward: `∂E/∂s = Σ_rows g ⊙ x`, `∂E/∂x = g ⊙ s`, where `g = ∂E/∂y`.
#[derive(Debug, Clone)]
struct Scale<T: Real> {
    width: usize,
    scale: Param<T>,
}

impl<T: Real> Scale<T> {
    fn new(width: usize) -> Self {
        Scale { width, scale: Param::new("scale", DMatrix::zeros(0, 0), Decay::Applies) }
    }

    fn scale(&self) -> &DMatrix<T> {
        self.scale.value()
    }

    fn check_input(&self, x: &DMatrix<T>) -> Result<()> {
        if x.ncols() != self.width {
            return Err(Error::FeatureMismatch { layer: LayerId::kind(KIND), expected: self.width, got: x.ncols() });
        }
        Ok(())
    }
}

impl<T: Real> Layer<T> for Scale<T> {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn build(&mut self, input: Shape, rng: &mut SeededRng) -> Result<Shape> {
        if input.len() != self.width {
            return Err(Error::LayerChain { layer: LayerId::kind(KIND), expected: self.width, got: input.len() });
        }
        // Random rather than ones, so a gradient check is not at a special point.
        let s = Init::Uniform { low: 0.5, high: 1.5 }.matrix(1, self.width, rng)?;
        self.scale = Param::new("scale", s, Decay::Applies);
        Ok(input)
    }

    fn forward(&self, x: &DMatrix<T>, y: &mut DMatrix<T>) -> Result<()> {
        self.check_input(x)?;
        ensure_shape(y, x.nrows(), x.ncols());
        for j in 0..x.ncols() {
            let s = self.scale.value()[j];
            y.column_mut(j).zip_apply(&x.column(j), |yi, xi| *yi = xi * s);
        }
        Ok(())
    }

    fn backward(
        &mut self,
        x: &DMatrix<T>,
        _y: &DMatrix<T>,
        grad_y: &DMatrix<T>,
        grad_x: Option<&mut DMatrix<T>>,
    ) -> Result<()> {
        self.check_input(x)?;
        if grad_y.shape() != x.shape() {
            return Err(Error::ShapeMismatch {
                layer: LayerId::kind(KIND),
                what: "grad_y",
                expected: Dims::from(x),
                got: Dims::from(grad_y),
            });
        }
        if let Some(dx) = grad_x {
            ensure_shape(dx, x.nrows(), x.ncols());
            for j in 0..x.ncols() {
                let s = self.scale.value()[j];
                dx.column_mut(j).zip_apply(&grad_y.column(j), |d, g| *d = g * s);
            }
        }
        let ds = self.scale.grad_mut();
        for j in 0..x.ncols() {
            ds[j] = x.column(j).dot(&grad_y.column(j));
        }
        Ok(())
    }

    fn visit_params<'a>(&'a self, f: &mut dyn FnMut(&'a Param<T>)) {
        f(&self.scale);
    }

    fn is_smooth(&self) -> bool {
        true
    }

    fn config(&self) -> LayerConfig {
        LayerConfig::new(KIND).with("width", self.width)
    }

    fn visit_params_mut<'a>(&'a mut self, f: &mut dyn FnMut(&'a mut Param<T>)) {
        f(&mut self.scale);
    }
}

fn uniform(rows: usize, cols: usize, low: f64, high: f64, seed: u64) -> DMatrix<f64> {
    Init::Uniform { low, high }.matrix(rows, cols, &mut seeded(seed, Stream::Init)).unwrap()
}

#[test]
fn scale_layer_gradients() {
    let mut scale = Scale::<f64>::new(3);
    scale.build(Shape::Flat(3), &mut seeded(1, Stream::Init)).unwrap();
    let x = uniform(4, 3, -1.0, 1.0, 2);
    let r = check_layer(&mut scale, &x, Tolerance::default()).unwrap();
    assert!(r.passed(), "{r}");
    let names: Vec<&str> = r.tensors.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["input", "scale"]);
    assert_eq!(r.tensors[1].checked, 3);
    assert!(r.max_rel_error() <= 1e-6, "{r}");
}

#[test]
fn scale_layer_inside_a_network_gradients() {
    let mut net = Sequential::<f64>::builder(3)
        .add(Dense::new(3, 3))
        .add(Scale::new(3))
        .add(Tanh)
        .add(Dense::new(3, 2))
        .build(3)
        .unwrap();
    let x = uniform(3, 3, -1.0, 1.0, 4);
    let t = DMatrix::from_column_slice(3, 1, &[1.0, 0.0, 1.0]);
    let r = check_network(&mut net, &x, &t, &SoftmaxCrossEntropy, Tolerance::default()).unwrap();
    assert!(r.passed(), "{r}");
    let names: Vec<&str> = r.tensors.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["0.weight", "0.bias", "1.scale", "3.weight", "3.bias"]);
    assert!(r.max_rel_error() <= 1e-6, "{r}");
}

/// A [`Scale`] whose `backward` forgets its parameter's gradient, or writes it one column wider.
#[derive(Debug, Clone)]
struct Careless {
    inner: Scale<f64>,
    wider: bool,
}

impl Layer<f64> for Careless {
    fn kind(&self) -> &'static str {
        "careless"
    }
    fn build(&mut self, input: Shape, rng: &mut SeededRng) -> Result<Shape> {
        self.inner.build(input, rng)
    }
    fn forward(&self, x: &DMatrix<f64>, y: &mut DMatrix<f64>) -> Result<()> {
        self.inner.forward(x, y)
    }
    fn backward(
        &mut self,
        x: &DMatrix<f64>,
        y: &DMatrix<f64>,
        grad_y: &DMatrix<f64>,
        grad_x: Option<&mut DMatrix<f64>>,
    ) -> Result<()> {
        if self.wider {
            self.inner.backward(x, y, grad_y, grad_x)?;
            *self.inner.scale.grad_mut() = DMatrix::zeros(1, self.inner.width + 1);
        } else if let Some(dx) = grad_x {
            // ∂E/∂x only: the scale's gradient is never written.
            let s = self.inner.scale().clone();
            *dx = DMatrix::from_fn(x.nrows(), x.ncols(), |i, j| grad_y[(i, j)] * s[j]);
        }
        Ok(())
    }
    fn visit_params<'a>(&'a self, f: &mut dyn FnMut(&'a Param<f64>)) {
        self.inner.visit_params(f)
    }
    fn visit_params_mut<'a>(&'a mut self, f: &mut dyn FnMut(&'a mut Param<f64>)) {
        self.inner.visit_params_mut(f)
    }
}

/// A layer whose `backward` leaves its parameter without a gradient, or with one of another
/// shape, fails a gradient check and `Network::gradients` with the error a training step gives
/// (it passed, comparing zeros or a part of the gradient).
#[test]
fn a_parameter_gradient_left_out_or_misshapen_is_refused() {
    let x = uniform(4, 3, -1.0, 1.0, 2);
    let t = uniform(4, 3, -1.0, 1.0, 3);
    for wider in [false, true] {
        let mut careless = Careless { inner: Scale::new(3), wider };
        careless.build(Shape::Flat(3), &mut seeded(1, Stream::Init)).unwrap();
        let expected = |e: &Error| match e {
            Error::GradientShape { index: 0, name: "scale", expected: Dims(1, 3), got: Dims(1, 4) } => wider,
            Error::MissingGradient { index: 0, name: "scale" } => !wider,
            _ => false,
        };
        let err = check_layer(&mut careless, &x, Tolerance::default()).unwrap_err();
        assert!(expected(&err), "wider {wider}: {err:?}");

        let mut net = Sequential::<f64>::builder(3).add(Dense::new(3, 3)).add(careless).build(3).unwrap();
        let before = net.params().iter().map(|p| p.value().clone()).collect::<Vec<_>>();
        let err = net.gradients(&x, &t, &SquaredError::mean()).unwrap_err();
        assert!(
            matches!(err, Error::GradientShape { index: 2, .. } | Error::MissingGradient { index: 2, .. }),
            "{err:?}"
        );
        let err = check_network(&mut net, &x, &t, &SquaredError::mean(), Tolerance::default()).unwrap_err();
        assert!(
            matches!(err, Error::GradientShape { index: 2, .. } | Error::MissingGradient { index: 2, .. }),
            "{err:?}"
        );
        let after = net.params().iter().map(|p| p.value().clone()).collect::<Vec<_>>();
        assert_eq!(before, after);
    }
}

/// A [`Scale`] whose output is one column wider than the shape its `build` declared.
#[derive(Debug, Clone)]
struct Sloppy(Scale<f64>);

impl Layer<f64> for Sloppy {
    fn kind(&self) -> &'static str {
        "sloppy"
    }
    fn build(&mut self, input: Shape, rng: &mut SeededRng) -> Result<Shape> {
        self.0.build(input, rng)
    }
    fn forward(&self, x: &DMatrix<f64>, y: &mut DMatrix<f64>) -> Result<()> {
        self.0.forward(x, y)?;
        *y = y.clone().insert_column(0, 1.0);
        Ok(())
    }
    fn backward(
        &mut self,
        x: &DMatrix<f64>,
        y: &DMatrix<f64>,
        grad_y: &DMatrix<f64>,
        grad_x: Option<&mut DMatrix<f64>>,
    ) -> Result<()> {
        self.0.backward(x, y, grad_y, grad_x)
    }
    fn visit_params<'a>(&'a self, f: &mut dyn FnMut(&'a Param<f64>)) {
        self.0.visit_params(f)
    }
    fn visit_params_mut<'a>(&'a mut self, f: &mut dyn FnMut(&'a mut Param<f64>)) {
        self.0.visit_params_mut(f)
    }
}

/// A layer that writes another output than it declared when built is named, by its path, in
/// prediction and training (the next layer or the loss's targets were blamed, or `predict`
/// returned more columns than `output_width`), and nothing changes.
#[test]
fn a_layer_whose_output_is_not_as_built_is_named() {
    let x = uniform(6, 3, -1.0, 1.0, 2);
    let t = uniform(6, 3, -1.0, 1.0, 3);
    let expected = |e: &Error, path: &str| {
        matches!(e, Error::ShapeMismatch { layer, what: "its output", expected: Dims(_, 3), got: Dims(_, 4) }
            if *layer == LayerId::at(path, "sloppy"))
    };
    let sloppy = || Sloppy(Scale::new(3));
    // Last, in the middle, and inside a residual block's body.
    let nets = [
        Sequential::<f64>::builder(3).add(Dense::new(3, 3)).add(sloppy()).build(3).unwrap(),
        Sequential::<f64>::builder(3).add(sloppy()).add(Tanh).add(Dense::new(3, 3)).build(3).unwrap(),
        Sequential::<f64>::builder(3)
            .add(Residual::identity(Chain::new().add(Dense::new(3, 3)).add(sloppy())))
            .build(3)
            .unwrap(),
    ];
    for (mut net, path) in nets.into_iter().zip(["1", "0", "0.body.1"]) {
        let before = net.to_bytes().unwrap();
        let err = net.predict(&x).unwrap_err();
        assert!(expected(&err, path), "{err:?}");
        let err = net.train_step(&x, &t, &SquaredError::mean(), &mut Sgd::new(0.1), &mut seeded(0, Stream::Train));
        assert!(expected(err.as_ref().unwrap_err(), path), "{err:?}");
        let err = net.fit(&x, &t, &mut FitConfig::new(SquaredError::mean(), Sgd::new(0.1)).batch_size(4)).unwrap_err();
        assert!(expected(&err, path), "{err:?}");
        assert_eq!(net.to_bytes().unwrap(), before);
    }
}

#[test]
fn scale_layer_learns_a_scaling() {
    // Targets tanh(x ⊙ s) for a known s; a Scale followed by the built-in Tanh can fit them exactly.
    let truth = [2.0, -1.0, 0.5];
    let x = uniform(40, 3, -1.0, 1.0, 5);
    let t = DMatrix::from_fn(40, 3, |i, j| (x[(i, j)] * truth[j]).tanh());

    let mut net = Sequential::<f64>::builder(3).add(Scale::new(3)).add(Tanh).build(6).unwrap();
    let before = net.layer::<Scale<f64>>(0).expect("layer 0 is a Scale").scale().clone();
    let mut config = FitConfig::new(SquaredError::mean(), Sgd::new(1.0)).epochs(3000);
    let history = net.fit(&x, &t, &mut config).unwrap();
    assert!(history.final_loss().unwrap() < 1e-8, "{:?}", history.final_loss());

    let learned = net.layer::<Scale<f64>>(0).unwrap().scale();
    assert_ne!(learned, &before);
    for j in 0..3 {
        assert!((learned[j] - truth[j]).abs() < 1e-3, "scale {j}: {} vs {}", learned[j], truth[j]);
    }
    // The network's predictions are the layer's forward pass, followed by tanh.
    let y = net.predict(&x).unwrap();
    let expected = DMatrix::from_fn(40, 3, |i, j| (x[(i, j)] * learned[j]).tanh());
    assert!((y - expected).amax() < 1e-15);
}

#[test]
fn layer_lookup_by_type() {
    let net = Sequential::<f64>::builder(2)
        .add(Dense::new(2, 2))
        .add(Scale::new(2))
        .add_boxed(Box::new(Tanh))
        .build(7)
        .unwrap();
    assert_eq!(net.layer::<Scale<f64>>(1).unwrap().scale().shape(), (1, 2));
    assert!(net.layer::<Scale<f64>>(0).is_none(), "layer 0 is a Dense");
    assert!(net.layer::<Dense<f64>>(1).is_none(), "layer 1 is a Scale");
    assert!(net.layer::<Scale<f64>>(2).is_none(), "layer 2 is a Tanh");
    assert!(net.layer::<Scale<f64>>(3).is_none(), "no layer 3");
    let kinds: Vec<&str> = net.layers().map(|l| l.kind()).collect();
    assert_eq!(kinds, ["dense", "scale", "tanh"]);
    assert_eq!(net.num_params(), 2 * 2 + 2 + 2);
}

#[test]
fn custom_layer_errors_name_its_position() {
    let err = Sequential::<f64>::builder(3).add(Dense::new(3, 4)).add(Scale::new(3)).build(8).unwrap_err();
    assert!(
        matches!(&err, Error::LayerChain { layer, expected: 3, got: 4 } if *layer == LayerId::at("1", "scale")),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "layer 1 (scale) expects 3 input features, but the layers before it give 4");
}

#[test]
fn custom_layer_in_f32() {
    let mut net = Sequential::<f32>::builder(2).add(Scale::new(2)).build(9).unwrap();
    let s = net.layer::<Scale<f32>>(0).unwrap().scale().clone();
    let x = DMatrix::from_row_slice(2, 2, &[1.0_f32, 2.0, -3.0, 0.5]);
    let y = net.predict(&x).unwrap();
    assert_eq!(y, DMatrix::from_fn(2, 2, |i, j| x[(i, j)] * s[j]));
    // Set the scale by hand through the mutable lookup, as one would transplant weights.
    let layer = net.layer_mut::<Scale<f32>>(0).unwrap();
    layer.visit_params_mut(&mut |p| p.value_mut().fill(2.0));
    assert_eq!(net.predict(&x).unwrap(), &x * 2.0);
}

/// The registry that rebuilds a `Scale` from its saved configuration.
fn registry<T: Real>() -> Registry<T> {
    Registry::new().register(KIND, |c: &LayerConfig| Ok(Scale::<T>::new(c.setting("width")?)))
}

/// Saved, then loaded with no code describing the network: without the registry entry the file
/// names the unknown kind and where it is; with it, the network comes back bit for bit, nested
/// inside a residual block too.
#[test]
fn custom_layer_saved_and_loaded_through_a_registry() {
    let body = Chain::new().add(Dense::new(3, 3)).add(Scale::new(3)).add(Tanh);
    let net = Sequential::<f64>::builder(3)
        .add(Scale::new(3))
        .add(Residual::identity(body))
        .add(Relu)
        .add(Dense::new(3, 2))
        .build(10)
        .unwrap();
    let bytes = net.to_bytes().unwrap();

    let err = Sequential::<f64>::from_bytes(&bytes).unwrap_err();
    match &err {
        Error::Format(FormatError::UnknownLayer { path, kind }) => {
            assert_eq!((path.as_str(), kind.as_str()), ("0", "scale"))
        }
        other => panic!("expected UnknownLayer, got {other:?}"),
    }
    assert!(err.to_string().contains("Registry"), "the message points to the way out: {err}");

    let copy = Sequential::<f64>::from_bytes_with(&bytes, &registry()).unwrap();
    assert_eq!(copy.named_params(), net.named_params());
    assert_eq!(copy.param("1.body.1.scale"), net.param("1.body.1.scale"));
    let x = uniform(5, 3, -1.0, 1.0, 11);
    assert_eq!(copy.predict(&x).unwrap(), net.predict(&x).unwrap());

    // Through a file, in f32.
    let path = std::env::temp_dir().join(format!("backprop-custom-{}.safetensors", std::process::id()));
    let net32 = Sequential::<f32>::builder(2).add(Scale::new(2)).add(Dense::new(2, 1)).build(12).unwrap();
    net32.save(&path).unwrap();
    let loaded = Sequential::<f32>::load_with(&path, &registry()).unwrap();
    assert_eq!(loaded.named_params(), net32.named_params());
    let _ = std::fs::remove_file(&path);
}

/// A registered builder's errors name the metadata entry of the layer.
#[test]
fn bad_custom_setting_names_its_entry() {
    let net = Sequential::<f64>::builder(2).add(Dense::new(2, 2)).add(Scale::new(2)).build(13).unwrap();
    let bytes = net.to_bytes().unwrap();
    let strict = Registry::new().register(KIND, |c: &LayerConfig| Ok(Scale::<f64>::new(c.setting("depth")?)));
    let err = Sequential::<f64>::from_bytes_with(&bytes, &strict).unwrap_err();
    assert!(matches!(&err, Error::Format(FormatError::BadMetadata { key, .. }) if key == "layer.1"), "{err:?}");
}
