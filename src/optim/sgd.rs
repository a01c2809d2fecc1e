//! Plain (stochastic) gradient descent.

use super::hyper::{AnyWeightDecay, Optim, Rule, Step, UpdateRule};
use super::state::Slot;
use crate::{Divergence, Real, Result};

/// Gradient descent: `W ← W − η·∂E/∂W` for every parameter `W`, learning rate `η`.
///
/// With full-batch training this is the course's gradient descent; with minibatches it is
/// stochastic gradient descent. It keeps no state.
///
/// With [`WeightDecay::L2`](crate::WeightDecay::L2)`(λ)` the gradient gets `λ·W` added,
/// `W ← W − η·(g + λ·W)`; with [`WeightDecay::Decoupled`](crate::WeightDecay::Decoupled)`(λ)`,
/// `W ← W − η·g − η·λ·W`: the same step (only [`penalty`](crate::Optimizer::penalty) tells them
/// apart). Default: no weight decay.
///
/// # Example
/// ```
/// use backprop::{Sgd, WeightDecay};
/// let sgd = Sgd::new(0.1).with_weight_decay(WeightDecay::L2(1e-4));
/// assert_eq!((sgd.learning_rate(), sgd.weight_decay()), (0.1, WeightDecay::L2(1e-4)));
/// assert!(sgd.validate().is_ok());
/// assert!(Sgd::new(0.0).validate().is_err());
/// ```
pub type Sgd = Optim<SgdRule>;

/// Gradient descent's update rule (it has no hyperparameters of its own); see [`Sgd`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SgdRule;

impl UpdateRule for SgdRule {}
impl AnyWeightDecay for SgdRule {}

impl Rule for SgdRule {
    const NAME: &'static str = "sgd";
    const DEFAULT: Self = SgdRule;
    const SLOTS: &'static [Slot] = &[];
    const PLAIN_DESCENT: bool = true;

    fn validate(&self) -> Result<()> {
        Ok(())
    }

    #[inline]
    fn update<T: Real>(&self, step: Step<'_, '_, T>) -> std::result::Result<(), Divergence> {
        let lr = step.lr;
        // One λ for both decays: SGD's two steps are the same (see above).
        step.apply(false, move |(l2, decoupled), w, g, []| (crate::descent::step(w, g, lr, l2 + decoupled), []))
    }
}
