//! Layer kinds by name: how the layer descriptions in a saved file become layers again.
//!
//! A file records each layer's [`LayerConfig`] (its kind and settings) under `layer.<path>`. A
//! [`Registry`] maps each kind to a function that rebuilds an unbuilt layer from that
//! configuration; [`Sequential::load_with`](crate::Sequential::load_with) then builds the network
//! and fills in the stored tensors. [`Registry::new`] knows every layer of this crate; a layer
//! written outside it is [registered](Registry::register) by its kind.
//!
//! # Example: a layer of your own, saved and loaded
//! ```
//! use backprop::prelude::*;
//! use backprop::{LayerConfig, Registry};
//!
//! // Any layer with a `config()` works; here an activation with a setting.
//! #[derive(Debug, Clone, Copy)]
//! struct Swish { beta: f64 }
//! impl Activation for Swish {
//!     fn name(&self) -> &'static str { "swish" }
//!     fn f<T: backprop::Real>(&self, x: T) -> T { x / (T::one() + (-x * T::cast(self.beta)).exp()) }
//!     fn df<T: backprop::Real>(&self, x: T, _y: T) -> T {
//!         let s = T::one() / (T::one() + (-x * T::cast(self.beta)).exp());
//!         s + x * T::cast(self.beta) * s * (T::one() - s)
//!     }
//!     fn layer_config(&self) -> LayerConfig { LayerConfig::new("swish").with("beta", self.beta) }
//! }
//!
//! let net = Sequential::<f64>::builder(2).add(Dense::new(2, 3)).add(Swish { beta: 1.5 }).build(0)?;
//! let bytes = net.to_bytes()?;
//! assert!(Sequential::<f64>::from_bytes(&bytes).is_err()); // the built-in registry has no "swish"
//!
//! let registry = Registry::new().register("swish", |c: &LayerConfig| Ok(Swish { beta: c.setting("beta")? }));
//! let copy = Sequential::<f64>::from_bytes_with(&bytes, &registry)?;
//! assert_eq!(copy.params(), net.params());
//! # Ok::<(), backprop::Error>(())
//! ```

use crate::layer::{batch_norm, chain, conv, global_pool, pool, residual};
use crate::{
    AvgPool2d, Chain, Conv2d, Dense, Dropout, DropoutScaling, Error, FormatError, GlobalAvgPool, Identity, Layer,
    LayerConfig, LeakyRelu, MaxPool2d, Real, Relu, Residual, Result, Sigmoid, Softmax, Step, Tanh,
};
use std::collections::BTreeMap;
use std::fmt;

/// The deepest nesting a file may describe: a layer's path has at most this many segments.
pub const MAX_DEPTH: usize = 32;

type LeafFn<T> = dyn Fn(&LayerConfig) -> Result<Box<dyn Layer<T>>> + Send + Sync;
/// Names a container's children from its configuration, at most the given number of them.
type ChildrenFn = dyn Fn(&LayerConfig, usize) -> Result<Vec<String>> + Send + Sync;
/// Assembles a container from its configuration and its rebuilt children, in order.
type AssembleFn<T> = dyn Fn(&LayerConfig, Vec<Box<dyn Layer<T>>>) -> Result<Box<dyn Layer<T>>> + Send + Sync;

/// The parameters and buffers a layer will hold once built: their names (the last segment of
/// their paths) and shapes.
pub(crate) type Tensors = Vec<(&'static str, (usize, usize))>;

/// How a registered kind is rebuilt.
pub(crate) enum Kind<T: Real> {
    /// A layer without children, and the tensors it will hold once built when its configuration
    /// tells (checked against the file before anything is built).
    Leaf { build: Box<LeafFn<T>>, tensors: Option<fn(&LayerConfig) -> Result<Tensors>> },
    /// A layer with children: their names (at most `max` of them), and how to assemble it.
    Container { children: Box<ChildrenFn>, build: Box<AssembleFn<T>> },
}

/// Layer kinds by name, each with how to rebuild the layer from its [`LayerConfig`] (see the
/// [module docs](self)).
pub struct Registry<T: Real> {
    kinds: BTreeMap<String, Kind<T>>,
}

impl<T: Real> fmt::Debug for Registry<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry").field("kinds", &self.kinds.keys().collect::<Vec<_>>()).finish()
    }
}

impl<T: Real> Default for Registry<T> {
    fn default() -> Self {
        Registry::new()
    }
}

impl<T: Real> Registry<T> {
    /// A registry of every layer kind of this crate: `dense`, `conv2d`, `max_pool2d`,
    /// `avg_pool2d`, `global_avg_pool`, `batch_norm`, `dropout`, `softmax`, the
    /// activations (`sigmoid`, `tanh`, `relu`, `leaky_relu`, `identity`, `step`), and the
    /// containers `chain` and `residual`.
    pub fn new() -> Self {
        let mut registry = Registry { kinds: BTreeMap::new() };
        registry.kinds.insert(
            "dense".into(),
            Kind::Leaf {
                build: Box::new(|c| {
                    let layer = Dense::<T>::new(c.setting("in_dim")?, c.setting("out_dim")?);
                    Ok(Box::new(if c.setting("bias")? { layer } else { layer.without_bias() }))
                }),
                tensors: Some(|c| {
                    let (in_dim, out_dim): (usize, usize) = (c.setting("in_dim")?, c.setting("out_dim")?);
                    let mut tensors = vec![("weight", (in_dim, out_dim))];
                    if c.setting("bias")? {
                        tensors.push(("bias", (1, out_dim)));
                    }
                    Ok(tensors)
                }),
            },
        );
        registry.kinds.insert(
            conv::KIND.into(),
            Kind::Leaf {
                build: Box::new(|c| {
                    let kernel = (c.setting("kernel_h")?, c.setting("kernel_w")?);
                    let layer = Conv2d::<T>::new(c.setting("in_channels")?, c.setting("filters")?, kernel)
                        .with_stride(c.setting("stride")?)
                        .with_padding(c.setting("padding")?);
                    Ok(Box::new(if c.setting("bias")? { layer } else { layer.without_bias() }))
                }),
                tensors: Some(conv::declared_tensors),
            },
        );
        registry.kinds.insert(
            batch_norm::KIND.into(),
            Kind::Leaf {
                build: Box::new(|c| Ok(Box::new(batch_norm::from_config::<T>(c)?))),
                tensors: Some(|c| {
                    let shape = (1, c.setting("features")?);
                    Ok(vec![("gamma", shape), ("beta", shape), ("running_mean", shape), ("running_var", shape)])
                }),
            },
        );
        registry = registry
            .register_stateless(pool::MAX_KIND, |c| {
                let (window, stride, padding) = pool::settings(c)?;
                Ok(MaxPool2d::<T>::new(window).with_stride(stride).with_padding(padding))
            })
            .register_stateless(pool::AVG_KIND, |c| {
                let (window, stride, padding) = pool::settings(c)?;
                Ok(AvgPool2d::<T>::new(window).with_stride(stride).with_padding(padding))
            })
            .register_stateless(global_pool::KIND, |_| Ok(GlobalAvgPool::new()))
            .register_stateless("sigmoid", |_| Ok(Sigmoid))
            .register_stateless("tanh", |_| Ok(Tanh))
            .register_stateless("relu", |_| Ok(Relu))
            .register_stateless("identity", |_| Ok(Identity))
            .register_stateless("step", |_| Ok(Step))
            .register_stateless("softmax", |_| Ok(Softmax))
            .register_stateless("leaky_relu", |c| {
                let alpha: f64 = c.setting("alpha")?;
                if !alpha.is_finite() {
                    return Err(bad_setting(c, format!("alpha={alpha}"), "a finite slope"));
                }
                Ok(LeakyRelu { alpha })
            })
            .register_stateless("dropout", |c| {
                let scaling = match c.settings.get("scaling").map(String::as_str) {
                    Some("inverted") => DropoutScaling::Inverted,
                    Some("at_inference") => DropoutScaling::AtInference,
                    _ => return Err(bad_setting(c, c.kind.clone(), "scaling=inverted or at_inference")),
                };
                Ok(Dropout::<T>::new(c.setting("p")?)?.with_scaling(scaling))
            });
        registry.kinds.insert(
            chain::KIND.into(),
            Kind::Container {
                children: Box::new(|c, max| {
                    let n: usize = c.setting("layers")?;
                    if n == 0 || n > max {
                        return Err(bad_setting(c, format!("layers={n}"), "between 1 and the number of layer entries"));
                    }
                    Ok((0..n).map(|i| i.to_string()).collect())
                }),
                build: Box::new(|_, children| Ok(Box::new(children.into_iter().fold(Chain::new(), Chain::add_boxed)))),
            },
        );
        registry.kinds.insert(
            residual::KIND.into(),
            Kind::Container {
                children: Box::new(|c, _| match c.settings.get("shortcut").map(String::as_str) {
                    Some("identity") => Ok(vec!["body".into()]),
                    Some("projection") => Ok(vec!["body".into(), "shortcut".into()]),
                    _ => Err(bad_setting(c, c.kind.clone(), "shortcut=identity or projection")),
                }),
                build: Box::new(|_, mut children| {
                    let shortcut = if children.len() == 2 { children.pop() } else { None };
                    let body = children.pop().ok_or_else(|| Error::InvalidConfig {
                        name: "residual",
                        value: "no body".into(),
                        expected: "a body",
                    })?;
                    Ok(Box::new(Residual::new(body, shortcut)))
                }),
            },
        );
        registry
    }

    /// The same registry, with `kind` rebuilt by `build` from its configuration (replacing any
    /// earlier entry of that kind). `kind` is what the layer's [`Layer::config`] records, and
    /// `build` reads its settings with [`LayerConfig::setting`]; it returns the layer unbuilt,
    /// as code would create it (loading builds the network and then fills in the stored
    /// tensors).
    ///
    /// A file can say anything: `build` should refuse settings that make no sense (with
    /// [`LayerConfig::setting`]'s errors or its own) rather than allocate what they ask for.
    ///
    /// The kinds registered here are leaves; a layer with children (a container) is registered
    /// with [`register_container`](Self::register_container).
    pub fn register<L: Layer<T>>(
        mut self,
        kind: &str,
        build: impl Fn(&LayerConfig) -> Result<L> + Send + Sync + 'static,
    ) -> Self {
        let build: Box<LeafFn<T>> = Box::new(move |c| Ok(Box::new(build(c)?)));
        self.kinds.insert(kind.to_string(), Kind::Leaf { build, tensors: None });
        self
    }

    /// The same registry, with the container `kind` — a layer with children (see
    /// [`Layer::visit_children`]), written outside the crate — rebuilt from its configuration
    /// and its children (replacing any earlier entry of that kind).
    ///
    /// Loading asks `children(config, max)` for the children's names: the names the container's
    /// `visit_children` gives them, in that order, at most `max` (the layer entries the file has
    /// left; a file can say anything, so read any count from `config` and refuse one above
    /// `max` before making the names). Each child is rebuilt from its own entry,
    /// `layer.<path>.<name>`, by this registry (any kind it knows, containers too), and `build`
    /// assembles the container from `config` and the children, unbuilt, in the same order.
    ///
    /// # Example
    /// ```
    /// use backprop::prelude::*;
    /// use backprop::{Layer, LayerConfig, Registry, Shape, SeededRng};
    /// use nalgebra::DMatrix;
    ///
    /// /// `y = 2·body(x)`: a block with one child.
    /// #[derive(Debug)]
    /// struct Twice(Box<dyn Layer<f64>>);
    /// impl Layer<f64> for Twice {
    ///     fn kind(&self) -> &'static str { "twice" }
    ///     fn build(&mut self, input: Shape, rng: &mut SeededRng) -> backprop::Result<Shape> { self.0.build(input, rng) }
    ///     fn forward(&self, x: &DMatrix<f64>, y: &mut DMatrix<f64>) -> backprop::Result<()> {
    ///         self.0.forward(x, y)?;
    ///         *y *= 2.0;
    ///         Ok(())
    ///     }
    ///     fn backward(&mut self, x: &DMatrix<f64>, y: &DMatrix<f64>, g: &DMatrix<f64>, dx: Option<&mut DMatrix<f64>>)
    ///         -> backprop::Result<()> {
    ///         self.0.backward(x, &(y / 2.0), &(g * 2.0), dx)
    ///     }
    ///     fn visit_children<'a>(&'a self, f: &mut dyn FnMut(&dyn std::fmt::Display, &'a dyn Layer<f64>)) {
    ///         f(&"body", self.0.as_ref())
    ///     }
    ///     fn visit_children_mut<'a>(&'a mut self, f: &mut dyn FnMut(&dyn std::fmt::Display, &'a mut dyn Layer<f64>)) {
    ///         f(&"body", self.0.as_mut())
    ///     }
    /// }
    ///
    /// let net = Sequential::<f64>::builder(2).add(Twice(Box::new(Dense::new(2, 3)))).build(0)?;
    /// let registry = Registry::new().register_container(
    ///     "twice",
    ///     |_: &LayerConfig, _| Ok(vec!["body".to_string()]),
    ///     |_, mut children| Ok(Twice(children.pop().expect("one child"))),
    /// );
    /// let copy = Sequential::<f64>::from_bytes_with(&net.to_bytes()?, &registry)?;
    /// let x = DMatrix::from_row_slice(1, 2, &[0.5, -1.0]);
    /// assert_eq!(copy.predict(&x)?, net.predict(&x)?);
    /// # Ok::<(), backprop::Error>(())
    /// ```
    pub fn register_container<L: Layer<T>>(
        mut self,
        kind: &str,
        children: impl Fn(&LayerConfig, usize) -> Result<Vec<String>> + Send + Sync + 'static,
        build: impl Fn(&LayerConfig, Vec<Box<dyn Layer<T>>>) -> Result<L> + Send + Sync + 'static,
    ) -> Self {
        let build: Box<AssembleFn<T>> = Box::new(move |c, children| Ok(Box::new(build(c, children)?)));
        self.kinds.insert(kind.to_string(), Kind::Container { children: Box::new(children), build });
        self
    }

    /// [`register`](Self::register) for a built-in kind that holds no parameters or buffers,
    /// declaring so (a loader then checks a file's sizes before allocating).
    fn register_stateless<L: Layer<T>>(
        mut self,
        kind: &str,
        build: impl Fn(&LayerConfig) -> Result<L> + Send + Sync + 'static,
    ) -> Self {
        let build: Box<LeafFn<T>> = Box::new(move |c| Ok(Box::new(build(c)?)));
        self.kinds.insert(kind.to_string(), Kind::Leaf { build, tensors: Some(|_| Ok(Vec::new())) });
        self
    }

    /// Whether the registry knows `kind`.
    pub fn contains(&self, kind: &str) -> bool {
        self.kinds.contains_key(kind)
    }

    /// The kinds known, in name order.
    pub fn kinds(&self) -> impl Iterator<Item = &str> {
        self.kinds.keys().map(String::as_str)
    }

    /// How `kind` is rebuilt, if known.
    pub(crate) fn get(&self, kind: &str) -> Option<&Kind<T>> {
        self.kinds.get(kind)
    }
}

/// A setting of `config` that cannot be right, as an error naming its metadata entry.
fn bad_setting(config: &LayerConfig, value: String, expected: &'static str) -> Error {
    Error::Format(FormatError::BadMetadata { key: config.key().to_string(), value, expected })
}
