//! Writing results: stdout, or a file replaced atomically (a temporary file in the same
//! directory, renamed over the target), so an interrupted run leaves the previous file intact.

use std::io::Write;
use std::path::Path;

use anyhow::Result;

use crate::error::InputError;

pub(crate) fn write_atomic(path: &Path, contents: &[u8]) -> Result<()> {
    let shown = path.display();
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        return Err(InputError::new(format!(
            "--output {shown}: directory {} does not exist",
            dir.display()
        ))
        .into());
    }
    if path.is_dir() {
        return Err(InputError::new(format!("--output {shown}: is a directory")).into());
    }
    let mut temp = tempfile::Builder::new()
        .prefix(".nsm-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| {
            InputError::new(format!(
                "--output {shown}: cannot create a file in {}: {e}",
                dir.display()
            ))
        })?;
    temp.write_all(contents)
        .and_then(|_| temp.as_file().sync_all())
        .map_err(|e| InputError::new(format!("--output {shown}: write failed: {e}")))?;
    // Temporary files are private (0600); the result is an ordinary file.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = temp
            .as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644));
    }
    temp.persist(path).map_err(|e| {
        InputError::new(format!(
            "--output {shown}: cannot replace the file: {}",
            e.error
        ))
    })?;
    Ok(())
}

/// Write to `path` atomically, or to stdout when there is none.
pub(crate) fn emit(path: Option<&Path>, contents: &str) -> Result<()> {
    match path {
        Some(path) => write_atomic(path, contents.as_bytes()),
        None => {
            let mut stdout = std::io::stdout().lock();
            match stdout
                .write_all(contents.as_bytes())
                .and_then(|_| stdout.flush())
            {
                // A closed pipe (`nsm ... | head`) is not an error worth a message.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                other => Ok(other?),
            }
        }
    }
}
