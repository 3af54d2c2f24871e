//! The `bw` command line against a live gateway: orders, cancels and mass cancels
//! print their answers in words.

mod util;

use gateway::config::Topology;
use util::*;

fn bw(addr: std::net::SocketAddr, args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bw"))
        .arg("--addr")
        .arg(addr.to_string())
        .arg("--wait-ms")
        .arg("300")
        .args(args)
        .output()
        .expect("run bw");
    let text =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

#[test]
fn orders_cancels_and_errors_read_as_words() {
    let gw = start(&config(Topology::Fused));
    let addr = gw.addr();
    let (ok, out) = bw(
        addr,
        &[
            "order",
            "--account",
            "A001",
            "--cl-ord-id",
            "42",
            "buy",
            "600519",
            "100",
            "@",
            "1490.00",
        ],
    );
    assert!(ok && out.contains("accepted: buy 100 600519.SH @ 1490.00"), "{out}");
    let (ok, out) = bw(
        addr,
        &[
            "-u",
            "trader2",
            "--token",
            "trader2-secret",
            "order",
            "--account",
            "B001",
            "sell",
            "600519",
            "100",
            "@",
            "1490.00",
        ],
    );
    assert!(ok && out.contains("executed: sell 100 600519.SH @ 1490.00"), "{out}");
    let (ok, out) =
        bw(addr, &["order", "--account", "A002", "buy", "600519.SH", "100", "@", "1490.00"]);
    assert!(
        ok && out.contains("4002 confirmation_required") && out.contains("you are C2"),
        "{out}"
    );
    let (ok, out) = bw(
        addr,
        &["order", "--account", "A001", "--cl-ord-id", "43", "buy", "600036", "100", "@", "41.00"],
    );
    assert!(ok && out.contains("accepted"), "{out}");
    let (ok, out) = bw(addr, &["cancel", "--account", "A001", "43"]);
    assert!(ok && out.contains("canceled: cl_ord_id 43") && out.contains("reason client"), "{out}");
    let (ok, out) = bw(addr, &["mass-cancel", "--account", "A001", "--block"]);
    assert!(ok && out.contains("mass cancel: 0 orders cancelled, new orders blocked"), "{out}");
    let (ok, out) = bw(addr, &["enable", "--account", "A001"]);
    assert!(ok && out.contains("order entry for A001: Active"), "{out}");
    // Bad input is an error message, not a panic.
    let (ok, out) = bw(addr, &["order", "--account", "A001", "buy", "60051", "100", "@", "1.00"]);
    assert!(!ok && out.contains("6-digit code"), "{out}");
    let (ok, out) = bw(addr, &["--token", "wrong-token", "watch"]);
    assert!(!ok && out.contains("login rejected: 1002 invalid_credentials"), "{out}");
    gw.shutdown().unwrap();
}
