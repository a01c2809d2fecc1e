//! PCA and ZCA whitening: decorrelating the features and scaling them to unit variance.

use super::prep::check_width;
use super::Preprocessor;
use crate::check::check_finite;
use crate::init::check_size;
use crate::{Dims, Error, Real, Result};
use nalgebra::DMatrix;
use std::marker::PhantomData;

/// The default relative epsilon `r` of [`Whitening`]: `ε = r · tr(Σ) / d`, a hundred-thousandth of
/// the features' mean variance.
pub const DEFAULT_WHITENING_EPSILON: f64 = 1e-5;

/// Which whitening: PCA rotates onto the principal axes, ZCA rotates back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhiteningKind {
    /// `x̃ = (x − μ)·U·diag(1/√(λ + ε))`: the coordinates along the principal axes (largest
    /// variance first), each scaled to unit variance.
    Pca,
    /// `x̃ = (x − μ)·U·diag(1/√(λ + ε))·Uᵀ`: PCA whitening rotated back to the original axes —
    /// of all whitening transforms the one whose output is closest to its input, so whitened
    /// images still look like (edge-enhanced) images.
    Zca,
}

/// How to whiten: PCA or ZCA, and the epsilon that keeps tiny eigenvalues from blowing up
/// (the [`Settings`](Preprocessor::Settings) of a [`Whitener`]).
///
/// The epsilon is **relative**: with `r` the value set here (default
/// [`DEFAULT_WHITENING_EPSILON`] = 1e-5), the whitener adds `ε = r · tr(Σ) / d` — `r` times the
/// mean variance of the `d` features — to every eigenvalue (`ε = r` if every feature is
/// constant). Scaling the data by any factor then leaves the whitened output unchanged. A
/// direction of variance `λ` comes out with variance `λ / (λ + ε)`: ≈ 1 for `λ ≫ ε`, ≈ 0 for
/// directions without variance (constant pixels) instead of a division by zero. A larger `r`
/// damps the noisy low-variance directions more (for images, `r` around 1e-2 to 1e-1 keeps ZCA
/// output smooth).
///
/// The default is ZCA with `r` = 1e-5.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Whitening {
    kind: WhiteningKind,
    epsilon: f64,
}

impl Default for Whitening {
    fn default() -> Self {
        Whitening::zca()
    }
}

impl Whitening {
    /// PCA whitening with the default epsilon.
    pub fn pca() -> Self {
        Whitening { kind: WhiteningKind::Pca, epsilon: DEFAULT_WHITENING_EPSILON }
    }

    /// ZCA whitening with the default epsilon.
    pub fn zca() -> Self {
        Whitening { kind: WhiteningKind::Zca, epsilon: DEFAULT_WHITENING_EPSILON }
    }

    /// The relative epsilon `r` (`ε = r · tr(Σ) / d`); it must be finite and > 0, which
    /// [`Whitener::fit_with`] checks.
    pub fn with_epsilon(mut self, relative_epsilon: f64) -> Self {
        self.epsilon = relative_epsilon;
        self
    }

    /// PCA or ZCA.
    pub fn kind(&self) -> WhiteningKind {
        self.kind
    }

    /// The relative epsilon `r`.
    pub fn epsilon(&self) -> f64 {
        self.epsilon
    }
}

/// A PCA or ZCA whitening transform fitted on training data: afterwards the training rows have
/// mean 0 and covariance ≈ the identity (exactly `diag(λ / (λ + ε))` in the principal axes).
///
/// Fitting computes, in `f64` whatever `T` is:
/// - the mean `μ` of each column and the covariance `Σ = (X − μ)ᵀ(X − μ) / n` (population, as
///   [`Standardizer`](super::Standardizer) divides by `n`);
/// - its eigendecomposition `Σ = U·diag(λ)·Uᵀ` (nalgebra's symmetric eigendecomposition),
///   eigenvalues sorted from largest to smallest, rounding's tiny negative ones set to 0, and each
///   eigenvector's sign chosen so that its largest entry (in absolute value) is positive, so the
///   PCA output does not depend on the solver's sign choices;
/// - `ε = r · tr(Σ) / d` from the relative epsilon `r` of the [`Whitening`].
///
/// Then, for rows `x` (the formulas of [`WhiteningKind`]):
///
/// | kind | `transform` | `inverse_transform` |
/// |---|---|---|
/// | PCA | `x̃ = (x − μ)·U·diag(1/√(λ+ε))` | `x = x̃·diag(√(λ+ε))·Uᵀ + μ` |
/// | ZCA | `x̃ = (x − μ)·U·diag(1/√(λ+ε))·Uᵀ` | `x = x̃·U·diag(√(λ+ε))·Uᵀ + μ` |
///
/// Both are exact inverses (U is orthogonal), so `inverse_transform(transform(x))` is `x` up to
/// rounding. The output has as many columns as the input (no dimensions are dropped).
///
/// With `n ≤ d` rows (or linearly dependent features, such as the always-blank pixels of the
/// digits) some eigenvalues are 0: those directions have no variance to whiten and stay ≈ 0.
///
/// # Example
/// ```
/// use backprop::data::{covariance, Whitener, Whitening};
/// use nalgebra::DMatrix;
/// // Two strongly correlated features.
/// let x = DMatrix::<f64>::from_row_slice(5, 2, &[1.0, 1.1, 2.0, 1.9, 3.0, 3.2, 4.0, 3.9, 5.0, 5.1]);
/// let zca = Whitener::fit(&x, Whitening::zca().with_epsilon(1e-12))?;
/// let z = zca.transform(&x)?;
/// let c = covariance(&z)?;
/// assert!((c[(0, 0)] - 1.0).abs() < 1e-9 && c[(0, 1)].abs() < 1e-9);
/// let back = zca.inverse_transform(&z)?;
/// assert!((&back - &x).amax() < 1e-9);
/// # Ok::<(), backprop::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Whitener<T: Real> {
    kind: WhiteningKind,
    mean: Vec<f64>,
    eigenvalues: Vec<f64>,
    eigenvectors: DMatrix<f64>,
    epsilon: f64,
    /// `d × d`: `transform` is `(x − μ)·forward`.
    forward: DMatrix<f64>,
    /// `d × d`: `inverse_transform` is `z·backward + μ`.
    backward: DMatrix<f64>,
    scalar: PhantomData<fn() -> T>,
}

impl<T: Real> Whitener<T> {
    /// Fits a whitening transform on the training rows `train` (computed in `f64`).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for a relative epsilon that is not finite and > 0;
    /// [`Error::EmptyInput`] for data without columns; [`Error::TooFewRows`] for fewer than 2
    /// rows (a covariance needs two samples); [`Error::NonFinite`] for a NaN or infinite value,
    /// for data so large that its covariance overflows `f64`, or so small (around 1e-160) that
    /// `1/√(λ+ε)` does; [`Error::TooLarge`] when the
    /// `d × d` covariance would exceed [`MAX_ELEMENTS`](crate::MAX_ELEMENTS).
    pub fn fit(train: &DMatrix<T>, settings: Whitening) -> Result<Self> {
        let what = "data to fit a whitener on";
        let r = settings.epsilon;
        if !(r.is_finite() && r > 0.0) {
            return Err(Error::InvalidConfig {
                name: "whitening epsilon",
                value: r.to_string(),
                expected: "a finite number > 0 (relative to the mean variance)",
            });
        }
        let (n, d) = train.shape();
        if d == 0 {
            return Err(Error::EmptyInput { what, got: Dims::from(train) });
        }
        if n < 2 {
            return Err(Error::TooFewRows { what, needed: 2, got: n });
        }
        check_size("covariance matrix", d, d)?;
        check_finite(what, train)?;
        let x = train.map(|v| v.to_f64());
        let mean = column_means(&x);
        let sigma = centred_covariance(&x, &mean)?;

        let mean_variance = sigma.trace() / d as f64;
        let epsilon = if mean_variance > 0.0 { r * mean_variance } else { r };
        // Iterates until convergence (max_niter 0), which it reaches on any finite symmetric matrix.
        let eigen = sigma.symmetric_eigen();
        let mut order: Vec<usize> = (0..d).collect();
        // `order` holds the indices of the d eigenvalues: nalgebra's checked `get` reads them.
        let value = |k: usize| eigen.eigenvalues.get(k).copied().unwrap_or(0.0);
        order.sort_by(|&a, &b| value(b).total_cmp(&value(a)).then(a.cmp(&b)));
        let eigenvalues: Vec<f64> = order.iter().map(|&k| value(k).max(0.0)).collect();
        let mut eigenvectors = eigen.eigenvectors.select_columns(&order);
        for mut u in eigenvectors.column_iter_mut() {
            let largest = u.iter().copied().fold(0.0_f64, |best, v| if v.abs() > best.abs() { v } else { best });
            if largest < 0.0 {
                u.neg_mut();
            }
        }

        let scaled = |power: f64| {
            let mut m = eigenvectors.clone();
            for (mut col, &lambda) in m.column_iter_mut().zip(&eigenvalues) {
                col *= (lambda + epsilon).powf(power);
            }
            m
        };
        let (forward, backward) = match settings.kind {
            // U·diag(s) and its inverse diag(1/s)·Uᵀ.
            WhiteningKind::Pca => (scaled(-0.5), scaled(0.5).transpose()),
            // U·diag(s)·Uᵀ and U·diag(1/s)·Uᵀ.
            WhiteningKind::Zca => (scaled(-0.5) * eigenvectors.transpose(), scaled(0.5) * eigenvectors.transpose()),
        };
        // Variances so small that ε underflows to 0 (data around 1e-160) leave 1/√0 = ∞ in the
        // matrices, which would whiten every row to NaN.
        check_finite("the whitening matrix (the data's variances are too small for f64: scale them up)", &forward)?;
        check_finite(
            "the unwhitening matrix (the data's variances are too large for f64: scale them down)",
            &backward,
        )?;
        Ok(Whitener {
            kind: settings.kind,
            mean,
            eigenvalues,
            eigenvectors,
            epsilon,
            forward,
            backward,
            scalar: PhantomData,
        })
    }

    /// `(x − μ)·U·diag(1/√(λ+ε))` (PCA) or that times `Uᵀ` (ZCA), computed in `f64`.
    ///
    /// # Errors
    /// [`Error::WidthMismatch`] when `x` has another number of columns than the training data;
    /// [`Error::NonFinite`] for a NaN or infinite value, in `x` or in the result (whose values
    /// may overflow `T`).
    pub fn transform(&self, x: &DMatrix<T>) -> Result<DMatrix<T>> {
        check_width("a whitener fitted on the training data", self.mean.len(), x)?;
        check_finite("data to whiten", x)?;
        let mut centred = x.map(|v| v.to_f64());
        for (mut col, m) in centred.column_iter_mut().zip(&self.mean) {
            col.add_scalar_mut(-m);
        }
        let z = (centred * &self.forward).map(T::cast);
        // Finite in f64, but perhaps not in `T` (f32 overflows from 3.4e38).
        check_finite("whitened data (too large for the scalar type)", &z)?;
        Ok(z)
    }

    /// The original features of whitened rows `z`: `z·diag(√(λ+ε))·Uᵀ + μ` (PCA) or
    /// `z·U·diag(√(λ+ε))·Uᵀ + μ` (ZCA), computed in `f64`.
    ///
    /// # Errors
    /// As [`transform`](Whitener::transform).
    pub fn inverse_transform(&self, z: &DMatrix<T>) -> Result<DMatrix<T>> {
        check_width("a whitener fitted on the training data", self.mean.len(), z)?;
        check_finite("whitened data", z)?;
        let mut x = z.map(|v| v.to_f64()) * &self.backward;
        for (mut col, m) in x.column_iter_mut().zip(&self.mean) {
            col.add_scalar_mut(*m);
        }
        let x = x.map(T::cast);
        check_finite("unwhitened data (too large for the scalar type)", &x)?;
        Ok(x)
    }

    /// PCA or ZCA.
    pub fn kind(&self) -> WhiteningKind {
        self.kind
    }

    /// The mean `μ` of each training column.
    pub fn mean(&self) -> &[f64] {
        &self.mean
    }

    /// The eigenvalues `λ` of the training covariance, largest first (≥ 0): the variance along
    /// each principal axis.
    pub fn eigenvalues(&self) -> &[f64] {
        &self.eigenvalues
    }

    /// `U`: the principal axes as columns (unit length, in the order of
    /// [`eigenvalues`](Whitener::eigenvalues)).
    pub fn eigenvectors(&self) -> &DMatrix<f64> {
        &self.eigenvectors
    }

    /// The absolute `ε` added to every eigenvalue: `r · tr(Σ) / d`.
    pub fn epsilon(&self) -> f64 {
        self.epsilon
    }
}

impl<T: Real> Preprocessor<T> for Whitener<T> {
    type Settings = Whitening;

    fn fit_with(train: &DMatrix<T>, settings: Whitening) -> Result<Self> {
        Whitener::fit(train, settings)
    }

    fn transform(&self, x: &DMatrix<T>) -> Result<DMatrix<T>> {
        Whitener::transform(self, x)
    }

    fn inverse_transform(&self, z: &DMatrix<T>) -> Result<DMatrix<T>> {
        Whitener::inverse_transform(self, z)
    }
}

/// The covariance matrix of the columns of `x` (rows are samples), `(X − μ)ᵀ(X − μ) / n`,
/// computed in `f64`: `d × d` for `d` columns. Whitened training data has ≈ the identity here.
///
/// # Errors
/// [`Error::EmptyInput`] for data without columns; [`Error::TooFewRows`] for fewer than 2 rows;
/// [`Error::NonFinite`] for a NaN or infinite value (in `x`, or in the covariance when it
/// overflows); [`Error::TooLarge`] for a `d × d` matrix above [`MAX_ELEMENTS`](crate::MAX_ELEMENTS).
pub fn covariance<T: Real>(x: &DMatrix<T>) -> Result<DMatrix<f64>> {
    let what = "data to compute a covariance of";
    if x.ncols() == 0 {
        return Err(Error::EmptyInput { what, got: Dims::from(x) });
    }
    if x.nrows() < 2 {
        return Err(Error::TooFewRows { what, needed: 2, got: x.nrows() });
    }
    check_size("covariance matrix", x.ncols(), x.ncols())?;
    check_finite(what, x)?;
    let x = x.map(|v| v.to_f64());
    let mean = column_means(&x);
    centred_covariance(&x, &mean)
}

/// Each column's mean; a second pass corrects the rounding of the first.
fn column_means(x: &DMatrix<f64>) -> Vec<f64> {
    let n = x.nrows() as f64;
    x.column_iter()
        .map(|col| {
            let m0 = col.sum() / n;
            m0 + col.iter().map(|v| v - m0).sum::<f64>() / n
        })
        .collect()
}

/// `(X − μ)ᵀ(X − μ) / n`, made exactly symmetric; refused if it overflowed.
fn centred_covariance(x: &DMatrix<f64>, mean: &[f64]) -> Result<DMatrix<f64>> {
    let mut c = x.clone();
    for (mut col, m) in c.column_iter_mut().zip(mean) {
        col.add_scalar_mut(-m);
    }
    let sigma = c.tr_mul(&c) / x.nrows() as f64;
    let sigma = (&sigma + sigma.transpose()) * 0.5;
    check_finite("covariance of the data", &sigma)?;
    Ok(sigma)
}
