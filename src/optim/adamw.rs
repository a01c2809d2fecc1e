//! AdamW: Adam with decoupled weight decay.

use super::{Adam, Optimizer, WeightDecay};
use crate::{Param, Real, Result};
use nalgebra::DMatrix;

/// AdamW (Loshchilov & Hutter, "Decoupled Weight Decay Regularization",
/// <http://arxiv.org/abs/1711.05101>): [`Adam`] with [`WeightDecay::Decoupled`]`(λ)`.
///
/// ```text
/// t ← t + 1
/// m ← β₁·m + (1 − β₁)·g
/// v ← β₂·v + (1 − β₂)·g²
/// m̂ = m / (1 − β₁ᵗ),  v̂ = v / (1 − β₂ᵗ)
/// W ← W − η·(m̂ / (√v̂ + ε) + λ·W)
/// ```
///
/// element-wise, the decay only for parameters that [decay](Param::decays) (weights, not biases,
/// by default), with `β₁` = 0.9, `β₂` = 0.999, `ε` = 1e-8 and `λ` = 0.01 by default (PyTorch's).
/// The decay is scaled by the learning rate `η`, as in PyTorch's `AdamW`.
///
/// # Example
/// ```
/// use backprop::{AdamW, WeightDecay};
/// let adamw = AdamW::new(0.001)?;
/// assert_eq!(adamw.weight_decay(), WeightDecay::Decoupled(0.01));
/// let adamw = adamw.with_weight_decay(0.1)?;
/// assert_eq!(adamw.weight_decay(), WeightDecay::Decoupled(0.1));
/// assert!(AdamW::new(0.001)?.with_weight_decay(f64::NAN).is_err());
/// # Ok::<(), backprop::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct AdamW {
    adam: Adam,
}

impl AdamW {
    /// AdamW with learning rate `learning_rate`, `β₁` = 0.9, `β₂` = 0.999, `ε` = 1e-8, `λ` = 0.01.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`](crate::Error::InvalidConfig) named `"learning_rate"` unless the
    /// rate is finite and > 0.
    pub fn new(learning_rate: f64) -> Result<Self> {
        Ok(AdamW { adam: Adam::new(learning_rate)?.with_weight_decay(WeightDecay::Decoupled(0.01))? })
    }

    /// The same optimizer with decay rates `β₁ = beta1` and `β₂ = beta2`.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`](crate::Error::InvalidConfig) named `"beta1"` or `"beta2"`
    /// unless it is in `[0, 1)`.
    pub fn with_betas(self, beta1: f64, beta2: f64) -> Result<Self> {
        Ok(AdamW { adam: self.adam.with_betas(beta1, beta2)? })
    }

    /// The same optimizer with `ε = eps`.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`](crate::Error::InvalidConfig) named `"eps"` unless it is finite
    /// and > 0.
    pub fn with_eps(self, eps: f64) -> Result<Self> {
        Ok(AdamW { adam: self.adam.with_eps(eps)? })
    }

    /// The same optimizer with decoupled weight decay of strength `λ = lambda`.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`](crate::Error::InvalidConfig) named `"weight_decay"` unless it is
    /// finite and ≥ 0.
    pub fn with_weight_decay(self, lambda: f64) -> Result<Self> {
        Ok(AdamW { adam: self.adam.with_weight_decay(WeightDecay::Decoupled(lambda))? })
    }

    /// The learning rate `η`.
    pub fn learning_rate(&self) -> f64 {
        self.adam.learning_rate()
    }

    /// The decay rates `(β₁, β₂)`.
    pub fn betas(&self) -> (f64, f64) {
        self.adam.betas()
    }

    /// The `ε` added to the denominator.
    pub fn eps(&self) -> f64 {
        self.adam.eps()
    }

    /// The weight decay: always [`WeightDecay::Decoupled`].
    pub fn weight_decay(&self) -> WeightDecay {
        self.adam.weight_decay()
    }

    /// Steps taken so far, `t`.
    pub fn steps(&self) -> u64 {
        self.adam.steps()
    }
}

impl<T: Real> Optimizer<T> for AdamW {
    fn name(&self) -> &'static str {
        "adamw"
    }

    fn learning_rate(&self) -> f64 {
        self.adam.learning_rate()
    }

    fn set_learning_rate(&mut self, learning_rate: f64) -> Result<()> {
        Optimizer::<T>::set_learning_rate(&mut self.adam, learning_rate)
    }

    fn weight_decay(&self) -> WeightDecay {
        self.adam.weight_decay()
    }

    fn state(&self) -> Vec<(String, DMatrix<T>)> {
        self.adam.export_state()
    }

    fn set_state(&mut self, state: Vec<(String, DMatrix<T>)>) -> Result<()> {
        self.adam.import_state("adamw", state)
    }

    fn step(&mut self, params: &mut [&mut Param<T>]) -> Result<()> {
        self.adam.step_params(params)
    }
}
