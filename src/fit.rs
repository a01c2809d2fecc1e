//! Training: [`FitConfig`], [`History`] and the loop behind [`Network::fit`](crate::Network::fit).

use crate::layer::ensure_shape;
use crate::loss::check_finite;
use crate::network::check_rows;
use crate::{seeded, Error, Loss, Network, Optimizer, Real, Result, Stream};
use nalgebra::DMatrix;
use rand::RngExt;

/// How to train: the loss, the optimizer, epochs, batches and the seed.
///
/// Defaults: 1 epoch, full batch (every sample in one batch, the course's gradient descent),
/// shuffling on (it only matters with minibatches), seed 0.
///
/// The optimizer lives in the configuration, so calling `fit` again with the same configuration
/// continues with the optimizer's state.
///
/// # Example
/// ```
/// use backprop::{FitConfig, Sgd, SquaredError};
/// let config = FitConfig::<f64>::new(SquaredError::half_sum(), Sgd::new(0.1)?).epochs(20000);
/// assert_eq!(config.epoch_count(), 20000);
/// # Ok::<(), backprop::Error>(())
/// ```
#[derive(Debug)]
pub struct FitConfig<T: Real> {
    loss: Box<dyn Loss<T>>,
    optimizer: Box<dyn Optimizer<T>>,
    epochs: usize,
    batch_size: Option<usize>,
    shuffle: bool,
    seed: u64,
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
        }
    }

    /// Passes over the whole training set (at least 1).
    pub fn epochs(mut self, epochs: usize) -> Self {
        self.epochs = epochs;
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

    /// Seed of the shuffling order and of training-time randomness (dropout masks).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
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

    fn validate(&self) -> Result<()> {
        if self.epochs == 0 {
            return Err(Error::InvalidConfig {
                name: "epochs",
                value: "0".into(),
                expected: ">= 1",
            });
        }
        if self.batch_size == Some(0) {
            return Err(Error::InvalidConfig {
                name: "batch_size",
                value: "0".into(),
                expected: ">= 1",
            });
        }
        Ok(())
    }
}

/// What happened during training: the course's `Error_list` and more.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct History {
    /// The training loss of every epoch: the average of its batches' losses (computed before
    /// each batch's update), weighted by batch size. With full-batch training it is the loss of
    /// the whole set.
    pub loss: Vec<f64>,
    /// Optimizer steps taken.
    pub steps: usize,
}

impl History {
    /// The loss of the last epoch, if any.
    pub fn final_loss(&self) -> Option<f64> {
        self.loss.last().copied()
    }
}

pub(crate) fn fit<T: Real, N: Network<T>>(
    net: &mut N,
    x: &DMatrix<T>,
    t: &DMatrix<T>,
    config: &mut FitConfig<T>,
) -> Result<History> {
    config.validate()?;
    if x.nrows() == 0 || x.ncols() == 0 {
        return Err(Error::EmptyInput {
            what: "x",
            got: x.into(),
        });
    }
    if x.ncols() != net.input_width() {
        // predict reports the mismatch with the first layer's name.
        net.predict(&DMatrix::zeros(0, x.ncols()))?;
    }
    check_rows(x, t)?;
    check_finite("x", x)?;
    config.loss.check_targets(net.output_width(), t)?;

    let n = x.nrows();
    let batch = config.batch_size.unwrap_or(n).min(n);
    let mut shuffle_rng = seeded(config.seed, Stream::Shuffle);
    let mut train_rng = seeded(config.seed, Stream::Train);
    let mut order: Vec<usize> = (0..n).collect();
    let (mut xb, mut tb) = (DMatrix::zeros(0, 0), DMatrix::zeros(0, 0));
    let mut history = History {
        loss: Vec::with_capacity(config.epochs),
        steps: 0,
    };

    for epoch in 0..config.epochs {
        let mut sum = 0.0;
        let mut step = |net: &mut N, xb: &DMatrix<T>, tb: &DMatrix<T>, train_rng: &mut _| {
            net.train_step(xb, tb, config.loss.as_ref(), config.optimizer.as_mut(), train_rng)
                .map_err(|e| match e {
                    Error::Diverged { loss, .. } => Error::Diverged { epoch, loss },
                    e => e,
                })
        };
        if batch == n {
            // Full batch: the data itself, no copy.
            sum += step(net, x, t, &mut train_rng)?.to_f64() * n as f64;
            history.steps += 1;
        } else {
            if config.shuffle {
                shuffle(&mut order, &mut shuffle_rng);
            }
            for rows in order.chunks(batch) {
                gather_rows(x, rows, &mut xb);
                gather_rows(t, rows, &mut tb);
                sum += step(net, &xb, &tb, &mut train_rng)?.to_f64() * rows.len() as f64;
                history.steps += 1;
            }
        }
        history.loss.push(sum / n as f64);
    }
    Ok(history)
}

/// Fisher–Yates shuffle, drawing from the crate's seeded generator.
fn shuffle(order: &mut [usize], rng: &mut crate::SeededRng) {
    for i in (1..order.len()).rev() {
        let j = rng.random_range(0..=i);
        order.swap(i, j);
    }
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
