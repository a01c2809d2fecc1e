//! Gradient descent with momentum: classical (heavy-ball) and Nesterov's.

use super::state::{with_slices, Slot, State};
use super::{check_learning_rate, check_rate, Optimizer, WeightDecay};
use crate::{Param, Real, Result};
use nalgebra::DMatrix;

/// The names of the state's buffers.
const SLOTS: [Slot; 1] = [Slot::signed("velocity")];

/// Gradient descent with momentum, classical or Nesterov's; use it as [`Momentum`] or
/// [`Nesterov`]. The two share everything but the last line of the update.
#[derive(Debug, Clone)]
pub struct MomentumSgd<const NESTEROV: bool> {
    learning_rate: f64,
    momentum: f64,
    weight_decay: WeightDecay,
    /// The velocity `v` of each parameter.
    state: State<1>,
}

impl<const NESTEROV: bool> MomentumSgd<NESTEROV> {
    /// Momentum (classical or Nesterov's, as the type says) with learning rate `learning_rate`,
    /// momentum 0.9, no weight decay.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`](crate::Error::InvalidConfig) named `"learning_rate"` unless the
    /// rate is finite and > 0.
    pub fn new(learning_rate: f64) -> Result<Self> {
        Ok(MomentumSgd {
            learning_rate: check_learning_rate(learning_rate)?,
            momentum: 0.9,
            weight_decay: WeightDecay::None,
            state: State::default(),
        })
    }

    /// The same optimizer with momentum `α = momentum`.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`](crate::Error::InvalidConfig) named `"momentum"` unless it is in
    /// `[0, 1)`.
    pub fn with_momentum(mut self, momentum: f64) -> Result<Self> {
        self.momentum = check_rate("momentum", momentum)?;
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

    /// The momentum `α`.
    pub fn momentum(&self) -> f64 {
        self.momentum
    }

    /// The weight decay.
    pub fn weight_decay(&self) -> WeightDecay {
        self.weight_decay
    }
}

impl<T: Real, const NESTEROV: bool> Optimizer<T> for MomentumSgd<NESTEROV> {
    fn name(&self) -> &'static str {
        if NESTEROV {
            "nesterov"
        } else {
            "momentum"
        }
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
        self.state = State::import(Optimizer::<T>::name(self), &SLOTS, state)?;
        Ok(())
    }

    fn step(&mut self, params: &mut [&mut Param<T>]) -> Result<()> {
        let buffers = self.state.prepare(params)?;
        let lr = T::cast(self.learning_rate);
        let alpha = T::cast(self.momentum);
        for (param, bufs) in params.iter_mut().zip(buffers.iter_mut()) {
            let (l2, decoupled) = self.weight_decay.coefficients::<T>(param.decays());
            let Some((value, grad)) = param.take_update_flat() else {
                continue;
            };
            with_slices(value, grad, bufs, |w, g, [v]| {
                for ((w, &g), v) in w.iter_mut().zip(g).zip(v.iter_mut()) {
                    let g = g + l2 * *w;
                    *v = alpha * *v - lr * g;
                    // Nesterov looks ahead along the new velocity: W + α·v − η·g.
                    let step = if NESTEROV { alpha * *v - lr * g } else { *v };
                    *w += step - lr * decoupled * *w;
                }
            });
        }
        Ok(())
    }
}

/// Momentum (Polyak 1964; see Sutskever et al., <http://proceedings.mlr.press/v28/sutskever13.html>):
/// a velocity `v` that accumulates the gradients and moves the parameter.
///
/// ```text
/// v ← α·v − η·g
/// W ← W + v
/// ```
///
/// with learning rate `η`, momentum `α` (default 0.9) and `v` starting at 0 — *Deep Learning
/// from Scratch*'s `Momentum`. (PyTorch's `SGD(momentum=α)` keeps `v/(−η)` instead, the same
/// steps for a constant `η`.)
///
/// Weight decay: [`WeightDecay::L2`]`(λ)` uses `g + λ·W` for `g`; [`WeightDecay::Decoupled`]`(λ)`
/// makes the second line `W ← W + v − η·λ·W`. Default: none.
///
/// # Example
/// ```
/// use backprop::Momentum;
/// let momentum = Momentum::new(0.01)?.with_momentum(0.8)?;
/// assert_eq!(momentum.momentum(), 0.8);
/// assert!(Momentum::new(0.01)?.with_momentum(1.0).is_err());
/// # Ok::<(), backprop::Error>(())
/// ```
pub type Momentum = MomentumSgd<false>;

/// Nesterov's Accelerated Gradient (<http://arxiv.org/abs/1212.0901>): momentum that looks ahead,
/// in the form of Bengio et al. (eq. 7 there), which needs the gradient at `W` only.
///
/// ```text
/// v ← α·v − η·g
/// W ← W + α·v − η·g        (with the new v; that is W + α²·v_old − (1 + α)·η·g)
/// ```
///
/// with learning rate `η`, momentum `α` (default 0.9) and `v` starting at 0 — the same steps as
/// PyTorch's `SGD(momentum=α, nesterov=True)`. (*Deep Learning from Scratch*'s `Nesterov` adds
/// `α²` times the *updated* velocity, which differs from the paper's formula.)
///
/// Weight decay: [`WeightDecay::L2`]`(λ)` uses `g + λ·W` for `g`; [`WeightDecay::Decoupled`]`(λ)`
/// subtracts `η·λ·W` from `W` as well. Default: none.
///
/// # Example
/// ```
/// use backprop::Nesterov;
/// let nesterov = Nesterov::new(0.01)?;
/// assert_eq!(nesterov.momentum(), 0.9);
/// assert!(Nesterov::new(0.01)?.with_momentum(-0.1).is_err());
/// # Ok::<(), backprop::Error>(())
/// ```
pub type Nesterov = MomentumSgd<true>;
