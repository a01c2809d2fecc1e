//! Per-parameter optimizer state, and the element-wise loop every update runs.

use super::check_gradients;
use crate::{Dims, Error, Param, Real, Result};
use nalgebra::{DMatrix, DMatrixView, DMatrixViewMut};
use std::any::Any;
use std::fmt::{self, Debug};

/// An optimizer's per-parameter state: `K` buffers per parameter, each shaped like it.
///
/// The buffers are created, as zeros, on the first step, for that step's parameters and scalar
/// type; the optimizer types themselves are not generic, so the buffers are stored type-erased.
#[derive(Default)]
pub(crate) struct State<const K: usize> {
    slots: Option<Box<dyn ErasedSlots>>,
}

impl<const K: usize> State<K> {
    /// Checks `params` — fresh gradients of the right shapes and, once the state exists, the same
    /// number, shapes and scalar type as the first step's — then returns their buffers, creating
    /// them on the first step. On an error nothing has changed.
    pub(crate) fn prepare<T: Real>(&mut self, params: &[&mut Param<T>]) -> Result<&mut [[DMatrix<T>; K]]> {
        check_gradients(params)?;
        match &self.slots {
            Some(slots) => {
                let same_type = slots.as_any().is::<Slots<T, K>>();
                let dims = slots.dims();
                if !same_type || dims.len() != params.len() || dims.iter().zip(params).any(|(d, p)| *d != p.dims()) {
                    return Err(Error::OptimizerStateMismatch {
                        expected: describe(dims.iter().copied(), (!same_type).then(|| slots.scalar())),
                        got: describe(params.iter().map(|p| p.dims()), (!same_type).then_some(T::NAME)),
                    });
                }
            }
            None => {
                let slots = Slots::<T, K> {
                    dims: params.iter().map(|p| p.dims()).collect(),
                    buffers: params
                        .iter()
                        .map(|p| std::array::from_fn(|_| DMatrix::zeros(p.value().nrows(), p.value().ncols())))
                        .collect(),
                };
                self.slots = Some(Box::new(slots));
            }
        }
        self.slots
            .as_mut()
            .and_then(|slots| slots.as_any_mut().downcast_mut::<Slots<T, K>>())
            .map(|slots| slots.buffers.as_mut_slice())
            .ok_or_else(|| Error::OptimizerStateMismatch {
                expected: "state of another type".into(),
                got: describe(params.iter().map(|p| p.dims()), Some(T::NAME)),
            })
    }
}

impl<const K: usize> Clone for State<K> {
    fn clone(&self) -> Self {
        State { slots: self.slots.as_ref().map(|slots| slots.clone_box()) }
    }
}

impl<const K: usize> Debug for State<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.slots {
            None => f.write_str("State(not created)"),
            Some(slots) => write!(f, "State({})", describe(slots.dims().iter().copied(), Some(slots.scalar()))),
        }
    }
}

/// The buffers for one scalar type, and the parameter shapes they were made for.
#[derive(Clone)]
struct Slots<T: Real, const K: usize> {
    dims: Vec<Dims>,
    buffers: Vec<[DMatrix<T>; K]>,
}

/// [`Slots`] of some scalar type.
trait ErasedSlots: Send + Sync {
    fn as_any(&self) -> &dyn Any;
    fn as_any_mut(&mut self) -> &mut dyn Any;
    fn clone_box(&self) -> Box<dyn ErasedSlots>;
    fn dims(&self) -> &[Dims];
    fn scalar(&self) -> &'static str;
}

impl<T: Real, const K: usize> ErasedSlots for Slots<T, K> {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }

    fn clone_box(&self) -> Box<dyn ErasedSlots> {
        Box::new(self.clone())
    }

    fn dims(&self) -> &[Dims] {
        &self.dims
    }

    fn scalar(&self) -> &'static str {
        T::NAME
    }
}

/// "3 parameters: 2x3, 1x3, 3x1" (with the scalar type, "3 f32 parameters: ...", when given).
fn describe(dims: impl ExactSizeIterator<Item = Dims>, scalar: Option<&str>) -> String {
    let n = dims.len();
    let mut text = n.to_string();
    if let Some(scalar) = scalar {
        text.push(' ');
        text.push_str(scalar);
    }
    text.push_str(if n == 1 { " parameter" } else { " parameters" });
    for (i, d) in dims.enumerate() {
        text.push_str(if i == 0 { ": " } else { ", " });
        text.push_str(&d.to_string());
    }
    text
}

/// Runs `f` on every column of a parameter: the column of its value, of its gradient and of each
/// of its `K` buffers, as slices of equal length.
///
/// Columns of a matrix are contiguous, so the loops in `f` run over plain slices. The shapes are
/// those [`State::prepare`] checked.
#[inline]
pub(crate) fn for_columns<T: Real, const K: usize>(
    mut value: DMatrixViewMut<'_, T>,
    grad: DMatrixView<'_, T>,
    buffers: &mut [DMatrix<T>; K],
    mut f: impl FnMut(&mut [T], &[T], [&mut [T]; K]),
) {
    let rows = value.nrows();
    for j in 0..value.ncols() {
        let range = j * rows..(j + 1) * rows;
        let mut w = value.column_mut(j);
        let g = grad.column(j);
        let bufs = buffers.each_mut().map(|b| &mut b.as_mut_slice()[range.clone()]);
        f(w.as_mut_slice(), g.as_slice(), bufs);
    }
}
