//! The numbers behind [`LayerStats`] and [`ParamStats`], computed in `f64`.

use super::record::{Histogram, LayerStats};
use crate::Real;
use nalgebra::DMatrix;

/// How close to its bounds a sigmoid or tanh output counts as saturated: 0.01.
pub const SATURATION_MARGIN: f64 = 0.01;

/// The layer kinds whose dead units are counted: `"relu"`.
pub const DEAD_KINDS: &[&str] = &["relu"];

/// The statistics of layer `path` of kind `kind` from its output `y`, with a histogram of
/// `bins` bins over `range` (none when `bins` is 0).
pub(crate) fn layer_stats<T: Real>(
    path: &str,
    kind: &str,
    y: &DMatrix<T>,
    bins: usize,
    range: Option<(f64, f64)>,
) -> LayerStats {
    let values: Vec<f64> = y.iter().map(|v| v.to_f64()).collect();
    let n = values.len().max(1) as f64;
    let mean = values.iter().sum::<f64>() / n;
    let std = (values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n).sqrt();
    let share = |count: usize, of: usize| count as f64 / of.max(1) as f64;
    let saturated = match kind {
        "sigmoid" => Some(share(
            values.iter().filter(|&&a| !(SATURATION_MARGIN..=1.0 - SATURATION_MARGIN).contains(&a)).count(),
            values.len(),
        )),
        "tanh" => Some(share(values.iter().filter(|&&a| a.abs() > 1.0 - SATURATION_MARGIN).count(), values.len())),
        _ => None,
    };
    let dead = DEAD_KINDS.contains(&kind).then(|| {
        let dead_units = y.column_iter().filter(|c| c.iter().all(|v| *v == T::zero())).count();
        share(dead_units, y.ncols())
    });
    let histogram = (bins > 0).then(|| Histogram::new(&values, bins, range));
    LayerStats { path: path.to_string(), kind: kind.to_string(), mean, std, saturated, dead, histogram }
}

/// `√(Σ vᵢ²)`.
pub(crate) fn norm<T: Real>(values: &[T]) -> f64 {
    values.iter().map(|v| v.to_f64() * v.to_f64()).sum::<f64>().sqrt()
}

/// `√(Σ (aᵢ − bᵢ)²)`.
pub(crate) fn distance<T: Real>(a: &[T], b: &[T]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x.to_f64() - y.to_f64()).powi(2)).sum::<f64>().sqrt()
}
