//! AdaGrad: a learning rate per element, shrinking with the gradients seen.

use super::state::{with_slices, Slot, State};
use super::{check_eps, check_learning_rate, Optimizer, WeightDecay};
use crate::{Param, Real, Result};
use nalgebra::DMatrix;

/// The names of the state's buffers.
const SLOTS: [Slot; 1] = [Slot::non_negative("sum_squares")];

/// AdaGrad (Duchi et al., <http://jmlr.org/papers/v12/duchi11a.html>): every element's step is
/// divided by the root of the sum of its squared gradients so far.
///
/// ```text
/// h ← h + g²
/// W ← W − η·g / (√h + ε)
/// ```
///
/// element-wise, with learning rate `η`, `ε` = 1e-7 by default and `h` starting at 0 —
/// *Deep Learning from Scratch*'s `AdaGrad`.
///
/// Weight decay: [`WeightDecay::L2`]`(λ)` uses `g + λ·W` for `g`; [`WeightDecay::Decoupled`]`(λ)`
/// subtracts `η·λ·W` from `W` as well. Default: none.
///
/// # Example
/// ```
/// use backprop::AdaGrad;
/// let adagrad = AdaGrad::new(0.01)?.with_eps(1e-10)?;
/// assert_eq!(adagrad.eps(), 1e-10);
/// assert!(AdaGrad::new(0.01)?.with_eps(0.0).is_err());
/// # Ok::<(), backprop::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct AdaGrad {
    learning_rate: f64,
    eps: f64,
    weight_decay: WeightDecay,
    /// The sum of squared gradients `h` of each parameter.
    state: State<1>,
}

impl AdaGrad {
    /// AdaGrad with learning rate `learning_rate`, `ε` = 1e-7, no weight decay.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`](crate::Error::InvalidConfig) named `"learning_rate"` unless the
    /// rate is finite and > 0.
    pub fn new(learning_rate: f64) -> Result<Self> {
        Ok(AdaGrad {
            learning_rate: check_learning_rate(learning_rate)?,
            eps: 1e-7,
            weight_decay: WeightDecay::None,
            state: State::default(),
        })
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

    /// The `ε` added to the denominator.
    pub fn eps(&self) -> f64 {
        self.eps
    }

    /// The weight decay.
    pub fn weight_decay(&self) -> WeightDecay {
        self.weight_decay
    }
}

impl<T: Real> Optimizer<T> for AdaGrad {
    fn name(&self) -> &'static str {
        "adagrad"
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
        self.state = State::import("adagrad", &SLOTS, state)?;
        Ok(())
    }

    fn step(&mut self, params: &mut [&mut Param<T>]) -> Result<()> {
        let buffers = self.state.prepare(params)?;
        let lr = T::cast(self.learning_rate);
        let eps = T::cast(self.eps);
        for (param, bufs) in params.iter_mut().zip(buffers.iter_mut()) {
            let (l2, decoupled) = self.weight_decay.coefficients::<T>(param.decays());
            let Some((value, grad)) = param.take_update_flat() else {
                continue;
            };
            with_slices(value, grad, bufs, |w, g, [h]| {
                for ((w, &g), h) in w.iter_mut().zip(g).zip(h.iter_mut()) {
                    let g = g + l2 * *w;
                    *h += g * g;
                    *w -= lr * (g / (h.sqrt() + eps) + decoupled * *w);
                }
            });
        }
        Ok(())
    }
}
