//! The one interface of the data transforms learned from training data.

use crate::{Real, Result};
use nalgebra::DMatrix;

/// A transform of the features learned from the training rows and then applied, unchanged, to
/// any rows: [`Standardizer`](super::Standardizer) and [`Whitener`](super::Whitener).
///
/// Fit on the training part only and transform every part with the result, so the test set stays
/// unseen. [`inverse_transform`](Preprocessor::inverse_transform) maps transformed rows back to
/// the original features (up to rounding), e.g. to look at whitened images as pixels again.
///
/// # Example
/// Code written once for any transform:
/// ```
/// use backprop::data::{Preprocessor, Standardizer, Whitener, Whitening};
/// use nalgebra::DMatrix;
///
/// fn prepare<P: Preprocessor<f64>>(train: &DMatrix<f64>, test: &DMatrix<f64>, settings: P::Settings)
///     -> backprop::Result<(DMatrix<f64>, DMatrix<f64>)> {
///     let (fitted, train) = P::fit_transform(train, settings)?;
///     Ok((train, fitted.transform(test)?))
/// }
///
/// let train = DMatrix::from_row_slice(4, 2, &[1.0, 2.0, 2.0, 3.0, 3.0, 5.0, 4.0, 4.0]);
/// let test = DMatrix::from_row_slice(1, 2, &[2.5, 3.5]);
/// let (_, standardized) = prepare::<Standardizer<f64>>(&train, &test, ())?;
/// let (_, whitened) = prepare::<Whitener<f64>>(&train, &test, Whitening::zca())?;
/// assert_eq!(standardized.shape(), whitened.shape());
/// # Ok::<(), backprop::Error>(())
/// ```
pub trait Preprocessor<T: Real>: Sized {
    /// What is chosen before fitting: `()` for a [`Standardizer`](super::Standardizer), a
    /// [`Whitening`](super::Whitening) (PCA or ZCA, and its epsilon) for a
    /// [`Whitener`](super::Whitener).
    type Settings: Default;

    /// Learns the transform from the training rows `train` (rows are samples).
    ///
    /// # Errors
    /// Each implementation lists its own; data without rows, NaN or infinite values and
    /// invalid settings are refused.
    fn fit_with(train: &DMatrix<T>, settings: Self::Settings) -> Result<Self>;

    /// [`fit_with`](Preprocessor::fit_with) the default settings.
    ///
    /// # Errors
    /// As [`fit_with`](Preprocessor::fit_with).
    fn fit_default(train: &DMatrix<T>) -> Result<Self> {
        Self::fit_with(train, Self::Settings::default())
    }

    /// Applies the learned transform to `x`, which must have as many columns as the training
    /// data.
    ///
    /// # Errors
    /// [`Error::WidthMismatch`](crate::Error::WidthMismatch) for another number of columns;
    /// [`Error::NonFinite`](crate::Error::NonFinite) for a NaN or infinite value.
    fn transform(&self, x: &DMatrix<T>) -> Result<DMatrix<T>>;

    /// Maps transformed rows `z` back to the original features: `inverse_transform(transform(x))`
    /// is `x` up to rounding.
    ///
    /// # Errors
    /// As [`transform`](Preprocessor::transform).
    fn inverse_transform(&self, z: &DMatrix<T>) -> Result<DMatrix<T>>;

    /// Fits on `train` and transforms it: the fitted transform and the transformed rows.
    ///
    /// # Errors
    /// As [`fit_with`](Preprocessor::fit_with) and [`transform`](Preprocessor::transform).
    fn fit_transform(train: &DMatrix<T>, settings: Self::Settings) -> Result<(Self, DMatrix<T>)> {
        let fitted = Self::fit_with(train, settings)?;
        let z = fitted.transform(train)?;
        Ok((fitted, z))
    }
}
