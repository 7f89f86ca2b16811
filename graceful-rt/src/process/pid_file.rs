//! `GRACEFUL_PID_FILE`: a file that always holds the PID of the process in
//! charge. Written when the process starts; after an upgrade, rewritten by
//! the new process once it is ready; removed at the exit by the process it
//! names (an upgraded process leaves the new one's PID in place).
//!
//! The file is replaced by a rename, so a reader sees the old PID or the
//! new one, never a half-written file.

use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use crate::log;

/// The variable naming the file.
pub(crate) const PID_FILE_VAR: &str = "GRACEFUL_PID_FILE";

/// Writes this process's PID to `path`, logging a failure (the process
/// runs on without it).
pub(crate) fn write(path: &Path) {
    if let Err(error) = replace(path) {
        log::warning!(
            "cannot write the PID file {} ({PID_FILE_VAR}): {error}",
            path.display()
        );
    }
}

fn replace(path: &Path) -> io::Result<()> {
    let pid = std::process::id();
    let mut staged = path.as_os_str().to_owned();
    staged.push(format!(".{pid}.tmp"));
    let staged = PathBuf::from(staged);
    let mut file = std::fs::File::create(&staged)?;
    file.write_all(format!("{pid}\n").as_bytes())?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&staged, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&staged);
    })
}

/// Removes the file at `path` if it still names this process.
pub(crate) fn remove_if_ours(path: &Path) {
    let ours = std::fs::read_to_string(path)
        .is_ok_and(|text| text.trim() == std::process::id().to_string());
    if ours {
        let _ = std::fs::remove_file(path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_then_removed_only_while_it_names_this_process() {
        let dir = std::env::temp_dir().join(format!("graceful-pid-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("service.pid");
        write(&path);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            format!("{}\n", std::process::id())
        );
        std::fs::write(&path, "1\n").unwrap();
        remove_if_ours(&path);
        assert!(path.exists(), "another process's PID is left in place");
        write(&path);
        remove_if_ours(&path);
        assert!(!path.exists());
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            0,
            "no staged file left"
        );
    }
}
