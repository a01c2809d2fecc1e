//! Batch normalization, per feature or per channel.

use super::reduce;
use super::{check_backward_shapes, ensure_shape, Decay, Layer, LayerConfig, Param, Shape};
use crate::{Dims, Error, LayerId, Real, Result, SeededRng};
use nalgebra::DMatrix;

pub(crate) const KIND: &str = "batch_norm";

/// Numbers of a [`BatchNorm`] that differ between today's frameworks and the book, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchNormPreset {
    /// PyTorch's and Keras' defaults: ε = 1e-5, momentum 0.1 (the new batch's weight in the
    /// running averages), the running variance updated with the *unbiased* batch variance
    /// (`·m/(m−1)`), starting from mean 0 and variance 1.
    Frameworks,
    /// *Deep Learning from Scratch* §6.3 (`common/layers.py`, `BatchNormalization`): ε = 1e-6
    /// (written `10e-7` in its code), `momentum=0.9` as the weight *kept* (0.1 for the new
    /// batch, as here), the running variance updated with the *biased* batch variance, starting
    /// from mean 0 and variance 0.
    Book,
}

/// Batch normalization (Ioffe & Szegedy 2015, <https://arxiv.org/abs/1502.03167>; *Deep
/// Learning from Scratch* §6.3): each feature — or, after a convolution, each channel — is
/// normalized to zero mean and unit variance over the batch, then scaled and shifted by
/// learnable `γ` and `β`.
///
/// Which one is chosen by the input shape when built: flat samples of `D` features are
/// normalized per feature over the `N` samples (PyTorch's `BatchNorm1d`); images of `C`
/// channels per channel over the `N·H·W` values (`BatchNorm2d`). The count given to
/// [`new`](BatchNorm::new) is `D` or `C` and is checked when built. (The book's
/// `BatchNormalization` reshapes an image batch to `N × (C·H·W)` and so normalizes every pixel
/// of every channel on its own; per channel is what frameworks and the ResNet paper do.)
///
/// # Formulas
/// Over the `m` values of one feature or channel (`m = N` or `N·H·W`):
/// - training forward: `μ = (1/m)·Σx`, `σ² = (1/m)·Σ(x − μ)²` (biased), `x̂ = (x − μ)/√(σ² + ε)`,
///   `y = γ·x̂ + β`; running averages `μ_run ← (1 − momentum)·μ_run + momentum·μ` and
///   `σ²_run ← (1 − momentum)·σ²_run + momentum·s²`, where `s² = σ²·m/(m − 1)` (unbiased) with
///   the [frameworks' preset](BatchNormPreset::Frameworks) and `s² = σ²` with the
///   [book's](BatchNormPreset::Book);
/// - training backward, with `g = ∂E/∂y`: `∂E/∂β = Σg`, `∂E/∂γ = Σ g·x̂`,
///   `∂E/∂x = γ/(m·√(σ² + ε)) · (m·g − ∂E/∂β − x̂·∂E/∂γ)`;
/// - inference: `y = γ·(x − μ_run)/√(σ²_run + ε) + β`, an affine map (its backward, in
///   [frozen](BatchNorm::freeze_statistics) training: `∂E/∂x = g·γ/√(σ²_run + ε)`).
///
/// A training batch of one sample is [`Error::BatchTooSmall`] (its variance is zero, and every
/// output would be `β`); [`fit`](crate::Network::fit) never makes a trailing batch smaller than
/// [`min_training_batch`](Layer::min_training_batch) — it joins it to the batch before.
///
/// # Shapes
/// `x, y: N × D` or `N × (C·H·W)`; `γ, β` and the running statistics `1 × D` or `1 × C`, at most
/// [`max_elements`](crate::max_elements) each (checked when built).
///
/// # Parameters, in order
/// `gamma` (starts at 1), `beta` (starts at 0); neither decays ([`Decay::Exempt`]).
/// **Buffers**: `running_mean`, `running_var` — saved with the network, never optimized, restored
/// after gradient checks.
///
/// # Example
/// ```
/// use backprop::prelude::*;
/// use backprop::{BatchNorm, Conv2d};
///
/// let net = Sequential::<f32>::builder_shaped(Shape::Image { channels: 1, height: 8, width: 8 })
///     .add(Conv2d::new(1, 4, (3, 3)).without_bias())
///     .add(BatchNorm::new(4)) // per channel: the input is an image of 4 channels
///     .add(Relu)
///     .build(0)?;
/// assert!(net.param("1.gamma").is_some());
/// # Ok::<(), backprop::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct BatchNorm<T: Real> {
    features: usize,
    eps: f64,
    momentum: f64,
    unbiased: bool,
    var_init: f64,
    gamma: Param<T>,
    beta: Param<T>,
    running_mean: DMatrix<T>,
    running_var: DMatrix<T>,
    /// Values per feature and sample: `H·W` for images, 1 for flat samples; `None` unbuilt.
    plane: Option<usize>,
    frozen: bool,
    /// `x̂` of the last training batch.
    xhat: Vec<T>,
    /// `1/√(σ² + ε)` per feature of the last training batch (of the running variance if frozen).
    inv_std: Vec<T>,
    /// The last training batch's mean per feature (scratch, reused); in backward, `Σ ∂E/∂y` and
    /// `Σ ∂E/∂y·x̂` per feature before they are stored as the gradients.
    batch_mean: Vec<T>,
    /// Rows and frozen-ness of the last training batch, `None` before one.
    cached: Option<(usize, bool)>,
}

impl<T: Real> BatchNorm<T> {
    /// Batch normalization of `features` features or channels, with the
    /// [frameworks' numbers](BatchNormPreset::Frameworks).
    pub fn new(features: usize) -> Self {
        Self::with_preset(features, BatchNormPreset::Frameworks)
    }

    /// Batch normalization with the [book's numbers](BatchNormPreset::Book).
    pub fn book(features: usize) -> Self {
        Self::with_preset(features, BatchNormPreset::Book)
    }

    /// Batch normalization of `features` features or channels with a preset's numbers.
    pub fn with_preset(features: usize, preset: BatchNormPreset) -> Self {
        let (eps, unbiased, var_init) = match preset {
            BatchNormPreset::Frameworks => (1e-5, true, 1.0),
            BatchNormPreset::Book => (1e-6, false, 0.0),
        };
        BatchNorm {
            features,
            eps,
            momentum: 0.1,
            unbiased,
            var_init,
            gamma: Param::new("gamma", DMatrix::zeros(0, 0), Decay::Exempt),
            beta: Param::new("beta", DMatrix::zeros(0, 0), Decay::Exempt),
            running_mean: DMatrix::zeros(0, 0),
            running_var: DMatrix::zeros(0, 0),
            plane: None,
            frozen: false,
            xhat: Vec::new(),
            inv_std: Vec::new(),
            batch_mean: Vec::new(),
            cached: None,
        }
    }

    /// The same layer with `eps` added to the variance (checked when built: finite, > 0).
    pub fn with_eps(mut self, eps: f64) -> Self {
        self.eps = eps;
        self
    }

    /// The same layer with the new batch's weight `momentum` in the running averages (checked
    /// when built: in [0, 1]).
    pub fn with_momentum(mut self, momentum: f64) -> Self {
        self.momentum = momentum;
        self
    }

    /// The same layer, updating the running variance with the unbiased (`true`) or the biased
    /// batch variance.
    pub fn with_unbiased_running_var(mut self, unbiased: bool) -> Self {
        self.unbiased = unbiased;
        self
    }

    /// Training passes use (and leave unchanged) the running statistics instead of the batch's,
    /// as inference does — the "frozen batch norm" of fine-tuning — while `γ` and `β` still
    /// train. `false` (the default) trains normally.
    pub fn freeze_statistics(&mut self, frozen: bool) {
        self.frozen = frozen;
        self.cached = None;
    }

    /// The running mean, `1 × features` (empty before the layer is built).
    pub fn running_mean(&self) -> &DMatrix<T> {
        &self.running_mean
    }

    /// The running variance, `1 × features`.
    pub fn running_var(&self) -> &DMatrix<T> {
        &self.running_var
    }

    fn check_input(&self, x: &DMatrix<T>) -> Result<usize> {
        let plane = self.plane.ok_or(Error::NotBuilt { layer: LayerId::kind(KIND) })?;
        if x.ncols() != self.features * plane {
            let expected = self.features * plane;
            return Err(Error::FeatureMismatch { layer: LayerId::kind(KIND), expected, got: x.ncols() });
        }
        Ok(plane)
    }

    /// `y = γ·(x − mean)·inv_std + β` per feature, writing `x̂` into `xhat` if given.
    fn affine(&self, x: &DMatrix<T>, y: &mut DMatrix<T>, mean: &[T], inv_std: &[T], xhat: Option<&mut [T]>) {
        let m = x.nrows() * self.plane.unwrap_or(1);
        ensure_shape(y, x.nrows(), x.ncols());
        if m == 0 {
            return;
        }
        let (gamma, beta) = (self.gamma.value().as_slice(), self.beta.value().as_slice());
        // Feature by feature: a run of m values of x, y and x̂, and one coefficient of each.
        let coefficients = mean.iter().zip(inv_std).zip(gamma).zip(beta);
        let runs = y.as_mut_slice().chunks_exact_mut(m).zip(x.as_slice().chunks_exact(m));
        let mut xhat = xhat.map(|h| h.chunks_exact_mut(m));
        for ((ys, xs), (((&mu, &s), &g), &b)) in runs.zip(coefficients) {
            match xhat.as_mut().and_then(Iterator::next) {
                Some(xhat) => {
                    for ((y, h), &v) in ys.iter_mut().zip(xhat).zip(xs) {
                        *h = (v - mu) * s;
                        *y = g * *h + b;
                    }
                }
                None => {
                    for (y, &v) in ys.iter_mut().zip(xs) {
                        *y = g * ((v - mu) * s) + b;
                    }
                }
            }
        }
    }

    /// `1/√(running variance + ε)` per feature into `inv_std`.
    fn running_inv_std(&self, inv_std: &mut Vec<T>) {
        let eps = T::cast(self.eps);
        inv_std.clear();
        inv_std.extend(self.running_var.iter().map(|&v| T::one() / (v + eps).sqrt()));
    }
}

impl<T: Real> Layer<T> for BatchNorm<T> {
    fn clone_box(&self) -> Option<Box<dyn Layer<T>>> {
        Some(Box::new(self.clone()))
    }

    fn kind(&self) -> &'static str {
        KIND
    }

    fn build(&mut self, input: Shape, _rng: &mut SeededRng) -> Result<Shape> {
        self.plane = None;
        self.cached = None;
        if !(self.eps.is_finite() && self.eps > 0.0) {
            return Err(Error::InvalidConfig {
                name: "batch_norm eps",
                value: crate::check::number(self.eps),
                expected: "finite and > 0",
            });
        }
        if !(0.0..=1.0).contains(&self.momentum) {
            return Err(Error::InvalidConfig {
                name: "batch_norm momentum",
                value: crate::check::number(self.momentum),
                expected: "in [0, 1] (the new batch's weight)",
            });
        }
        let (features, plane) = match input {
            Shape::Flat(d) => (d, Some(1)),
            Shape::Image { channels, height, width } => (channels, height.checked_mul(width)),
        };
        if features != self.features || features == 0 || plane == Some(0) {
            return Err(Error::InputShape {
                layer: LayerId::kind(KIND),
                expected: format!("{} features, or an image of {} channels", self.features, self.features),
                got: input,
            });
        }
        crate::init::check_size("batch_norm parameters (gamma, beta, running statistics)", 1, features)?;
        // C·H·W counts, so H·W does (`plane` is Some) and forward's products cannot overflow.
        super::counted(input, KIND)?;
        let plane = plane.unwrap_or_default();
        self.gamma = Param::new("gamma", DMatrix::from_element(1, features, T::one()), Decay::Exempt);
        self.beta = Param::new("beta", DMatrix::zeros(1, features), Decay::Exempt);
        self.running_mean = DMatrix::zeros(1, features);
        self.running_var = DMatrix::from_element(1, features, T::cast(self.var_init));
        self.plane = Some(plane);
        Ok(input)
    }

    fn forward(&self, x: &DMatrix<T>, y: &mut DMatrix<T>) -> Result<()> {
        self.check_input(x)?;
        let mut inv_std = Vec::with_capacity(self.features);
        self.running_inv_std(&mut inv_std);
        self.affine(x, y, self.running_mean.as_slice(), &inv_std, None);
        Ok(())
    }

    fn forward_train(&mut self, x: &DMatrix<T>, y: &mut DMatrix<T>, _rng: &mut SeededRng) -> Result<()> {
        let plane = self.check_input(x)?;
        let n = x.nrows();
        self.cached = None;
        let mut xhat = std::mem::take(&mut self.xhat);
        xhat.resize(x.len(), T::zero());
        if self.frozen {
            let mut inv_std = std::mem::take(&mut self.inv_std);
            self.running_inv_std(&mut inv_std);
            self.affine(x, y, self.running_mean.as_slice(), &inv_std, Some(&mut xhat));
            self.inv_std = inv_std;
        } else {
            if n < 2 {
                self.xhat = xhat;
                return Err(Error::BatchTooSmall { layer: LayerId::kind(KIND), min: 2, got: n });
            }
            let m = n * plane;
            let (mf, eps, mom) = (T::cast(m as f64), T::cast(self.eps), T::cast(self.momentum));
            let (mut mean, mut inv_std) = (std::mem::take(&mut self.batch_mean), std::mem::take(&mut self.inv_std));
            mean.resize(self.features, T::zero());
            inv_std.resize(self.features, T::zero());
            // Feature by feature: a run of m values of x; every statistic is `features` long.
            let statistics = mean.iter_mut().zip(inv_std.iter_mut());
            let running = self.running_mean.iter_mut().zip(self.running_var.iter_mut());
            for (xs, ((mean, inv_std), (rm, rv))) in x.as_slice().chunks_exact(m).zip(statistics.zip(running)) {
                let mu = reduce::sum(xs) / mf;
                let var = reduce::squared_deviations(xs, mu) / mf;
                *mean = mu;
                *inv_std = T::one() / (var + eps).sqrt();
                let s2 = if self.unbiased { var * mf / (mf - T::one()) } else { var };
                *rm = (T::one() - mom) * *rm + mom * mu;
                *rv = (T::one() - mom) * *rv + mom * s2;
            }
            self.affine(x, y, &mean, &inv_std, Some(&mut xhat));
            (self.batch_mean, self.inv_std) = (mean, inv_std);
        }
        self.xhat = xhat;
        self.cached = Some((n, self.frozen));
        Ok(())
    }

    fn backward(
        &mut self,
        x: &DMatrix<T>,
        y: &DMatrix<T>,
        grad_y: &DMatrix<T>,
        grad_x: Option<&mut DMatrix<T>>,
    ) -> Result<()> {
        let plane = self.check_input(x)?;
        let n = x.nrows();
        let Some((cached_n, frozen)) = self.cached.filter(|&(cn, _)| cn == n) else {
            return Err(Error::NoForwardCache { layer: LayerId::kind(KIND) });
        };
        debug_assert_eq!(cached_n, n);
        check_backward_shapes(KIND, Dims::from(x), y, grad_y, x.ncols())?;
        let m = n * plane;
        let mut dx = grad_x;
        if let Some(dx) = dx.as_deref_mut() {
            ensure_shape(dx, n, x.ncols());
        }
        if m == 0 {
            self.gamma.grad_mut().fill(T::zero());
            self.beta.grad_mut().fill(T::zero());
            return Ok(());
        }
        let mf = T::cast(m as f64);
        let gamma = self.gamma.value().as_slice();
        // `Σ ∂E/∂y` and `Σ ∂E/∂y·x̂` per feature, kept here until γ is no longer read.
        let sums = &mut self.batch_mean;
        sums.resize(2 * self.features, T::zero());
        // Feature by feature: runs of m values of ∂E/∂y, x̂ and ∂E/∂x; γ and 1/σ are `features`
        // long, `sums` two to a feature.
        let runs = grad_y.as_slice().chunks_exact(m).zip(self.xhat.chunks_exact(m));
        let coefficients = gamma.iter().zip(&self.inv_std).zip(sums.as_chunks_mut::<2>().0);
        let mut dx = dx.map(|dx| dx.as_mut_slice().chunks_exact_mut(m));
        for ((gs, hs), ((&gamma, &inv_std), pair)) in runs.zip(coefficients) {
            let (db, dg) = (reduce::sum(gs), reduce::dot(gs, hs));
            *pair = [db, dg];
            if let Some(out) = dx.as_mut().and_then(Iterator::next) {
                let scale = gamma * inv_std;
                if frozen {
                    for (d, &g) in out.iter_mut().zip(gs) {
                        *d = g * scale;
                    }
                } else {
                    let scale = scale / mf;
                    for ((d, &g), &h) in out.iter_mut().zip(gs).zip(hs) {
                        *d = scale * (mf * g - db - h * dg);
                    }
                }
            }
        }
        let (dgamma, dbeta) = (self.gamma.grad_mut().as_mut_slice(), self.beta.grad_mut().as_mut_slice());
        for (&[sum_g, sum_gh], (dg, db)) in sums.as_chunks::<2>().0.iter().zip(dgamma.iter_mut().zip(dbeta)) {
            (*db, *dg) = (sum_g, sum_gh);
        }
        Ok(())
    }

    fn min_training_batch(&self) -> usize {
        if self.frozen {
            1
        } else {
            2
        }
    }

    fn is_smooth(&self) -> bool {
        true
    }

    fn config(&self) -> LayerConfig {
        LayerConfig::new(KIND)
            .with("features", self.features)
            .with("eps", self.eps)
            .with("momentum", self.momentum)
            .with("running_var", if self.unbiased { "unbiased" } else { "biased" })
    }

    fn visit_params<'a>(&'a self, f: &mut dyn FnMut(&'a Param<T>)) {
        f(&self.gamma);
        f(&self.beta);
    }

    fn visit_params_mut<'a>(&'a mut self, f: &mut dyn FnMut(&'a mut Param<T>)) {
        f(&mut self.gamma);
        f(&mut self.beta);
    }

    fn visit_buffers<'a>(&'a self, f: &mut dyn FnMut(&'static str, &'a DMatrix<T>)) {
        f("running_mean", &self.running_mean);
        f("running_var", &self.running_var);
    }

    fn visit_buffers_mut<'a>(&'a mut self, f: &mut dyn FnMut(&'static str, &'a mut DMatrix<T>)) {
        f("running_mean", &mut self.running_mean);
        f("running_var", &mut self.running_var);
    }
}

/// Rebuilds a `batch_norm` layer from its configuration.
pub(crate) fn from_config<T: Real>(c: &LayerConfig) -> Result<BatchNorm<T>> {
    let unbiased = match c.settings.get("running_var").map(String::as_str) {
        Some("unbiased") => true,
        Some("biased") => false,
        _ => {
            return Err(Error::Format(crate::FormatError::BadMetadata {
                key: c.key().to_string(),
                value: c.kind.clone(),
                expected: "running_var=unbiased or biased",
            }))
        }
    };
    Ok(BatchNorm::new(c.setting("features")?)
        .with_eps(c.setting("eps")?)
        .with_momentum(c.setting("momentum")?)
        .with_unbiased_running_var(unbiased))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{seeded, Stream};

    /// Per channel over (N, H, W): every channel of the output has mean β and variance
    /// γ²·σ²/(σ² + ε); the running statistics move by the momentum, with the unbiased variance.
    #[test]
    fn normalizes_each_channel_over_batch_and_pixels() {
        let mut bn = BatchNorm::<f64>::new(2);
        bn.build(Shape::Image { channels: 2, height: 2, width: 3 }, &mut seeded(0, Stream::Init)).unwrap();
        let x = DMatrix::from_fn(4, 12, |i, j| ((i * 12 + j) as f64 * 0.7).sin() * (1.0 + j as f64));
        let mut y = DMatrix::zeros(0, 0);
        bn.forward_train(&x, &mut y, &mut seeded(0, Stream::Train)).unwrap();
        for c in 0..2 {
            let xs: Vec<f64> = (0..4).flat_map(|i| (0..6).map(move |p| (i, c * 6 + p))).map(|ij| x[ij]).collect();
            let ys: Vec<f64> = (0..4).flat_map(|i| (0..6).map(move |p| (i, c * 6 + p))).map(|ij| y[ij]).collect();
            let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
            let var = |v: &[f64]| v.iter().map(|a| (a - mean(v)).powi(2)).sum::<f64>() / v.len() as f64;
            assert!(mean(&ys).abs() < 1e-12);
            assert!((var(&ys) - var(&xs) / (var(&xs) + 1e-5)).abs() < 1e-9);
            assert!((bn.running_mean()[c] - 0.1 * mean(&xs)).abs() < 1e-12);
            assert!((bn.running_var()[c] - (0.9 + 0.1 * var(&xs) * 24.0 / 23.0)).abs() < 1e-12);
        }
    }

    #[test]
    fn batch_of_one_is_a_typed_error_and_wrong_widths_do_not_build() {
        let mut bn = BatchNorm::<f32>::new(3);
        let mut rng = seeded(0, Stream::Init);
        bn.build(Shape::Flat(3), &mut rng).unwrap();
        let mut y = DMatrix::zeros(0, 0);
        let err = bn.forward_train(&DMatrix::zeros(1, 3), &mut y, &mut rng);
        assert!(matches!(err, Err(Error::BatchTooSmall { min: 2, got: 1, .. })), "{err:?}");
        bn.forward(&DMatrix::zeros(1, 3), &mut y).unwrap(); // inference takes one sample
        assert!(matches!(BatchNorm::<f32>::new(3).build(Shape::Flat(4), &mut rng), Err(Error::InputShape { .. })));
        let bad = BatchNorm::<f32>::new(3).with_eps(0.0).build(Shape::Flat(3), &mut rng);
        assert!(matches!(bad, Err(Error::InvalidConfig { .. })));
    }
}
