//! The finiteness contract around any optimizer's step: no step leaves a non-finite parameter or
//! optimizer state.
//!
//! The crate's optimizers keep it themselves, in the passes they make anyway (see
//! [`Optimizer::checks_updates`]); an optimizer written outside the crate gets the checks here:
//! the gradients before the step, the values and the exported state after it, and what was there
//! before put back when one is not finite, when a parameter was replaced rather than updated, or
//! when the step failed part way.

use super::Optimizer;
use crate::check::all_finite;
use crate::layer::ensure_shape;
use crate::{Decay, Dims, Divergence, Error, Param, Real, Result};
use nalgebra::DMatrix;

/// What [`checked_step`] puts back after a failed step of an optimizer that does not check its
/// own updates: each parameter's values, role and decay before it. Kept from step to step, so a
/// step copies into it without allocating.
#[derive(Debug, Clone, Default)]
pub(crate) struct Undo<T: Real> {
    values: Vec<DMatrix<T>>,
    roles: Vec<(&'static str, Decay)>,
    /// Where each parameter lives, in the slice's order: a step may reorder the slice of
    /// references (not the parameters), which the checks put back first.
    addresses: Vec<usize>,
}

impl<T: Real> Undo<T> {
    /// Copies every parameter's values and role.
    fn save(&mut self, params: &[&mut Param<T>]) {
        self.values.resize_with(params.len(), || DMatrix::zeros(0, 0));
        for (copy, p) in self.values.iter_mut().zip(params.iter()) {
            ensure_shape(copy, p.value().nrows(), p.value().ncols());
            copy.copy_from(p.value());
        }
        self.roles.clear();
        self.roles.extend(params.iter().map(|p| (p.name(), p.decay())));
        self.addresses.clear();
        self.addresses.extend(params.iter().map(|p| address(p)));
    }

    /// Puts the slice's references back in the order they were saved in, if the step reordered
    /// them (they are the same references: the parameters are borrowed for the step).
    fn reorder(&self, params: &mut [&mut Param<T>]) {
        for (i, &saved) in self.addresses.iter().enumerate() {
            if params.get(i).is_some_and(|p| address(p) != saved) {
                if let Some(j) = params.iter().skip(i + 1).position(|p| address(p) == saved) {
                    params.swap(i, i + 1 + j);
                }
            }
        }
    }

    /// The first parameter the step replaced (another shape, role or decay) rather than updated,
    /// as the error that names it.
    fn replaced(&self, optimizer: &dyn Optimizer<T>, params: &[&mut Param<T>]) -> Option<Error> {
        let saved = self.values.iter().zip(&self.roles);
        let (index, (p, (copy, &(name, _)))) = params
            .iter()
            .zip(saved)
            .enumerate()
            .find(|(_, (p, (copy, &role)))| p.value().shape() != copy.shape() || (p.name(), p.decay()) != role)?;
        Some(Error::ParamReplaced {
            optimizer: optimizer.name(),
            index,
            name,
            expected: Dims::from(copy),
            replacement: p.name(),
            got: p.dims(),
        })
    }

    /// Puts the saved values back, and a replaced parameter as it was (its gradient consumed).
    fn restore(&self, params: &mut [&mut Param<T>]) {
        for ((copy, &(name, decay)), p) in self.values.iter().zip(&self.roles).zip(params.iter_mut()) {
            if p.value().shape() == copy.shape() && (p.name(), p.decay()) == (name, decay) {
                p.value_mut().copy_from(copy);
            } else {
                **p = Param::new(name, copy.clone(), decay);
            }
        }
    }
}

/// Where a parameter lives, to tell one from another.
fn address<T: Real>(p: &Param<T>) -> usize {
    std::ptr::from_ref(p) as usize
}

/// Runs `optimizer`'s step on `params` so that no parameter or state value becomes non-finite:
/// such a step is an [`Error::Diverged`] (with a NaN loss, which the training step fills in)
/// after which the values and the state are those before it. An optimizer that does not check
/// its own updates is watched: its step is undone (values, replaced parameters and exported
/// state) when it leaves a non-finite value, replaces a parameter rather than updating it
/// ([`Error::ParamReplaced`]), or returns an error part way.
pub(crate) fn checked_step<T: Real>(
    optimizer: &mut dyn Optimizer<T>,
    params: &mut [&mut Param<T>],
    undo: &mut Undo<T>,
) -> Result<()> {
    if optimizer.checks_updates() {
        return optimizer.step(params);
    }
    let diverged =
        |cause| Error::Diverged { epoch: None, step: None, loss: f64::NAN, cause, parameter: None, history: None };
    for (index, p) in params.iter().enumerate() {
        if p.grad().is_some_and(|g| !all_finite(g.as_slice())) {
            return Err(diverged(Divergence::Gradient { index, name: p.name() }));
        }
    }
    undo.save(params);
    let state = optimizer.state();
    let stepped = optimizer.step(params);
    undo.reorder(params);
    let failure = match stepped {
        Err(e) => Some(e),
        Ok(()) => undo.replaced(optimizer, params).or_else(|| {
            let bad_value = params.iter().position(|p| !all_finite(p.value().as_slice()));
            // A state entry "<index>.<slot>" names its parameter; a counter names none.
            let bad_state = || {
                optimizer.state().iter().find(|(_, m)| !all_finite(m.as_slice())).map(|(name, _)| {
                    name.split_once('.')
                        .and_then(|(i, _)| i.parse::<usize>().ok())
                        .unwrap_or(0)
                        .min(params.len().saturating_sub(1))
                })
            };
            let index = bad_value.or_else(bad_state)?;
            let name = params.get(index).map_or("parameter", |p| p.name());
            Some(diverged(Divergence::Update { index, name }))
        }),
    };
    let Some(error) = failure else {
        return Ok(());
    };
    undo.restore(params);
    optimizer.set_state(state)?;
    Err(error)
}
