//! The QuickFIX initiator (`initiator.cpp`, on the Debian package
//! `libquickfix-dev`) and helpers to run it, shared by the acceptor's tests
//! (`fix/tests/quickfix.rs`) and the gateway's FIX door tests
//! (`gateway/tests/fix_door.rs`, which include this file by path).

#![allow(dead_code)] // Each test binary uses a different part.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Compiles the QuickFIX initiator (once per test binary).
pub fn initiator() -> PathBuf {
    static BUILT: Mutex<Option<PathBuf>> = Mutex::new(None);
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(path) = built.as_ref() {
        return path.clone();
    }
    // Both crates that use this sit one level below the workspace root.
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fix/tests/qf/initiator.cpp");
    let out =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("qf_initiator_{}", std::process::id()));
    let compiled = Command::new("c++")
        .args(["-std=gnu++14", "-O1", "-w"])
        .arg(&source)
        .arg("-o")
        .arg(&out)
        .args(["-lquickfix", "-lpthread"])
        .output()
        .expect("a C++ compiler (c++) is needed to build the QuickFIX initiator");
    assert!(
        compiled.status.success(),
        "building the QuickFIX initiator failed (install libquickfix-dev, as scripts/test.sh does):\n{}",
        String::from_utf8_lossy(&compiled.stderr)
    );
    *built = Some(out.clone());
    out
}

/// Runs the initiator; returns its printed lines (asserting it exited 0).
pub fn run_initiator(port: u16, store: &Path, mode: &[&str]) -> Vec<String> {
    let binary = initiator();
    let mut child = Command::new(&binary)
        .arg("127.0.0.1")
        .arg(port.to_string())
        .arg(store)
        .args(mode)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start the QuickFIX initiator");
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        if child.try_wait().expect("poll initiator").is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the QuickFIX initiator ran past 40 s in mode {mode:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().expect("initiator output");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "QuickFIX initiator in mode {mode:?} failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout.lines().map(str::to_owned).collect()
}

pub fn count(lines: &[String], prefix: &str) -> usize {
    lines.iter().filter(|l| l.starts_with(prefix)).count()
}

/// The summary line's figure after `name`.
pub fn summary(lines: &[String], name: &str) -> u64 {
    let line = lines.iter().find(|l| l.starts_with("heartbeats ")).expect("summary line");
    let words: Vec<&str> = line.split(' ').collect();
    let at = words.iter().position(|w| *w == name).expect("figure in summary");
    words[at + 1].parse().expect("a number")
}

pub fn store_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("quickfix-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("store dir");
    dir
}

/// Sets QuickFIX's stored next incoming MsgSeqNum (the `.seqnums` file holds
/// "sender : target").
pub fn lower_stored_target_seq(store: &Path, target: u64) {
    let file = std::fs::read_dir(store)
        .expect("store dir")
        .map(|e| e.expect("entry").path())
        .find(|p| p.extension().is_some_and(|e| e == "seqnums"))
        .expect("QuickFIX wrote its sequence numbers");
    let text = std::fs::read_to_string(&file).expect("seqnums");
    let (sender, _) = text.split_once(':').expect("sender : target");
    std::fs::write(&file, format!("{} : {:010}", sender.trim(), target)).expect("rewrite seqnums");
}
