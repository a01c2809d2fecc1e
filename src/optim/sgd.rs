//! Plain (stochastic) gradient descent.

use super::{check_gradients, check_learning_rate, Optimizer, WeightDecay};
use crate::simd::wide;
use crate::{Param, Real, Result};

/// Gradient descent: `W ← W − η·∂E/∂W` for every parameter `W`, learning rate `η`.
///
/// With full-batch training this is the course's gradient descent; with minibatches it is
/// stochastic gradient descent. It keeps no state.
///
/// With [`WeightDecay::L2`]`(λ)` the gradient gets `λ·W` added, `W ← W − η·(g + λ·W)`; with
/// [`WeightDecay::Decoupled`]`(λ)`, `W ← W − η·g − η·λ·W`: the same step (only
/// [`penalty`](Optimizer::penalty) tells them apart). Default: no weight decay.
///
/// # Example
/// ```
/// use backprop::{Optimizer, Sgd, WeightDecay};
/// let sgd = Sgd::new(0.1)?;
/// assert_eq!(Optimizer::<f32>::learning_rate(&sgd), 0.1);
/// assert!(Sgd::new(0.0).is_err());
/// let sgd = Sgd::new(0.1)?.with_weight_decay(WeightDecay::L2(1e-4))?;
/// assert_eq!(sgd.weight_decay(), WeightDecay::L2(1e-4));
/// # Ok::<(), backprop::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Sgd {
    learning_rate: f64,
    weight_decay: WeightDecay,
}

impl Sgd {
    /// Gradient descent with learning rate `learning_rate`.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`](crate::Error::InvalidConfig) unless the rate is finite and > 0.
    pub fn new(learning_rate: f64) -> Result<Self> {
        Ok(Sgd { learning_rate: check_learning_rate(learning_rate)?, weight_decay: WeightDecay::None })
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

    /// The weight decay.
    pub fn weight_decay(&self) -> WeightDecay {
        self.weight_decay
    }
}

impl<T: Real> Optimizer<T> for Sgd {
    fn name(&self) -> &'static str {
        "sgd"
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

    fn step(&mut self, params: &mut [&mut Param<T>]) -> Result<()> {
        check_gradients(params)?;
        let lr = T::cast(self.learning_rate);
        for param in params.iter_mut() {
            let (l2, decoupled) = self.weight_decay.coefficients::<T>(param.decays());
            let lambda = l2 + decoupled;
            if let Some((value, grad)) = param.take_update_flat() {
                wide(|| {
                    if lambda == T::zero() {
                        value.iter_mut().zip(grad).for_each(|(w, &g)| *w -= lr * g);
                    } else {
                        value.iter_mut().zip(grad).for_each(|(w, &g)| *w -= lr * (g + lambda * *w));
                    }
                });
            }
        }
        Ok(())
    }
}
