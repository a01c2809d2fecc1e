//! Per-parameter optimizer state: its buffers, created on the first step, and their export and
//! import as named matrices.

use crate::{Dims, Param, Real, StateMismatch};
use nalgebra::DMatrix;
use std::any::Any;
use std::collections::HashMap;
use std::fmt::{self, Debug};

/// One of the buffers an optimizer keeps for every parameter: its name in exported state, and
/// whether its values must be ≥ 0 (sums and averages of squares, which a square root is taken of).
#[derive(Debug, Clone, Copy)]
pub struct Slot {
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

    /// The buffer's name: `"<i>.<name>"` is parameter `i`'s buffer in exported state.
    pub(crate) const fn name(self) -> &'static str {
        self.name
    }

    /// Whether `v` is a value this buffer can hold.
    fn admits<T: Real>(self, v: T) -> bool {
        v.is_finite() && !(self.non_negative && v < T::zero())
    }

    /// What the buffer holds, for error messages.
    fn expected(self) -> &'static str {
        if self.non_negative {
            "finite values >= 0"
        } else {
            "finite values"
        }
    }
}

/// An optimizer's per-parameter state: for every parameter, one buffer per [`Slot`], each shaped
/// like the parameter, stored parameter by parameter.
///
/// The buffers are created, as zeros, on the first step, for that step's parameters and scalar
/// type; the optimizer types themselves are not generic, so the buffers are stored type-erased.
#[derive(Default)]
pub(crate) struct State {
    slots: Option<Box<dyn ErasedSlots>>,
}

impl State {
    /// Checks `params` against the state — once it exists, they must be of the same number, shapes
    /// and scalar type as the first step's — then returns their buffers, `slots.len()` per
    /// parameter in order, creating them on the first step. On an error nothing has changed.
    ///
    /// An optimizer without slots keeps no state: any parameters are fine, and there are no
    /// buffers.
    #[inline]
    pub(crate) fn prepare<T: Real>(
        &mut self,
        slots: &[Slot],
        params: &[&mut Param<T>],
    ) -> Result<&mut [DMatrix<T>], StateMismatch> {
        if slots.is_empty() {
            Ok(&mut [])
        } else {
            self.prepare_slots(slots, params)
        }
    }

    /// [`prepare`](State::prepare) for at least one slot.
    fn prepare_slots<T: Real>(
        &mut self,
        slots: &[Slot],
        params: &[&mut Param<T>],
    ) -> Result<&mut [DMatrix<T>], StateMismatch> {
        match &self.slots {
            Some(existing) => {
                if !existing.as_any().is::<Slots<T>>() {
                    return Err(StateMismatch::ScalarType { expected: existing.scalar(), got: T::NAME });
                }
                let dims = existing.dims();
                if dims.len() != params.len() {
                    return Err(StateMismatch::ParamCount { expected: dims.len(), got: params.len() });
                }
                if let Some((index, (&expected, p))) =
                    dims.iter().zip(params).enumerate().find(|(_, (d, p))| **d != p.dims())
                {
                    return Err(StateMismatch::ParamShape { index, expected, got: p.dims() });
                }
            }
            None => {
                let slots = Slots::<T> {
                    dims: params.iter().map(|p| p.dims()).collect(),
                    buffers: params
                        .iter()
                        .flat_map(|p| slots.iter().map(|_| DMatrix::zeros(p.value().nrows(), p.value().ncols())))
                        .collect(),
                };
                self.slots = Some(Box::new(slots));
            }
        }
        // The state exists and holds `T` (checked or created just above).
        let slots = self.slots.as_mut().and_then(|slots| slots.as_any_mut().downcast_mut::<Slots<T>>());
        Ok(slots.map_or(&mut [], |slots| slots.buffers.as_mut_slice()))
    }

    /// Whether the state exists (a step was taken, or state was imported).
    pub(crate) fn is_created(&self) -> bool {
        self.slots.is_some()
    }

    /// The buffers as `("<param index>.<slot>", matrix)`, parameter by parameter, slots in
    /// `slots` order. Empty before the first step, and when the state was created for another
    /// scalar type than `T` (a step with `T` would fail as well).
    pub(crate) fn export<T: Real>(&self, slots: &[Slot]) -> Vec<(String, DMatrix<T>)> {
        let Some(state) = self.slots.as_ref().and_then(|s| s.as_any().downcast_ref::<Slots<T>>()) else {
            return Vec::new();
        };
        let names =
            (0..state.dims.len()).flat_map(|index| slots.iter().map(move |slot| format!("{index}.{}", slot.name)));
        names.zip(state.buffers.iter().cloned()).collect()
    }

    /// The state that `state` (as [`export`](State::export) writes it, in any order) describes:
    /// not created for an empty list. Checks every name (`"<i>.<slot>"`, each once), every value
    /// (finite, and ≥ 0 where the slot says so), that every buffer of parameters `0..n` is there
    /// and that a parameter's buffers share one shape. Nothing is changed; the caller assigns the
    /// result.
    pub(crate) fn import<T: Real>(slots: &[Slot], state: Vec<(String, DMatrix<T>)>) -> Result<Self, StateMismatch> {
        if state.is_empty() {
            return Ok(State::default());
        }
        // Keyed by (parameter, slot): an index, however large, allocates nothing.
        let mut given: HashMap<(usize, usize), (String, DMatrix<T>)> = HashMap::with_capacity(state.len());
        for (name, m) in state {
            let parsed = name.split_once('.').and_then(|(index, slot)| {
                let i: usize = index.parse().ok().filter(|i: &usize| i.to_string() == index)?;
                let (k, slot) = slots.iter().enumerate().find(|(_, s)| s.name == slot)?;
                Some((i, k, slot))
            });
            let Some((i, k, slot)) = parsed else {
                return Err(StateMismatch::UnknownTensor { name });
            };
            if let Some((at, &v)) = m.iter().enumerate().find(|&(_, &v)| !slot.admits(v)) {
                let (row, col) = (at % m.nrows(), at / m.nrows());
                let value = v.to_f64();
                return Err(StateMismatch::BadValue { name, row, col, value, expected: slot.expected() });
            }
            if given.contains_key(&(i, k)) {
                return Err(StateMismatch::Duplicate { name });
            }
            given.insert((i, k), (name, m));
        }
        // Parameters 0..n, n one past the largest index; if that many buffers are not all there,
        // one of the first `given.len() + 1` (parameter, slot) pairs is missing.
        let n = given.keys().map(|&(i, _)| i).max().map_or(0, |i| i + 1);
        let pairs = (0..n).flat_map(|i| slots.iter().enumerate().map(move |(k, slot)| (i, k, slot)));
        if let Some((i, _, slot)) = pairs.take(given.len() + 1).find(|&(i, k, _)| !given.contains_key(&(i, k))) {
            return Err(StateMismatch::MissingTensor { name: format!("{i}.{}", slot.name) });
        }
        let mut dims = Vec::with_capacity(n);
        let mut buffers = Vec::with_capacity(given.len());
        for i in 0..n {
            let mut first: Option<(String, Dims)> = None;
            for (k, slot) in slots.iter().enumerate() {
                let Some((name, m)) = given.remove(&(i, k)) else {
                    return Err(StateMismatch::MissingTensor { name: format!("{i}.{}", slot.name) });
                };
                let got = Dims::from(&m);
                match &first {
                    None => first = Some((name, got)),
                    Some((reference, expected)) if *expected != got => {
                        let (reference, expected) = (reference.clone(), *expected);
                        return Err(StateMismatch::BufferShape { name, got, reference, expected });
                    }
                    Some(_) => {}
                }
                buffers.push(m);
            }
            dims.extend(first.map(|(_, d)| d));
        }
        Ok(State { slots: Some(Box::new(Slots::<T> { dims, buffers })) })
    }
}

impl Clone for State {
    fn clone(&self) -> Self {
        State { slots: self.slots.as_ref().map(|slots| slots.clone_box()) }
    }
}

impl Debug for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.slots {
            None => f.write_str("State(not created)"),
            Some(slots) => {
                let dims = slots.dims().iter().map(Dims::to_string).collect::<Vec<_>>().join(", ");
                write!(f, "State({} {} parameters: {dims})", slots.dims().len(), slots.scalar())
            }
        }
    }
}

/// The buffers for one scalar type, and the parameter shapes they were made for.
#[derive(Clone)]
struct Slots<T: Real> {
    dims: Vec<Dims>,
    /// Parameter by parameter, each parameter's buffers in slot order.
    buffers: Vec<DMatrix<T>>,
}

/// [`Slots`] of some scalar type.
trait ErasedSlots: Send + Sync {
    fn as_any(&self) -> &dyn Any;
    fn as_any_mut(&mut self) -> &mut dyn Any;
    fn clone_box(&self) -> Box<dyn ErasedSlots>;
    fn dims(&self) -> &[Dims];
    fn scalar(&self) -> &'static str;
}

impl<T: Real> ErasedSlots for Slots<T> {
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

/// A counter (such as a step count) as exported state: a 1×1 matrix named `name`.
pub(crate) fn counter<T: Real>(name: &str, value: u64) -> (String, DMatrix<T>) {
    (name.to_string(), DMatrix::from_element(1, 1, T::cast(value as f64)))
}

/// Takes the counter `name` out of `state`, if there: it must be a 1×1 matrix holding a
/// non-negative integer. On an error `state` is unchanged.
pub(crate) fn take_counter<T: Real>(
    state: &mut Vec<(String, DMatrix<T>)>,
    name: &'static str,
) -> Result<Option<u64>, StateMismatch> {
    let Some((at, (_, m))) = state.iter().enumerate().find(|(_, (n, _))| n == name) else {
        return Ok(None);
    };
    let value = m.get(0).map_or(f64::NAN, |v| v.to_f64());
    // 2⁶⁴ and above do not fit a u64.
    if !(m.shape() == (1, 1) && value >= 0.0 && value.fract() == 0.0 && value < 18_446_744_073_709_551_616.0) {
        return Err(StateMismatch::BadCounter { name, shape: Dims::from(m), value });
    }
    state.remove(at);
    Ok(Some(value as u64))
}
