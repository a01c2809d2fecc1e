//! Gradient descent with momentum: classical (heavy-ball) and Nesterov's.

use super::hyper::{check_rate, AnyWeightDecay, Optim, Rule, Step, UpdateRule};
use super::state::Slot;
use crate::{Divergence, Real, Result};

/// Momentum (Polyak 1964; see Sutskever et al., <http://proceedings.mlr.press/v28/sutskever13.html>):
/// a velocity `v` that accumulates the gradients and moves the parameter.
///
/// ```text
/// v ← α·v − η·g
/// W ← W + v
/// ```
///
/// with learning rate `η`, momentum `α` (default 0.9, in `[0, 1)`) and `v` starting at 0 —
/// *Deep Learning from Scratch*'s `Momentum`. (PyTorch's `SGD(momentum=α)` keeps `v/(−η)`
/// instead, the same steps for a constant `η`.)
///
/// Weight decay: [`WeightDecay::L2`](crate::WeightDecay::L2)`(λ)` uses `g + λ·W` for `g`;
/// [`WeightDecay::Decoupled`](crate::WeightDecay::Decoupled)`(λ)` makes the second line
/// `W ← W + v − η·λ·W`. Default: none.
///
/// State: `<i>.velocity`, the velocity `v` of parameter `i`.
///
/// # Example
/// ```
/// use backprop::Momentum;
/// let momentum = Momentum::new(0.01).with_momentum(0.8);
/// assert_eq!(momentum.momentum(), 0.8);
/// assert!(Momentum::new(0.01).with_momentum(1.0).validate().is_err());
/// ```
pub type Momentum = Optim<MomentumRule<false>>;

/// Nesterov's Accelerated Gradient (<http://arxiv.org/abs/1212.0901>): momentum that looks ahead,
/// in the form of Bengio et al. (eq. 7 there), which needs the gradient at `W` only.
///
/// ```text
/// v ← α·v − η·g
/// W ← W + α·v − η·g        (with the new v; that is W + α²·v_old − (1 + α)·η·g)
/// ```
///
/// with learning rate `η`, momentum `α` (default 0.9, in `[0, 1)`) and `v` starting at 0 — the
/// same steps as PyTorch's `SGD(momentum=α, nesterov=True)`. (*Deep Learning from Scratch*'s
/// `Nesterov` adds `α²` times the *updated* velocity, which differs from the paper's formula.)
///
/// Weight decay: [`WeightDecay::L2`](crate::WeightDecay::L2)`(λ)` uses `g + λ·W` for `g`;
/// [`WeightDecay::Decoupled`](crate::WeightDecay::Decoupled)`(λ)` subtracts `η·λ·W` from `W` as
/// well. Default: none.
///
/// State: `<i>.velocity`, the velocity `v` of parameter `i`.
///
/// # Example
/// ```
/// use backprop::Nesterov;
/// let nesterov = Nesterov::new(0.01);
/// assert_eq!(nesterov.momentum(), 0.9);
/// assert!(Nesterov::new(0.01).with_momentum(-0.1).validate().is_err());
/// ```
pub type Nesterov = Optim<MomentumRule<true>>;

/// The update rule of [`Momentum`] (`NESTEROV = false`) and [`Nesterov`] (`true`), which share
/// everything but the last line of the update: the momentum `α`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MomentumRule<const NESTEROV: bool> {
    momentum: f64,
}

impl<const NESTEROV: bool> Optim<MomentumRule<NESTEROV>> {
    /// The same optimizer with momentum `α = momentum` (in `[0, 1)`, checked by
    /// [`validate`](Optim::validate)).
    pub fn with_momentum(mut self, momentum: f64) -> Self {
        self.rule.momentum = momentum;
        self
    }

    /// The momentum `α`.
    pub fn momentum(&self) -> f64 {
        self.rule.momentum
    }
}

impl<const NESTEROV: bool> UpdateRule for MomentumRule<NESTEROV> {}
impl<const NESTEROV: bool> AnyWeightDecay for MomentumRule<NESTEROV> {}

impl<const NESTEROV: bool> Rule for MomentumRule<NESTEROV> {
    const NAME: &'static str = if NESTEROV { "nesterov" } else { "momentum" };
    const DEFAULT: Self = MomentumRule { momentum: 0.9 };
    const SLOTS: &'static [Slot] = &[Slot::signed("velocity")];

    fn validate(&self) -> Result<()> {
        check_rate("momentum", self.momentum)
    }

    #[inline]
    fn update<T: Real>(&self, step: Step<'_, '_, T>) -> std::result::Result<(), Divergence> {
        let lr = step.lr;
        let alpha = T::cast(self.momentum);
        step.apply(false, move |(l2, decoupled), w, g, [v]| {
            let g = g + l2 * w;
            let v = alpha * v - lr * g;
            // Nesterov looks ahead along the new velocity: W + α·v − η·g.
            let step = if NESTEROV { alpha * v - lr * g } else { v };
            (w + (step - lr * decoupled * w), [v])
        })
    }
}
