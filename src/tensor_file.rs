//! Reading safetensors files from untrusted sources, before the safetensors crate parses them.
//!
//! - [`read_bounded`] reads a file from a path no further than its header says the file goes,
//!   so a path that never ends (`/dev/zero`, a pipe) or a header promising gigabytes costs no
//!   more memory than the bytes that really are there, up to [`MAX_FILE_BYTES`].
//! - [`scan_header`] reads the header entry by entry: a tensor named twice is refused (a JSON
//!   object keeps the last of two equal keys, so the safetensors crate would quietly drop one),
//!   and a tensor whose type, shape and byte range disagree is an error naming it.
//! - [`TensorFile`] is the file then parsed once (the safetensors crate's index of the header
//!   costs a few hundred bytes a tensor, so it is built once, not twice).

use crate::{Error, FormatError, Result};
use safetensors::tensor::{Metadata, TensorInfo, TensorView};
use safetensors::SafeTensors;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::io::Read;
use std::path::Path;

/// The longest header the safetensors format allows (its crate's limit).
const MAX_HEADER_BYTES: u64 = 100_000_000;

/// The most tensors a file may list (a network of 16 384 dense layers with bias, and their Adam
/// state, would fill it). Parsing a header costs up to about 1 KiB of memory a tensor.
pub const MAX_TENSORS: usize = 1 << 16;

/// The largest model or checkpoint file read from a path (16 GiB): far above any network the
/// crate builds (see [`MAX_ELEMENTS`](crate::MAX_ELEMENTS)), but a bound on what a file that
/// claims to be larger can make a reader allocate.
pub const MAX_FILE_BYTES: u64 = 1 << 34;

fn bad(message: String) -> Error {
    Error::Format(FormatError::Safetensors(message))
}

/// The bytes of the safetensors file at `path`, read as far as its header says and no further:
/// the 8-byte header length, the header (at most 100 MB, checked by [`scan_header`]), then the
/// data the header's offsets cover. A file that ends early or goes on after that end is an error,
/// as is one larger than [`MAX_FILE_BYTES`]. Memory grows only as bytes arrive, so a short file
/// declaring a long one costs what it holds; a regular file's length is checked first.
pub(crate) fn read_bounded(path: &Path) -> Result<Vec<u8>> {
    let io = |error| Error::Io { action: "read", path: path.to_path_buf(), error };
    let file = std::fs::File::open(path).map_err(io)?;
    let known_len = file.metadata().ok().filter(std::fs::Metadata::is_file).map(|m| m.len());
    let mut reader = std::io::BufReader::new(file);
    let mut bytes = Vec::new();
    (&mut reader).take(8).read_to_end(&mut bytes).map_err(io)?;
    let header_len = match bytes.get(..8).and_then(|b| b.try_into().ok()) {
        Some(b) => u64::from_le_bytes(b),
        None => return Err(bad(format!("{} bytes, shorter than a safetensors header", bytes.len()))),
    };
    if header_len > MAX_HEADER_BYTES {
        return Err(bad(format!("a header of {header_len} bytes, more than the {MAX_HEADER_BYTES} allowed")));
    }
    if known_len.is_some_and(|len| len < 8 + header_len) {
        return Err(bad(format!("the header needs {header_len} bytes, the file holds {}", known_len.unwrap_or(0))));
    }
    (&mut reader).take(header_len).read_to_end(&mut bytes).map_err(io)?;
    let header = bytes.get(8..).unwrap_or_default();
    if (header.len() as u64) < header_len {
        return Err(bad(format!("the header needs {header_len} bytes, the file holds {}", header.len())));
    }
    let data_len = scan_header(header)? as u64;
    let total = 8 + header_len + data_len;
    if total > MAX_FILE_BYTES {
        return Err(bad(format!("the header announces {total} bytes, more than the {MAX_FILE_BYTES} read")));
    }
    if let Some(len) = known_len {
        if len != total {
            return Err(bad(format!("the header announces {total} bytes, the file holds {len}")));
        }
        bytes
            .try_reserve_exact(usize::try_from(data_len).unwrap_or(usize::MAX))
            .map_err(|_| bad(format!("no memory for the {data_len} bytes of tensor data the file holds")))?;
    }
    (&mut reader).take(data_len + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 != total {
        let got = bytes.len() as u64;
        let what = if got < total { "holds only" } else { "goes on past" };
        return Err(bad(format!("the header announces {total} bytes, the file {what} {}", got.min(total))));
    }
    Ok(bytes)
}

/// A safetensors file's bytes, checked and parsed: its metadata and its tensors by name.
pub(crate) struct TensorFile<'a> {
    header: Metadata,
    /// The tensors' names, in the order of their data.
    names: Vec<String>,
    /// The data after the header, which the tensors' offsets index.
    data: &'a [u8],
}

impl<'a> TensorFile<'a> {
    /// Parses `bytes` after checking the header with [`scan_header`]; the safetensors crate then
    /// checks the layout (offsets contiguous and covering the data exactly).
    pub(crate) fn parse(bytes: &'a [u8]) -> Result<Self> {
        check_bytes(bytes)?;
        let (n, header) = SafeTensors::read_metadata(bytes).map_err(|e| bad(e.to_string()))?;
        let data = bytes.get(8 + n..).unwrap_or_default();
        Ok(TensorFile { names: header.offset_keys(), header, data })
    }

    /// The `__metadata__` entries (none if the file has no metadata).
    pub(crate) fn metadata(&self) -> Option<&HashMap<String, String>> {
        self.header.metadata().as_ref()
    }

    /// The tensor `name`, if the file holds it.
    pub(crate) fn tensor(&self, name: &str) -> Option<TensorView<'a>> {
        let info = self.header.info(name)?;
        let bytes = self.data.get(info.data_offsets.0..info.data_offsets.1)?;
        TensorView::new(info.dtype, info.shape.clone(), bytes).ok()
    }

    /// The tensors' names, in the order of their data.
    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(String::as_str)
    }

    /// Every tensor with its name, in the order of their data.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, TensorView<'a>)> {
        self.names().filter_map(|name| Some((name, self.tensor(name)?)))
    }
}

/// Checks a file's bytes with [`scan_header`] before the safetensors crate reads them.
fn check_bytes(bytes: &[u8]) -> Result<()> {
    let header_len = bytes.get(..8).and_then(|b| b.try_into().ok()).map(u64::from_le_bytes);
    let header = header_len.filter(|&n| n <= MAX_HEADER_BYTES).and_then(|n| bytes.get(8..8 + n as usize));
    // Anything else is for the safetensors crate to describe.
    match header {
        Some(header) => scan_header(header).map(|_| ()),
        None => Ok(()),
    }
}

/// Reads a header entry by entry, refusing a tensor named twice and a tensor whose byte range
/// does not hold its type and shape exactly (naming it); returns the length of the data the
/// entries cover (their largest end offset). The data's layout (contiguous, starting at 0) is
/// then checked by the safetensors crate, whose errors name the tensor too.
pub(crate) fn scan_header(header: &[u8]) -> Result<usize> {
    let mut de = serde_json::Deserializer::from_slice(header);
    let scan = de.deserialize_map(Scan).map_err(|e| bad(format!("the header is not a JSON object of tensors: {e}")))?;
    scan.problem.map_or(Ok(scan.end), Err)
}

/// What [`scan_header`] found: the data's end and the first problem.
struct ScanResult {
    end: usize,
    problem: Option<Error>,
}

struct Scan;

impl<'de> Visitor<'de> for Scan {
    type Value = ScanResult;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object of tensor entries")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<ScanResult, A::Error> {
        let mut names = BTreeSet::new();
        let mut result = ScanResult { end: 0, problem: None };
        let mut count = 0usize;
        while let Some(name) = map.next_key::<String>()? {
            count += 1;
            if count > MAX_TENSORS && result.problem.is_none() {
                result.problem = Some(bad(format!("the header lists more than {MAX_TENSORS} tensors")));
            }
            // Once a problem is found, the rest is only skipped (the map must be read to its end).
            if name == "__metadata__" || result.problem.is_some() {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            let info: TensorInfo =
                map.next_value().map_err(|e| de::Error::custom(format_args!("tensor {}: {e}", short(&name))))?;
            match check_entry(&info) {
                Ok(end) => result.end = result.end.max(end),
                Err(problem) => {
                    result.problem = Some(Error::Format(FormatError::TensorEntry { name: short(&name), problem }));
                    continue;
                }
            }
            if let Some(name) = names.replace(name) {
                result.problem = Some(Error::Format(FormatError::DuplicateTensor { name: short(&name) }));
            }
        }
        Ok(result)
    }
}

/// The end of a tensor's byte range, if it holds exactly its type and shape.
fn check_entry(info: &TensorInfo) -> std::result::Result<usize, String> {
    let (start, end) = info.data_offsets;
    let shape = short(&format!("{:?}", info.shape));
    let bits = info.shape.iter().try_fold(info.dtype.bitsize(), |acc, &d| acc.checked_mul(d));
    let Some(bits) = bits else {
        return Err(format!("shape {shape} of {:?} has more elements than memory can hold", info.dtype));
    };
    if bits % 8 != 0 {
        return Err(format!("shape {shape} of {:?} does not fill whole bytes", info.dtype));
    }
    match end.checked_sub(start) {
        Some(len) if len == bits / 8 => Ok(end),
        Some(len) => Err(format!(
            "shape {shape} of {:?} takes {} bytes, its offsets [{start}, {end}] hold {len}",
            info.dtype,
            bits / 8
        )),
        None => Err(format!("its offsets [{start}, {end}] end before they start")),
    }
}

/// `text` cut to 80 characters, for messages about hostile files.
fn short(text: &str) -> String {
    let mut out: String = text.chars().take(80).collect();
    if out.len() < text.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(header: &str) -> FormatError {
        match scan_header(header.as_bytes()) {
            Err(Error::Format(e)) => e,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn duplicates_and_bad_entries_name_the_tensor() {
        let one = r#""a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}"#;
        assert_eq!(scan_header(format!("{{{one}}}").as_bytes()).unwrap(), 8);
        let e = problem(&format!("{{{one},{one}}}"));
        assert!(matches!(&e, FormatError::DuplicateTensor { name } if name == "a"), "{e:?}");
        let e = problem(r#"{"w":{"dtype":"F4","shape":[3],"data_offsets":[0,2]}}"#);
        assert!(matches!(&e, FormatError::TensorEntry { name, .. } if name == "w"), "{e}");
        let e = problem(r#"{"w":{"dtype":"F64","shape":[3],"data_offsets":[0,8]}}"#);
        assert!(e.to_string().contains("takes 24 bytes"), "{e}");
        let e = problem(r#"{"w":{"dtype":"F64","shape":[3],"data_offsets":[8,0]}}"#);
        assert!(e.to_string().contains("end before"), "{e}");
        let e = problem(r#"{"w":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,8]}}"#);
        assert!(e.to_string().contains("more elements"), "{e}");
    }
}
