//! Writing whole files: what every module that saves something shares (model files are read
//! by `tensor_file`, bounded by their headers).
//!
//! A low-level module: it imports only the error type, so any module may use it.

use crate::{Error, Result};
use std::path::Path;

/// Writes `bytes` to `path` atomically: to a fresh temporary file in the same folder, synced to
/// disk, then renamed over `path`. A reader sees the old file or the new one, never a part; on
/// error the old file is intact and the temporary file is removed.
///
/// Each write has a temporary file of its own (`.<name>.<random>.tmp`, created exclusively by
/// `tempfile`), so threads and processes saving to one path at once do not collide: the last
/// rename wins. A `path` that is a symbolic link has its target replaced, as editors do; the link
/// stays.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let io = |action: &'static str, p: &Path| {
        let p = p.to_path_buf();
        move |error| Error::Io { action, path: p, error }
    };
    // Through a symbolic link, write the file it points to.
    let target = match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => std::fs::canonicalize(path).map_err(io("resolve", path))?,
        _ => path.to_path_buf(),
    };
    let dir = match target.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut temp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(io("create a temporary file beside", &target))?;
    temp.write_all(bytes).and_then(|()| temp.as_file().sync_all()).map_err(io("write", temp.path()))?;
    // On failure the temporary file is dropped, which deletes it.
    temp.persist(&target).map_err(|e| io("replace", &target)(e.error))?;
    Ok(())
}
