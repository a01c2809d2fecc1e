//! Gradient checking: backpropagation's gradients against central differences, in `f64`.
//!
//! For every entry `θ` of an input or parameter, the numerical derivative is
//! `(E(θ + ε) − E(θ − ε)) / 2ε` and the analytical one comes from `backward`. They agree when
//! `|analytical − numerical| ≤ atol + rtol·|numerical|` (PyTorch's `allclose` rule; defaults
//! ε = 1e-6, atol = 1e-5, rtol = 1e-3, as `torch.autograd.gradcheck`).
//!
//! **Kinks.** Where the function is not differentiable (ReLU at 0, the step function) the
//! central difference is meaningless. Each probe also compares the one-sided slopes
//! `(E(θ+ε) − E(θ))/ε` and `(E(θ) − E(θ−ε))/ε`; when they disagree by more than the tolerance the
//! probe straddles a kink: it is reported in [`GradReport::kinks`] and left out of the
//! comparison. A check passes only if every compared entry is within the tolerance *and* every
//! tensor had at least one entry compared; for a layer (or network) that declares itself
//! [smooth](crate::Layer::is_smooth) any kink fails the check, since it can only mean a wrong
//! backward pass or a wrong declaration. [`GradReport::kink_fraction`] tells how much was
//! skipped.
//!
//! **Names.** Tensors are named by their paths, as in saved files: `"input"`, then `"weight"`
//! for a lone dense layer, `"0.weight"` for the first layer of a network, `"3.body.1.bias"`
//! inside a nested block.
//!
//! **Buffers.** Checks run training passes, which may update a layer's buffers (batch
//! normalization's running statistics); every buffer is restored when the check ends.
//!
//! **Randomness.** Every forward pass of a check starts from the same seeded generator, so a
//! dropout mask is frozen across the probes and the analytical pass.
//!
//! # Example: check a layer
//! ```
//! use backprop::gradcheck::{check_layer, Tolerance};
//! use backprop::{Dense, Layer, Shape, seeded, Stream};
//! use nalgebra::DMatrix;
//!
//! let mut dense = Dense::<f64>::new(3, 2);
//! dense.build(Shape::Flat(3), &mut seeded(1, Stream::Init))?;
//! let x = DMatrix::from_row_slice(2, 3, &[0.1, -0.2, 0.3, 0.4, 0.5, -0.6]);
//! let report = check_layer(&mut dense, &x, Tolerance::default())?;
//! assert!(report.passed(), "{report}");
//! # Ok::<(), backprop::Error>(())
//! ```

use crate::layer::walk;
use crate::network::{gradients_with, GradientCopier};
use crate::{seeded, Dims, Error, Layer, LayerId, Loss, Network, Param, Result, SeededRng, Stream};
use nalgebra::DMatrix;
use rand_distr::{Distribution, StandardNormal};
use std::fmt;

/// Step and tolerances of a gradient check.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tolerance {
    /// The finite-difference step ε.
    pub eps: f64,
    /// Absolute tolerance.
    pub atol: f64,
    /// Relative tolerance (relative to the numerical derivative).
    pub rtol: f64,
}

impl Tolerance {
    /// Checks the tolerance: `eps` finite and > 0, `atol` and `rtol` finite and ≥ 0 (an infinite
    /// tolerance would pass every check).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the bad field.
    pub fn validate(&self) -> Result<()> {
        let bad = |name, value: f64, expected| {
            Err(crate::Error::InvalidConfig { name, value: crate::check::number(value), expected })
        };
        if !(self.eps.is_finite() && self.eps > 0.0) {
            return bad("gradcheck eps", self.eps, "> 0 and finite");
        }
        for (name, value) in [("gradcheck atol", self.atol), ("gradcheck rtol", self.rtol)] {
            if !(value.is_finite() && value >= 0.0) {
                return bad(name, value, ">= 0 and finite");
            }
        }
        Ok(())
    }
}

impl Tolerance {
    /// Whether an analytical derivative agrees with the numerical one:
    /// `|analytical − numerical| ≤ atol + rtol·|numerical|` (PyTorch's `allclose` rule), which
    /// is [`approx`]'s absolute-difference comparison with that bound as its epsilon. NaN agrees
    /// with nothing.
    ///
    /// (approx's [`relative_eq`](approx::relative_eq) is another rule — `|a − n| ≤ ε`, *or*
    /// `|a − n| ≤ max_relative·max(|a|, |n|)` — which accepts a wrong analytical value that is
    /// large; the gradient check keeps PyTorch's, relative to the numerical derivative only.)
    ///
    /// ```
    /// use backprop::gradcheck::Tolerance;
    /// let tol = Tolerance::default(); // atol 1e-5, rtol 1e-3
    /// assert!(tol.accepts(2.001, 2.0)); // 1e-3 <= 1e-5 + 2e-3
    /// assert!(!tol.accepts(2.01, 2.0));
    /// assert!(!tol.accepts(f64::NAN, 2.0));
    /// ```
    pub fn accepts(&self, analytical: f64, numerical: f64) -> bool {
        approx::AbsDiffEq::abs_diff_eq(&analytical, &numerical, self.atol + self.rtol * numerical.abs())
    }
}

impl Default for Tolerance {
    /// ε = 1e-6, atol = 1e-5, rtol = 1e-3 (PyTorch's gradcheck defaults).
    fn default() -> Self {
        Tolerance { eps: 1e-6, atol: 1e-5, rtol: 1e-3 }
    }
}

/// How one tensor (an input or a parameter) fared.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorReport {
    /// What was checked: `"input"`, `"prediction"`, or a parameter by its path (`"weight"`,
    /// `"0.weight"`, `"3.body.1.bias"`).
    pub name: String,
    /// Entries compared (kinks excluded).
    pub checked: usize,
    /// Entries skipped because their probe straddled a kink.
    pub kinks: usize,
    /// Largest `|analytical − numerical|`.
    pub max_abs_error: f64,
    /// Largest `|a − n| / (|a| + |n|)` (0 where both are 0).
    pub max_rel_error: f64,
    /// Entry (row, column) of the largest absolute error.
    pub worst: (usize, usize),
    /// Entries outside the tolerance.
    pub failures: usize,
}

/// A probe whose two one-sided slopes disagree: the function has a kink between `θ − ε` and
/// `θ + ε` there, so that entry is not compared.
#[derive(Debug, Clone, PartialEq)]
pub struct Kink {
    /// Tensor name, as in [`TensorReport::name`].
    pub name: String,
    /// Entry (row, column).
    pub at: (usize, usize),
    /// Slope from the left, `(E(θ) − E(θ−ε))/ε`.
    pub left: f64,
    /// Slope from the right, `(E(θ+ε) − E(θ))/ε`.
    pub right: f64,
}

/// The result of a gradient check: one report per tensor, and the kinks met.
#[derive(Debug, Clone, PartialEq)]
pub struct GradReport {
    /// One entry per tensor checked, inputs first, then parameters in order.
    pub tensors: Vec<TensorReport>,
    /// Probes that straddled a kink (left out of the verdict).
    pub kinks: Vec<Kink>,
    /// The tolerance used.
    pub tolerance: Tolerance,
    /// Whether what was checked declared itself smooth (then any kink fails the check).
    pub smooth: bool,
}

impl GradReport {
    /// Whether the check passed: every compared entry within the tolerance, no tensor whose
    /// entries were all left out as kinks, and no kink at all if the checked function is smooth.
    pub fn passed(&self) -> bool {
        let compared = |t: &TensorReport| t.checked > 0 || t.kinks == 0;
        let kinks_allowed = !self.smooth || self.kinks.is_empty();
        kinks_allowed && self.tensors.iter().all(|t| t.failures == 0 && compared(t))
    }

    /// The share of probed entries skipped as kinks, in [0, 1] (0 when nothing was probed).
    pub fn kink_fraction(&self) -> f64 {
        let probed: usize = self.tensors.iter().map(|t| t.checked + t.kinks).sum();
        if probed == 0 {
            0.0
        } else {
            self.kinks.len() as f64 / probed as f64
        }
    }

    /// Largest relative error over all tensors.
    pub fn max_rel_error(&self) -> f64 {
        self.tensors.iter().map(|t| t.max_rel_error).fold(0.0, f64::max)
    }
}

impl fmt::Display for GradReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = if self.passed() { "passed" } else { "FAILED" };
        writeln!(
            f,
            "gradient check {verdict} (eps {:e}, atol {:e}, rtol {:e}; {:.1}% of probes skipped as kinks{})",
            self.tolerance.eps,
            self.tolerance.atol,
            self.tolerance.rtol,
            100.0 * self.kink_fraction(),
            if self.smooth { ", none allowed: declared smooth" } else { "" }
        )?;
        for t in &self.tensors {
            writeln!(
                f,
                "  {:<16} {:>5} checked {:>4} kinks  max abs {:.3e}  max rel {:.3e}  worst at {:?}  {} failed",
                t.name, t.checked, t.kinks, t.max_abs_error, t.max_rel_error, t.worst, t.failures
            )?;
        }
        for k in &self.kinks {
            writeln!(f, "  warning: {} {:?} straddles a kink (slopes {:.4} and {:.4})", k.name, k.at, k.left, k.right)?;
        }
        Ok(())
    }
}

/// Compares gradients entry by entry; `eval` gives E with the entry set to a value.
struct Comparer {
    tol: Tolerance,
    report: GradReport,
}

impl Comparer {
    fn new(tol: Tolerance, smooth: bool) -> Self {
        Comparer { tol, report: GradReport { tensors: Vec::new(), kinks: Vec::new(), tolerance: tol, smooth } }
    }

    /// Checks tensor `name` of shape `dims` against `analytical`; `eval(i, j, delta)` returns E
    /// with entry (i, j) moved by `delta` (and must restore it).
    fn tensor(
        &mut self,
        name: String,
        analytical: &DMatrix<f64>,
        mut eval: impl FnMut(usize, usize, f64) -> Result<f64>,
    ) -> Result<()> {
        let Tolerance { eps, atol, rtol } = self.tol;
        let mut t = TensorReport {
            name,
            checked: 0,
            kinks: 0,
            max_abs_error: 0.0,
            max_rel_error: 0.0,
            worst: (0, 0),
            failures: 0,
        };
        for j in 0..analytical.ncols() {
            for i in 0..analytical.nrows() {
                let (plus, mid, minus) = (eval(i, j, eps)?, eval(i, j, 0.0)?, eval(i, j, -eps)?);
                let numerical = (plus - minus) / (2.0 * eps);
                let (left, right) = ((mid - minus) / eps, (plus - mid) / eps);
                if (left - right).abs() > atol + rtol * numerical.abs() {
                    self.report.kinks.push(Kink { name: t.name.clone(), at: (i, j), left, right });
                    t.kinks += 1;
                    continue;
                }
                let a = analytical[(i, j)];
                let abs = (a - numerical).abs();
                let rel = if a == 0.0 && numerical == 0.0 { 0.0 } else { abs / (a.abs() + numerical.abs()) };
                t.checked += 1;
                if abs > t.max_abs_error || t.checked == 1 {
                    t.max_abs_error = abs;
                    t.worst = (i, j);
                }
                t.max_rel_error = t.max_rel_error.max(rel);
                if !self.tol.accepts(a, numerical) {
                    t.failures += 1;
                }
            }
        }
        self.report.tensors.push(t);
        Ok(())
    }
}

/// The fixed random weights `R` of the scalar `E = Σ y ⊙ R` used to check a layer.
fn probe_weights(rows: usize, cols: usize) -> DMatrix<f64> {
    let mut rng = seeded(0x9e37_79b9, Stream::Init);
    DMatrix::from_fn(rows, cols, |_, _| StandardNormal.sample(&mut rng))
}

/// A fresh copy of the check's generator, so every forward pass draws the same numbers.
fn frozen_rng() -> SeededRng {
    seeded(0x5eed, Stream::Train)
}

/// Checks a layer's input gradient and every parameter gradient at input `x`, for the scalar
/// `E = Σ y ⊙ R` with `R` fixed random weights (so `∂E/∂y = R`). Uses `forward_train`. The layer
/// may hold layers: parameters are named by their paths below it. Its buffers are restored
/// afterwards.
///
/// # Errors
/// [`Error::InvalidConfig`] for an invalid tolerance; [`Error::EmptyInput`] for an `x` without
/// rows or columns (nothing to compare); [`Error::NonFinite`] for a value of `x` that is not
/// finite; whatever the layer's forward or backward returns for `x`; [`Error::ShapeMismatch`] if
/// the input gradient the layer wrote is not of `x`'s shape; [`Error::MissingGradient`] or
/// [`Error::GradientShape`] if `backward` left a parameter (numbered in the layer's order)
/// without a gradient of its shape.
pub fn check_layer(layer: &mut dyn Layer<f64>, x: &DMatrix<f64>, tol: Tolerance) -> Result<GradReport> {
    tol.validate()?;
    if x.is_empty() {
        return Err(Error::EmptyInput { what: "x", got: x.into() });
    }
    crate::check::check_finite("x", x)?;
    let buffers = collect_buffers(layer);
    let report = check_layer_inner(layer, x, tol);
    restore_buffers(layer, &buffers);
    report
}

fn check_layer_inner(layer: &mut dyn Layer<f64>, x: &DMatrix<f64>, tol: Tolerance) -> Result<GradReport> {
    let mut y = DMatrix::zeros(0, 0);
    layer.forward_train(x, &mut y, &mut frozen_rng())?;
    let r = probe_weights(y.nrows(), y.ncols());
    let mut dx = DMatrix::zeros(0, 0);
    layer.backward(x, &y, &r, Some(&mut dx))?;
    same_shape(layer.kind(), "grad_input", x, &dx)?;
    // Every parameter must have a gradient of its own shape, as an optimizer's step requires: a
    // missing one is not a zero gradient to compare, nor a wrong-shaped one a partial check.
    let mut param_grads = Vec::new();
    let mut refused = None;
    let mut index = 0;
    walk::params(&*layer, &mut String::new(), &mut |path, p| {
        let name = p.name();
        match p.grad() {
            Some(g) if g.shape() == p.value().shape() => param_grads.push((path.to_string(), g.clone())),
            Some(g) => {
                let got = Dims::from(g);
                refused.get_or_insert(Error::GradientShape { index, name, expected: p.dims(), got });
            }
            None => {
                refused.get_or_insert(Error::MissingGradient { index, name });
            }
        }
        index += 1;
    });
    if let Some(e) = refused {
        return Err(e);
    }

    let mut cmp = Comparer::new(tol, layer.is_smooth());
    let mut xp = x.clone();
    let mut out = DMatrix::zeros(0, 0);
    cmp.tensor("input".into(), &dx, |i, j, d| {
        nudge(&mut xp, x, (i, j), d);
        let e = layer.forward_train(&xp, &mut out, &mut frozen_rng()).map(|_| out.dot(&r));
        nudge(&mut xp, x, (i, j), 0.0);
        e
    })?;
    for (k, (name, grad)) in param_grads.into_iter().enumerate() {
        cmp.tensor(name, &grad, |i, j, d| {
            let original = nudge_param(|f| walk::params_mut(&mut *layer, &mut String::new(), f), k, i, j, d);
            let e = layer.forward_train(x, &mut out, &mut frozen_rng()).map(|_| out.dot(&r));
            set_param(|f| walk::params_mut(&mut *layer, &mut String::new(), f), k, i, j, original);
            e
        })?;
    }
    Ok(cmp.report)
}

fn collect_buffers(layer: &dyn Layer<f64>) -> Vec<DMatrix<f64>> {
    let mut buffers = Vec::new();
    walk::buffers(layer, &mut String::new(), &mut |_, m| buffers.push(m.clone()));
    buffers
}

fn restore_buffers(layer: &mut dyn Layer<f64>, values: &[DMatrix<f64>]) {
    let mut values = values.iter();
    walk::buffers_mut(layer, &mut String::new(), &mut |_, m| {
        if let Some(v) = values.next() {
            m.clone_from(v); // not copy_from: a layer may have resized its buffer, which would panic
        }
    });
}

/// Checks a loss's gradient with respect to the predictions `y`, for targets `t`.
///
/// # Errors
/// Whatever the loss returns for `y` and `t`; [`Error::LossGradientShape`] if the gradient it
/// wrote is not of `y`'s shape.
pub fn check_loss<L: Loss<f64> + ?Sized>(
    loss: &L,
    y: &DMatrix<f64>,
    t: &DMatrix<f64>,
    tol: Tolerance,
) -> Result<GradReport> {
    tol.validate()?;
    let mut grad = DMatrix::zeros(0, 0);
    loss.grad(y, t, &mut grad)?;
    if grad.shape() != y.shape() {
        return Err(Error::LossGradientShape { loss: loss.name(), expected: Dims::from(y), got: Dims::from(&grad) });
    }
    let mut cmp = Comparer::new(tol, true);
    let mut yp = y.clone();
    cmp.tensor("prediction".into(), &grad, |i, j, d| {
        nudge(&mut yp, y, (i, j), d);
        let e = loss.loss(&yp, t);
        nudge(&mut yp, y, (i, j), 0.0);
        e
    })?;
    Ok(cmp.report)
}

/// Checks every parameter gradient of a whole network for `loss(network(x), t)`.
///
/// Takes the network's [gradients](Network::gradients) (one training step with an optimizer that
/// records the gradients and changes nothing), then perturbs each parameter entry. Parameters are named by their paths, as in saved files
/// (`"0.weight"`, `"3.body.1.bias"`). The network's buffers are restored afterwards.
///
/// # Errors
/// As [`Network::gradients`]: bad data (checked before anything runs), a non-finite loss or
/// gradient, or a parameter gradient a layer left out or wrote in another shape
/// ([`Error::MissingGradient`], [`Error::GradientShape`]).
pub fn check_network<N: Network<f64> + ?Sized>(
    net: &mut N,
    x: &DMatrix<f64>,
    t: &DMatrix<f64>,
    loss: &dyn Loss<f64>,
    tol: Tolerance,
) -> Result<GradReport> {
    tol.validate()?;
    let mut buffers = Vec::new();
    net.visit_buffers(&mut |_, m| buffers.push(m.clone()));
    let report = check_network_inner(net, x, t, loss, tol);
    let mut values = buffers.iter();
    net.visit_buffers_mut(&mut |_, m| {
        if let Some(v) = values.next() {
            m.clone_from(v); // not copy_from: a layer may have resized its buffer, which would panic
        }
    });
    report
}

fn check_network_inner<N: Network<f64> + ?Sized>(
    net: &mut N,
    x: &DMatrix<f64>,
    t: &DMatrix<f64>,
    loss: &dyn Loss<f64>,
    tol: Tolerance,
) -> Result<GradReport> {
    // The analytical gradients are the ones a training step would apply (Network::gradients).
    let grads = gradients_with(net, x, t, loss, &mut frozen_rng())?;
    let mut cmp = Comparer::new(tol, net.is_smooth());
    let mut ignore = GradientCopier::default();
    for (k, (name, grad)) in grads.grads.into_iter().enumerate() {
        cmp.tensor(name, &grad, |i, j, d| {
            let original = nudge_param(|f| net.visit_params_mut(f), k, i, j, d);
            let e = net.train_step(x, t, loss, &mut ignore, &mut frozen_rng());
            set_param(|f| net.visit_params_mut(f), k, i, j, original);
            e
        })?;
    }
    Ok(cmp.report)
}

/// A gradient computed for `m` has `m`'s shape; the comparer visits the gradient's entries.
fn same_shape(layer: &'static str, what: &'static str, m: &DMatrix<f64>, grad: &DMatrix<f64>) -> Result<()> {
    if grad.shape() == m.shape() {
        return Ok(());
    }
    Err(Error::ShapeMismatch { layer: LayerId::kind(layer), what, expected: Dims::from(m), got: Dims::from(grad) })
}

/// Sets entry `at` of `nudged` to that of `original` plus `delta` (both have the gradient's
/// shape, checked by [`same_shape`], so `at` is inside).
fn nudge(nudged: &mut DMatrix<f64>, original: &DMatrix<f64>, at: (usize, usize), delta: f64) {
    if let (Some(entry), Some(&value)) = (nudged.get_mut(at), original.get(at)) {
        *entry = value + delta;
    }
}

/// Adds `delta` to entry (i, j) of parameter `k`; returns the entry's value before. (i, j) is an
/// entry of the parameter's gradient, which has the parameter's shape; one outside is left alone.
fn nudge_param(
    visit: impl FnOnce(&mut dyn FnMut(&str, &mut Param<f64>)),
    k: usize,
    i: usize,
    j: usize,
    delta: f64,
) -> f64 {
    let mut index = 0;
    let mut original = 0.0;
    visit(&mut |_, p| {
        if index == k {
            if let Some(v) = p.value_mut().get_mut((i, j)) {
                original = *v;
                *v = original + delta;
            }
        }
        index += 1;
    });
    original
}

/// Sets entry (i, j) of parameter `k` to exactly `value`.
fn set_param(visit: impl FnOnce(&mut dyn FnMut(&str, &mut Param<f64>)), k: usize, i: usize, j: usize, value: f64) {
    let mut index = 0;
    visit(&mut |_, p| {
        if index == k {
            if let Some(v) = p.value_mut().get_mut((i, j)) {
                *v = value;
            }
        }
        index += 1;
    });
}
