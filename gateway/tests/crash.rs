//! Crash recovery: the gateway runs as a child process with `sync` durability while
//! several sessions trade; it is killed with SIGKILL at a random moment, restarted,
//! and the clients resume. Then:
//!
//! * every answer a client saw before the crash is still in its stream, unchanged;
//! * no order is answered twice, every order is answered once;
//! * each login's stream is gap-free and equals, message for message, the stream of
//!   an uninterrupted reference run of the same input (the journal replayed from
//!   scratch in this process);
//! * the books and accounts the restarted gateway ends with equal the reference's.
//!
//! The gateway snapshots every 100 inputs, so the kill can land mid-snapshot and
//! the restart starts from a snapshot; the reference ignores snapshots.
//!
//! Each iteration prints its seed; set `CRASH_SEED` to replay one.

mod util;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use gateway::GatewayConfig;
use gateway::journal::TailPolicy;
use protocol::Side;
use protocol::client::{Client, ClientError};
use protocol::codec::{AppMessage, ClientMessage, ServerMessage, answer_flags};
use testkit::Rng;
use util::*;

const GATEWAY: &str = env!("CARGO_BIN_EXE_gateway");
const ORDERS_PER_CLIENT: u64 = 400;

fn config_text(journal: &Path) -> String {
    let text = gateway::config::DEMO_TOML
        .replace(r#"listen = ["127.0.0.1:9100"]"#, r#"listen = ["127.0.0.1:0"]"#)
        .replace(r#"durability = "none""#, r#"durability = "sync""#)
        .replace(
            r#"dir = "breakwater-journal""#,
            &format!("dir = {:?}\nsnapshot_every_inputs = 100", journal.display().to_string()),
        )
        .replace(r#"listen = "127.0.0.1:9180""#, r#"listen = "off""#)
        .replace("rate_limit_per_s = 1000", "rate_limit_per_s = 0")
        .replace("open_orders_per_security = 50", "open_orders_per_security = 0");
    assert!(
        text.contains(r#"durability = "sync""#)
            && text.contains(r#"listen = "off""#)
            && text.contains("snapshot_every_inputs"),
        "demo.toml changed shape"
    );
    text
}

struct Spawned {
    child: Child,
    addr: SocketAddr,
}

fn spawn(config: &Path, dump: &Path, log: &Path) -> Spawned {
    let stderr = std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap();
    let mut child = Command::new(GATEWAY)
        .arg("--config")
        .arg(config)
        .arg("--dump-state")
        .arg(dump)
        .env("RUST_LOG", "warn,gateway::pipeline=info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("start the gateway binary");
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let deadline = Instant::now() + Duration::from_secs(60);
    let addr = loop {
        assert!(Instant::now() < deadline, "the gateway did not print its address");
        let line = lines.next().expect("gateway stdout ended before it listened").unwrap();
        if let Some(rest) = line.split(" listening on ").nth(1) {
            break rest.trim().parse().expect("an address");
        }
    };
    // Keep draining stdout so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Spawned { child, addr }
}

/// What one client saw.
#[derive(Default)]
struct Seen {
    /// Every sequenced message, by sequence number (index 0 = seq 1).
    stream: Vec<AppMessage>,
    /// Answers (accepted/rejected, not repeats) per cl_ord_id.
    answers: HashMap<u64, u32>,
}

fn record(seen: &mut Seen, msg: &ServerMessage) {
    if let ServerMessage::App(s) = msg {
        assert_eq!(s.seq as usize, seen.stream.len() + 1, "gap-free stream");
        seen.stream.push(s.msg);
        match s.msg {
            AppMessage::OrderAccepted(a) if a.flags & answer_flags::REPEAT == 0 => {
                *seen.answers.entry(a.cl_ord_id).or_default() += 1
            }
            AppMessage::OrderRejected(r) if r.flags & answer_flags::REPEAT == 0 => {
                *seen.answers.entry(r.cl_ord_id).or_default() += 1
            }
            _ => {}
        }
    }
}

fn order_for(user: &str, i: u64) -> protocol::codec::NewOrder {
    let qty = 100 * (1 + i % 7);
    match user {
        "trader1" => limit(i, "A001", 600519, Side::Sell, qty.min(100), "1498.00"),
        "trader2" => limit(i, "B001", 600519, Side::Buy, qty.min(100), "1498.00"),
        "pro" => limit(
            i,
            "P001",
            688981,
            if i.is_multiple_of(2) { Side::Sell } else { Side::Buy },
            200 + i % 5,
            "88.50",
        ),
        _ => limit(i, "B002", 600036, Side::Buy, qty, "41.50"),
    }
}

/// Trades until every order is answered, surviving the gateway going away:
/// reconnects with resume, then resends whatever has no answer.
fn client(
    addr: Arc<std::sync::Mutex<SocketAddr>>,
    user: &'static str,
    crashed: Arc<AtomicBool>,
) -> Seen {
    let mut seen = Seen::default();
    let connect = |seen: &Seen| -> Client {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let a = *addr.lock().unwrap();
            match Client::connect(client_config(a, user), seen.stream.len() as u64 + 1) {
                Ok(c) => return c,
                Err(e) => {
                    assert!(Instant::now() < deadline, "{user}: could not reconnect: {e}");
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
    };
    let mut c = connect(&seen);
    let mut sent = 0u64;
    let resend_unanswered = |c: &mut Client, seen: &Seen, sent: u64| {
        for i in 1..=sent {
            if !seen.answers.contains_key(&i) {
                let _ = c.send(&ClientMessage::NewOrder(order_for(user, i)));
            }
        }
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        assert!(Instant::now() < deadline, "{user}: did not finish");
        if sent < ORDERS_PER_CLIENT {
            for _ in 0..10 {
                sent += 1;
                if c.send(&ClientMessage::NewOrder(order_for(user, sent))).is_err() {
                    break;
                }
            }
        } else if (1..=sent).all(|i| seen.answers.contains_key(&i)) {
            break;
        }
        let mut broken = false;
        loop {
            match c.recv(Duration::from_millis(if sent < ORDERS_PER_CLIENT { 5 } else { 200 })) {
                Ok(Some(msg)) => record(&mut seen, &msg),
                Ok(None) => break,
                Err(ClientError::SequenceGap { expected, got }) => {
                    panic!("{user}: gap, expected {expected} got {got}")
                }
                Err(_) => {
                    broken = true;
                    break;
                }
            }
        }
        if broken {
            assert!(crashed.load(Ordering::SeqCst), "{user}: connection lost without a crash");
            c = connect(&seen);
            // The replay comes first; wait for it to go quiet, then resend the rest.
            while let Ok(Some(msg)) = c.recv(Duration::from_millis(300)) {
                record(&mut seen, &msg);
            }
            resend_unanswered(&mut c, &seen, sent);
        }
    }
    // The logout's cancel-on-disconnect answers arrive before its EndOfSession.
    // The kill can land during the logout: then resume on the restarted gateway
    // (whose replay carries anything the first one sent) and log out there.
    let rest = loop {
        match c.logout(Duration::from_secs(10)) {
            Ok((_, rest)) => break rest,
            Err(e) => {
                assert!(
                    crashed.load(Ordering::SeqCst),
                    "{user}: logout failed without a crash: {e}"
                );
                c = connect(&seen);
                while let Ok(Some(msg)) = c.recv(Duration::from_millis(300)) {
                    record(&mut seen, &msg);
                }
            }
        }
    };
    for msg in &rest {
        record(&mut seen, msg);
    }
    seen
}

fn crash_once(seed: u64) {
    println!("crash iteration seed {seed} (CRASH_SEED={seed} to replay)");
    let mut rng = Rng::new(seed);
    let dir = std::env::temp_dir().join(format!("bw-crash-{}-{seed}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let journal = dir.join("journal");
    let config_path = dir.join("gateway.toml");
    std::fs::write(&config_path, config_text(&journal)).unwrap();
    let dump_path = dir.join("state.txt");
    let log_path = dir.join("gateway.log");

    let first = spawn(&config_path, &dump_path, &log_path);
    let addr = Arc::new(std::sync::Mutex::new(first.addr));
    let crashed = Arc::new(AtomicBool::new(false));
    let users = ["trader1", "trader2", "pro", "algo"];
    let clients: Vec<_> = users
        .iter()
        .map(|&u| {
            let (a, c) = (Arc::clone(&addr), Arc::clone(&crashed));
            std::thread::spawn(move || client(a, u, c))
        })
        .collect();
    let kill_after = Duration::from_millis(150 + rng.below(700));
    std::thread::sleep(kill_after);
    crashed.store(true, Ordering::SeqCst);
    let mut first = first;
    first.child.kill().expect("SIGKILL the gateway");
    first.child.wait().unwrap();
    println!("  killed after {kill_after:?}");
    let second = spawn(&config_path, &dump_path, &log_path);
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    match log.lines().find(|l| l.contains("recovered from the snapshot")) {
        Some(line) => println!("  restart: {}", line.split("] ").last().unwrap_or(line)),
        None => println!("  restart: from the journal's start (no snapshot yet)"),
    }
    *addr.lock().unwrap() = second.addr;
    let seen: Vec<Seen> = clients.into_iter().map(|h| h.join().expect("client thread")).collect();

    // Graceful stop: the gateway writes its state dump.
    let mut second = second;
    // SIGTERM through kill(1): no unsafe code needed in the test.
    Command::new("kill").arg("-TERM").arg(second.child.id().to_string()).status().unwrap();
    let status = second.child.wait().unwrap();
    assert!(status.success(), "the restarted gateway exits cleanly: {status}");
    let dump = std::fs::read_to_string(&dump_path).expect("state dump written on exit");

    // The reference: the whole journal replayed from scratch.
    let config = GatewayConfig::from_toml_str(&config_text(&journal), "crash.toml").unwrap();
    let (engine, logs, recovered) =
        gateway::pipeline::recover_from_start(&config, TailPolicy::ReadOnly).unwrap();
    assert_eq!(recovered.snapshot, None);
    assert!(recovered.records > 0);
    let reference = gateway::state::dump(&engine);
    for (i, (e, a)) in reference.lines().zip(dump.lines()).enumerate() {
        assert_eq!(e, a, "seed {seed}: state differs from the reference at line {i}");
    }
    assert_eq!(reference.lines().count(), dump.lines().count(), "seed {seed}: state dumps differ");
    for (user, s) in users.iter().zip(&seen) {
        let login = config.logins.iter().position(|l| l.username.as_str() == *user).unwrap();
        let expected: Vec<AppMessage> = logs[login].messages().into_iter().map(|m| m.msg).collect();
        assert_eq!(s.stream.len(), expected.len(), "seed {seed}: {user}'s stream length");
        for (k, (got, want)) in s.stream.iter().zip(&expected).enumerate() {
            assert_eq!(
                got,
                want,
                "seed {seed}: {user}'s message {} differs from the reference",
                k + 1
            );
        }
        for i in 1..=ORDERS_PER_CLIENT {
            assert_eq!(
                s.answers.get(&i),
                Some(&1),
                "seed {seed}: {user} order {i} answered exactly once"
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sigkill_mid_flow_loses_nothing_and_matches_an_uninterrupted_replay() {
    let seeds: Vec<u64> = match std::env::var("CRASH_SEED") {
        Ok(s) => vec![s.parse().expect("CRASH_SEED is a number")],
        Err(_) => {
            let base = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64;
            (0..3).map(|i| base.wrapping_add(i * 0x9e37_79b9)).collect()
        }
    };
    for seed in seeds {
        crash_once(seed);
    }
}
