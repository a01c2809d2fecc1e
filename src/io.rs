//! Saving and loading networks as safetensors files, with the architecture inside.
//!
//! # The file
//! A [safetensors](https://huggingface.co/docs/safetensors) file, readable by every major
//! framework and by NumPy through the Python `safetensors` package:
//! - one tensor per parameter and buffer, named by its path (`"0.weight"`, `"0.bias"`,
//!   `"3.body.1.weight"`; see [`Layer`] on paths), stored as the scalar type the
//!   network uses (`F32` or `F64`), row-major,
//!   with the shape the crate uses: a dense weight is `[in_dim, out_dim]` (so `y = x·W + b`;
//!   PyTorch's `Linear` stores the transpose) and a bias `[1, out_dim]`;
//! - the architecture in the metadata, so [`Sequential::load`] rebuilds the network without the
//!   code that made it: `format = "backprop"`, `format_version = "2"`, `dtype`, `input_shape`
//!   (`"64"` or `"1x28x28"`), `layers` (the number of top-level layers) and, for every layer at
//!   every depth, `layer.<path>` = its kind and settings, e.g. `layer.0` =
//!   `"dense bias=true in_dim=64 out_dim=128"`, `layer.3` = `"residual shortcut=identity"`,
//!   `layer.3.body` = `"chain layers=3"`, `layer.3.body.0` = `"dense ..."`. A layer's children
//!   follow from its settings (a chain's `layers`, a residual block's `shortcut`).
//!
//! Layer kinds are rebuilt through a [`Registry`]: [`Sequential::load`] uses the crate's own
//! kinds, [`Sequential::load_with`] a registry that knows yours too.
//!
//! # Versions
//! Version 2 added nesting. A version-1 file (flat networks only: `layer.<i>` entries, tensors
//! `"<i>.<role>"`) is a version-2 file without nested entries, and loads as one.
//!
//! Optimizer state is not part of a model file; a [checkpoint](crate::checkpoint) holds it too.
//!
//! # Safety against hostile files
//! Before the safetensors crate parses a header, every entry is read once: a tensor named twice
//! ([`FormatError::DuplicateTensor`]), or whose type and shape do not fill its byte range
//! ([`FormatError::TensorEntry`]), is refused, naming the tensor, as is a header listing more
//! than [`MAX_TENSORS`]. The safetensors crate then validates the layout (offsets contiguous
//! and covering the data exactly). Every number the metadata declares, and then every tensor's
//! name, type and shape, is checked against the architecture before anything is allocated (for
//! the crate's own layer kinds; a registered kind's builder is trusted to refuse absurd
//! settings), and nesting deeper than [`MAX_DEPTH`] is refused. A bad file is an
//! [`Error::Format`], never a panic.
//!
//! # Memory
//! Loading costs memory in proportion to the file, never to what it declares. For a file of
//! `B` bytes listing `n` tensors, the peak of the memory allocated while loading is at most
//! - [`Sequential::from_bytes`]: `2·B` (the new network's values and gradients; the values
//!   are decoded straight into it) plus about 1 KiB per tensor for the parsed header, plus 1 MiB;
//! - [`Sequential::load`] from a path: `3·B` and the same (the file is read into memory first);
//! - [`Sequential::load_weights`] and checkpoints: `2·B` and the same (the file, and the values
//!   staged until every one is checked, so that an error changes nothing).
//!
//! `tests/load_memory.rs` checks these bounds with a counting allocator on hostile files (a
//! 4096 × 4096 layer stored as 4-bit floats in 8 MiB costs no more than the file before
//! [`FormatError::WrongDtype`]); for the crate's own files the header is small and the peaks are
//! 2.0 and 3.0 times the file. A path is read no further than its header says the file goes (at
//! most [`MAX_FILE_BYTES`]): `/dev/zero`, a pipe that never ends, or a header promising more than
//! the file holds is an error after a few bytes.
//!
//! # Example
//! ```
//! use backprop::prelude::*;
//! let net = Sequential::<f32>::builder(4).add(Dense::new(4, 3)).add(Relu).add(Dense::new(3, 2)).build(7)?;
//! let bytes = net.to_bytes()?;
//! let copy = Sequential::<f32>::from_bytes(&bytes)?;
//! assert_eq!(copy.params(), net.params());
//! # Ok::<(), backprop::Error>(())
//! ```

use crate::file::write_atomically;
use crate::layer::walk;
use crate::registry::{Kind, MAX_DEPTH};
use crate::tensor_file::{read_bounded, TensorFile};
use crate::{Chain, Error, FormatError, Layer, LayerConfig, Real, Registry, Result, Sequential, Shape};
use nalgebra::{DMatrix, DMatrixViewMut};
use safetensors::tensor::TensorView;
use safetensors::{Dtype, View};
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

pub use crate::tensor_file::{MAX_FILE_BYTES, MAX_TENSORS};

pub(crate) const FORMAT: &str = "backprop";
pub(crate) const VERSION: &str = "2";
/// The versions this code reads: 1 (flat networks) is 2 without nesting.
pub(crate) const READABLE: [&str; 2] = ["1", "2"];

/// One tensor ready to be written: row-major little-endian bytes.
pub(crate) struct Tensor {
    dtype: Dtype,
    shape: Vec<usize>,
    data: Vec<u8>,
}

impl Tensor {
    /// `m` as a row-major tensor.
    pub(crate) fn of<T: Real>(m: &DMatrix<T>) -> Self {
        let mut data = Vec::with_capacity(m.len() * T::BYTES);
        for r in 0..m.nrows() {
            for c in 0..m.ncols() {
                m[(r, c)].write_le(&mut data);
            }
        }
        Tensor { dtype: dtype_of::<T>(), shape: vec![m.nrows(), m.ncols()], data }
    }
}

impl View for Tensor {
    fn dtype(&self) -> Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.data)
    }
    fn data_len(&self) -> usize {
        self.data.len()
    }
}

/// A file's metadata and named tensors, ready to serialize.
pub(crate) type FileParts = (BTreeMap<String, String>, Vec<(String, Tensor)>);

/// The bytes of a safetensors file of `tensors` with `metadata`, the same bytes every time.
///
/// The safetensors crate takes metadata as a `HashMap`, whose order changes from one map to the
/// next, so the file would too; the header is written again here with the metadata in key order
/// (tensors it already orders by alignment and name).
pub(crate) fn serialize(tensors: Vec<(String, Tensor)>, metadata: BTreeMap<String, String>) -> Result<Vec<u8>> {
    let bytes = safetensors::serialize(tensors, None).map_err(format_err)?;
    let header_end = bytes
        .get(..8)
        .and_then(|n| usize::try_from(u64::from_le_bytes(n.try_into().ok()?)).ok())
        .and_then(|n| n.checked_add(8))
        .filter(|&end| end <= bytes.len())
        .ok_or_else(|| format_err("the safetensors crate wrote no header"))?;
    let mut header: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(bytes.get(8..header_end).unwrap_or_default()).map_err(format_err)?;
    let metadata = metadata.into_iter().map(|(k, v)| (k, serde_json::Value::String(v))).collect();
    header.insert("__metadata__".into(), serde_json::Value::Object(metadata));
    let mut text = serde_json::to_vec(&header).map_err(format_err)?;
    // The data starts 8-byte aligned, as safetensors writes it.
    text.resize(text.len().next_multiple_of(8), b' ');
    let mut out = Vec::with_capacity(8 + text.len() + bytes.len() - header_end);
    out.extend_from_slice(&(text.len() as u64).to_le_bytes());
    out.extend_from_slice(&text);
    out.extend_from_slice(bytes.get(header_end..).unwrap_or_default());
    Ok(out)
}

pub(crate) fn dtype_of<T: Real>() -> Dtype {
    if T::BYTES == 4 {
        Dtype::F32
    } else {
        Dtype::F64
    }
}

pub(crate) fn format_err(e: impl std::fmt::Display) -> Error {
    Error::Format(FormatError::Safetensors(e.to_string()))
}

/// A file's bytes as safetensors, after the header is checked entry by entry (a tensor named
/// twice, or whose type and shape do not fill its bytes, is an error naming it).
pub(crate) fn parse(bytes: &[u8]) -> Result<TensorFile<'_>> {
    TensorFile::parse(bytes)
}

/// Every tensor of the network with its path, in order: parameters, then buffers.
fn tensors_of<T: Real>(net: &Sequential<T>) -> Vec<(String, &DMatrix<T>)> {
    let mut out = Vec::new();
    walk::params(net.chain(), &mut String::new(), &mut |path, p| out.push((path.to_string(), p.value())));
    walk::buffers(net.chain(), &mut String::new(), &mut |path, m| out.push((path.to_string(), m)));
    out
}

/// Every layer's metadata entry, `("layer.<path>", "kind key=value ...")`, parents first.
pub(crate) fn layer_entries<T: Real>(chain: &Chain<T>) -> Result<Vec<(String, String)>> {
    let mut entries = Vec::new();
    let mut result = Ok(());
    walk::layers(chain, &mut String::new(), &mut |path, layer| {
        if result.is_ok() {
            match encode_config(path, &layer.config()) {
                Ok(text) => entries.push((format!("layer.{path}"), text)),
                Err(e) => result = Err(e),
            }
        }
    });
    result.map(|()| entries)
}

/// `"kind key=value ..."`; kinds, keys and values may not contain whitespace or `=`.
pub(crate) fn encode_config(path: &str, config: &LayerConfig) -> Result<String> {
    let bad = |s: &str| s.is_empty() || s.contains(|c: char| c.is_whitespace() || c == '=');
    let mut text = config.kind.clone();
    for (key, value) in &config.settings {
        if bad(key) || bad(value) {
            return Err(Error::InvalidConfig {
                name: "layer setting",
                value: format!("layer {path}: {key}={value}"),
                expected: "non-empty names and values without spaces or '='",
            });
        }
        text.push_str(&format!(" {key}={value}"));
    }
    if bad(&config.kind) {
        return Err(Error::InvalidConfig {
            name: "layer kind",
            value: config.kind.clone(),
            expected: "a non-empty name without spaces or '='",
        });
    }
    Ok(text)
}

fn decode_config(key: &str, text: &str) -> Result<LayerConfig> {
    let mut words = text.split_whitespace();
    let mut config = LayerConfig::new(words.next().unwrap_or_default()).read_from(key);
    for word in words {
        let (name, value) = word.split_once('=').ok_or_else(|| bad_metadata(key, text, "kind key=value ..."))?;
        config = config.with(name, value);
    }
    Ok(config)
}

pub(crate) fn bad_metadata(key: &str, value: &str, expected: &'static str) -> Error {
    Error::Format(FormatError::BadMetadata { key: key.to_string(), value: value.chars().take(80).collect(), expected })
}

fn parse_shape(text: &str) -> Option<Shape> {
    let dims: Vec<usize> = text.split('x').map(|d| d.parse().ok()).collect::<Option<_>>()?;
    match dims[..] {
        [n] => Some(Shape::Flat(n)),
        [channels, height, width] => Some(Shape::Image { channels, height, width }),
        _ => None,
    }
}

/// The metadata being read: entries by key, and how many layer entries were used so far.
struct Metadata<'m> {
    entries: &'m HashMap<String, String>,
    /// `layer.*` entries in the file.
    layer_entries: usize,
    /// `layer.*` entries read so far.
    layers_read: usize,
    /// The tensors the layers read so far will hold, by path, with their shapes.
    declared: Vec<(String, (usize, usize))>,
    /// Whether every leaf read so far declared its tensors (registered kinds may not).
    all_declared: bool,
}

impl Metadata<'_> {
    /// Rebuilds the (unbuilt) layer at `path` from its entry, and its children from theirs.
    fn layer<T: Real>(&mut self, registry: &Registry<T>, path: &str, depth: usize) -> Result<Box<dyn Layer<T>>> {
        if depth > MAX_DEPTH {
            return Err(Error::Format(FormatError::TooDeep { path: path.to_string(), limit: MAX_DEPTH }));
        }
        let key = format!("layer.{path}");
        let text = self.entries.get(&key).ok_or_else(|| bad_metadata(&key, "", "a layer description"))?;
        let config = decode_config(&key, text)?;
        self.layers_read += 1;
        match registry.get(&config.kind) {
            None => Err(Error::Format(FormatError::UnknownLayer { path: path.to_string(), kind: config.kind })),
            Some(Kind::Leaf { build, tensors }) => {
                match tensors {
                    Some(tensors) => {
                        let tensors = tensors(&config)?;
                        self.declared
                            .extend(tensors.into_iter().map(|(role, shape)| (format!("{path}.{role}"), shape)));
                    }
                    None => self.all_declared = false,
                }
                build(&config)
            }
            Some(Kind::Container { children, build }) => {
                let max = self.layer_entries.saturating_sub(self.layers_read);
                let names = children(&config, max)?;
                if names.len() > max {
                    // A registered container's own reading of its settings.
                    let value = format!("{} children", names.len());
                    return Err(bad_metadata(&key, &value, "no more children than the layer entries left"));
                }
                let children = names
                    .iter()
                    .map(|name| self.layer(registry, &format!("{path}.{name}"), depth + 1))
                    .collect::<Result<Vec<_>>>()?;
                build(&config, children)
            }
        }
    }
}

/// Reads the tensor `name` of the file as a matrix of `T`, checking its type, its shape (`shape`,
/// or any two-dimensional one if `None`) and that its values are finite. Errors name the tensor.
pub(crate) fn read_matrix<T: Real>(
    file: &TensorFile<'_>,
    name: &str,
    shape: Option<(usize, usize)>,
) -> Result<DMatrix<T>> {
    let view = file.tensor(name).ok_or_else(|| Error::Format(FormatError::MissingTensor { name: name.to_string() }))?;
    let (rows, cols) = check_view::<T>(name, &view, shape)?;
    let mut m = DMatrix::zeros(rows, cols);
    decode_into(name, &view, m.as_view_mut(), false)?;
    Ok(m)
}

/// Checks a tensor's type and shape (`shape`, or any two-dimensional one if `None`); returns
/// its shape.
fn check_view<T: Real>(name: &str, view: &TensorView<'_>, shape: Option<(usize, usize)>) -> Result<(usize, usize)> {
    if view.dtype() != dtype_of::<T>() {
        return Err(Error::Format(FormatError::WrongDtype {
            tensor: name.to_string(),
            expected: T::NAME,
            got: format!("{:?}", view.dtype()),
        }));
    }
    match (shape, view.shape()) {
        (Some((rows, cols)), got) if got == [rows, cols] => Ok((rows, cols)),
        (None, &[rows, cols]) => Ok((rows, cols)),
        (expected, got) => Err(Error::Format(FormatError::TensorShape {
            name: name.to_string(),
            expected: expected.map_or(vec![0, 0], |(r, c)| vec![r, c]),
            got: got.iter().take(8).copied().collect(),
        })),
    }
}

/// Writes a checked tensor (see [`check_view`]) into `out`, of its shape; unless `any_value`,
/// refuses a non-finite value (the entries before it are then written).
fn decode_into<T: Real>(
    name: &str,
    view: &TensorView<'_>,
    mut out: DMatrixViewMut<'_, T>,
    any_value: bool,
) -> Result<()> {
    let cols = out.ncols();
    let numbers = view.data().chunks_exact(T::BYTES).map(T::read_le);
    if view.data().len() != out.len() * T::BYTES {
        return Err(format_err(format!("tensor {name:?} holds {} bytes for {} values", view.data().len(), out.len())));
    }
    for (k, value) in numbers.enumerate() {
        let (row, col) = (k / cols.max(1), k % cols.max(1));
        match value.filter(|v| any_value || v.is_finite()) {
            Some(v) => {
                if let Some(slot) = out.get_mut((row, col)) {
                    *slot = v;
                }
            }
            None => {
                return Err(Error::Format(FormatError::NonFinite {
                    name: name.to_string(),
                    row,
                    col,
                    value: value.map_or(f64::NAN, |v| v.to_f64()),
                }))
            }
        }
    }
    Ok(())
}

/// Reads every tensor the network needs from the file, checking names, types, shapes and values;
/// returns them in [`tensors_of`] order. Nothing is written. A tensor of the file that the
/// network has no place for is an error unless `other(name)` says it belongs to something else.
pub(crate) fn read_network_tensors<T: Real>(
    net: &Sequential<T>,
    file: &TensorFile<'_>,
    other: &dyn Fn(&str) -> bool,
) -> Result<Vec<DMatrix<T>>> {
    let wanted = tensors_of(net);
    for name in file.names() {
        if !wanted.iter().any(|(n, _)| n == name) && !other(name) {
            return Err(Error::Format(FormatError::UnexpectedTensor { name: name.to_string() }));
        }
    }
    wanted.into_iter().map(|(name, current)| read_matrix(file, &name, Some(current.shape()))).collect()
}

/// Writes tensors read by [`read_network_tensors`] into the network, in the same order.
pub(crate) fn assign_network_tensors<T: Real>(net: &mut Sequential<T>, values: Vec<DMatrix<T>>) {
    let mut values = values.into_iter();
    // Cannot fail: read_network_tensors checked every shape, in this order.
    walk::params_mut(net.chain_mut(), &mut String::new(), &mut |_, p| {
        if let Some(v) = values.next().filter(|v| v.shape() == p.value().shape()) {
            p.value_mut().copy_from(&v);
        }
    });
    walk::buffers_mut(net.chain_mut(), &mut String::new(), &mut |_, m| {
        if let Some(v) = values.next().filter(|v| v.shape() == m.shape()) {
            m.copy_from(&v);
        }
    });
}

/// The metadata entry that makes a model file a checkpoint: the number of epochs done.
pub(crate) const CHECKPOINT_EPOCH: &str = "checkpoint.epoch";
/// The prefix of a checkpoint's tensors of optimizer state.
pub(crate) const OPTIMIZER_PREFIX: &str = "optimizer.";

/// Whether tensor `name` of a file with metadata `meta` is a checkpoint's optimizer state, which
/// reading the network (for inference, or its weights) leaves aside.
fn optimizer_state(meta: &HashMap<String, String>, name: &str) -> bool {
    name.starts_with(OPTIMIZER_PREFIX) && meta.contains_key(CHECKPOINT_EPOCH)
}

/// Checks the file's tensors against those the architecture declares, before the network is
/// built: the numbers of values ([`FormatError::SizeMismatch`]), every tensor's type, and the name
/// and shape of every declared one; when every layer declared its tensors (`all`), no tensor may
/// be left over. The network then allocates (value and gradient) at most twice the file's data.
fn check_declared<T: Real>(
    file: &TensorFile<'_>,
    declared: &[(String, (usize, usize))],
    all: bool,
    aside: &dyn Fn(&str) -> bool,
) -> Result<()> {
    let stored = file
        .iter()
        .filter(|(name, _)| !aside(name))
        .map(|(_, v)| v.shape().iter().fold(1usize, |a, &d| a.saturating_mul(d)));
    let stored = stored.fold(0usize, usize::saturating_add);
    let wanted = declared.iter().map(|(_, (r, c))| r.saturating_mul(*c)).fold(0usize, usize::saturating_add);
    // Kinds that declare nothing may hold more, never less.
    if wanted > stored || (all && wanted != stored) {
        return Err(Error::Format(FormatError::SizeMismatch { declared: wanted, stored }));
    }
    for (name, view) in file.iter().filter(|(name, _)| !aside(name)) {
        if view.dtype() != dtype_of::<T>() {
            return Err(Error::Format(FormatError::WrongDtype {
                tensor: name.to_string(),
                expected: T::NAME,
                got: format!("{:?}", view.dtype()),
            }));
        }
    }
    for (name, shape) in declared {
        let view = file.tensor(name).ok_or_else(|| Error::Format(FormatError::MissingTensor { name: name.clone() }))?;
        check_view::<T>(name, &view, Some(*shape))?;
    }
    if all {
        let names: HashSet<&str> = declared.iter().map(|(n, _)| n.as_str()).collect();
        if let Some((name, _)) = file.iter().find(|(n, _)| !names.contains(n) && !aside(n)) {
            return Err(Error::Format(FormatError::UnexpectedTensor { name: name.to_string() }));
        }
    }
    Ok(())
}

/// Reads every tensor of the file into the new network `net`, in place (no copy of the file's
/// data is made); a missing, mistyped or misshapen tensor, or a non-finite value, is an error.
fn fill_network<T: Real>(net: &mut Sequential<T>, file: &TensorFile<'_>) -> Result<()> {
    let mut result = Ok(());
    let mut read = |path: &str, out: DMatrixViewMut<'_, T>| {
        if result.is_ok() {
            result = match file.tensor(path) {
                Some(view) => {
                    check_view::<T>(path, &view, Some(out.shape())).and_then(|_| decode_into(path, &view, out, false))
                }
                None => Err(Error::Format(FormatError::MissingTensor { name: path.to_string() })),
            };
        }
    };
    walk::params_mut(net.chain_mut(), &mut String::new(), &mut |path, p| read(path, p.value_mut()));
    walk::buffers_mut(net.chain_mut(), &mut String::new(), &mut |path, m| read(path, m.as_view_mut()));
    result
}

impl<T: Real> Sequential<T> {
    /// The network as the bytes of a safetensors file (see the [module docs](self)).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] if a layer's settings cannot be written (a custom layer whose
    /// setting contains spaces), or two tensors would share a name.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let (metadata, tensors) = self.file_parts()?;
        serialize(tensors, metadata)
    }

    /// The metadata and the tensors of [`to_bytes`](Sequential::to_bytes), before serializing.
    pub(crate) fn file_parts(&self) -> Result<FileParts> {
        let mut metadata = BTreeMap::from([
            ("format".to_string(), FORMAT.to_string()),
            ("format_version".to_string(), VERSION.to_string()),
            ("dtype".to_string(), format!("{:?}", dtype_of::<T>())),
            ("input_shape".to_string(), self.input_shape().to_string()),
            ("layers".to_string(), self.len().to_string()),
        ]);
        metadata.extend(layer_entries(self.chain())?);
        let mut tensors: Vec<(String, Tensor)> = Vec::new();
        for (name, m) in tensors_of(self) {
            if tensors.iter().any(|(n, _)| *n == name) {
                return Err(Error::InvalidConfig {
                    name: "tensor name",
                    value: name,
                    expected: "unique parameter and buffer names within each layer, and unique child names",
                });
            }
            tensors.push((name, Tensor::of(m)));
        }
        Ok((metadata, tensors))
    }

    /// Rebuilds a network from the bytes of a file written by [`to_bytes`](Sequential::to_bytes)
    /// or [`save`](Sequential::save), without any code describing its architecture, from the
    /// crate's own layer kinds (see [`from_bytes_with`](Sequential::from_bytes_with) for others).
    /// A checkpoint ([`save_checkpoint`](Sequential::save_checkpoint)) is such a file plus the
    /// optimizer's state: it loads too, the state left aside (for inference).
    ///
    /// # Errors
    /// As [`from_bytes_with`](Sequential::from_bytes_with).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        Self::from_bytes_with(bytes, &Registry::new())
    }

    /// Rebuilds a network from a file's bytes, with layer kinds from `registry` (which knows
    /// your own kinds once [registered](Registry::register)).
    ///
    /// # Errors
    /// [`Error::Format`] for anything wrong with the bytes: not safetensors, metadata missing or
    /// wrong, a layer kind the registry does not know ([`FormatError::UnknownLayer`], naming
    /// its path), nesting deeper than [`MAX_DEPTH`], another scalar type than `T`, tensors
    /// missing, extra, of the wrong shape or holding NaN/infinity; [`Error::LayerChain`] if the
    /// declared layers do not fit together.
    pub fn from_bytes_with(bytes: &[u8], registry: &Registry<T>) -> Result<Self> {
        let file = parse(bytes)?;
        let empty = HashMap::new();
        let meta = file.metadata().unwrap_or(&empty);
        check_header::<T>(meta)?;
        let get = |key: &'static str| {
            meta.get(key).map(String::as_str).ok_or(Error::Format(FormatError::MissingMetadata { key }))
        };
        let input = parse_shape(get("input_shape")?)
            .ok_or_else(|| bad_metadata("input_shape", get("input_shape").unwrap_or_default(), "N or CxHxW"))?;
        let layer_entries = meta.keys().filter(|k| k.starts_with("layer.")).count();
        let count: usize = get("layers")?
            .parse()
            .ok()
            .filter(|&n| n <= layer_entries)
            .ok_or_else(|| bad_metadata("layers", get("layers").unwrap_or_default(), "a count of layer entries"))?;

        let mut reader =
            Metadata { entries: meta, layer_entries, layers_read: 0, declared: Vec::new(), all_declared: true };
        let mut builder = Sequential::builder_shaped(input);
        for i in 0..count {
            builder = builder.add_boxed(reader.layer(registry, &i.to_string(), 1)?);
        }
        if reader.layers_read != layer_entries {
            return Err(bad_metadata(
                "layers",
                &format!(
                    "{count} layers holding {} layer entries in all, of {layer_entries} in the file",
                    reader.layers_read
                ),
                "one layer.<path> entry for every layer, no more",
            ));
        }
        let aside = |name: &str| optimizer_state(meta, name);
        check_declared::<T>(&file, &reader.declared, reader.all_declared, &aside)?;
        // Only now, the file being what the architecture needs, is anything allocated.
        let mut net = builder.build(0)?;
        if reader.all_declared {
            // Every tensor is checked but its values: read them straight into the new network.
            fill_network(&mut net, &file)?;
        } else {
            let values = read_network_tensors(&net, &file, &aside)?;
            assign_network_tensors(&mut net, values);
        }
        Ok(net)
    }

    /// Replaces this network's parameters and buffers with those in a file's bytes, keeping its
    /// architecture. Every name and shape is checked before anything is written: on error the
    /// network is unchanged. A checkpoint's optimizer state is left aside.
    ///
    /// # Errors
    /// [`Error::Format`]: not safetensors, a tensor missing, extra, of another type or shape
    /// (the error names the tensor and both shapes), or holding NaN/infinity.
    pub fn load_weights_from_bytes(&mut self, bytes: &[u8]) -> Result<()> {
        let file = parse(bytes)?;
        let empty = HashMap::new();
        let meta = file.metadata().unwrap_or(&empty);
        let values = read_network_tensors(self, &file, &|name| optimizer_state(meta, name))?;
        assign_network_tensors(self, values);
        Ok(())
    }

    /// Saves the network to `path`, atomically: the bytes go to a temporary file in the same
    /// folder, which is then renamed over `path`, so a failed save leaves an existing file intact.
    ///
    /// # Errors
    /// [`Error::Io`] if the file cannot be written; as [`to_bytes`](Sequential::to_bytes).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        write_atomically(path.as_ref(), &self.to_bytes()?)
    }

    /// Loads a network saved with [`save`](Sequential::save), from the crate's own layer kinds.
    ///
    /// # Errors
    /// [`Error::Io`] if the file cannot be read; as [`from_bytes`](Sequential::from_bytes).
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        Self::from_bytes(&read_bounded(path.as_ref())?)
    }

    /// Loads a network saved with [`save`](Sequential::save), with layer kinds from `registry`
    /// (for layers written outside this crate; see [`Registry`]).
    ///
    /// # Errors
    /// [`Error::Io`] if the file cannot be read; as [`from_bytes_with`](Sequential::from_bytes_with).
    pub fn load_with(path: impl AsRef<Path>, registry: &Registry<T>) -> Result<Self> {
        Self::from_bytes_with(&read_bounded(path.as_ref())?, registry)
    }

    /// Loads the parameters of a saved network into this one (see
    /// [`load_weights_from_bytes`](Sequential::load_weights_from_bytes)).
    ///
    /// # Errors
    /// [`Error::Io`] if the file cannot be read; as `load_weights_from_bytes`.
    pub fn load_weights(&mut self, path: impl AsRef<Path>) -> Result<()> {
        self.load_weights_from_bytes(&read_bounded(path.as_ref())?)
    }
}

/// Checks the entries every file of this format has: `format`, a readable `format_version`,
/// and `dtype` for the scalar type `T`.
pub(crate) fn check_header<T: Real>(meta: &HashMap<String, String>) -> Result<()> {
    let get = |key: &'static str| {
        meta.get(key).map(String::as_str).ok_or(Error::Format(FormatError::MissingMetadata { key }))
    };
    if get("format")? != FORMAT {
        return Err(bad_metadata("format", get("format")?, "\"backprop\""));
    }
    if !READABLE.contains(&get("format_version")?) {
        return Err(bad_metadata("format_version", get("format_version")?, "\"1\" or \"2\""));
    }
    if get("dtype")? != format!("{:?}", dtype_of::<T>()) {
        return Err(Error::Format(FormatError::WrongDtype {
            tensor: "file".into(),
            expected: T::NAME,
            got: get("dtype")?.to_string(),
        }));
    }
    Ok(())
}

/// Saves named matrices (e.g. inputs and predictions, to check them elsewhere) as a safetensors
/// file, row-major, atomically.
///
/// # Errors
/// [`Error::InvalidConfig`] for a repeated name or the name `__metadata__` (safetensors reserves it);
/// [`Error::Io`] if the file cannot be written.
///
/// # Example
/// ```
/// use nalgebra::DMatrix;
/// let path = std::env::temp_dir().join("backprop-doc-matrices.safetensors");
/// let x = DMatrix::from_row_slice(2, 2, &[1.0_f32, 2.0, 3.0, 4.0]);
/// backprop::io::save_matrices(&path, &[("x", &x)])?;
/// let loaded = backprop::io::load_matrices::<f32>(&path)?;
/// assert_eq!(loaded, vec![("x".to_string(), x)]);
/// # Ok::<(), backprop::Error>(())
/// ```
pub fn save_matrices<T: Real>(path: impl AsRef<Path>, matrices: &[(&str, &DMatrix<T>)]) -> Result<()> {
    let mut tensors: Vec<(String, Tensor)> = Vec::new();
    for (name, m) in matrices {
        if *name == "__metadata__" {
            return Err(Error::InvalidConfig {
                name: "matrix name",
                value: name.to_string(),
                expected: "a name other than \"__metadata__\", which safetensors reserves",
            });
        }
        if tensors.iter().any(|(n, _)| n == name) {
            return Err(Error::InvalidConfig {
                name: "matrix name",
                value: name.to_string(),
                expected: "unique names",
            });
        }
        tensors.push((name.to_string(), Tensor::of(m)));
    }
    let bytes = safetensors::serialize(tensors, None).map_err(format_err)?;
    write_atomically(path.as_ref(), &bytes)
}

/// Loads every two-dimensional tensor of a safetensors file of scalar type `T`, by name.
///
/// # Errors
/// [`Error::Io`] if the file cannot be read; [`Error::Format`] if it is not safetensors, or a
/// tensor has another type or is not two-dimensional.
pub fn load_matrices<T: Real>(path: impl AsRef<Path>) -> Result<Vec<(String, DMatrix<T>)>> {
    let bytes = read_bounded(path.as_ref())?;
    let file = parse(&bytes)?;
    let mut out = Vec::new();
    for (name, view) in file.iter() {
        let (rows, cols) = check_view::<T>(name, &view, None)?;
        let mut m = DMatrix::zeros(rows, cols);
        decode_into(name, &view, m.as_view_mut(), true)?;
        out.push((name.to_string(), m));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configs_round_trip_and_reject_spaces() {
        let config = LayerConfig::new("dense").with("in_dim", 2).with("bias", false);
        let text = encode_config("0", &config).unwrap();
        assert_eq!(text, "dense bias=false in_dim=2");
        assert_eq!(decode_config("layer.0", &text).unwrap(), config);
        assert!(encode_config("0", &LayerConfig::new("x").with("name", "a b")).is_err());
    }

    #[test]
    fn shapes_parse() {
        assert_eq!(parse_shape("64"), Some(Shape::Flat(64)));
        assert_eq!(parse_shape("1x28x28"), Some(Shape::Image { channels: 1, height: 28, width: 28 }));
        assert_eq!(parse_shape("1x28"), None);
        assert_eq!(parse_shape(""), None);
    }
}
