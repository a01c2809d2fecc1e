//! RMSProp: AdaGrad with a forgetting running average.

use super::hyper::{check_eps, check_rate, AnyWeightDecay, Optim, Rule, Step, UpdateRule};
use super::state::Slot;
use crate::{Divergence, Real, Result};

/// RMSProp (Hinton, *Neural Networks for Machine Learning*, lecture 6e,
/// <http://www.cs.toronto.edu/~tijmen/csc321/slides/lecture_slides_lec6.pdf>): every element's
/// step is divided by the root of a running average of its squared gradients.
///
/// ```text
/// h ← ρ·h + (1 − ρ)·g²
/// W ← W − η·g / (√h + ε)
/// ```
///
/// element-wise, with learning rate `η`, decay rate `ρ` = 0.99 (in `[0, 1)`) and `ε` = 1e-7
/// (finite and > 0) by default and `h` starting at 0 — *Deep Learning from Scratch*'s `RMSprop`
/// (its `decay_rate` is `ρ`).
///
/// Weight decay: [`WeightDecay::L2`](crate::WeightDecay::L2)`(λ)` uses `g + λ·W` for `g`;
/// [`WeightDecay::Decoupled`](crate::WeightDecay::Decoupled)`(λ)` subtracts `η·λ·W` from `W` as
/// well. Default: none.
///
/// State: `<i>.mean_square`, the running average of squared gradients `h` of parameter `i`.
///
/// # Example
/// ```
/// use backprop::RmsProp;
/// let rmsprop = RmsProp::new(0.01).with_rho(0.9);
/// assert_eq!(rmsprop.rho(), 0.9);
/// assert!(RmsProp::new(0.01).with_rho(1.0).validate().is_err());
/// ```
pub type RmsProp = Optim<RmsPropRule>;

/// RMSProp's update rule and its hyperparameters `ρ` and `ε`; see [`RmsProp`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RmsPropRule {
    rho: f64,
    eps: f64,
}

impl RmsProp {
    /// The same optimizer with decay rate `ρ = rho` (in `[0, 1)`, checked by
    /// [`validate`](Optim::validate)).
    pub fn with_rho(mut self, rho: f64) -> Self {
        self.rule.rho = rho;
        self
    }

    /// The same optimizer with `ε = eps` (finite and > 0, checked by [`validate`](Optim::validate)).
    pub fn with_eps(mut self, eps: f64) -> Self {
        self.rule.eps = eps;
        self
    }

    /// The decay rate `ρ` of the running average.
    pub fn rho(&self) -> f64 {
        self.rule.rho
    }

    /// The `ε` added to the denominator.
    pub fn eps(&self) -> f64 {
        self.rule.eps
    }
}

impl UpdateRule for RmsPropRule {}
impl AnyWeightDecay for RmsPropRule {}

impl Rule for RmsPropRule {
    const NAME: &'static str = "rmsprop";
    const DEFAULT: Self = RmsPropRule { rho: 0.99, eps: 1e-7 };
    const SLOTS: &'static [Slot] = &[Slot::non_negative("mean_square")];

    fn eps(&self) -> Option<f64> {
        Some(self.eps)
    }

    fn validate(&self) -> Result<()> {
        check_rate("rho", self.rho)?;
        check_eps(self.eps)
    }

    #[inline]
    fn update<T: Real>(&self, step: Step<'_, '_, T>) -> std::result::Result<(), Divergence> {
        let lr = step.lr;
        let rho = T::cast(self.rho);
        let one_minus_rho = T::cast(1.0 - self.rho);
        let eps = T::cast(self.eps);
        step.apply(true, move |(l2, decoupled), w, g, [h]| {
            let g = g + l2 * w;
            let h = rho * h + one_minus_rho * g * g;
            (w - lr * (g / (h.sqrt() + eps) + decoupled * w), [h])
        })
    }
}
