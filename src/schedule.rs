//! Learning-rate schedules.

use crate::{Error, Result};

/// How the learning rate changes from epoch to epoch; `η₀` is the optimizer's rate when `fit`
/// starts and `e` the epoch, from 0.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Schedule {
    /// `η = η₀` throughout.
    #[default]
    Constant,
    /// `η = η₀ · gamma^⌊e / every⌋`: multiplied by `gamma` every `every` epochs.
    Step {
        /// Epochs between two cuts (≥ 1).
        every: usize,
        /// Factor of each cut, in (0, 1].
        gamma: f64,
    },
    /// `η = η₀ · gamma^e`.
    Exponential {
        /// Factor per epoch, in (0, 1].
        gamma: f64,
    },
    /// Cosine annealing (Loshchilov & Hutter 2017, <https://arxiv.org/abs/1608.03983>) over the
    /// configured epochs: `η = min + (η₀ − min)·(1 + cos(π·e/E))/2`.
    Cosine {
        /// The rate reached at the end, in [0, η₀).
        min_learning_rate: f64,
    },
}

impl Schedule {
    /// The smallest rate a schedule gives: `f32::MIN_POSITIVE` (1.18e-38), the smallest normal
    /// `f32`, so the rate stays a valid (finite, > 0) learning rate in either scalar type however
    /// long a decay runs. (`Exponential { gamma: 0.96 }` would reach 0 after about 18 000 epochs.)
    pub const MIN_RATE: f64 = f32::MIN_POSITIVE as f64;

    /// The learning rate of epoch `epoch` of `epochs`, starting from `base`; never below
    /// [`MIN_RATE`](Schedule::MIN_RATE).
    pub fn rate(&self, base: f64, epoch: usize, epochs: usize) -> f64 {
        self.unfloored(base, epoch, epochs).max(Self::MIN_RATE)
    }

    fn unfloored(&self, base: f64, epoch: usize, epochs: usize) -> f64 {
        match *self {
            Schedule::Constant => base,
            Schedule::Step { every, gamma } => base * power(gamma, epoch / every.max(1)),
            Schedule::Exponential { gamma } => base * power(gamma, epoch),
            Schedule::Cosine { min_learning_rate } => {
                let progress = epoch as f64 / epochs.max(1) as f64;
                min_learning_rate + (base - min_learning_rate) * (1.0 + (std::f64::consts::PI * progress).cos()) / 2.0
            }
        }
    }

    /// Checks the schedule for an optimizer whose rate is `base_rate` (`η₀`) when `fit` starts:
    /// the checks of its own settings, and a [`Cosine`](Schedule::Cosine) minimum below
    /// `base_rate` (else the rate would climb instead of anneal).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the setting: a `Step` of 0 epochs, a `gamma` outside
    /// (0, 1], a `min_learning_rate` that is negative, not finite, or not below `base_rate`.
    pub fn validate_for(&self, base_rate: f64) -> Result<()> {
        self.validate()?;
        match *self {
            Schedule::Cosine { min_learning_rate: m } if m >= base_rate || base_rate.is_nan() => {
                Err(Error::InvalidConfig {
                    name: "schedule min_learning_rate",
                    value: format!(
                        "{} with a learning rate of {}",
                        crate::check::number(m),
                        crate::check::number(base_rate)
                    ),
                    expected: "less than the optimizer's learning rate η₀ (the rate fit starts from)",
                })
            }
            _ => Ok(()),
        }
    }

    pub(crate) fn validate(&self) -> Result<()> {
        let bad = |name, value: f64, expected| {
            Err(Error::InvalidConfig { name, value: crate::check::number(value), expected })
        };
        match *self {
            Schedule::Step { every: 0, .. } => bad("schedule step", 0.0, ">= 1 epoch"),
            Schedule::Step { gamma, .. } | Schedule::Exponential { gamma } if !(gamma > 0.0 && gamma <= 1.0) => {
                bad("schedule gamma", gamma, "in (0, 1]")
            }
            Schedule::Cosine { min_learning_rate: m } if !(m.is_finite() && m >= 0.0) => {
                bad("schedule min_learning_rate", m, ">= 0 and finite")
            }
            _ => Ok(()),
        }
    }
}

/// `gamma^n`: `powi` (as before, bit for bit) while `n` fits an `i32`; beyond, `powf`, so that
/// epochs from 2³¹ on do not wrap to a negative power.
fn power(gamma: f64, n: usize) -> f64 {
    match i32::try_from(n) {
        Ok(n) => gamma.powi(n),
        Err(_) => gamma.powf(n as f64),
    }
}
