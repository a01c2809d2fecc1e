//! The finiteness contract around any optimizer's step: no step leaves a non-finite parameter or
//! optimizer state.
//!
//! The crate's optimizers keep it themselves, in the passes they make anyway (see
//! [`Optimizer::checks_updates`]); an optimizer written outside the crate gets the checks here:
//! the gradients before the step, the values and the exported state after it, and what was there
//! before put back when one is not finite.

use super::Optimizer;
use crate::check::all_finite;
use crate::layer::ensure_shape;
use crate::{Divergence, Error, Param, Real, Result};
use nalgebra::DMatrix;

/// Runs `optimizer`'s step on `params` so that no parameter or state value becomes non-finite:
/// such a step is an [`Error::Diverged`] (with a NaN loss, which the training step fills in)
/// after which the values and the state are those before it. `undo` is the copy of the values
/// for optimizers that do not check their own updates, kept from step to step.
pub(crate) fn checked_step<T: Real>(
    optimizer: &mut dyn Optimizer<T>,
    params: &mut [&mut Param<T>],
    undo: &mut Vec<DMatrix<T>>,
) -> Result<()> {
    if optimizer.checks_updates() {
        return optimizer.step(params);
    }
    let diverged = |cause| Error::Diverged { epoch: None, step: None, loss: f64::NAN, cause, history: None };
    for (index, p) in params.iter().enumerate() {
        if p.grad().is_some_and(|g| !all_finite(g.as_slice())) {
            return Err(diverged(Divergence::Gradient { index, name: p.name() }));
        }
    }
    undo.resize_with(params.len(), || DMatrix::zeros(0, 0));
    for (copy, p) in undo.iter_mut().zip(params.iter()) {
        ensure_shape(copy, p.value().nrows(), p.value().ncols());
        copy.copy_from(p.value());
    }
    let state = optimizer.state();
    optimizer.step(params)?;
    let bad_value = params.iter().position(|p| !all_finite(p.value().as_slice()));
    let bad_state = if bad_value.is_some() {
        None
    } else {
        // A state entry "<index>.<slot>" names its parameter; a counter names none.
        optimizer.state().iter().find(|(_, m)| !all_finite(m.as_slice())).map(|(name, _)| {
            name.split_once('.')
                .and_then(|(i, _)| i.parse::<usize>().ok())
                .unwrap_or(0)
                .min(params.len().saturating_sub(1))
        })
    };
    let Some(index) = bad_value.or(bad_state) else {
        return Ok(());
    };
    for (copy, p) in undo.iter().zip(params.iter_mut()) {
        p.value_mut().copy_from(copy);
    }
    optimizer.set_state(state)?;
    let name = params.get(index).map_or("parameter", |p| p.name());
    Err(diverged(Divergence::Update { index, name }))
}
