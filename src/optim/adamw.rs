//! AdamW: Adam with decoupled weight decay.

use super::{AdamRule, Optim, WeightDecay};

/// AdamW (Loshchilov & Hutter, "Decoupled Weight Decay Regularization",
/// <http://arxiv.org/abs/1711.05101>): [`Adam`](crate::Adam) with
/// [`WeightDecay::Decoupled`]`(λ)`.
///
/// ```text
/// t ← t + 1
/// m ← β₁·m + (1 − β₁)·g
/// v ← β₂·v + (1 − β₂)·g²
/// m̂ = m / (1 − β₁ᵗ),  v̂ = v / (1 − β₂ᵗ)
/// W ← W − η·(m̂ / (√v̂ + ε) + λ·W)
/// ```
///
/// element-wise, the decay only for parameters that [decay](crate::Param::decays) (weights, not
/// biases, by default), with `β₁` = 0.9, `β₂` = 0.999, `ε` = 1e-8 and `λ` = 0.01 by default
/// (PyTorch's). The decay is scaled by the learning rate `η`, as in PyTorch's `AdamW`.
///
/// State: as Adam's, `<i>.m`, `<i>.v` and `steps`.
///
/// # Example
/// ```
/// use backprop::{AdamW, WeightDecay};
/// let adamw = AdamW::new(0.001);
/// assert_eq!(adamw.weight_decay(), WeightDecay::Decoupled(0.01));
/// let adamw = adamw.with_weight_decay(0.1);
/// assert_eq!(adamw.weight_decay(), WeightDecay::Decoupled(0.1));
/// assert!(AdamW::new(0.001).with_weight_decay(f64::NAN).validate().is_err());
/// ```
pub type AdamW = Optim<AdamRule<true>>;

impl AdamW {
    /// The same optimizer with decoupled weight decay of strength `λ = lambda` (finite and ≥ 0,
    /// checked by [`validate`](Optim::validate)).
    pub fn with_weight_decay(mut self, lambda: f64) -> Self {
        self.weight_decay = WeightDecay::Decoupled(lambda);
        self
    }
}
