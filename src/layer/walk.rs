//! The one walk over a tree of layers: every layer, parameter and buffer with its path.
//!
//! A path is the names of the children leading to a layer, joined by dots, and for a parameter
//! or buffer its own name after them (`"3.body.1.weight"`). The walk visits a layer's children
//! in their order, depth first; a layer with children holds no state of its own (see
//! [`Layer`]), so only leaves contribute parameters and buffers.

use super::{Layer, Param};
use crate::{Error, Real, Result};
use nalgebra::DMatrix;
use std::fmt::{Display, Write};

/// Whether `layer` has children.
pub(crate) fn has_children<T: Real>(layer: &dyn Layer<T>) -> bool {
    let mut any = false;
    layer.visit_children(&mut |_, _| any = true);
    any
}

/// `prefix.name`, or `name` at the root; returns the length to truncate back to.
fn push(prefix: &mut String, name: &dyn Display) -> usize {
    let len = prefix.len();
    if len > 0 {
        prefix.push('.');
    }
    let _ = write!(prefix, "{name}");
    len
}

/// Calls `f` on every layer below `layer` (not `layer` itself) with its path, parents before
/// their children.
pub(crate) fn layers<'a, T: Real>(
    layer: &'a dyn Layer<T>,
    prefix: &mut String,
    f: &mut dyn FnMut(&str, &'a dyn Layer<T>),
) {
    layer.visit_children(&mut |name, child| {
        let len = push(prefix, name);
        f(prefix, child);
        layers(child, prefix, f);
        prefix.truncate(len);
    });
}

/// Calls `f` on every layer below `layer` with its path and its output of the last training
/// pass, parents before their children; `y` is `layer`'s own output (see [`Layer::visit_outputs`]).
#[allow(clippy::type_complexity)] // as Layer::visit_outputs
pub(crate) fn outputs<'a, T: Real>(
    layer: &'a dyn Layer<T>,
    y: &'a DMatrix<T>,
    prefix: &mut String,
    f: &mut dyn FnMut(&str, &'a dyn Layer<T>, &'a DMatrix<T>),
) {
    layer.visit_outputs(y, &mut |name, child, out| {
        let len = push(prefix, name);
        f(prefix, child, out);
        outputs(child, out, prefix, f);
        prefix.truncate(len);
    });
}

/// Calls `f` on every parameter of `layer` and the layers below it, with its path.
pub(crate) fn params<'a, T: Real>(layer: &'a dyn Layer<T>, prefix: &mut String, f: &mut dyn FnMut(&str, &'a Param<T>)) {
    if has_children(layer) {
        layer.visit_children(&mut |name, child| {
            let len = push(prefix, name);
            params(child, prefix, f);
            prefix.truncate(len);
        });
    } else {
        layer.visit_params(&mut |p| {
            let len = push(prefix, &p.name());
            f(prefix, p);
            prefix.truncate(len);
        });
    }
}

/// Calls `f` on every parameter of `layer` and the layers below it, mutably, with its path.
pub(crate) fn params_mut<T: Real>(
    layer: &mut dyn Layer<T>,
    prefix: &mut String,
    f: &mut dyn FnMut(&str, &mut Param<T>),
) {
    if has_children(layer) {
        layer.visit_children_mut(&mut |name, child| {
            let len = push(prefix, name);
            params_mut(child, prefix, f);
            prefix.truncate(len);
        });
    } else {
        layer.visit_params_mut(&mut |p| {
            let len = push(prefix, &p.name());
            f(prefix, p);
            prefix.truncate(len);
        });
    }
}

/// Appends every parameter of `layer` and the layers below it to `out`, in path order, without
/// naming them: what an optimizer step needs, on the hot path.
pub(crate) fn collect_params_mut<'a, T: Real>(layer: &'a mut dyn Layer<T>, out: &mut Vec<&'a mut Param<T>>) {
    if has_children(layer) {
        layer.visit_children_mut(&mut |_, child| collect_params_mut(child, out));
    } else {
        layer.visit_params_mut(&mut |p| out.push(p));
    }
}

/// Calls `f` on every buffer of `layer` and the layers below it, with its path.
pub(crate) fn buffers<'a, T: Real>(
    layer: &'a dyn Layer<T>,
    prefix: &mut String,
    f: &mut dyn FnMut(&str, &'a DMatrix<T>),
) {
    if has_children(layer) {
        layer.visit_children(&mut |name, child| {
            let len = push(prefix, name);
            buffers(child, prefix, f);
            prefix.truncate(len);
        });
    } else {
        layer.visit_buffers(&mut |name, m| {
            let len = push(prefix, &name);
            f(prefix, m);
            prefix.truncate(len);
        });
    }
}

/// Calls `f` on every buffer of `layer` and the layers below it, mutably, with its path.
pub(crate) fn buffers_mut<T: Real>(
    layer: &mut dyn Layer<T>,
    prefix: &mut String,
    f: &mut dyn FnMut(&str, &mut DMatrix<T>),
) {
    if has_children(layer) {
        layer.visit_children_mut(&mut |name, child| {
            let len = push(prefix, name);
            buffers_mut(child, prefix, f);
            prefix.truncate(len);
        });
    } else {
        layer.visit_buffers_mut(&mut |name, m| {
            let len = push(prefix, &name);
            f(prefix, m);
            prefix.truncate(len);
        });
    }
}

/// Checks that no layer below `layer` has both children and state of its own (which the walk
/// would not see).
pub(crate) fn check_tree<T: Real>(layer: &dyn Layer<T>) -> Result<()> {
    let mut result = Ok(());
    layers(layer, &mut String::new(), &mut |path, l| {
        let mut own = 0;
        l.visit_params(&mut |_| own += 1);
        l.visit_buffers(&mut |_, _| own += 1);
        if result.is_ok() && own > 0 && has_children(l) {
            result = Err(Error::InvalidConfig {
                name: "layer",
                value: format!("{path} ({}) with {own} parameters or buffers of its own and children", l.kind()),
                expected: "a layer with children to hold its parameters and buffers in them",
            });
        }
    });
    result
}
