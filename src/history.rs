//! What training leaves behind: [`History`], one [`EpochStats`] per epoch, and how epochs are timed.

mod export;

// From the module that defines it: the rest of `diagnostics` imports the network, whose errors
// carry a history.
use crate::diagnostics::record::EpochDiagnostics;
use std::fmt;
use std::time::Instant;

/// The numbers of one epoch, as handed to the callback and kept in [`History`].
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct EpochStats {
    /// The epoch's index, from 0 (as Keras's callbacks count; see [`number`](EpochStats::number)).
    ///
    /// **Epoch numbering**: indices in the API (this field, [`History::best_epoch`],
    /// [`FitConfig::start_epoch`](crate::FitConfig::start_epoch), [`Schedule`](crate::Schedule))
    /// count from 0; everything written for people — progress lines, `Display`, the CSV's
    /// `epoch` column, plots, the examples' printouts — numbers epochs from 1, so index `i` is
    /// shown as epoch `i + 1`.
    pub epoch: usize,
    /// Training loss (see [`History::loss`]).
    pub loss: f64,
    /// Training accuracy over the epoch's batches, measured before each batch's update.
    pub accuracy: f64,
    /// Loss on the validation data after the epoch, if there is any.
    pub val_loss: Option<f64>,
    /// Accuracy on the validation data after the epoch, if there is any.
    pub val_accuracy: Option<f64>,
    /// The learning rate used in the epoch.
    pub learning_rate: f64,
    /// Wall-clock seconds the epoch took (training and validation).
    pub seconds: f64,
}

impl EpochStats {
    /// The epoch's number as printed: [`epoch`](EpochStats::epoch)` + 1` (`usize::MAX` for the
    /// epoch `usize::MAX`).
    pub fn number(&self) -> usize {
        self.epoch.saturating_add(1)
    }
}

impl fmt::Display for EpochStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "epoch {:>4}  loss {:.6}  accuracy {:.4}", self.epoch as u128 + 1, self.loss, self.accuracy)?;
        if let (Some(l), Some(a)) = (self.val_loss, self.val_accuracy) {
            write!(f, "  val_loss {l:.6}  val_accuracy {a:.4}")?;
        }
        write!(f, "  lr {:.3e}  {:.2}s", self.learning_rate, self.seconds)
    }
}

/// What happened during training: the course's `Error_list` and more, one entry per epoch.
#[derive(Debug, Clone, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct History {
    /// The training loss of every epoch: the average of its batches' losses (each computed before
    /// the batch's update, plus the optimizer's L2 penalty if any), weighted by batch size. With
    /// full-batch training it is the loss of the whole set.
    pub loss: Vec<f64>,
    /// Training accuracy of every epoch (see [`EpochStats::accuracy`]).
    pub accuracy: Vec<f64>,
    /// Validation loss of every epoch (empty without validation data).
    pub val_loss: Vec<f64>,
    /// Validation accuracy of every epoch (empty without validation data).
    pub val_accuracy: Vec<f64>,
    /// Learning rate of every epoch.
    pub learning_rate: Vec<f64>,
    /// Seconds every epoch took (training and validation). Epochs shorter than 0.1 ms are timed
    /// in blocks, each epoch of a block getting the block's average, because reading the clock
    /// would otherwise cost a noticeable share of them.
    pub seconds: Vec<f64>,
    /// Optimizer steps taken.
    pub steps: usize,
    /// With early stopping: the epoch (counted from 0, as [`EpochStats::epoch`]) whose parameters
    /// the network ends with.
    pub best_epoch: Option<usize>,
    /// The epoch the history starts at: 0, or the [`start_epoch`](crate::FitConfig::start_epoch) of a
    /// resumed run. Entry `i` of every list is epoch `first_epoch + i`.
    pub first_epoch: usize,
    /// With [`FitConfig::diagnostics`](crate::FitConfig::diagnostics): the measurements of every
    /// measured epoch, in order (each names its epoch); empty without diagnostics.
    #[cfg_attr(feature = "serde", serde(default, skip_serializing_if = "Vec::is_empty"))]
    pub diagnostics: Vec<EpochDiagnostics>,
}

/// The last epoch's line (as progress lines print it), and the best epoch with early stopping:
/// `20000 epochs; last: epoch 20000  loss 0.006113  accuracy 1.0000  lr 1.000e-1  0.00s`.
impl fmt::Display for History {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.last() {
            None => write!(f, "no epochs"),
            Some(last) => {
                write!(f, "{} epochs; last: {last}", self.epochs())?;
                if let Some(best) = self.best_epoch {
                    write!(f, "; best: epoch {}", best + 1)?;
                }
                Ok(())
            }
        }
    }
}

impl History {
    /// The numbers of entry `i` (epoch [`first_epoch`](History::first_epoch)` + i`), if it exists.
    pub fn get(&self, i: usize) -> Option<EpochStats> {
        let at = |v: &[f64]| v.get(i).copied();
        Some(EpochStats {
            epoch: self.first_epoch + i,
            loss: at(&self.loss)?,
            accuracy: at(&self.accuracy).unwrap_or(f64::NAN),
            val_loss: at(&self.val_loss),
            val_accuracy: at(&self.val_accuracy),
            learning_rate: at(&self.learning_rate).unwrap_or(f64::NAN),
            seconds: at(&self.seconds).unwrap_or(f64::NAN),
        })
    }

    /// The numbers of the last epoch run, if any (`println!("{}", history.last()?)` prints it as
    /// a progress line).
    pub fn last(&self) -> Option<EpochStats> {
        self.get(self.loss.len().checked_sub(1)?)
    }

    /// The loss of the last epoch, if any.
    pub fn final_loss(&self) -> Option<f64> {
        self.loss.last().copied()
    }

    /// Number of epochs run.
    pub fn epochs(&self) -> usize {
        self.loss.len()
    }

    /// An empty history with room for `epochs` epochs (at most 2²⁰ reserved up front, for
    /// early stopping with a huge epoch limit): growing four vectors epoch by epoch is a
    /// measurable share of a tiny network's training time.
    pub(crate) fn with_capacity(epochs: usize) -> Self {
        let n = epochs.min(1 << 20);
        History {
            loss: Vec::with_capacity(n),
            accuracy: Vec::with_capacity(n),
            learning_rate: Vec::with_capacity(n),
            seconds: Vec::with_capacity(n),
            ..History::default()
        }
    }

    pub(crate) fn push(&mut self, s: &EpochStats) {
        self.loss.push(s.loss);
        self.accuracy.push(s.accuracy);
        if let (Some(l), Some(a)) = (s.val_loss, s.val_accuracy) {
            self.val_loss.push(l);
            self.val_accuracy.push(a);
        }
        self.learning_rate.push(s.learning_rate);
    }
}

/// Times epochs into [`History::seconds`].
///
/// Reading the clock costs tens of nanoseconds — a sixth of a whole XOR epoch — so unless every
/// epoch's time is wanted as it ends, epochs shorter than 0.1 ms are timed in blocks (of up to
/// 1024), and each epoch of a block gets the block's average.
pub(crate) struct EpochClock {
    start: Instant,
    pending: usize,
    stride: usize,
}

impl EpochClock {
    pub(crate) fn new() -> Self {
        EpochClock { start: Instant::now(), pending: 0, stride: 1 }
    }

    /// Ends an epoch; reads the clock when `now` is asked for or the block is full, writing the
    /// block's epochs into `seconds`. Returns this epoch's seconds (NaN if not yet measured).
    pub(crate) fn lap(&mut self, now: bool, seconds: &mut Vec<f64>) -> f64 {
        self.pending += 1;
        seconds.push(f64::NAN);
        if now || self.pending >= self.stride {
            let per_epoch = self.flush(seconds);
            self.stride = if per_epoch < 1e-4 { (self.stride * 2).min(1024) } else { 1 };
            return per_epoch;
        }
        f64::NAN
    }

    /// Measures the epochs still pending; returns their average seconds.
    pub(crate) fn flush(&mut self, seconds: &mut [f64]) -> f64 {
        if self.pending == 0 {
            return 0.0;
        }
        let now = Instant::now();
        let per_epoch = now.duration_since(self.start).as_secs_f64() / self.pending as f64;
        seconds.iter_mut().rev().take(self.pending).for_each(|s| *s = per_epoch);
        self.start = now;
        self.pending = 0;
        per_epoch
    }

    /// Starts the next epoch now.
    pub(crate) fn restart(&mut self) {
        self.start = Instant::now();
    }
}
