//! [`Gradients`]: the loss of one batch and every parameter's gradient, named by path — what
//! [`Network::gradients`](crate::Network::gradients) returns.

use crate::Real;
use nalgebra::DMatrix;

/// The loss of one batch and the gradient of that loss with respect to every parameter, each
/// named by its path (`"0.weight"`, `"3.body.1.bias"`), in the order of
/// [`Network::visit_params`](crate::Network::visit_params).
///
/// This is the course's "1 step" without its last line: the forward pass, the error `E`, the
/// deltas and the weight gradients (`layer_1_W_grad` is the gradient at `"0.weight"` in the
/// 실습 2 network, `layer_2_W_grad` the one at `"2.weight"`), but no update.
///
/// # Example
/// ```
/// use backprop::prelude::*;
/// use nalgebra::DMatrix;
///
/// let mut net = Sequential::<f64>::builder(2).add(Dense::new(2, 1)).add(Sigmoid).build(0)?;
/// let x = DMatrix::from_row_slice(2, 2, &[0.0, 1.0, 1.0, 0.0]);
/// let t = DMatrix::from_row_slice(2, 1, &[1.0, 0.0]);
/// let grads = net.gradients(&x, &t, &SquaredError::half_sum())?;
/// assert_eq!(grads.paths().collect::<Vec<_>>(), ["0.weight", "0.bias"]);
/// assert_eq!(grads.get("0.weight").map(|g| g.shape()), Some((2, 1)));
/// assert!(grads.loss > 0.0);
/// # Ok::<(), backprop::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Gradients<T: Real> {
    /// The batch's loss at the current parameters (before any update).
    pub loss: T,
    /// Every parameter's path and the gradient of the loss with respect to it (same shape as
    /// the parameter), in the order of [`Network::visit_params`](crate::Network::visit_params).
    pub grads: Vec<(String, DMatrix<T>)>,
}

impl<T: Real> Gradients<T> {
    /// The gradient of the parameter at `path`; `None` if there is no such parameter.
    pub fn get(&self, path: &str) -> Option<&DMatrix<T>> {
        self.grads.iter().find(|(p, _)| p == path).map(|(_, g)| g)
    }

    /// The parameters' paths, in order.
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.grads.iter().map(|(p, _)| p.as_str())
    }

    /// Every path with its gradient, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &DMatrix<T>)> {
        self.grads.iter().map(|(p, g)| (p.as_str(), g))
    }

    /// Number of parameters (not of numbers).
    pub fn len(&self) -> usize {
        self.grads.len()
    }

    /// Whether the network has no parameters.
    pub fn is_empty(&self) -> bool {
        self.grads.is_empty()
    }
}
