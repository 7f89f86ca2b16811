//! Windows programs, run for real under Wine: the tools installed when
//! missing (Debian's `wine64` and `gcc-mingw-w64-x86-64`, rustup's
//! `x86_64-pc-windows-gnu` target), a Wine prefix made once per machine in
//! the test cache (with the `ProcessPrng` DLL Wine 8.0 lacks, built from
//! `process_prng.c`), and cargo commands that cross-build for Windows and
//! run what they build under Wine. A test fails, never skips, saying what
//! to do, when any of it cannot be had.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use super::cache::{find, run};

/// The Windows target everything is built for.
pub const TARGET: &str = "x86_64-pc-windows-gnu";

/// Debian's packages: Wine (64-bit, and `wine`, its loader, which wine64
/// only recommends) and the MinGW-w64 C toolchain, which links Rust's
/// Windows binaries and builds the DLL.
const PACKAGES: &[&str] = &["wine", "wine64", "gcc-mingw-w64-x86-64"];

/// The prefix's name in the cache: a new name when what goes into it
/// changes.
const PREFIX: &str = "wine-prefix-1";

/// The tools, and the prefix to run in.
#[derive(Debug)]
pub struct Wine {
    /// `wine`, Debian's loader: it picks wine64 for a 64-bit program.
    wine: PathBuf,
    prefix: PathBuf,
}

/// Wine ready to run Windows programs, set up on first use.
pub fn wine() -> &'static Wine {
    static READY: OnceLock<Result<Wine, String>> = OnceLock::new();
    READY
        .get_or_init(set_up)
        .as_ref()
        .unwrap_or_else(|why| panic!("Windows programs cannot be run here: {why}"))
}

fn set_up() -> Result<Wine, String> {
    if find("wine", &[]).is_none() || find("x86_64-w64-mingw32-gcc", &[]).is_none() {
        super::cache::apt_install(PACKAGES, "Wine or MinGW-w64 is missing")?;
    }
    let wine = find("wine", &[]).ok_or("apt-get installed wine, but `wine` is not on PATH")?;
    let gcc = find("x86_64-w64-mingw32-gcc", &[]).ok_or(
        "apt-get installed gcc-mingw-w64-x86-64, but x86_64-w64-mingw32-gcc is not on PATH",
    )?;
    add_target()?;
    let prefix = super::cache::dir().join(PREFIX);
    let complete = |prefix: &Path| prefix.join(".complete").is_file();
    super::cache::install(&prefix, complete, |partial| {
        eprintln!(
            "making a Wine prefix in {} (once; later runs reuse it)",
            prefix.display()
        );
        run(
            Command::new(&wine)
                .arg("wineboot")
                .arg("--init")
                .env("WINEPREFIX", partial)
                .env("WINEDEBUG", "-all"),
            "wineboot --init",
            "",
        )?;
        // The prefix is whole once its wineserver has written it and gone.
        let wineserver = find("wineserver", &["/usr/lib/wine"])
            .ok_or("no wineserver on PATH or in /usr/lib/wine")?;
        run(
            Command::new(wineserver)
                .arg("--wait")
                .env("WINEPREFIX", partial),
            "wineserver --wait",
            "",
        )?;
        let system32 = partial.join("drive_c/windows/system32");
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/process_prng.c");
        run(
            Command::new(&gcc)
                .args(["-shared", "-O2", "-o"])
                .arg(system32.join("bcryptprimitives.dll"))
                .arg(&source)
                .arg("-ladvapi32"),
            "x86_64-w64-mingw32-gcc (the ProcessPrng DLL)",
            "",
        )?;
        std::fs::write(partial.join(".complete"), "")
            .map_err(|error| format!("cannot write {}: {error}", partial.display()))
    })?;
    Ok(Wine { wine, prefix })
}

impl Wine {
    /// `wine PROGRAM`, in the prefix, with Wine's own debug output off.
    pub fn command(&self, program: &Path) -> Command {
        let mut command = Command::new(&self.wine);
        command
            .arg(program)
            .env("WINEPREFIX", &self.prefix)
            .env("WINEDEBUG", "-all")
            .stdin(Stdio::null());
        command
    }

    /// `cargo ARGS --target x86_64-pc-windows-gnu`, in this workspace, with
    /// Wine as the runner of what it builds (`cargo test`, `cargo run`).
    pub fn cargo(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO"));
        command
            .args(args)
            .args(["--target", TARGET])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER", &self.wine)
            .env("WINEPREFIX", &self.prefix)
            .env("WINEDEBUG", "-all")
            .stdin(Stdio::null());
        command
    }

    /// Builds the binaries of `package` for Windows and returns the
    /// directory they are in.
    pub fn build(&self, package: &str) -> PathBuf {
        let output = self
            .cargo(&["build", "--quiet", "-p", package])
            .output()
            .expect("cargo runs");
        assert!(
            output.status.success(),
            "cargo build -p {package} --target {TARGET} failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        target_dir().join(TARGET).join("debug")
    }
}

/// `path` as a Windows program under Wine sees it (drive Z: is `/`).
pub fn windows_path(path: &Path) -> String {
    format!("Z:{}", path.display()).replace('/', "\\")
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("target"),
        PathBuf::from,
    )
}

/// `rustup target add x86_64-pc-windows-gnu`, unless it is installed.
fn add_target() -> Result<(), String> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map_err(|error| format!("cannot run rustup ({error}): install the {TARGET} target's standard library by hand"))?;
    if String::from_utf8_lossy(&installed.stdout)
        .lines()
        .any(|line| line.trim() == TARGET)
    {
        return Ok(());
    }
    eprintln!("the {TARGET} target is missing: running rustup target add {TARGET}");
    run(
        Command::new("rustup").args(["target", "add", TARGET]),
        &format!("rustup target add {TARGET}"),
        "",
    )
}
