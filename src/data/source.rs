//! Opening a data file, raw or gzip-compressed, with errors that name it.

use super::DataError;
use crate::{Error, Result};
use flate2::read::MultiGzDecoder;
use std::fs::File;
use std::io::{self, BufReader, Cursor, Read};
use std::path::{Path, PathBuf};

/// The two bytes every gzip stream starts with.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// An open data file: its decompressed bytes, and what is known of their length.
pub(crate) struct Source {
    /// The decompressed bytes.
    pub reader: Box<dyn Read>,
    /// The file, for error messages.
    pub path: PathBuf,
    /// The length of a raw file (its bytes are its data); `None` for gzip, whose decompressed
    /// length is known only once read.
    pub raw_len: Option<u64>,
}

/// What to say when a file is missing.
pub(crate) struct Missing<'a> {
    /// The kind of file, e.g. `"MNIST"`.
    pub what: &'static str,
    /// Where to get it or put it.
    pub hint: &'a dyn Fn() -> String,
}

/// Opens `path`, decompressing it if it starts with the gzip magic `1f 8b`.
pub(crate) fn open(path: &Path, missing: &Missing<'_>) -> Result<Source> {
    let mut file = File::open(path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => {
            DataError::DataFileNotFound { what: missing.what, path: path.to_path_buf(), hint: (missing.hint)() }.into()
        }
        _ => io_error("open", path, e),
    })?;
    let raw_len = file.metadata().map_err(|e| io_error("read", path, e))?.len();
    let mut head = [0u8; 2];
    let got = read_full(&mut file, &mut head).map_err(|e| io_error("read", path, e))?;
    let start = Cursor::new(head.get(..got).unwrap_or_default().to_vec());
    let bytes = start.chain(BufReader::with_capacity(1 << 16, file));
    let (reader, raw_len): (Box<dyn Read>, _) = if got == 2 && head == GZIP_MAGIC {
        (Box::new(BufReader::with_capacity(1 << 16, MultiGzDecoder::new(bytes))), None)
    } else {
        (Box::new(bytes), Some(raw_len))
    };
    Ok(Source { reader, path: path.to_path_buf(), raw_len })
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
pub(crate) fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut done = 0;
    while let Some(rest) = buf.get_mut(done..) {
        if rest.is_empty() {
            break;
        }
        match r.read(rest) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// [`Error::Io`] for `path`.
pub(crate) fn io_error(action: &'static str, path: &Path, error: io::Error) -> Error {
    Error::Io { action, path: path.to_path_buf(), error }
}
