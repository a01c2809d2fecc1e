//! Training: [`FitConfig`] and the loop behind [`Network::fit`](crate::Network::fit).

use crate::history::EpochClock;
use crate::layer::ensure_shape;
use crate::loss::check_finite;
use crate::metrics::count_right;
use crate::network::check_rows;
use crate::{seeded, EpochStats, Error, History, Loss, Network, Optimizer, Real, Result, Schedule, SeededRng, Stream};
use nalgebra::DMatrix;
use rand::RngExt;
use std::fmt;

/// Where validation data comes from.
#[derive(Debug, Clone)]
enum Validation<T: Real> {
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
/// and the epoch's index alone (one [`SeededRng`] stream per purpose, each epoch drawing from its
/// own window of it, the order starting from the rows in order each epoch), not from what earlier
/// epochs drew. So a run is the same
/// whatever epoch it starts from, which resuming needs.
///
/// # Resuming
/// [`start_epoch`](FitConfig::start_epoch)`(e)` runs epochs `e..epochs` only, as the same run
/// started from 0 would run them: learning-rate schedules use the true epoch index,
/// [`EpochStats::epoch`] counts from 0 of the whole run, and the [`History`] holds the epochs
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
    loss: Box<dyn Loss<T>>,
    optimizer: Box<dyn Optimizer<T>>,
    epochs: usize,
    batch_size: Option<usize>,
    shuffle: bool,
    seed: u64,
    validation: Option<Validation<T>>,
    patience: Option<usize>,
    schedule: Schedule,
    progress: bool,
    callback: Option<Callback>,
    start_epoch: usize,
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
    /// the parameters of the best epoch.
    pub fn early_stopping(mut self, patience: usize) -> Self {
        self.patience = Some(patience);
        self
    }

    /// Changes the learning rate from epoch to epoch.
    pub fn schedule(mut self, schedule: Schedule) -> Self {
        self.schedule = schedule;
        self
    }

    /// Prints one line per epoch to standard error (off by default).
    pub fn progress(mut self, progress: bool) -> Self {
        self.progress = progress;
        self
    }

    /// Calls `callback` after every epoch; returning [`Control::Stop`] ends training.
    pub fn on_epoch(mut self, callback: impl FnMut(&EpochStats) -> Control + Send + 'static) -> Self {
        self.callback = Some(Box::new(callback));
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

    fn validate(&self) -> Result<()> {
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
        if let Some(Validation::Split(f)) = self.validation {
            if !(f > 0.0 && f < 1.0) {
                return invalid("validation_split", f.to_string(), "in (0, 1)");
            }
        }
        self.optimizer.validate()?;
        self.schedule.validate()
    }
}

/// Copies every parameter value of `net`, in order.
fn snapshot<T: Real, N: Network<T>>(net: &N) -> Vec<DMatrix<T>> {
    let mut values = Vec::new();
    net.visit_params(&mut |p| values.push(p.value().clone()));
    net.visit_buffers(&mut |_, m| values.push(m.clone()));
    values
}

/// Puts back values taken by [`snapshot`].
fn restore<T: Real, N: Network<T>>(net: &mut N, values: &[DMatrix<T>]) {
    let mut values = values.iter();
    net.visit_params_mut(&mut |p| {
        if let Some(v) = values.next() {
            p.value_mut().copy_from(v);
        }
    });
    net.visit_buffers_mut(&mut |_, m| {
        if let Some(v) = values.next() {
            m.copy_from(v);
        }
    });
}

/// Checks inputs and targets for `net` and `loss`.
fn check_data<T: Real, N: Network<T>>(
    net: &N,
    loss: &dyn Loss<T>,
    what: &'static str,
    x: &DMatrix<T>,
    t: &DMatrix<T>,
) -> Result<()> {
    if x.nrows() == 0 || x.ncols() == 0 {
        return Err(Error::EmptyInput { what, got: x.into() });
    }
    if x.ncols() != net.input_width() {
        // predict reports the mismatch with the first layer's name.
        net.predict(&DMatrix::zeros(0, x.ncols()))?;
    }
    check_rows(x, t)?;
    check_finite(what, x)?;
    loss.check_targets(net.output_width(), t)
}

pub(crate) fn fit<T: Real, N: Network<T>>(
    net: &mut N,
    x: &DMatrix<T>,
    t: &DMatrix<T>,
    config: &mut FitConfig<T>,
) -> Result<History> {
    config.validate()?;
    // Set the validation rows apart before checking anything else (a split copies both parts,
    // validation data is copied out of the configuration: once per fit, not per batch).
    let split = match &config.validation {
        Some(Validation::Split(f)) => {
            let n_val = ((x.nrows() as f64) * f).round() as usize;
            if n_val == 0 || n_val >= x.nrows() {
                return Err(Error::InvalidConfig {
                    name: "validation_split",
                    value: format!("{f} of {} rows", x.nrows()),
                    expected: "a fraction leaving at least one row on each side",
                });
            }
            Some(x.nrows() - n_val)
        }
        _ => None,
    };
    let (x_train, t_train, val) = match (split, &config.validation) {
        (Some(n), _) => {
            let rows = |m: &DMatrix<T>, r: std::ops::Range<usize>| m.rows(r.start, r.len()).into_owned();
            check_rows(x, t)?;
            let n_all = x.nrows();
            (
                std::borrow::Cow::Owned(rows(x, 0..n)),
                std::borrow::Cow::Owned(rows(t, 0..n)),
                Some((rows(x, n..n_all), rows(t, n..n_all))),
            )
        }
        (None, Some(Validation::Data(xv, tv))) => {
            (std::borrow::Cow::Borrowed(x), std::borrow::Cow::Borrowed(t), Some((xv.clone(), tv.clone())))
        }
        _ => (std::borrow::Cow::Borrowed(x), std::borrow::Cow::Borrowed(t), None),
    };
    let (x, t) = (x_train.as_ref(), t_train.as_ref());
    check_data(net, config.loss.as_ref(), "x", x, t)?;
    if let Some((xv, tv)) = &val {
        check_data(net, config.loss.as_ref(), "validation x", xv, tv)?;
    }

    let n = x.nrows();
    let batch = config.batch_size.unwrap_or(n).min(n);
    let mut shuffle_rng = seeded(config.seed, Stream::Shuffle);
    let mut train_rng = seeded(config.seed, Stream::Train);
    let mut order: Vec<usize> = (0..n).collect();
    let (mut xb, mut tb) = (DMatrix::zeros(0, 0), DMatrix::zeros(0, 0));
    // Minibatches are gathered from a sample-major copy of x (sample i is column i, contiguous):
    // gathering from x itself reads one element per column, a cache line each, for every sample.
    let samples = if batch < n { x.transpose() } else { DMatrix::zeros(0, 0) };
    let mut sample_buf = DMatrix::zeros(0, 0);
    let base_rate = config.optimizer.learning_rate();
    let mut history = History::with_capacity(config.epochs - config.start_epoch);
    history.first_epoch = config.start_epoch;
    let mut best: Option<(f64, usize, Vec<DMatrix<T>>)> = None;

    // Progress lines, callbacks and early stopping look at every epoch's numbers as they come.
    let watched = config.progress || config.callback.is_some() || config.patience.is_some();
    let mut clock = EpochClock::new();
    for epoch in config.start_epoch..config.epochs {
        to_epoch_stream(&mut train_rng, epoch);
        let rate = config.schedule.rate(base_rate, epoch, config.epochs);
        if config.schedule != Schedule::Constant {
            config.optimizer.set_learning_rate(rate)?;
        }
        let mut tally = Tally::default();
        if batch == n {
            // Full batch: the data itself, no copy.
            tally.step(net, config, x, t, &mut train_rng, epoch)?;
        } else {
            if config.shuffle {
                to_epoch_stream(&mut shuffle_rng, epoch);
                order.iter_mut().enumerate().for_each(|(i, o)| *o = i);
                shuffle(&mut order, &mut shuffle_rng);
            }
            for rows in order.chunks(batch) {
                gather_samples(&samples, rows, &mut sample_buf, &mut xb);
                gather_rows(t, rows, &mut tb);
                tally.step(net, config, &xb, &tb, &mut train_rng, epoch)?;
            }
        }
        history.steps += tally.steps;
        let (val_loss, val_accuracy) = match &val {
            Some((xv, tv)) => {
                let e = net.evaluate(xv, tv, config.loss.as_ref())?;
                (Some(e.loss), Some(e.accuracy))
            }
            None => (None, None),
        };
        let stats = EpochStats {
            epoch,
            loss: tally.loss / n as f64,
            accuracy: tally.correct / n as f64,
            val_loss,
            val_accuracy,
            learning_rate: config.optimizer.learning_rate(),
            seconds: clock.lap(watched, &mut history.seconds),
        };
        history.push(&stats);
        if config.progress {
            eprintln!("{stats}");
        }
        let mut stop = config.callback.as_mut().is_some_and(|cb| cb(&stats) == Control::Stop);
        if let Some(patience) = config.patience {
            let monitored = val_loss.unwrap_or(stats.loss);
            match &best {
                Some((value, _, _)) if monitored >= *value => {}
                _ => best = Some((monitored, epoch, snapshot(net))),
            }
            if best.as_ref().is_some_and(|(_, e, _)| epoch - e >= patience) {
                stop = true;
            }
        }
        if stop {
            break;
        }
        if watched {
            // The time the progress line, callback or snapshot took belongs to no epoch.
            clock.restart();
        }
    }
    clock.flush(&mut history.seconds);
    if let Some((_, epoch, values)) = best {
        restore(net, &values);
        history.best_epoch = Some(epoch);
    }
    Ok(history)
}

/// Loss and correct predictions summed over an epoch's batches.
#[derive(Default)]
struct Tally {
    loss: f64,
    correct: f64,
    steps: usize,
}

impl Tally {
    fn step<T: Real, N: Network<T>>(
        &mut self,
        net: &mut N,
        config: &mut FitConfig<T>,
        x: &DMatrix<T>,
        t: &DMatrix<T>,
        rng: &mut SeededRng,
        epoch: usize,
    ) -> Result<()> {
        let loss = net.train_step(x, t, config.loss.as_ref(), config.optimizer.as_mut(), rng).map_err(|e| match e {
            Error::Diverged { loss, .. } => Error::Diverged { epoch, loss },
            e => e,
        })?;
        let rows = x.nrows() as f64;
        self.loss += loss.to_f64() * rows;
        if let Some(y) = net.last_output() {
            self.correct += count_right(y, t)? as f64;
        }
        self.steps += 1;
        Ok(())
    }
}

/// Words of a generator's stream reserved for one epoch: 2³⁶ (enough for 2³⁴ `f64` draws).
const EPOCH_WORDS_LOG2: u32 = 36;

/// Points `rng`, made by [`seeded`]`(seed, stream)`, at the start of epoch `epoch`'s window of
/// its stream: word `epoch · 2³⁶`. The generator then draws what it would for that epoch
/// whatever it drew before. (ChaCha's word position has 68 bits, so 2³² epochs have windows.)
/// Moving the position is cheap; changing the stream number would cost more than a whole epoch
/// of the course's XOR network.
fn to_epoch_stream(rng: &mut SeededRng, epoch: usize) {
    rng.set_word_pos(((epoch as u64 & 0xffff_ffff) as u128) << EPOCH_WORDS_LOG2);
}

/// Fisher–Yates shuffle, drawing from the crate's seeded generator.
fn shuffle(order: &mut [usize], rng: &mut SeededRng) {
    for i in (1..order.len()).rev() {
        let j = rng.random_range(0..=i);
        order.swap(i, j);
    }
}

/// Copies samples `rows` of the sample-major `xs` (sample `r` is column `r`) into the rows of
/// `out` (resized to `rows.len() × xs.nrows()`): one contiguous copy per sample into `buf`
/// (`xs.nrows() × rows.len()`), then one transpose of the batch.
fn gather_samples<T: Real>(xs: &DMatrix<T>, rows: &[usize], buf: &mut DMatrix<T>, out: &mut DMatrix<T>) {
    let features = xs.nrows();
    ensure_shape(buf, features, rows.len());
    ensure_shape(out, rows.len(), features);
    for (dst, &r) in buf.as_mut_slice().chunks_exact_mut(features.max(1)).zip(rows) {
        dst.copy_from_slice(xs.column(r).as_slice());
    }
    buf.transpose_to(out);
}

/// Copies rows `rows` of `m` into `out` (resized to `rows.len() × m.ncols()`).
pub(crate) fn gather_rows<T: Real>(m: &DMatrix<T>, rows: &[usize], out: &mut DMatrix<T>) {
    ensure_shape(out, rows.len(), m.ncols());
    for j in 0..m.ncols() {
        let src = m.column(j);
        let mut dst = out.column_mut(j);
        for (k, &r) in rows.iter().enumerate() {
            dst[k] = src[r];
        }
    }
}
