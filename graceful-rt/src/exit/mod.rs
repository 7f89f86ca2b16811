//! The end of the process: the code it exits with ([`code`]), the report
//! of how the shutdown went ([`report`]), and [`leave`], the one way out,
//! whichever path led there (the cleanup's end, the deadline, a second
//! Ctrl-C).

pub mod code;
pub mod report;

use std::io::Write as _;
use std::path::Path;

use crate::log;
use crate::process::pid_file;
use crate::process::supervisor::Supervisor;
use report::{Outcome, Report};

/// Ends the process with the code `report` earned: its summary line (an
/// error for a forced exit, a warning for a failure), the JSON report when
/// `GRACEFUL_REPORT` asks for it, the PID file removed if it still names
/// this process, stdout and stderr flushed, and last the supervisor told
/// (the Windows SCM's `SERVICE_STOPPED`, with the code).
pub(crate) fn leave(
    report: &Report,
    report_path: Option<&Path>,
    pid_file: Option<&Path>,
    supervisor: &Supervisor,
) -> ! {
    let summary = report.summary();
    match report.outcome {
        Outcome::Clean => log::info!("{summary}"),
        Outcome::Deadline | Outcome::Interrupted => log::error!("{summary}"),
        _ => log::warning!("{summary}"),
    }
    if let Some(path) = report_path {
        if let Err(error) = report.write_json(path) {
            log::error!(
                "cannot write the shutdown report to {}: {error}",
                path.display()
            );
        }
    }
    if let Some(path) = pid_file {
        pid_file::remove_if_ours(path);
    }
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    supervisor.exiting(report.exit_code);
    std::process::exit(report.exit_code)
}
