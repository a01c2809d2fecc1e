//! How to train: [`FitConfig`], what [`Network::fit`](crate::Network::fit) runs.

use crate::diagnostics::Diagnostics;
use crate::feed::Feed;
use crate::{EpochStats, Error, Loss, Optimizer, Real, Result, Schedule};
use nalgebra::DMatrix;
use std::fmt;

/// Where validation data comes from.
#[derive(Debug, Clone)]
pub(crate) enum Validation<T: Real> {
    /// Separate inputs and targets.
    Data(DMatrix<T>, DMatrix<T>),
    /// The last `fraction` of the training rows, set aside before any shuffling (as Keras does).
    Split(f64),
}

/// What a per-epoch callback tells the training loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Go on training.
    Continue,
    /// Stop after this epoch.
    Stop,
}

/// The plain settings of a [`FitConfig`] — everything but the loss, the optimizer, validation
/// data and the callback — to record or restore a run's setup (with feature `serde`, as JSON
/// or any serde format). [`FitConfig::settings`] reads them, [`FitConfig::with_settings`] applies
/// them.
///
/// # Example
/// ```
/// use backprop::{FitConfig, Schedule, Sgd, SquaredError};
/// let config = FitConfig::<f64>::new(SquaredError::mean(), Sgd::new(0.1)).epochs(30).batch_size(16).seed(7);
/// let settings = config.settings();
/// assert_eq!((settings.epochs, settings.batch_size, settings.seed), (30, Some(16), 7));
/// let again = FitConfig::<f64>::new(SquaredError::mean(), Sgd::new(0.1)).with_settings(&settings);
/// assert_eq!(again.settings(), settings);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct FitSettings {
    /// [`FitConfig::epochs`].
    pub epochs: usize,
    /// [`FitConfig::start_epoch`].
    pub start_epoch: usize,
    /// [`FitConfig::batch_size`]; `None` for full batch.
    pub batch_size: Option<usize>,
    /// [`FitConfig::shuffle`].
    pub shuffle: bool,
    /// [`FitConfig::seed`].
    pub seed: u64,
    /// [`FitConfig::validation_split`]; `None` without one (validation data is not a setting).
    pub validation_split: Option<f64>,
    /// [`FitConfig::early_stopping`]'s patience.
    pub patience: Option<usize>,
    /// [`FitConfig::schedule`].
    pub schedule: Schedule,
    /// [`FitConfig::progress`].
    pub progress: bool,
}

type Callback = Box<dyn FnMut(&EpochStats) -> Control + Send>;

/// How to train: the loss, the optimizer, epochs, batches, the seed, and the optional extras
/// (validation, early stopping, a learning-rate schedule, progress lines, a callback).
///
/// Defaults: 1 epoch, full batch (every sample in one batch, the course's gradient descent),
/// shuffling on (it only matters with minibatches), seed 0, no validation, constant learning rate,
/// silent.
///
/// The optimizer lives in the configuration, so calling `fit` again with the same configuration
/// continues with the optimizer's state.
///
/// # Randomness
/// Each epoch's shuffling order and dropout masks come from generators determined by the seed
/// and the epoch's index alone (one [`SeededRng`](crate::SeededRng) stream per purpose, each epoch drawing from its
/// own window of it, the order starting from the rows in order each epoch), not from what earlier
/// epochs drew. So a run is the same
/// whatever epoch it starts from, which resuming needs.
///
/// # Resuming
/// [`start_epoch`](FitConfig::start_epoch)`(e)` runs epochs `e..epochs` only, as the same run
/// started from 0 would run them: learning-rate schedules use the true epoch index,
/// [`EpochStats::epoch`] counts from 0 of the whole run, and the [`History`](crate::History) holds the epochs
/// run. With a network and an optimizer state saved after epoch `e`
/// ([`Sequential::save_checkpoint`](crate::Sequential::save_checkpoint), loaded back with
/// [`Sequential::load_checkpoint`](crate::Sequential::load_checkpoint)), the resumed run ends
/// with bit-for-bit the parameters of an uninterrupted one. Early stopping looks only at the
/// epochs run since the start.
///
/// # Example
/// ```
/// use backprop::{FitConfig, Sgd, SquaredError};
/// let config = FitConfig::<f64>::new(SquaredError::half_sum(), Sgd::new(0.1)).epochs(20000);
/// assert_eq!(config.epoch_count(), 20000);
/// # Ok::<(), backprop::Error>(())
/// ```
pub struct FitConfig<T: Real> {
    pub(crate) loss: Box<dyn Loss<T>>,
    pub(crate) optimizer: Box<dyn Optimizer<T>>,
    pub(crate) epochs: usize,
    pub(crate) batch_size: Option<usize>,
    pub(crate) shuffle: bool,
    pub(crate) seed: u64,
    pub(crate) validation: Option<Validation<T>>,
    pub(crate) patience: Option<usize>,
    pub(crate) schedule: Schedule,
    pub(crate) progress: bool,
    pub(crate) callback: Option<Callback>,
    pub(crate) start_epoch: usize,
    pub(crate) diagnostics: Option<Diagnostics>,
    /// The minibatch buffers, kept between `fit` calls (not part of the configuration: a copy
    /// starts without them).
    pub(crate) feed: Feed<T>,
}

impl<T: Real> fmt::Debug for FitConfig<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FitConfig")
            .field("loss", &self.loss)
            .field("optimizer", &self.optimizer)
            .field("epochs", &self.epochs)
            .field("batch_size", &self.batch_size)
            .field("shuffle", &self.shuffle)
            .field("seed", &self.seed)
            .field("validation", &self.validation.as_ref().map(|_| "set"))
            .field("patience", &self.patience)
            .field("schedule", &self.schedule)
            .field("progress", &self.progress)
            .field("callback", &self.callback.as_ref().map(|_| "set"))
            .field("start_epoch", &self.start_epoch)
            .field("diagnostics", &self.diagnostics)
            .finish()
    }
}

impl<T: Real> FitConfig<T> {
    /// Training with `loss` and `optimizer`, 1 epoch, full batch, seed 0.
    pub fn new(loss: impl Loss<T> + 'static, optimizer: impl Optimizer<T> + 'static) -> Self {
        FitConfig {
            loss: Box::new(loss),
            optimizer: Box::new(optimizer),
            epochs: 1,
            batch_size: None,
            shuffle: true,
            seed: 0,
            validation: None,
            patience: None,
            schedule: Schedule::Constant,
            progress: false,
            callback: None,
            start_epoch: 0,
            diagnostics: None,
            feed: Feed::default(),
        }
    }

    /// Passes over the whole training set (at least 1).
    pub fn epochs(mut self, epochs: usize) -> Self {
        self.epochs = epochs;
        self
    }

    /// The epoch to start from (0 by default), to resume an interrupted run: `fit` then runs
    /// epochs `start_epoch..epochs` as the whole run would (see [Resuming](FitConfig#resuming)).
    /// It must be less than [`epochs`](FitConfig::epochs), else `fit` is an
    /// [`Error::InvalidConfig`].
    pub fn start_epoch(mut self, epoch: usize) -> Self {
        self.start_epoch = epoch;
        self
    }

    /// Samples per minibatch (at least 1); larger than the data means one batch per epoch.
    pub fn batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = Some(batch_size);
        self
    }

    /// Whether minibatches are drawn from a fresh shuffle each epoch (on by default); off takes
    /// the rows in order.
    pub fn shuffle(mut self, shuffle: bool) -> Self {
        self.shuffle = shuffle;
        self
    }

    /// Seed of the shuffling order and of training-time randomness (dropout masks); see
    /// [Randomness](FitConfig#randomness).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Measures loss and accuracy on `x`, `t` after every epoch (the data is copied into the
    /// configuration).
    pub fn validation_data(mut self, x: &DMatrix<T>, t: &DMatrix<T>) -> Self {
        self.validation = Some(Validation::Data(x.clone(), t.clone()));
        self
    }

    /// Sets aside the last `fraction` (in (0, 1)) of the training rows, before any shuffling,
    /// as validation data.
    pub fn validation_split(mut self, fraction: f64) -> Self {
        self.validation = Some(Validation::Split(fraction));
        self
    }

    /// Stops when the monitored loss (validation loss if there is validation data, else
    /// training loss) has not improved for `patience` epochs, and in any case ends training with
    /// the parameters of the best epoch — also when a later step fails, training diverging
    /// (see [`Error::Diverged`](crate::Error::Diverged)) or any other error.
    pub fn early_stopping(mut self, patience: usize) -> Self {
        self.patience = Some(patience);
        self
    }

    /// Changes the learning rate from epoch to epoch.
    pub fn schedule(mut self, schedule: Schedule) -> Self {
        self.schedule = schedule;
        self
    }

    /// Shows training progress on standard error (off by default): one line per epoch (its
    /// [`EpochStats`] as `Display` prints them, epochs numbered from 1).
    ///
    /// With the cargo feature `progress-bar` and standard error a terminal, each epoch of more
    /// than one batch also gets a bar while it runs — batches done, time elapsed, ETA, running
    /// loss and accuracy — which the epoch's line replaces when it ends:
    ///
    /// ```text
    /// epoch    1  loss 0.355146  accuracy 0.8927  val_loss 0.107168  val_accuracy 0.9708  lr 1.000e-3  2.50s
    /// epoch 2/3 [================>             ] 230/430 batches  2s elapsed, ETA 1s  loss 0.1071  accuracy 0.9677
    /// ```
    ///
    /// When standard error is not a terminal (a log file, CI), only the lines are written.
    pub fn progress(mut self, progress: bool) -> Self {
        self.progress = progress;
        self
    }

    /// Calls `callback` after every epoch; returning [`Control::Stop`] ends training.
    pub fn on_epoch(mut self, callback: impl FnMut(&EpochStats) -> Control + Send + 'static) -> Self {
        self.callback = Some(Box::new(callback));
        self
    }

    /// Measures inside the network while training, as `diagnostics` says (off by default; see
    /// [`diagnostics`](crate::diagnostics)): per layer the output's mean, standard deviation and
    /// saturated or dead units, per parameter the gradient's norm and the update-to-weight ratio,
    /// optionally activation histograms — into
    /// [`History::diagnostics`](crate::History::diagnostics). Training itself is unchanged: the
    /// same seed gives the same weights with or without them.
    ///
    /// Not part of [`FitSettings`].
    ///
    /// # Example
    /// ```
    /// use backprop::diagnostics::Diagnostics;
    /// use backprop::{FitConfig, Sgd, SoftmaxCrossEntropy};
    /// let config = FitConfig::<f32>::new(SoftmaxCrossEntropy, Sgd::new(0.1))
    ///     .epochs(20)
    ///     .diagnostics(Diagnostics::every_epoch().histograms(30));
    /// # let _ = config;
    /// ```
    pub fn diagnostics(mut self, diagnostics: Diagnostics) -> Self {
        self.diagnostics = Some(diagnostics);
        self
    }

    /// A copy of the configuration: the loss, the optimizer with its state (so the copy goes on
    /// from the same point), validation, schedule and every setting.
    ///
    /// `FitConfig` is not `Clone`: the loss and the optimizer are trait objects, copied through
    /// [`Loss::clone_box`] and [`Optimizer::clone_box`], which a custom one may not provide,
    /// and the [`on_epoch`](FitConfig::on_epoch) callback is a closure, which cannot be copied.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] if a callback is set (set one on the copy instead), or if the
    /// loss or the optimizer cannot be copied (its `clone_box` gives `None`).
    ///
    /// # Example
    /// ```
    /// use backprop::{Adam, FitConfig, Optimizer, SoftmaxCrossEntropy};
    /// let config = FitConfig::<f32>::new(SoftmaxCrossEntropy, Adam::new(1e-3)).epochs(5).batch_size(32);
    /// let copy = config.try_clone()?;
    /// assert_eq!(copy.settings(), config.settings());
    /// assert_eq!(copy.optimizer().name(), "adam");
    /// # Ok::<(), backprop::Error>(())
    /// ```
    pub fn try_clone(&self) -> Result<Self> {
        if self.callback.is_some() {
            return Err(Error::InvalidConfig {
                name: "on_epoch callback",
                value: "set".into(),
                expected: "no callback when copying a FitConfig (a closure cannot be copied; set one on the copy)",
            });
        }
        let cannot = |name: &'static str, value: &str| Error::InvalidConfig {
            name,
            value: value.to_string(),
            expected: "one whose clone_box gives a copy",
        };
        let loss = self.loss.clone_box().ok_or_else(|| cannot("loss", self.loss.name()))?;
        let optimizer = self.optimizer.clone_box().ok_or_else(|| cannot("optimizer", self.optimizer.name()))?;
        Ok(FitConfig {
            loss,
            optimizer,
            epochs: self.epochs,
            batch_size: self.batch_size,
            shuffle: self.shuffle,
            seed: self.seed,
            validation: self.validation.clone(),
            patience: self.patience,
            schedule: self.schedule,
            progress: self.progress,
            callback: None,
            start_epoch: self.start_epoch,
            diagnostics: self.diagnostics.clone(),
            feed: Feed::default(),
        })
    }

    /// The plain settings (see [`FitSettings`]).
    pub fn settings(&self) -> FitSettings {
        FitSettings {
            epochs: self.epochs,
            start_epoch: self.start_epoch,
            batch_size: self.batch_size,
            shuffle: self.shuffle,
            seed: self.seed,
            validation_split: match self.validation {
                Some(Validation::Split(f)) => Some(f),
                _ => None,
            },
            patience: self.patience,
            schedule: self.schedule,
            progress: self.progress,
        }
    }

    /// Applies `settings` (all of them; a `validation_split` of `None` keeps validation data
    /// set with [`validation_data`](FitConfig::validation_data) but drops a split).
    pub fn with_settings(mut self, settings: &FitSettings) -> Self {
        self.epochs = settings.epochs;
        self.start_epoch = settings.start_epoch;
        self.batch_size = settings.batch_size;
        self.shuffle = settings.shuffle;
        self.seed = settings.seed;
        match (settings.validation_split, &self.validation) {
            (Some(f), _) => self.validation = Some(Validation::Split(f)),
            (None, Some(Validation::Split(_))) => self.validation = None,
            (None, _) => {}
        }
        self.patience = settings.patience;
        self.schedule = settings.schedule;
        self.progress = settings.progress;
        self
    }

    /// The number of epochs.
    pub fn epoch_count(&self) -> usize {
        self.epochs
    }

    /// The loss.
    pub fn loss(&self) -> &dyn Loss<T> {
        self.loss.as_ref()
    }

    /// The optimizer.
    pub fn optimizer(&self) -> &dyn Optimizer<T> {
        self.optimizer.as_ref()
    }

    /// The optimizer, to change (e.g. to restore its [state](Optimizer::set_state)).
    pub fn optimizer_mut(&mut self) -> &mut dyn Optimizer<T> {
        self.optimizer.as_mut()
    }

    /// Checks the settings that do not depend on the data.
    pub(crate) fn validate(&self) -> Result<()> {
        let invalid = |name, value: String, expected| Err(Error::InvalidConfig { name, value, expected });
        if self.epochs == 0 {
            return invalid("epochs", "0".into(), ">= 1");
        }
        if self.start_epoch >= self.epochs {
            return invalid(
                "start_epoch",
                format!("{} of {} epochs", self.start_epoch, self.epochs),
                "less than the number of epochs",
            );
        }
        if self.batch_size == Some(0) {
            return invalid("batch_size", "0".into(), ">= 1");
        }
        if self.patience == Some(0) {
            return invalid("early_stopping patience", "0".into(), ">= 1 epoch without improvement");
        }
        if let Some(Validation::Split(f)) = self.validation {
            if !(f > 0.0 && f < 1.0) {
                return invalid("validation_split", crate::check::number(f), "in (0, 1)");
            }
        }
        if let Some(d) = &self.diagnostics {
            d.validate()?;
        }
        self.optimizer.validate()?;
        self.schedule.validate_for(self.optimizer.learning_rate())
    }
}
