//! Saving and loading networks as safetensors files, with the architecture inside.
//!
//! # The file
//! A [safetensors](https://huggingface.co/docs/safetensors) file, readable by every major
//! framework and by NumPy through the Python `safetensors` package:
//! - one tensor per parameter and buffer, named `"<layer>.<role>"` (`"0.weight"`, `"0.bias"`,
//!   `"3.running_mean"`), stored as the scalar type the network uses (`F32` or `F64`), row-major,
//!   with the shape the crate uses: a dense weight is `[in_dim, out_dim]` (so `y = x·W + b`;
//!   PyTorch's `Linear` stores the transpose) and a bias `[1, out_dim]`;
//! - the architecture in the metadata, so [`Sequential::load`] rebuilds the network without the
//!   code that made it: `format = "backprop"`, `format_version = "1"`, `dtype`, `input_shape`
//!   (`"64"` or `"1x28x28"`), `layers` (the count) and `layer.<i>` = the layer's kind and settings,
//!   e.g. `"dense bias=true in_dim=64 out_dim=128"`.
//!
//! Optimizer state is not part of a model file; a [checkpoint](crate::checkpoint) holds it too.
//!
//! # Safety against hostile files
//! The safetensors crate validates the header (size cap, offsets, exact coverage of the bytes);
//! then every number the metadata declares is checked against the tensors the file really holds
//! before anything is allocated, and every tensor's name, type and shape is checked before any is
//! written. A bad file is an [`Error::Format`], never a panic.
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

use crate::{
    Dense, Dropout, DropoutScaling, Error, FormatError, Identity, Layer, LayerConfig, LayerId, LeakyRelu, Real, Relu,
    Result, Sequential, Shape, Sigmoid, Softmax, Step, Tanh,
};
use nalgebra::DMatrix;
use safetensors::{Dtype, SafeTensors, View};
use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;

pub(crate) const FORMAT: &str = "backprop";
pub(crate) const VERSION: &str = "1";

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
pub(crate) type FileParts = (HashMap<String, String>, Vec<(String, Tensor)>);

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

/// The name of a layer's tensor.
fn tensor_name(layer: usize, role: &str) -> String {
    format!("{layer}.{role}")
}

/// Every tensor of the network, in order: per layer, parameters then buffers.
fn tensors_of<T: Real>(net: &Sequential<T>) -> Vec<(String, &DMatrix<T>)> {
    let mut out = Vec::new();
    for (i, layer) in net.layers().enumerate() {
        layer.visit_params(&mut |p| out.push((tensor_name(i, p.name()), p.value())));
        layer.visit_buffers(&mut |name, m| out.push((tensor_name(i, name), m)));
    }
    out
}

/// `"kind key=value ..."`; kinds, keys and values may not contain whitespace or `=`.
pub(crate) fn encode_config(index: usize, config: &LayerConfig) -> Result<String> {
    let bad = |s: &str| s.is_empty() || s.contains(|c: char| c.is_whitespace() || c == '=');
    let mut text = config.kind.clone();
    for (key, value) in &config.settings {
        if bad(key) || bad(value) {
            return Err(Error::InvalidConfig {
                name: "layer setting",
                value: format!("layer {index}: {key}={value}"),
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
    let mut config = LayerConfig::new(words.next().unwrap_or_default());
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

/// A setting of a layer's configuration, parsed.
fn setting<V: std::str::FromStr>(index: usize, config: &LayerConfig, name: &'static str) -> Result<V> {
    let key = format!("layer.{index}");
    let text =
        config.settings.get(name).ok_or_else(|| bad_metadata(&key, &config.kind, "a layer with all its settings"))?;
    text.parse().map_err(|_| bad_metadata(&key, text, "a number or true/false for each setting"))
}

/// Rebuilds a built-in layer from its configuration, with the number of parameter values it
/// will hold (checked against the file before the layer allocates anything).
fn layer_from_config<T: Real>(index: usize, config: &LayerConfig) -> Result<(Box<dyn Layer<T>>, usize)> {
    let layer: Box<dyn Layer<T>> = match config.kind.as_str() {
        "dense" => {
            let (in_dim, out_dim): (usize, usize) =
                (setting(index, config, "in_dim")?, setting(index, config, "out_dim")?);
            let bias: bool = setting(index, config, "bias")?;
            let values = in_dim.checked_mul(out_dim).and_then(|w| w.checked_add(if bias { out_dim } else { 0 }));
            let layer = Dense::<T>::new(in_dim, out_dim);
            let layer = if bias { layer } else { layer.without_bias() };
            return Ok((Box::new(layer), values.unwrap_or(usize::MAX)));
        }
        "sigmoid" => Box::new(Sigmoid),
        "tanh" => Box::new(Tanh),
        "relu" => Box::new(Relu),
        "identity" => Box::new(Identity),
        "step" => Box::new(Step),
        "softmax" => Box::new(Softmax),
        "leaky_relu" => {
            let alpha: f64 = setting(index, config, "alpha")?;
            if !alpha.is_finite() {
                return Err(bad_metadata(&format!("layer.{index}"), &alpha.to_string(), "a finite slope"));
            }
            Box::new(LeakyRelu { alpha })
        }
        "dropout" => {
            let scaling = match config.settings.get("scaling").map(String::as_str) {
                Some("inverted") => DropoutScaling::Inverted,
                Some("at_inference") => DropoutScaling::AtInference,
                _ => {
                    return Err(bad_metadata(
                        &format!("layer.{index}"),
                        &config.kind,
                        "scaling=inverted or at_inference",
                    ))
                }
            };
            Box::new(Dropout::<T>::new(setting(index, config, "p")?)?.with_scaling(scaling))
        }
        other => return Err(Error::Format(FormatError::UnknownLayer { index, kind: other.to_string() })),
    };
    Ok((layer, 0))
}

/// Reads the tensor `name` of the file as a matrix of `T`, checking its type, its shape (`shape`,
/// or any two-dimensional one if `None`) and that its values are finite. Errors name the tensor.
pub(crate) fn read_matrix<T: Real>(
    file: &SafeTensors<'_>,
    name: &str,
    shape: Option<(usize, usize)>,
) -> Result<DMatrix<T>> {
    let view = file.tensor(name).map_err(|_| Error::Format(FormatError::MissingTensor { name: name.to_string() }))?;
    if view.dtype() != dtype_of::<T>() {
        return Err(Error::Format(FormatError::WrongDtype {
            tensor: name.to_string(),
            expected: T::NAME,
            got: format!("{:?}", view.dtype()),
        }));
    }
    let (rows, cols) = match (shape, view.shape()) {
        (Some((rows, cols)), got) if got == [rows, cols] => (rows, cols),
        (None, &[rows, cols]) => (rows, cols),
        (expected, got) => {
            return Err(Error::Format(FormatError::TensorShape {
                name: name.to_string(),
                expected: expected.map_or(vec![0, 0], |(r, c)| vec![r, c]),
                got: got.to_vec(),
            }))
        }
    };
    let numbers: Vec<T> = view.data().chunks_exact(T::BYTES).filter_map(T::read_le).collect();
    if Some(numbers.len()) != rows.checked_mul(cols) {
        return Err(format_err(format!("tensor {name:?} holds {} values for shape {rows}x{cols}", numbers.len())));
    }
    if let Some(k) = numbers.iter().position(|v| !v.is_finite()) {
        return Err(Error::Format(FormatError::NonFinite {
            name: name.to_string(),
            row: k / cols,
            col: k % cols,
            value: numbers[k].to_f64(),
        }));
    }
    Ok(DMatrix::from_row_slice(rows, cols, &numbers))
}

/// Reads every tensor the network needs from the file, checking names, types, shapes and values;
/// returns them in [`tensors_of`] order. Nothing is written. A tensor of the file that the
/// network has no place for is an error unless `other(name)` says it belongs to something else.
pub(crate) fn read_network_tensors<T: Real>(
    net: &Sequential<T>,
    file: &SafeTensors<'_>,
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
    for (i, layer) in net.layers_mut().enumerate() {
        let id = LayerId { index: Some(i), kind: layer.kind() };
        layer.visit_params_mut(&mut |p| {
            if let Some(v) = values.next() {
                // Cannot fail: read_network_tensors checked every shape, in this order.
                let _ = p.set_value(&v, id);
            }
        });
        layer.visit_buffers_mut(&mut |_, m| {
            if let Some(v) = values.next().filter(|v| v.shape() == m.shape()) {
                m.copy_from(&v);
            }
        });
    }
}

impl<T: Real> Sequential<T> {
    /// The network as the bytes of a safetensors file (see the [module docs](self)).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] if a layer's settings cannot be written (a custom layer whose
    /// setting contains spaces), or two tensors would share a name.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let (metadata, tensors) = self.file_parts()?;
        safetensors::serialize(tensors, Some(metadata)).map_err(format_err)
    }

    /// The metadata and the tensors of [`to_bytes`](Sequential::to_bytes), before serializing.
    pub(crate) fn file_parts(&self) -> Result<FileParts> {
        let mut metadata = HashMap::from([
            ("format".to_string(), FORMAT.to_string()),
            ("format_version".to_string(), VERSION.to_string()),
            ("dtype".to_string(), format!("{:?}", dtype_of::<T>())),
            ("input_shape".to_string(), self.input_shape().to_string()),
            ("layers".to_string(), self.len().to_string()),
        ]);
        for (i, layer) in self.layers().enumerate() {
            metadata.insert(format!("layer.{i}"), encode_config(i, &layer.config())?);
        }
        let mut tensors: Vec<(String, Tensor)> = Vec::new();
        for (name, m) in tensors_of(self) {
            if tensors.iter().any(|(n, _)| *n == name) {
                return Err(Error::InvalidConfig {
                    name: "tensor name",
                    value: name,
                    expected: "unique parameter and buffer names within each layer",
                });
            }
            tensors.push((name, Tensor::of(m)));
        }
        Ok((metadata, tensors))
    }

    /// Rebuilds a network from the bytes of a file written by [`to_bytes`](Sequential::to_bytes)
    /// or [`save`](Sequential::save), without any code describing its architecture.
    ///
    /// # Errors
    /// [`Error::Format`] for anything wrong with the bytes: not safetensors, metadata missing or
    /// wrong, an unknown layer kind, another scalar type than `T`, tensors missing, extra, of the
    /// wrong shape or holding NaN/infinity; [`Error::LayerChain`] if the declared layers do not
    /// fit together.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let file = SafeTensors::deserialize(bytes).map_err(format_err)?;
        let (_, header) = SafeTensors::read_metadata(bytes).map_err(format_err)?;
        let empty = HashMap::new();
        let meta = header.metadata().as_ref().unwrap_or(&empty);
        let get = |key: &'static str| {
            meta.get(key).map(String::as_str).ok_or(Error::Format(FormatError::MissingMetadata { key }))
        };
        if get("format")? != FORMAT {
            return Err(bad_metadata("format", get("format")?, "\"backprop\""));
        }
        if get("format_version")? != VERSION {
            return Err(bad_metadata("format_version", get("format_version")?, "\"1\""));
        }
        let dtype = format!("{:?}", dtype_of::<T>());
        if get("dtype")? != dtype {
            return Err(Error::Format(FormatError::WrongDtype {
                tensor: "file".into(),
                expected: T::NAME,
                got: get("dtype")?.to_string(),
            }));
        }
        let input = parse_shape(get("input_shape")?)
            .ok_or_else(|| bad_metadata("input_shape", get("input_shape").unwrap_or_default(), "N or CxHxW"))?;
        let count: usize =
            get("layers")?.parse().map_err(|_| bad_metadata("layers", get("layers").unwrap_or_default(), "a count"))?;
        if meta.keys().filter(|k| k.starts_with("layer.")).count() != count {
            return Err(bad_metadata("layers", get("layers")?, "the number of layer.<i> entries"));
        }

        let mut builder = Sequential::builder_shaped(input);
        let mut declared: usize = 0;
        for i in 0..count {
            let key = format!("layer.{i}");
            let text = meta.get(&key).ok_or_else(|| bad_metadata(&key, "", "a layer description"))?;
            let (layer, values) = layer_from_config::<T>(i, &decode_config(&key, text)?)?;
            declared = declared.saturating_add(values);
            builder = builder.add_boxed(layer);
        }
        let stored: usize = file.tensors().iter().map(|(_, v)| v.shape().iter().product::<usize>()).sum();
        if declared != stored {
            return Err(Error::Format(FormatError::SizeMismatch { declared, stored }));
        }
        let mut net = builder.build(0)?;
        let values = read_network_tensors(&net, &file, &|_| false)?;
        assign_network_tensors(&mut net, values);
        Ok(net)
    }

    /// Replaces this network's parameters and buffers with those in a file's bytes, keeping its
    /// architecture. Every name and shape is checked before anything is written: on error the
    /// network is unchanged.
    ///
    /// # Errors
    /// [`Error::Format`]: not safetensors, a tensor missing, extra, of another type or shape
    /// (the error names the tensor and both shapes), or holding NaN/infinity.
    pub fn load_weights_from_bytes(&mut self, bytes: &[u8]) -> Result<()> {
        let file = SafeTensors::deserialize(bytes).map_err(format_err)?;
        let values = read_network_tensors(self, &file, &|_| false)?;
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

    /// Loads a network saved with [`save`](Sequential::save).
    ///
    /// # Errors
    /// [`Error::Io`] if the file cannot be read; as [`from_bytes`](Sequential::from_bytes).
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        Self::from_bytes(&read(path.as_ref())?)
    }

    /// Loads the parameters of a saved network into this one (see
    /// [`load_weights_from_bytes`](Sequential::load_weights_from_bytes)).
    ///
    /// # Errors
    /// [`Error::Io`] if the file cannot be read; as `load_weights_from_bytes`.
    pub fn load_weights(&mut self, path: impl AsRef<Path>) -> Result<()> {
        self.load_weights_from_bytes(&read(path.as_ref())?)
    }
}

pub(crate) fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|error| Error::Io { action: "read", path: path.to_path_buf(), error })
}

/// Writes `bytes` to a temporary file beside `path`, then renames it to `path`.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let io = |action: &'static str, p: &Path| {
        let p = p.to_path_buf();
        move |error| Error::Io { action, path: p, error }
    };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let temp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let written = std::fs::File::create(&temp)
        .and_then(|mut f| f.write_all(bytes).and_then(|_| f.sync_all()))
        .map_err(io("write", &temp))
        .and_then(|_| std::fs::rename(&temp, path).map_err(io("replace", path)));
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written
}

/// Saves named matrices (e.g. inputs and predictions, to check them elsewhere) as a safetensors
/// file, row-major, atomically.
///
/// # Errors
/// [`Error::InvalidConfig`] for a repeated name; [`Error::Io`] if the file cannot be written.
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
    let bytes = read(path.as_ref())?;
    let file = SafeTensors::deserialize(&bytes).map_err(format_err)?;
    let mut out = Vec::new();
    for (name, view) in file.tensors() {
        if view.dtype() != dtype_of::<T>() {
            return Err(Error::Format(FormatError::WrongDtype {
                tensor: name,
                expected: T::NAME,
                got: format!("{:?}", view.dtype()),
            }));
        }
        let &[rows, cols] = view.shape() else {
            return Err(Error::Format(FormatError::TensorShape {
                name,
                expected: vec![0, 0],
                got: view.shape().to_vec(),
            }));
        };
        let numbers: Vec<T> = view.data().chunks_exact(T::BYTES).filter_map(T::read_le).collect();
        if Some(numbers.len()) != rows.checked_mul(cols) {
            return Err(format_err(format!("tensor {name:?} holds {} values for shape {rows}x{cols}", numbers.len())));
        }
        out.push((name, DMatrix::from_row_slice(rows, cols, &numbers)));
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
        let text = encode_config(0, &config).unwrap();
        assert_eq!(text, "dense bias=false in_dim=2");
        assert_eq!(decode_config("layer.0", &text).unwrap(), config);
        assert!(encode_config(0, &LayerConfig::new("x").with("name", "a b")).is_err());
    }

    #[test]
    fn shapes_parse() {
        assert_eq!(parse_shape("64"), Some(Shape::Flat(64)));
        assert_eq!(parse_shape("1x28x28"), Some(Shape::Image { channels: 1, height: 28, width: 28 }));
        assert_eq!(parse_shape("1x28"), None);
        assert_eq!(parse_shape(""), None);
    }
}
