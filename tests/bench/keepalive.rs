//! Figure 15: the keep-alive hold's trade (`Serve::keep_alive_hold`). 16
//! kept-alive clients that reuse a pooled connection without checking it
//! (Python's `http.client`, `tests/python/keepalive_clients.py`: `GET /`
//! every 0–200 ms, no retries), SIGTERM once each has had 3 answers: how
//! many clients lost a request, and the exit after SIGTERM. The example
//! service with the default hold, with none, and with a 2 s lame duck,
//! beside plain axum (`tests/fixtures/baseline_axum.rs`); on loopback and
//! across a path of 10 ms each way (`support::netpath`, which needs
//! root); every configuration once per round, rounds repeated.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use super::support::netpath::NetPath;
use super::support::{Service, reuse};

/// One way to serve: a label, the binary, extra environment.
struct Setup<'a> {
    label: &'static str,
    program: &'a Path,
    env: &'static [(&'static str, &'static str)],
}

/// Where the clients reach the server from.
enum Place<'a> {
    Loopback,
    Path(&'a NetPath),
}

fn run(setup: &Setup<'_>, place: &Place<'_>, index: usize) -> reuse::Tally {
    let (command, host) = match place {
        Place::Loopback => (Command::new(setup.program), "127.0.0.1".to_owned()),
        Place::Path(path) => (path.command(setup.program), path.server.to_string()),
    };
    let mut env = vec![("HOST", host.as_str()), ("GRACEFUL_TIMEOUT", "10s")];
    env.extend_from_slice(setup.env);
    let service = Service::start_command(&format!("keepalive-{index}"), command, &env);
    reuse::across_sigterm(service, 16)
}

/// Measures every setup in both places, `runs` rounds; returns the
/// markdown table.
pub(crate) fn figure(service: &Path, axum: &Path, runs: usize) -> String {
    let setups = [
        Setup {
            label: "ours, hold 500 ms (the default)",
            program: service,
            env: &[],
        },
        Setup {
            label: "ours, hold 0 (`KEEP_ALIVE_HOLD=0s`)",
            program: service,
            env: &[("KEEP_ALIVE_HOLD", "0s")],
        },
        Setup {
            label: "axum `with_graceful_shutdown`",
            program: axum,
            env: &[],
        },
        Setup {
            label: "ours, lame duck 2 s, hold 500 ms",
            program: service,
            env: &[("GRACEFUL_DRAIN_DELAY", "2s")],
        },
        Setup {
            label: "ours, lame duck 2 s, hold 0",
            program: service,
            env: &[("GRACEFUL_DRAIN_DELAY", "2s"), ("KEEP_ALIVE_HOLD", "0s")],
        },
    ];
    let path = NetPath::new(Duration::from_millis(10));
    let places = [Place::Loopback, Place::Path(&path)];
    // [setup][place] -> (clients that lost, exit ms) per run.
    let mut seen = vec![vec![Vec::new(); places.len()]; setups.len()];
    let began = Instant::now();
    let mut index = 0;
    for _ in 0..runs {
        for (p, place) in places.iter().enumerate() {
            for (s, setup) in setups.iter().enumerate() {
                index += 1;
                let tally = run(setup, place, index);
                assert_eq!(tally.exit_code, Some(0), "{}: {}", setup.label, tally.json);
                if tally.clients_that_lost() > 0 && setup.program == service {
                    // Ours should lose none: what the clients saw, and what
                    // the server said.
                    let place = match place {
                        Place::Loopback => "loopback",
                        Place::Path(_) => "the path",
                    };
                    eprintln!(
                        "keep-alive figure: {} on {place} lost: {}\nthe server's log:\n{}",
                        setup.label, tally.json["lost"], tally.stderr
                    );
                }
                seen[s][p].push((tally.clients_that_lost(), super::ms(tally.exit)));
            }
        }
    }
    eprintln!("keep-alive figure: {runs} rounds in {:?}", began.elapsed());
    let mut md = String::from(
        "| server | loopback: clients that lost a request (of 16), each run | exit after SIGTERM (ms) | 2 × 10 ms path: lost | exit (ms) |\n|---|---|---|---|---|\n",
    );
    for (setup, places) in setups.iter().zip(&seen) {
        let cells: Vec<String> = places
            .iter()
            .flat_map(|runs| {
                let lost: Vec<String> = runs.iter().map(|(lost, _)| lost.to_string()).collect();
                let exits: Vec<f64> = runs.iter().map(|&(_, ms)| ms).collect();
                [lost.join(", "), super::Spread::of(exits).text(0)]
            })
            .collect();
        md.push_str(&format!("| {} | {} |\n", setup.label, cells.join(" | ")));
    }
    md
}

/// This build of the example service against another (`other`, a binary of
/// `examples/service` built from another commit), in the lame-duck setups
/// across the path, where a change to how the listener closes shows: the
/// two alternate within each round (A B A B ...), `runs` rounds, and this
/// build is also run a second time in each round, as the noise floor.
/// Returns the markdown table.
pub(crate) fn against(service: &Path, other: &Path, runs: usize) -> String {
    let path = NetPath::new(Duration::from_millis(10));
    let place = Place::Path(&path);
    let mut md = String::from(
        "| setup (2 × 10 ms path) | build | clients that lost a request (of 16), each run | exit after SIGTERM (ms) |\n|---|---|---|---|\n",
    );
    let envs: [(&str, &[(&str, &str)]); 2] = [
        (
            "lame duck 2 s, hold 0",
            &[("GRACEFUL_DRAIN_DELAY", "2s"), ("KEEP_ALIVE_HOLD", "0s")],
        ),
        (
            "lame duck 2 s, hold 500 ms",
            &[("GRACEFUL_DRAIN_DELAY", "2s")],
        ),
    ];
    let began = Instant::now();
    let mut index = 0;
    for (setup, env) in envs {
        let builds = [
            ("this build", service),
            (other.to_str().unwrap_or("other"), other),
            ("this build, again", service),
        ];
        let mut seen = vec![Vec::new(); builds.len()];
        for _ in 0..runs {
            for (b, (_, program)) in builds.iter().enumerate() {
                index += 1;
                let setup = Setup {
                    label: "against",
                    program,
                    env,
                };
                let tally = run(&setup, &place, index);
                assert_eq!(tally.exit_code, Some(0), "{}", tally.json);
                seen[b].push((tally.clients_that_lost(), super::ms(tally.exit)));
            }
        }
        for ((label, _), runs) in builds.iter().zip(&seen) {
            let lost: Vec<String> = runs.iter().map(|(lost, _)| lost.to_string()).collect();
            let exits: Vec<f64> = runs.iter().map(|&(_, ms)| ms).collect();
            md.push_str(&format!(
                "| {setup} | {label} | {} | {} |\n",
                lost.join(", "),
                super::Spread::of(exits).text(0)
            ));
        }
    }
    eprintln!(
        "keep-alive against {}: {runs} rounds in {:?}",
        other.display(),
        began.elapsed()
    );
    md
}
