//! RMSProp: AdaGrad with a forgetting running average.

use super::state::{with_slices, Slot, State};
use super::{check_eps, check_learning_rate, check_rate, Optimizer, WeightDecay};
use crate::{Param, Real, Result};
use nalgebra::DMatrix;

/// The names of the state's buffers.
const SLOTS: [Slot; 1] = [Slot::non_negative("mean_square")];

/// RMSProp (Hinton, *Neural Networks for Machine Learning*, lecture 6e,
/// <http://www.cs.toronto.edu/~tijmen/csc321/slides/lecture_slides_lec6.pdf>): every element's
/// step is divided by the root of a running average of its squared gradients.
///
/// ```text
/// h ← ρ·h + (1 − ρ)·g²
/// W ← W − η·g / (√h + ε)
/// ```
///
/// element-wise, with learning rate `η`, decay rate `ρ` = 0.99 and `ε` = 1e-7 by default and `h`
/// starting at 0 — *Deep Learning from Scratch*'s `RMSprop` (its `decay_rate` is `ρ`).
///
/// Weight decay: [`WeightDecay::L2`]`(λ)` uses `g + λ·W` for `g`; [`WeightDecay::Decoupled`]`(λ)`
/// subtracts `η·λ·W` from `W` as well. Default: none.
///
/// # Example
/// ```
/// use backprop::RmsProp;
/// let rmsprop = RmsProp::new(0.01)?.with_rho(0.9)?;
/// assert_eq!(rmsprop.rho(), 0.9);
/// assert!(RmsProp::new(0.01)?.with_rho(1.0).is_err());
/// # Ok::<(), backprop::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct RmsProp {
    learning_rate: f64,
    rho: f64,
    eps: f64,
    weight_decay: WeightDecay,
    /// The running average of squared gradients `h` of each parameter.
    state: State<1>,
}

impl RmsProp {
    /// RMSProp with learning rate `learning_rate`, `ρ` = 0.99, `ε` = 1e-7, no weight decay.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`](crate::Error::InvalidConfig) named `"learning_rate"` unless the
    /// rate is finite and > 0.
    pub fn new(learning_rate: f64) -> Result<Self> {
        Ok(RmsProp {
            learning_rate: check_learning_rate(learning_rate)?,
            rho: 0.99,
            eps: 1e-7,
            weight_decay: WeightDecay::None,
            state: State::default(),
        })
    }

    /// The same optimizer with decay rate `ρ = rho`.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`](crate::Error::InvalidConfig) named `"rho"` unless it is in
    /// `[0, 1)`.
    pub fn with_rho(mut self, rho: f64) -> Result<Self> {
        self.rho = check_rate("rho", rho)?;
        Ok(self)
    }

    /// The same optimizer with `ε = eps`.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`](crate::Error::InvalidConfig) named `"eps"` unless it is finite
    /// and > 0.
    pub fn with_eps(mut self, eps: f64) -> Result<Self> {
        self.eps = check_eps(eps)?;
        Ok(self)
    }

    /// The same optimizer with weight decay `weight_decay`.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`](crate::Error::InvalidConfig) named `"weight_decay"` unless `λ`
    /// is finite and ≥ 0.
    pub fn with_weight_decay(mut self, weight_decay: WeightDecay) -> Result<Self> {
        self.weight_decay = weight_decay.validate()?;
        Ok(self)
    }

    /// The learning rate `η`.
    pub fn learning_rate(&self) -> f64 {
        self.learning_rate
    }

    /// The decay rate `ρ` of the running average.
    pub fn rho(&self) -> f64 {
        self.rho
    }

    /// The `ε` added to the denominator.
    pub fn eps(&self) -> f64 {
        self.eps
    }

    /// The weight decay.
    pub fn weight_decay(&self) -> WeightDecay {
        self.weight_decay
    }
}

impl<T: Real> Optimizer<T> for RmsProp {
    fn name(&self) -> &'static str {
        "rmsprop"
    }

    fn learning_rate(&self) -> f64 {
        self.learning_rate
    }

    fn set_learning_rate(&mut self, learning_rate: f64) -> Result<()> {
        self.learning_rate = check_learning_rate(learning_rate)?;
        Ok(())
    }

    fn weight_decay(&self) -> WeightDecay {
        self.weight_decay
    }

    fn state(&self) -> Vec<(String, DMatrix<T>)> {
        self.state.export(&SLOTS)
    }

    fn set_state(&mut self, state: Vec<(String, DMatrix<T>)>) -> Result<()> {
        self.state = State::import("rmsprop", &SLOTS, state)?;
        Ok(())
    }

    fn step(&mut self, params: &mut [&mut Param<T>]) -> Result<()> {
        let buffers = self.state.prepare(params)?;
        let lr = T::cast(self.learning_rate);
        let rho = T::cast(self.rho);
        let one_minus_rho = T::cast(1.0 - self.rho);
        let eps = T::cast(self.eps);
        for (param, bufs) in params.iter_mut().zip(buffers.iter_mut()) {
            let (l2, decoupled) = self.weight_decay.coefficients::<T>(param.decays());
            let Some((value, grad)) = param.take_update_flat() else {
                continue;
            };
            with_slices(value, grad, bufs, |w, g, [h]| {
                for ((w, &g), h) in w.iter_mut().zip(g).zip(h.iter_mut()) {
                    let g = g + l2 * *w;
                    *h = rho * *h + one_minus_rho * g * g;
                    *w -= lr * (g / (h.sqrt() + eps) + decoupled * *w);
                }
            });
        }
        Ok(())
    }
}
