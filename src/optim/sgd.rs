//! Plain (stochastic) gradient descent.

use super::{check_gradients, check_learning_rate, Optimizer};
use crate::{Param, Real, Result};

/// Gradient descent: `W ← W − η·∂E/∂W` for every parameter `W`, learning rate `η`.
///
/// With full-batch training this is the course's gradient descent; with minibatches it is
/// stochastic gradient descent. It keeps no state.
///
/// # Example
/// ```
/// use backprop::{Optimizer, Sgd};
/// let sgd = Sgd::new(0.1)?;
/// assert_eq!(Optimizer::<f32>::learning_rate(&sgd), 0.1);
/// assert!(Sgd::new(0.0).is_err());
/// # Ok::<(), backprop::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Sgd {
    learning_rate: f64,
}

impl Sgd {
    /// Gradient descent with learning rate `learning_rate`.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`](crate::Error::InvalidConfig) unless the rate is finite and > 0.
    pub fn new(learning_rate: f64) -> Result<Self> {
        Ok(Sgd {
            learning_rate: check_learning_rate(learning_rate)?,
        })
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

    fn step(&mut self, params: &mut [&mut Param<T>]) -> Result<()> {
        check_gradients(params)?;
        let lr = T::cast(self.learning_rate);
        for param in params.iter_mut() {
            if let Some((mut value, grad)) = param.take_update() {
                value.zip_apply(&grad, |w, g| *w -= lr * g);
            }
        }
        Ok(())
    }
}
