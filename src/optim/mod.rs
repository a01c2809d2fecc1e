//! Optimizers: how parameters move, given their gradients.

mod sgd;

pub use sgd::Sgd;

use crate::{Error, Param, Real, Result};
use std::fmt::Debug;

/// Updates parameters from their gradients, one step at a time.
///
/// A step gets every parameter of the network in its stable order (layer by layer, each layer's
/// documented order). An optimizer keeps its per-parameter state (momentum, moments) by position,
/// creates it on the first step, and must check everything before it changes anything: a step that
/// fails leaves parameters and state as they were.
pub trait Optimizer<T: Real>: Debug + Send {
    /// A short lowercase name, e.g. `"sgd"`.
    fn name(&self) -> &'static str;

    /// The current learning rate.
    fn learning_rate(&self) -> f64;

    /// Changes the learning rate (learning-rate schedules call this between epochs).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] unless the rate is finite and > 0; the rate is then unchanged.
    fn set_learning_rate(&mut self, learning_rate: f64) -> Result<()>;

    /// Applies one update to `params`, consuming their gradients.
    ///
    /// # Errors
    /// [`Error::MissingGradient`] if a parameter has no fresh gradient;
    /// [`Error::OptimizerStateMismatch`] if the parameters differ in number or shape from the
    /// ones the optimizer's state was created for.
    fn step(&mut self, params: &mut [&mut Param<T>]) -> Result<()>;
}

/// Checks a learning rate: finite and > 0.
pub(crate) fn check_learning_rate(lr: f64) -> Result<f64> {
    if lr.is_finite() && lr > 0.0 {
        Ok(lr)
    } else {
        Err(Error::InvalidConfig {
            name: "learning_rate",
            value: lr.to_string(),
            expected: "> 0 and finite",
        })
    }
}

/// Checks that every parameter has a fresh gradient.
pub(crate) fn check_gradients<T: Real>(params: &[&mut Param<T>]) -> Result<()> {
    match params.iter().position(|p| p.grad().is_none()) {
        None => Ok(()),
        Some(index) => Err(Error::MissingGradient {
            index,
            name: params[index].name(),
        }),
    }
}
