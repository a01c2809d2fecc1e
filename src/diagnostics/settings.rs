//! [`Diagnostics`]: which epochs and which batch training diagnostics measure.

use crate::{Error, Result};

/// What [`fit`](crate::Network::fit) measures inside the network, and when (see the
/// [module](crate::diagnostics)): set with
/// [`FitConfig::diagnostics`](crate::FitConfig::diagnostics).
///
/// One batch per measured epoch is looked at: batch [`batch`](Diagnostics::batch) of the epoch
/// (the first by default, so epoch 0's numbers describe the network as initialized), between its
/// backward pass and its optimizer step. The record goes to
/// [`History::diagnostics`](crate::History::diagnostics), one
/// [`EpochDiagnostics`](crate::diagnostics::EpochDiagnostics) per measured epoch.
///
/// Measuring reads the network and copies each parameter once for the measured step (to know
/// the update); it changes nothing, so a seeded run trains to bit-identical weights with
/// diagnostics on or off.
///
/// # Example
/// ```
/// use backprop::diagnostics::Diagnostics;
/// // Every 5th epoch (0, 5, 10, ...), the epoch's 3rd batch, 30-bin histograms over [0, 1].
/// let d = Diagnostics::every(5).batch(2).histograms(30).histogram_range(0.0, 1.0);
/// assert!(d.measures(10, 2, 100));
/// assert!(!d.measures(11, 2, 100));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostics {
    every: usize,
    batch: usize,
    bins: usize,
    range: Option<(f64, f64)>,
}

impl Diagnostics {
    /// Measures every epoch.
    pub fn every_epoch() -> Self {
        Self::every(1)
    }

    /// Measures epochs `0, n, 2n, …` (indices counted from 0, as
    /// [`EpochStats::epoch`](crate::EpochStats::epoch)); `n` must be at least 1.
    pub fn every(n: usize) -> Self {
        Diagnostics { every: n, batch: 0, bins: 0, range: None }
    }

    /// Measures batch `index` (from 0) of each measured epoch, or the epoch's last batch if it
    /// has fewer. The default is 0, the first.
    pub fn batch(mut self, index: usize) -> Self {
        self.batch = index;
        self
    }

    /// Also records a histogram of every layer's output with `bins` bins of equal width (at
    /// least 1), over the range of the batch's values unless
    /// [`histogram_range`](Diagnostics::histogram_range) fixes one.
    pub fn histograms(mut self, bins: usize) -> Self {
        self.bins = bins;
        self
    }

    /// Histograms over `[low, high]` (finite, `low < high`) for every layer, so they can be
    /// compared (the book draws sigmoid outputs over [0, 1]); values outside are counted in
    /// [`Histogram::below`](crate::diagnostics::Histogram::below) and
    /// [`above`](crate::diagnostics::Histogram::above). Needs
    /// [`histograms`](Diagnostics::histograms).
    pub fn histogram_range(mut self, low: f64, high: f64) -> Self {
        self.range = Some((low, high));
        self
    }

    /// The number of histogram bins; 0 without histograms.
    pub fn bins(&self) -> usize {
        self.bins
    }

    /// The fixed histogram range, if one was set.
    pub fn range(&self) -> Option<(f64, f64)> {
        self.range
    }

    /// Whether batch `index` of `batches` in epoch `epoch` is measured.
    pub fn measures(&self, epoch: usize, index: usize, batches: usize) -> bool {
        self.every > 0 && epoch.is_multiple_of(self.every) && index == self.batch.min(batches.saturating_sub(1))
    }

    /// Checks the settings (`fit` calls it before training).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for `every(0)`, `histograms(0)` with a range, or a range that is
    /// not finite with `low < high`.
    pub fn validate(&self) -> Result<()> {
        let invalid = |name, value: String, expected| Err(Error::InvalidConfig { name, value, expected });
        if self.every == 0 {
            return invalid("diagnostics every", "0 epochs".into(), ">= 1 epoch");
        }
        // Each layer's histogram holds `bins` counts: bounded as any matrix of the crate is
        // (a huge count passed here, then failed reserving its memory).
        if self.bins > crate::max_elements() {
            let expected = "at most max_elements() bins (see backprop::set_max_elements)";
            return invalid("histogram bins", self.bins.to_string(), expected);
        }
        if let Some((low, high)) = self.range {
            if !(low.is_finite() && high.is_finite() && low < high) {
                return invalid("histogram_range", format!("[{low}, {high}]"), "finite bounds with low < high");
            }
            if self.bins == 0 {
                return invalid("histogram bins", "0 with a histogram_range".into(), ">= 1 (call histograms(bins))");
            }
        }
        Ok(())
    }
}
