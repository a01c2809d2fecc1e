//! A training step's copy of the layers' buffers (batch normalization's running statistics),
//! put back when the step fails, so that a failed step changes nothing.

use super::{ensure_shape, walk, Chain};
use crate::check::all_finite;
use crate::Real;
use nalgebra::DMatrix;

/// The buffers of a network's layers as they were before a training step. A network without
/// buffers (counted when made, and once more after its first step) pays nothing per step; one
/// with them copies them (a few values per channel) into matrices kept from step to step.
#[derive(Debug, Clone, Default)]
pub(crate) struct BufferUndo<T: Real> {
    /// Whether the network has any buffer.
    any: bool,
    /// Whether the buffers were counted after a training step.
    counted_after_a_step: bool,
    /// The buffers' values before the step, in walk order.
    values: Vec<DMatrix<T>>,
    /// The walk's path, kept so that a step does not allocate one.
    path: String,
}

impl<T: Real> BufferUndo<T> {
    /// An undo for the network of layers `chain`.
    pub(crate) fn new(chain: &Chain<T>) -> Self {
        let mut undo = BufferUndo::default();
        undo.count(chain);
        undo
    }

    /// Whether the network has any buffer now.
    fn count(&mut self, chain: &Chain<T>) {
        let any = &mut self.any;
        walk::buffers(chain, &mut self.path, &mut |_, _| *any = true);
    }

    /// Counts the buffers once more after the network's first training step (a no-op after
    /// that): a layer written outside the crate may make its buffers in its first pass, and its
    /// later steps are then undone like any other's.
    #[inline]
    pub(crate) fn after_step(&mut self, chain: &Chain<T>) {
        if self.counted_after_a_step {
            return;
        }
        self.counted_after_a_step = true;
        self.count(chain);
    }

    /// Copies the buffers' values.
    #[inline]
    pub(crate) fn save(&mut self, chain: &Chain<T>) {
        if !self.any {
            return;
        }
        let (values, mut k) = (&mut self.values, 0);
        walk::buffers(chain, &mut self.path, &mut |_, m| {
            if values.len() == k {
                values.push(DMatrix::zeros(0, 0));
            }
            if let Some(copy) = values.get_mut(k) {
                ensure_shape(copy, m.nrows(), m.ncols());
                copy.copy_from(m);
            }
            k += 1;
        });
    }

    /// Whether every buffer value is finite (a running variance of inputs on a huge scale
    /// overflows).
    #[inline]
    pub(crate) fn all_finite(&mut self, chain: &Chain<T>) -> bool {
        let mut finite = true;
        if self.any {
            walk::buffers(chain, &mut self.path, &mut |_, m| finite &= all_finite(m.as_slice()));
        }
        finite
    }

    /// Puts the saved values back.
    pub(crate) fn restore(&mut self, chain: &mut Chain<T>) {
        if !self.any {
            return;
        }
        let (mut values, path) = (self.values.iter(), &mut self.path);
        walk::buffers_mut(chain, path, &mut |_, m| {
            if let Some(v) = values.next() {
                m.clone_from(v);
            }
        });
    }
}
