//! What the tests install once per machine and reuse: a cache outside the
//! clone (`$GRACEFUL_TEST_CACHE`, else `$XDG_CACHE_HOME/graceful-tests`,
//! else `~/.cache/graceful-tests`). Each install is made beside its place
//! and renamed into it, so a second test process never sees half of one;
//! and packages from Debian (`apt-get`), which apt itself keeps.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The cache's root.
pub fn dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("GRACEFUL_TEST_CACHE") {
        return PathBuf::from(dir);
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("graceful-tests")
}

/// Makes `place` hold a complete install: at once when `complete(place)`
/// holds; else `fill` installs into a directory beside it, which is then
/// renamed to `place`. Another test process that finished first wins, and
/// its install is as good.
///
/// # Errors
///
/// `fill`'s, or the rename's.
pub fn install(
    place: &Path,
    complete: impl Fn(&Path) -> bool,
    fill: impl FnOnce(&Path) -> Result<(), String>,
) -> Result<(), String> {
    if complete(place) {
        return Ok(());
    }
    let partial = place.with_extension(format!("partial-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&partial);
    std::fs::create_dir_all(&partial)
        .map_err(|error| format!("cannot create {}: {error}", partial.display()))?;
    if let Err(why) = fill(&partial) {
        let _ = std::fs::remove_dir_all(&partial);
        return Err(why);
    }
    if !complete(&partial) {
        let _ = std::fs::remove_dir_all(&partial);
        return Err(format!(
            "the install into {} ended without error but is not complete",
            partial.display()
        ));
    }
    match std::fs::rename(&partial, place) {
        Ok(()) => Ok(()),
        Err(_) if complete(place) => {
            let _ = std::fs::remove_dir_all(&partial);
            Ok(())
        }
        Err(error) => Err(format!(
            "cannot move {} to {}: {error}",
            partial.display(),
            place.display()
        )),
    }
}

/// `apt-get install -y PACKAGES` (Debian's), after `apt-get update` if the
/// package lists are stale; `why` names what needs them. apt's own lock
/// serialises concurrent test processes: a second one waits for it, then
/// finds the packages installed.
///
/// # Errors
///
/// Not root, no apt-get, or apt-get failing: what happened, and what to do.
pub fn apt_install(packages: &[&str], why: &str) -> Result<(), String> {
    let how = format!(
        "install them with `apt-get install -y {}` (Debian's packages), or run the tests as root on a machine with apt-get",
        packages.join(" ")
    );
    if !is_root() {
        return Err(format!(
            "this test process is not root, so it cannot install them; {how}"
        ));
    }
    let apt_get = |args: &[&str]| -> Result<(), String> {
        eprintln!("{why}: running apt-get {}", args.join(" "));
        run(
            Command::new("apt-get")
                .args(["-o", "DPkg::Lock::Timeout=300", "-o", "Acquire::Retries=3"])
                .args(args)
                .env("DEBIAN_FRONTEND", "noninteractive"),
            &format!("apt-get {}", args.join(" ")),
            &how,
        )
    };
    let install: Vec<&str> = ["install", "-y"].iter().chain(packages).copied().collect();
    apt_get(&install).or_else(|_| {
        apt_get(&["update"])?;
        apt_get(&install)
    })
}

/// Runs an install step, `what`, with no input, and fails with its output
/// and `how` (what to do by hand) when it cannot run or does not succeed.
///
/// # Errors
///
/// The command not found, or its failure: its status, stdout and stderr.
pub fn run(command: &mut Command, what: &str, how: &str) -> Result<(), String> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|error| format!("cannot run {what} ({error}); {how}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what} failed ({}):\n{}{}\n{how}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// The executable `program`, on `PATH` or in one of `also` (where Debian
/// puts what is not on every user's `PATH`).
pub fn find(program: &str, also: &[&str]) -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default();
    on_path
        .into_iter()
        .chain(also.iter().map(PathBuf::from))
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// Whether this process runs as root.
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let uid = status.lines().find(|line| line.starts_with("Uid:"))?;
            Some(uid.split_whitespace().nth(1)? == "0")
        })
        .unwrap_or(false)
}
