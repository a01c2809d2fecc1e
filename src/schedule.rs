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
            Schedule::Step { every, gamma } => base * gamma.powi((epoch / every.max(1)) as i32),
            Schedule::Exponential { gamma } => base * gamma.powi(epoch as i32),
            Schedule::Cosine { min_learning_rate } => {
                let progress = epoch as f64 / epochs.max(1) as f64;
                min_learning_rate + (base - min_learning_rate) * (1.0 + (std::f64::consts::PI * progress).cos()) / 2.0
            }
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
