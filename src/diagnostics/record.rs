//! What diagnostics record: [`EpochDiagnostics`] of [`LayerStats`] and [`ParamStats`], and
//! [`Histogram`]s. Plain data, importing nothing of the crate, so
//! [`History`](crate::History) can hold it.

/// The measurements of one epoch's measured batch (see
/// [`Diagnostics`](crate::diagnostics::Diagnostics)).
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct EpochDiagnostics {
    /// The epoch's index, from 0 (as [`EpochStats::epoch`](crate::EpochStats::epoch)).
    pub epoch: usize,
    /// Every layer the network reports, parents before their children (a [`Chain`](crate::Chain)
    /// before its layers).
    pub layers: Vec<LayerStats>,
    /// Every parameter, in the optimizer's order.
    pub params: Vec<ParamStats>,
}

impl EpochDiagnostics {
    /// The statistics of the layer at `path` (`"1.body.0"`), if it was measured.
    pub fn layer(&self, path: &str) -> Option<&LayerStats> {
        self.layers.iter().find(|l| l.path == path)
    }

    /// The statistics of the parameter at `path` (`"1.body.0.weight"`), if it was measured.
    pub fn param(&self, path: &str) -> Option<&ParamStats> {
        self.params.iter().find(|p| p.path == path)
    }
}

/// Statistics of one layer's output `A` (`batch × units`, `n` entries `aᵢ`) in the measured
/// training step.
///
/// - `mean = Σ aᵢ / n`
/// - `std = √(Σ (aᵢ − mean)² / n)` (the population standard deviation, NumPy's `a.std()`)
/// - `saturated` (sigmoid and tanh): the share of entries within
///   [`SATURATION_MARGIN`](crate::diagnostics::SATURATION_MARGIN) (0.01) of the function's
///   bounds — sigmoid `a < 0.01` or `a > 0.99`, tanh `|a| > 0.99` — where the derivative is
///   nearly 0 and the gradient vanishes
/// - `dead` (ReLU): the share of units (columns of `A`) that output 0 for every sample of the
///   batch, so get no gradient at all
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct LayerStats {
    /// The layer's path (`"1.body.0"`).
    pub path: String,
    /// Its kind ([`Layer::kind`](crate::Layer::kind)): `"dense"`, `"relu"`, ...
    pub kind: String,
    /// Mean of the output's entries.
    pub mean: f64,
    /// Standard deviation of the output's entries.
    pub std: f64,
    /// Share of saturated entries, for a sigmoid or tanh layer; `None` for other kinds.
    pub saturated: Option<f64>,
    /// Share of dead units, for a ReLU layer; `None` for other kinds.
    pub dead: Option<f64>,
    /// Histogram of the output's entries, when asked for.
    pub histogram: Option<Histogram>,
}

/// Statistics of one parameter `W` in the measured training step; norms are Frobenius norms,
/// `‖M‖ = √(Σ mᵢⱼ²)`.
///
/// - `grad_norm = ‖∂E/∂W‖`: the gradient backward computed, before the optimizer adds any
///   weight decay
/// - `weight_norm = ‖W‖` before the step
/// - `update_norm = ‖ΔW‖ = ‖W_after − W_before‖`: what the optimizer step changed
/// - `update_ratio = ‖ΔW‖ / ‖W‖` (`None` when `‖W‖ = 0`, as zero-initialized biases are at
///   first). A common rule of thumb for plain SGD is about 10⁻³: much smaller and the layer
///   barely learns, much larger and it is unstable.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct ParamStats {
    /// The parameter's path (`"1.body.0.weight"`).
    pub path: String,
    /// Norm of its gradient.
    pub grad_norm: f64,
    /// Norm of its value before the step.
    pub weight_norm: f64,
    /// Norm of the step's change.
    pub update_norm: f64,
    /// `update_norm / weight_norm`, if the weight is not zero.
    pub update_ratio: Option<f64>,
}

/// Counts of values in `counts.len()` bins of equal width between `low` and `high`: bin `k`
/// holds the values in `[low + k·w, low + (k+1)·w)` with `w = (high − low) / bins`, the last bin
/// also `high` itself (as NumPy's `histogram`).
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct Histogram {
    /// The left edge of the first bin.
    pub low: f64,
    /// The right edge of the last bin.
    pub high: f64,
    /// The number of values in each bin.
    pub counts: Vec<u64>,
    /// Values below `low` (only with a fixed range).
    pub below: u64,
    /// Values above `high` (only with a fixed range).
    pub above: u64,
}

impl Histogram {
    /// The histogram of `values` with `bins` bins (at least 1 is used) over `range`, or over
    /// `[min, max]` of the values if `range` is `None` (`[v − 0.5, v + 0.5]` when they are all
    /// `v`, `[0, 1]` when there are none). NaN values are not counted.
    ///
    /// # Example
    /// ```
    /// use backprop::diagnostics::Histogram;
    /// let h = Histogram::new(&[0.0, 0.1, 0.6, 1.0, 2.0], 2, Some((0.0, 1.0)));
    /// assert_eq!((h.counts.as_slice(), h.above), (&[2, 2][..], 1));
    /// ```
    pub fn new(values: &[f64], bins: usize, range: Option<(f64, f64)>) -> Self {
        let bins = bins.max(1);
        let finite = values.iter().copied().filter(|v| !v.is_nan());
        let (low, high) = range.unwrap_or_else(|| {
            let (lo, hi) = finite.clone().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| (l.min(v), h.max(v)));
            match (lo, hi) {
                (lo, hi) if lo > hi => (0.0, 1.0),
                (lo, hi) if lo == hi => (lo - 0.5, hi + 0.5),
                range => range,
            }
        });
        let mut h = Histogram { low, high, counts: vec![0; bins], below: 0, above: 0 };
        let scale = bins as f64 / (high - low);
        for v in finite {
            if v < low {
                h.below += 1;
            } else if v > high {
                h.above += 1;
            } else {
                let k = (((v - low) * scale) as usize).min(bins - 1);
                if let Some(count) = h.counts.get_mut(k) {
                    *count += 1;
                }
            }
        }
        h
    }

    /// The width of one bin.
    pub fn bin_width(&self) -> f64 {
        (self.high - self.low) / self.counts.len().max(1) as f64
    }

    /// The values counted in the bins (not [`below`](Histogram::below) or
    /// [`above`](Histogram::above)).
    pub fn total(&self) -> u64 {
        // Saturating: the counts are public, and a sum past u64 must not panic.
        self.counts.iter().fold(0, |sum: u64, &c| sum.saturating_add(c))
    }
}
