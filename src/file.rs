//! Reading and writing whole files: what every module that saves something shares.
//!
//! A low-level module: it imports only the error type, so any module may use it.

use crate::{Error, Result};
use std::path::Path;

/// The bytes of the file at `path`.
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
