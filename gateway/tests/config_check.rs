//! The `gateway` binary's `--check` and its start refuse what cannot run, with a
//! message that names the key, never with an abort: sizes past their bound, a
//! memory budget larger than the machine, listeners that share a port. And a
//! listener that cannot bind at start says which one and where.

mod obs;
mod util;

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use gateway::config::Topology;
use gateway::config::{DEMO_TOML, MAX_LOG_BYTES_PER_LOGIN};
use obs::TempDir;

const GATEWAY: &str = env!("CARGO_BIN_EXE_gateway");

/// The demo configuration on ephemeral loopback ports.
fn demo() -> String {
    DEMO_TOML
        .replace("listen = [\"127.0.0.1:9100\"]", "listen = [\"127.0.0.1:0\"]")
        .replace("listen = \"127.0.0.1:9180\"", "listen = \"127.0.0.1:0\"")
}

/// [`demo`] with `from` replaced by `to`.
fn demo_with(from: &str, to: &str) -> String {
    let text = demo();
    let changed = text.replacen(from, to, 1);
    assert_ne!(changed, text, "{from:?} is in the demo configuration");
    changed
}

/// What one run of the binary said.
#[derive(Debug)]
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs `gateway --config FILE ARGS`; a gateway that starts instead of refusing is
/// killed after 30 s (and the test then fails on its exit).
fn gateway(config: &Path, args: &[&str]) -> Run {
    let mut child = Command::new(GATEWAY)
        .arg("--config")
        .arg(config)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the gateway binary");
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().expect("wait for the gateway").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("the gateway's output");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `--check` and a plain start both refuse `text` with exit status 2 and a message
/// containing every one of `needles`, without a panic or an abort.
fn refused_both_ways(dir: &TempDir, name: &str, text: &str, needles: &[&str]) {
    let file = dir.0.join(name);
    std::fs::write(&file, text).unwrap();
    for args in [&["--check"][..], &[]] {
        let run = gateway(&file, args);
        assert_eq!(run.code, Some(2), "{name} {args:?}: {run:?}");
        assert!(run.stderr.contains("error: "), "{name} {args:?}: {run:?}");
        for needle in needles {
            assert!(run.stderr.contains(needle), "{name} {args:?}: no {needle:?} in {run:?}");
        }
        for abort in ["panicked", "memory allocation", "backtrace", "listening on"] {
            assert!(!run.stderr.contains(abort) && !run.stdout.contains(abort), "{run:?}");
        }
    }
}

/// The two values outside testing found starting the gateway into an abort.
#[test]
fn absurd_sizes_are_refused_by_check_and_by_start() {
    let dir = TempDir::new("absurd-sizes");
    let orders = demo_with("[limits]\n", "[limits]\nmax_orders_per_day = 4000000000\n");
    refused_both_ways(
        &dir,
        "orders.toml",
        &orders,
        &["limits.max_orders_per_day: at most 1073741824", "got 4000000000"],
    );
    let log = demo_with("log_bytes_per_login = 33554432", "log_bytes_per_login = 1000000000000");
    refused_both_ways(
        &dir,
        "log.toml",
        &log,
        &["outbound.log_bytes_per_login: at most 68719476736", "got 1000000000000"],
    );
}

/// Memory in this machine as the gateway reads it at most (`MemTotal`).
fn mem_total_bytes() -> u64 {
    let text = std::fs::read_to_string("/proc/meminfo").expect("/proc/meminfo");
    let line = text.lines().find(|l| l.starts_with("MemTotal:")).expect("MemTotal");
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

/// Sizes within their bounds that add up to more than this machine has: refused
/// with the keys of the largest part, the total and the machine's memory.
#[test]
fn a_budget_larger_than_the_machine_is_refused_by_check_and_by_start() {
    let dir = TempDir::new("budget");
    // Out logs at their bound, with logins enough for twice this machine's memory.
    let per_login = MAX_LOG_BYTES_PER_LOGIN;
    let demo_logins = DEMO_TOML.matches("[[logins]]").count() as u64;
    let needed = (2 * mem_total_bytes()).div_ceil(per_login).max(demo_logins);
    let mut text =
        demo_with("log_bytes_per_login = 33554432", &format!("log_bytes_per_login = {per_login}"));
    for i in demo_logins..needed {
        text.push_str(&format!(
            "\n[[logins]]\nusername = \"extra{i}\"\ntoken = \"extra-secret\"\naccounts = [\"A001\"]\n"
        ));
    }
    refused_both_ways(
        &dir,
        "budget.toml",
        &text,
        &[
            "budget.toml: outbound.log_bytes_per_login, outbound.log_messages_per_login",
            "at start-up, more than the",
            "/proc/meminfo",
            &format!("outbound.log_bytes_per_login = {per_login}"),
            "limits.max_orders_per_day = ",
        ],
    );
}

#[test]
fn check_passes_the_demo_and_reports_its_budget() {
    let dir = TempDir::new("check-demo");
    let file = dir.0.join("demo.toml");
    std::fs::write(&file, demo()).unwrap();
    let run = gateway(&file, &["--check"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(run.stdout.contains("configuration is valid"), "{run:?}");
    assert!(run.stdout.contains("memory committed at start-up: "), "{run:?}");
    assert!(run.stdout.contains(" of ") && run.stdout.contains("/proc/meminfo"), "{run:?}");
}

#[test]
fn check_and_start_refuse_listeners_that_share_a_port() {
    let dir = TempDir::new("listeners");
    let twice = demo_with(
        "listen = [\"127.0.0.1:0\"]",
        "listen = [\"127.0.0.1:9100\", \"127.0.0.1:9100\"]",
    );
    refused_both_ways(
        &dir,
        "twice.toml",
        &twice,
        &["twice.toml: server.listen[1]: 127.0.0.1:9100 takes the port of server.listen[0]"],
    );
    let admin = demo_with("listen = [\"127.0.0.1:0\"]", "listen = [\"0.0.0.0:9100\"]")
        .replace("listen = \"127.0.0.1:0\"", "listen = \"127.0.0.1:9100\"");
    refused_both_ways(
        &dir,
        "admin.toml",
        &admin,
        &[
            "admin.toml: admin.listen: 127.0.0.1:9100 takes the port of server.listen[0] (0.0.0.0:9100)",
        ],
    );
    // `--listen` replaces the client listeners, and is checked against the admin port.
    let file = dir.0.join("override.toml");
    std::fs::write(&file, demo_with("listen = \"127.0.0.1:0\"", "listen = \"127.0.0.1:9181\""))
        .unwrap();
    for args in [&["--listen", "127.0.0.1:9181", "--check"][..], &["--listen", "127.0.0.1:9181"]] {
        let run = gateway(&file, args);
        assert_eq!(run.code, Some(2), "{run:?}");
        assert!(run.stderr.contains("admin.listen: 127.0.0.1:9181 takes the port of"), "{run:?}");
    }
}

/// A port taken by another process: the error names the listener and its address.
#[test]
fn a_listener_that_cannot_bind_is_named_at_start() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr: SocketAddr = taken.local_addr().unwrap();

    let mut config = obs::admin_config(Topology::Fused);
    config.server.listen = vec!["127.0.0.1:0".parse().unwrap(), addr];
    let e = gateway::start(&config).unwrap_err().to_string();
    assert!(e.contains(&format!("client listener server.listen[1] on {addr}: ")), "{e}");
    assert!(e.contains("in use"), "{e}");

    let mut config = obs::admin_config(Topology::Pipelined);
    config.admin.listen = Some(addr);
    let e = gateway::start(&config).unwrap_err().to_string();
    assert!(e.contains(&format!("admin endpoint admin.listen on {addr}: ")), "{e}");

    // The same address twice (which `--check` refuses): the second one is named.
    let free = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let mut config = util::config(Topology::Fused);
    config.server.listen = vec![free, free];
    let e = gateway::start(&config).unwrap_err().to_string();
    assert!(e.contains(&format!("client listener server.listen[1] on {free}: ")), "{e}");

    // And the binary prints it.
    let dir = TempDir::new("bind");
    let file = dir.0.join("taken.toml");
    let text = demo_with("listen = [\"127.0.0.1:0\"]", &format!("listen = [\"{addr}\"]"));
    std::fs::write(&file, text).unwrap();
    let run = gateway(&file, &[]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.stderr.contains(&format!(
            "cannot start: network: client listener server.listen[0] on {addr}: "
        )),
        "{run:?}"
    );
    drop(taken);
}
