//! The Service Control Manager's side of the example, as a person at a
//! shell would use `sc.exe`, printing every status the service reports:
//! what tests/windows.rs drives the example with, under Wine.
//!
//! ```text
//! scm run NAME EXE LOG SLOW_MS
//! ```
//!
//! creates the service NAME (its own process, started on demand) for
//! `EXE LOG 0`, starts it, waits for `listening on ADDRESS` in LOG, sends
//! `GET /slow?ms=SLOW_MS`, stops the
//! service once the log says the request is in the handler, polls its status every 20 ms
//! until it is stopped, reads the slow response, and deletes the service.
//! Each step is a line on stdout: `running`, `listening ADDRESS`,
//! `stop STATE`, `status STATE checkpoint=N wait_hint_ms=N` (each change),
//! `stopped exit=CODE`, `slow STATUS-LINE`. Exits 0 when the service
//! stopped; on any failure it says which step failed and exits 1.

#[cfg(windows)]
mod scm {
    use std::ffi::{OsStr, OsString};
    use std::io::{Read as _, Write as _};
    use std::net::TcpStream;
    use std::path::PathBuf;
    use std::time::{Duration, Instant};

    use windows_service::service::{
        ServiceAccess, ServiceErrorControl, ServiceExitCode, ServiceInfo, ServiceStartType,
        ServiceState, ServiceType,
    };
    use windows_service::service_manager::{ServiceManager, ServiceManagerAccess};

    type Error = Box<dyn std::error::Error>;

    pub(crate) const USAGE: &str = "usage: scm run NAME EXE LOG SLOW_MS";

    /// How long each wait lasts at most.
    const WAIT: Duration = Duration::from_secs(30);

    pub(crate) fn run(args: &[String]) -> Result<(), Error> {
        let [name, exe, log, slow_ms] = args else {
            return Err(USAGE.into());
        };
        let manager = ServiceManager::local_computer(
            None::<&str>,
            ServiceManagerAccess::CONNECT | ServiceManagerAccess::CREATE_SERVICE,
        )?;
        let info = ServiceInfo {
            name: OsString::from(name),
            display_name: OsString::from(name),
            service_type: ServiceType::OWN_PROCESS,
            start_type: ServiceStartType::OnDemand,
            error_control: ServiceErrorControl::Normal,
            executable_path: PathBuf::from(exe),
            launch_arguments: vec![OsString::from(log), OsString::from("0")],
            dependencies: Vec::new(),
            account_name: None,
            account_password: None,
        };
        let access = ServiceAccess::QUERY_STATUS
            | ServiceAccess::START
            | ServiceAccess::STOP
            | ServiceAccess::DELETE
            | ServiceAccess::CHANGE_CONFIG;
        let service = manager
            .create_service(&info, access)
            .map_err(|error| format!("create the service: {error}"))?;
        let outcome = (|| -> Result<(), Error> {
            service
                .start(&[] as &[&OsStr])
                .map_err(|error| format!("start the service: {error}"))?;
            until("the service to run", || {
                Ok(service.query_status()?.current_state == ServiceState::Running)
            })?;
            println!("running");
            let mut address = None;
            until("`listening on` in the log", || {
                let text = std::fs::read_to_string(log).unwrap_or_default();
                address = text
                    .lines()
                    .find_map(|line| Some(line.split("listening on ").nth(1)?.trim().to_owned()));
                Ok(address.is_some())
            })?;
            let address = address.unwrap_or_default();
            println!("listening {address}");
            let mut slow = TcpStream::connect(&address)?;
            write!(
                slow,
                "GET /slow?ms={slow_ms} HTTP/1.1\r\nhost: service\r\n\r\n"
            )?;
            until("the slow request in the log", || {
                let text = std::fs::read_to_string(log).unwrap_or_default();
                Ok(text.contains("slow request: sleeping"))
            })?;
            let stopping = service
                .stop()
                .map_err(|error| format!("stop the service: {error}"))?;
            println!("stop {:?}", stopping.current_state);
            let mut last = None;
            let mut exit = None;
            until("the service to stop", || {
                let status = service.query_status()?;
                let seen = (status.current_state, status.checkpoint, status.wait_hint);
                if last != Some(seen) {
                    println!(
                        "status {:?} checkpoint={} wait_hint_ms={}",
                        status.current_state,
                        status.checkpoint,
                        status.wait_hint.as_millis()
                    );
                    last = Some(seen);
                }
                if status.current_state == ServiceState::Stopped {
                    exit = Some(status.exit_code);
                    return Ok(true);
                }
                std::thread::sleep(Duration::from_millis(20));
                Ok(false)
            })?;
            match exit {
                Some(ServiceExitCode::Win32(code)) => println!("stopped exit=win32:{code}"),
                Some(ServiceExitCode::ServiceSpecific(code)) => {
                    println!("stopped exit=service:{code}");
                }
                None => {}
            }
            let mut answer = String::new();
            slow.set_read_timeout(Some(WAIT))?;
            let _ = slow.read_to_string(&mut answer);
            println!("slow {}", answer.lines().next().unwrap_or("(nothing)"));
            Ok(())
        })();
        let deleted = service.delete();
        outcome?;
        deleted.map_err(|error| format!("delete the service: {error}"))?;
        Ok(())
    }

    /// Polls `done` until it holds, for [`WAIT`] at most.
    fn until(what: &str, mut done: impl FnMut() -> Result<bool, Error>) -> Result<(), Error> {
        let start = Instant::now();
        while start.elapsed() < WAIT {
            if done()? {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(format!("waited {WAIT:?} for {what}").into())
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    #[cfg(windows)]
    let outcome = match args.split_first() {
        Some((command, rest)) if command == "run" => scm::run(rest),
        _ => Err(scm::USAGE.into()),
    };
    #[cfg(not(windows))]
    let outcome: Result<(), String> = {
        let _ = args;
        Err("the SCM's side of a Windows service: build it for Windows".into())
    };
    if let Err(error) = outcome {
        eprintln!("scm: {error}");
        std::process::exit(1);
    }
}
