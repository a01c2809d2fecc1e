//! Adam: momentum and RMSProp together, with bias correction.

use super::hyper::{check_eps, check_rate, AnyWeightDecay, Optim, Rule, Step, UpdateRule};
use super::state::Slot;
use super::WeightDecay;
use crate::{Divergence, Real, Result};

/// Adam (<http://arxiv.org/abs/1412.6980v8>): running averages of the gradient and of its square,
/// corrected for starting at 0.
///
/// ```text
/// t ← t + 1
/// m ← β₁·m + (1 − β₁)·g
/// v ← β₂·v + (1 − β₂)·g²
/// m̂ = m / (1 − β₁ᵗ),  v̂ = v / (1 − β₂ᵗ)
/// W ← W − η·m̂ / (√v̂ + ε)
/// ```
///
/// element-wise, with learning rate `η` (the paper's `α`; 0.001 is its suggestion), `β₁` = 0.9,
/// `β₂` = 0.999 (both in `[0, 1)`) and `ε` = 1e-8 (finite and > 0) by default (the paper's and
/// PyTorch's), and `m`, `v`, `t` starting at 0. (*Deep Learning from Scratch*'s `Adam` adds its
/// `ε` = 1e-7 to `√v` rather than `√v̂`.)
///
/// Weight decay: [`WeightDecay::L2`]`(λ)` uses `g + λ·W` for `g` (PyTorch's
/// `Adam(weight_decay=λ)`); [`WeightDecay::Decoupled`]`(λ)` subtracts `η·λ·W` from `W` as well,
/// which is [`AdamW`](crate::AdamW). Default: none.
///
/// Moments below the smallest normal value of the scalar type (about 1.2e-38 in `f32`) are set
/// to 0: long runs leave many of them subnormal (gradients that vanish for some weights), and
/// arithmetic on subnormal values is many times slower on common CPUs — on MNIST, Adam's later
/// epochs took 1.6–1.7× as long as its first. Such a moment contributes less than `1e-30`·η to
/// a step; on the mnist-mlp run (5 epochs) the final loss and test accuracy are unchanged to the
/// printed digits (see CHANGELOG.md).
///
/// State: `<i>.m` and `<i>.v`, the moments of parameter `i`, and `steps`, the count `t`.
///
/// # Example
/// ```
/// use backprop::{Adam, Error, WeightDecay};
/// let adam = Adam::new(1e-3).with_betas(0.8, 0.99).with_eps(1e-7).with_weight_decay(WeightDecay::L2(1e-4));
/// assert_eq!((adam.betas(), adam.eps()), ((0.8, 0.99), 1e-7));
/// assert!(adam.validate().is_ok());
/// let bad = Adam::new(1e-3).with_betas(0.9, 1.0);
/// assert!(matches!(bad.validate(), Err(Error::InvalidConfig { name: "beta2", .. })));
/// ```
pub type Adam = Optim<AdamRule<false>>;

/// The update rule of [`Adam`] (`ADAMW = false`) and [`AdamW`](crate::AdamW) (`true`), and their
/// hyperparameters `β₁`, `β₂` and `ε`. The two differ only in their name and weight decay.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamRule<const ADAMW: bool> {
    beta1: f64,
    beta2: f64,
    eps: f64,
}

impl<const ADAMW: bool> Optim<AdamRule<ADAMW>> {
    /// The same optimizer with decay rates `β₁ = beta1` (of `m`) and `β₂ = beta2` (of `v`), each
    /// in `[0, 1)` (checked by [`validate`](Optim::validate)).
    pub fn with_betas(mut self, beta1: f64, beta2: f64) -> Self {
        self.rule.beta1 = beta1;
        self.rule.beta2 = beta2;
        self
    }

    /// The same optimizer with `ε = eps` (finite and > 0, checked by [`validate`](Optim::validate)).
    pub fn with_eps(mut self, eps: f64) -> Self {
        self.rule.eps = eps;
        self
    }

    /// The decay rates `(β₁, β₂)`.
    pub fn betas(&self) -> (f64, f64) {
        (self.rule.beta1, self.rule.beta2)
    }

    /// The `ε` added to the denominator.
    pub fn eps(&self) -> f64 {
        self.rule.eps
    }

    /// Steps taken so far, `t`.
    pub fn steps(&self) -> u64 {
        self.steps
    }
}

impl<const ADAMW: bool> UpdateRule for AdamRule<ADAMW> {}
impl AnyWeightDecay for AdamRule<false> {}

impl<const ADAMW: bool> Rule for AdamRule<ADAMW> {
    const NAME: &'static str = if ADAMW { "adamw" } else { "adam" };
    const DEFAULT: Self = AdamRule { beta1: 0.9, beta2: 0.999, eps: 1e-8 };
    const WEIGHT_DECAY: WeightDecay = if ADAMW { WeightDecay::Decoupled(0.01) } else { WeightDecay::None };
    const SLOTS: &'static [Slot] = &[Slot::signed("m"), Slot::non_negative("v")];
    const COUNTS_STEPS: bool = true;

    fn eps(&self) -> Option<f64> {
        Some(self.eps)
    }

    fn validate(&self) -> Result<()> {
        check_rate("beta1", self.beta1)?;
        check_rate("beta2", self.beta2)?;
        check_eps(self.eps)
    }

    #[inline]
    fn update<T: Real>(&self, step: Step<'_, '_, T>) -> std::result::Result<(), Divergence> {
        // β^t, with t saturated where β^t has long been 0.
        let t = i32::try_from(step.t).unwrap_or(i32::MAX);
        let lr = step.lr;
        let (beta1, beta2) = (T::cast(self.beta1), T::cast(self.beta2));
        let (one_minus_beta1, one_minus_beta2) = (T::cast(1.0 - self.beta1), T::cast(1.0 - self.beta2));
        let correct1 = T::cast(1.0 / (1.0 - self.beta1.powi(t)));
        let correct2 = T::cast(1.0 / (1.0 - self.beta2.powi(t)));
        let eps = T::cast(self.eps);
        let tiny = smallest_normal::<T>();
        step.apply(true, move |(l2, decoupled), w, g, [m, v]| {
            let g = g + l2 * w;
            // Subnormal moments are flushed to zero (see the type's docs).
            let m = beta1 * m + one_minus_beta1 * g;
            let m = if m.abs() < tiny { T::zero() } else { m };
            let v = beta2 * v + one_minus_beta2 * g * g;
            let v = if v < tiny { T::zero() } else { v };
            let m_hat = m * correct1;
            let v_hat = v * correct2;
            (w - lr * (m_hat / (v_hat.sqrt() + eps) + decoupled * w), [m, v])
        })
    }
}

/// The smallest positive normal value of `T` (`f32::MIN_POSITIVE` or `f64::MIN_POSITIVE`).
fn smallest_normal<T: Real>() -> T {
    if T::BYTES == 4 {
        T::cast(f64::from(f32::MIN_POSITIVE))
    } else {
        T::cast(f64::MIN_POSITIVE)
    }
}
