//! Per-parameter optimizer state, and the element-wise loop every update runs.

use super::check_gradients;
use crate::{Dims, Error, Param, Real, Result};
use nalgebra::DMatrix;
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

/// Runs `f` on a parameter's value, its gradient and each of its `K` buffers, as flat slices of
/// equal length (the shapes are those [`State::prepare`] checked): the update rules are
/// elementwise, so each is one loop over contiguous memory.
#[inline]
pub(crate) fn with_slices<T: Real, const K: usize>(
    value: &mut [T],
    grad: &[T],
    buffers: &mut [DMatrix<T>; K],
    f: impl FnOnce(&mut [T], &[T], [&mut [T]; K]),
) {
    f(value, grad, buffers.each_mut().map(|b| b.as_mut_slice()));
}

/// The name of one of the `K` buffers in exported state, and whether its values must be ≥ 0
/// (sums and averages of squares, which a square root is taken of).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Slot {
    name: &'static str,
    non_negative: bool,
}

impl Slot {
    /// A buffer holding any finite values (a velocity, a first moment).
    pub(crate) const fn signed(name: &'static str) -> Self {
        Slot { name, non_negative: false }
    }

    /// A buffer holding finite values ≥ 0 (a sum or average of squares).
    pub(crate) const fn non_negative(name: &'static str) -> Self {
        Slot { name, non_negative: true }
    }
}

impl<const K: usize> State<K> {
    /// Whether the state exists (a step was taken, or state was imported).
    pub(crate) fn is_created(&self) -> bool {
        self.slots.is_some()
    }

    /// The buffers as `("<param index>.<slot>", matrix)`, parameter by parameter, slots in
    /// `slots` order. Empty before the first step, and when the state was created for another
    /// scalar type than `T` (a step with `T` would fail as well).
    pub(crate) fn export<T: Real>(&self, slots: &[Slot; K]) -> Vec<(String, DMatrix<T>)> {
        let Some(buffers) = self.slots.as_ref().and_then(|s| s.as_any().downcast_ref::<Slots<T, K>>()) else {
            return Vec::new();
        };
        let mut out = Vec::with_capacity(buffers.buffers.len() * K);
        for (index, bufs) in buffers.buffers.iter().enumerate() {
            for (slot, m) in slots.iter().zip(bufs) {
                out.push((format!("{index}.{}", slot.name), m.clone()));
            }
        }
        out
    }

    /// The state that `state` (as [`export`](State::export) writes it, in any order) describes:
    /// not created for an empty list. Checks the count, every name (`"<i>.<slot>"` once for each
    /// parameter `i` and slot), that a parameter's buffers share one shape, and every value
    /// (finite, and ≥ 0 where the slot says so). Nothing is changed; the caller assigns the result.
    pub(crate) fn import<T: Real>(
        optimizer: &str,
        slots: &[Slot; K],
        state: Vec<(String, DMatrix<T>)>,
    ) -> Result<Self> {
        if state.is_empty() {
            return Ok(State::default());
        }
        let names: Vec<&str> = slots.iter().map(|s| s.name).collect();
        let mismatch = |got: String| Error::OptimizerStateMismatch {
            expected: format!("{optimizer} (<i>.{} for each parameter i)", names.join(", <i>.")),
            got: format!("a state to import with {got}"),
        };
        if state.len() % K != 0 {
            return Err(mismatch(format!("{} tensors, not {K} per parameter", state.len())));
        }
        let n = state.len() / K;
        let mut buffers: Vec<[Option<DMatrix<T>>; K]> = (0..n).map(|_| std::array::from_fn(|_| None)).collect();
        for (name, m) in state {
            let parsed = name.split_once('.').and_then(|(index, slot)| {
                let i: usize = index.parse().ok().filter(|i: &usize| i.to_string() == index)?;
                Some((i, slots.iter().position(|s| s.name == slot)?))
            });
            let Some((i, k)) = parsed else {
                return Err(mismatch(format!("a tensor named {name:?}")));
            };
            if i >= n {
                return Err(mismatch(format!("{name:?} among {} tensors, for {n} parameters", n * K)));
            }
            if let Some(at) = m.iter().position(|v| !v.is_finite() || (slots[k].non_negative && *v < T::zero())) {
                let value = m[at].to_f64();
                return Err(mismatch(format!(
                    "{name:?} holding {value} at row {}, column {}",
                    at % m.nrows(),
                    at / m.nrows()
                )));
            }
            let cell = &mut buffers[i][k];
            if cell.is_some() {
                return Err(mismatch(format!("{name:?} twice")));
            }
            *cell = Some(m);
        }
        let mut dims = Vec::with_capacity(n);
        let mut full = Vec::with_capacity(n);
        for (i, bufs) in buffers.into_iter().enumerate() {
            // Every cell is filled: n·K distinct (parameter, slot) pairs were placed.
            let Some(bufs) = bufs.into_iter().collect::<Option<Vec<_>>>() else {
                return Err(mismatch(format!("parameter {i} incomplete")));
            };
            let d = Dims::from(&bufs[0]);
            if let Some(k) = bufs.iter().position(|b| Dims::from(b) != d) {
                return Err(mismatch(format!(
                    "\"{i}.{}\" of shape {} but \"{i}.{}\" of shape {d}",
                    slots[k].name,
                    Dims::from(&bufs[k]),
                    slots[0].name
                )));
            }
            let Ok(bufs) = <[DMatrix<T>; K]>::try_from(bufs) else {
                return Err(mismatch(format!("parameter {i} incomplete")));
            };
            dims.push(d);
            full.push(bufs);
        }
        Ok(State { slots: Some(Box::new(Slots::<T, K> { dims, buffers: full })) })
    }
}

/// A counter (such as a step count) as exported state: a 1×1 matrix named `name`.
pub(crate) fn counter<T: Real>(name: &str, value: u64) -> (String, DMatrix<T>) {
    (name.to_string(), DMatrix::from_element(1, 1, T::cast(value as f64)))
}

/// Takes the counter `name` out of `state`, if there: it must be a 1×1 matrix holding a
/// non-negative integer. On an error `state` is unchanged.
pub(crate) fn take_counter<T: Real>(
    optimizer: &str,
    state: &mut Vec<(String, DMatrix<T>)>,
    name: &str,
) -> Result<Option<u64>> {
    let Some(at) = state.iter().position(|(n, _)| n == name) else {
        return Ok(None);
    };
    let m = &state[at].1;
    let value = if m.shape() == (1, 1) { m[(0, 0)].to_f64() } else { f64::NAN };
    // 2⁶⁴ and above do not fit a u64.
    if !(value >= 0.0 && value.fract() == 0.0 && value < 18_446_744_073_709_551_616.0) {
        return Err(Error::OptimizerStateMismatch {
            expected: format!("{optimizer} ({name:?}: a 1x1 non-negative integer)"),
            got: format!(
                "a state to import with {name:?} of shape {} holding {}",
                Dims::from(m),
                m.get(0).map_or(f64::NAN, |v| v.to_f64())
            ),
        });
    }
    state.remove(at);
    Ok(Some(value as u64))
}
