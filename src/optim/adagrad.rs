//! AdaGrad: a learning rate per element, shrinking with the gradients seen.

use super::hyper::{check_eps, AnyWeightDecay, Optim, Rule, Step, UpdateRule};
use super::state::Slot;
use crate::{Divergence, Real, Result};

/// AdaGrad (Duchi et al., <http://jmlr.org/papers/v12/duchi11a.html>): every element's step is
/// divided by the root of the sum of its squared gradients so far.
///
/// ```text
/// h ← h + g²
/// W ← W − η·g / (√h + ε)
/// ```
///
/// element-wise, with learning rate `η`, `ε` = 1e-7 by default (finite and > 0) and `h` starting
/// at 0 — *Deep Learning from Scratch*'s `AdaGrad`.
///
/// Weight decay: [`WeightDecay::L2`](crate::WeightDecay::L2)`(λ)` uses `g + λ·W` for `g`;
/// [`WeightDecay::Decoupled`](crate::WeightDecay::Decoupled)`(λ)` subtracts `η·λ·W` from `W` as
/// well. Default: none.
///
/// State: `<i>.sum_squares`, the sum of squared gradients `h` of parameter `i`.
///
/// # Example
/// ```
/// use backprop::AdaGrad;
/// let adagrad = AdaGrad::new(0.01).with_eps(1e-10);
/// assert_eq!(adagrad.eps(), 1e-10);
/// assert!(AdaGrad::new(0.01).with_eps(0.0).validate().is_err());
/// ```
pub type AdaGrad = Optim<AdaGradRule>;

/// AdaGrad's update rule and its hyperparameter `ε`; see [`AdaGrad`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdaGradRule {
    eps: f64,
}

impl AdaGrad {
    /// The same optimizer with `ε = eps` (finite and > 0, checked by [`validate`](Optim::validate)).
    pub fn with_eps(mut self, eps: f64) -> Self {
        self.rule.eps = eps;
        self
    }

    /// The `ε` added to the denominator.
    pub fn eps(&self) -> f64 {
        self.rule.eps
    }
}

impl UpdateRule for AdaGradRule {}
impl AnyWeightDecay for AdaGradRule {}

impl Rule for AdaGradRule {
    const NAME: &'static str = "adagrad";
    const DEFAULT: Self = AdaGradRule { eps: 1e-7 };
    const SLOTS: &'static [Slot] = &[Slot::non_negative("sum_squares")];

    fn eps(&self) -> Option<f64> {
        Some(self.eps)
    }

    fn validate(&self) -> Result<()> {
        check_eps(self.eps)
    }

    #[inline]
    fn update<T: Real>(&self, step: Step<'_, '_, T>) -> std::result::Result<(), Divergence> {
        let lr = step.lr;
        let eps = T::cast(self.eps);
        step.apply(true, move |(l2, decoupled), w, g, [h]| {
            let g = g + l2 * w;
            let h = h + g * g;
            (w - lr * (g / (h.sqrt() + eps) + decoupled * w), [h])
        })
    }
}
