//! What `fit` shows while it trains, when [`FitConfig::progress`](crate::FitConfig::progress) is
//! on: one line per epoch, or with the `progress-bar` feature and a terminal on standard error,
//! a bar per epoch that advances with every batch and gives way to the epoch's line.

use crate::EpochStats;

/// The progress display of one `fit` call.
pub(crate) struct Progress {
    /// Whether anything is shown at all.
    on: bool,
    /// The bar of the epoch under way (feature `progress-bar`, stderr a terminal).
    #[cfg(feature = "progress-bar")]
    bar: Option<indicatif::ProgressBar>,
    /// Whether bars are drawn (else plain lines).
    #[cfg(feature = "progress-bar")]
    bars: bool,
}

impl Progress {
    /// A display that shows nothing unless `on`.
    pub(crate) fn new(on: bool) -> Self {
        Progress {
            on,
            #[cfg(feature = "progress-bar")]
            bar: None,
            #[cfg(feature = "progress-bar")]
            bars: on && std::io::IsTerminal::is_terminal(&std::io::stderr()),
        }
    }

    /// Epoch `epoch` (an index) of `epochs` starts, with `batches` batches.
    #[cfg_attr(not(feature = "progress-bar"), allow(unused_variables))]
    pub(crate) fn start_epoch(&mut self, epoch: usize, epochs: usize, batches: usize) {
        #[cfg(feature = "progress-bar")]
        if self.bars && batches > 1 {
            use indicatif::{ProgressBar, ProgressStyle};
            let bar = ProgressBar::new(batches as u64);
            let template = "epoch {prefix} [{bar:30}] {pos}/{len} batches  {elapsed} elapsed, ETA {eta}  {msg}";
            if let Ok(style) = ProgressStyle::with_template(template) {
                bar.set_style(style.progress_chars("=> "));
            }
            let width = epochs.to_string().len();
            bar.set_prefix(format!("{:>width$}/{epochs}", epoch + 1));
            self.bar = Some(bar);
        }
    }

    /// A batch is done; `loss` and `accuracy` are the epoch's running averages so far.
    #[cfg_attr(not(feature = "progress-bar"), allow(unused_variables))]
    #[inline]
    pub(crate) fn batch(&mut self, loss: f64, accuracy: f64) {
        #[cfg(feature = "progress-bar")]
        if let Some(bar) = &self.bar {
            bar.set_message(format!("loss {loss:.4}  accuracy {accuracy:.4}"));
            bar.inc(1);
        }
    }

    /// The epoch ended with `stats`: its line replaces the bar.
    pub(crate) fn end_epoch(&mut self, stats: &EpochStats) {
        #[cfg(feature = "progress-bar")]
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        if self.on {
            eprintln!("{stats}");
        }
    }

    /// Whether batches are reported (so the loop computes running averages only then).
    #[inline]
    pub(crate) fn wants_batches(&self) -> bool {
        #[cfg(feature = "progress-bar")]
        {
            self.bar.is_some()
        }
        #[cfg(not(feature = "progress-bar"))]
        {
            false
        }
    }
}

impl Drop for Progress {
    /// A `fit` that fails mid-epoch leaves no half-drawn bar behind.
    fn drop(&mut self) {
        #[cfg(feature = "progress-bar")]
        if let Some(bar) = self.bar.take() {
            bar.abandon();
        }
    }
}
