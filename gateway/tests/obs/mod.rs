//! Helpers for the observability tests: a tiny HTTP client, the admin endpoint's
//! configuration, and a real Prometheus server on loopback.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use gateway::GatewayConfig;
use gateway::config::Topology;

/// The admin token the tests configure.
pub const TOKEN: &str = "test-admin-token";

/// The demo configuration on ephemeral loopback ports, admin endpoint on.
pub fn admin_config(topology: Topology) -> GatewayConfig {
    let mut c = super::util::config(topology);
    c.admin.listen = Some("127.0.0.1:0".parse().unwrap());
    c.admin.token = Some(TOKEN.into());
    c
}

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub head: String,
    pub body: String,
}

/// Sends raw bytes and reads the answer until the server closes (bounded).
pub fn raw(addr: SocketAddr, bytes: &[u8]) -> Answer {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(bytes).expect("write request");
    let mut out = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    while out.len() < 16 << 20 {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if out.is_empty() => panic!("no answer: {e}"),
            Err(_) => break,
        }
    }
    let text = String::from_utf8_lossy(&out).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    Answer { status, head: head.to_owned(), body: body.to_owned() }
}

/// One request with `Connection: close`; `token` adds a bearer Authorization header.
pub fn request(addr: SocketAddr, method: &str, target: &str, token: Option<&str>) -> Answer {
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    let req = format!(
        "{method} {target} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Length: 0\r\nConnection: close\r\n\r\n"
    );
    raw(addr, req.as_bytes())
}

/// `GET path`.
pub fn get(addr: SocketAddr, path: &str) -> Answer {
    request(addr, "GET", path, None)
}

/// `POST /admin/<action>` with the test token.
pub fn post(addr: SocketAddr, action: &str) -> Answer {
    request(addr, "POST", &format!("/admin/{action}"), Some(TOKEN))
}

/// The value of an unlabelled sample or of one with exactly these labels, from a
/// text exposition.
pub fn sample(exposition: &str, series: &str) -> Option<f64> {
    exposition.lines().find_map(|l| {
        let rest = l.strip_prefix(series)?;
        let value = rest.strip_prefix(' ')?;
        value.trim().parse().ok()
    })
}

/// Metric names the exposition declares (its `# TYPE` lines), with the histogram
/// series suffixes added.
pub fn exported_names(exposition: &str) -> Vec<String> {
    let mut names = Vec::new();
    for line in exposition.lines() {
        let Some(rest) = line.strip_prefix("# TYPE ") else { continue };
        let mut parts = rest.split(' ');
        let (Some(name), Some(kind)) = (parts.next(), parts.next()) else { continue };
        names.push(name.to_owned());
        if kind == "histogram" {
            for s in ["_bucket", "_sum", "_count"] {
                names.push(format!("{name}{s}"));
            }
        }
    }
    names
}

/// Every `breakwater_*` metric name that a query mentions.
pub fn metric_names_in(query: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = query;
    while let Some(i) = rest.find("breakwater_") {
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(tail.len());
        // Skip label values and recording-rule names that merely contain the prefix.
        let before = rest[..i].chars().last();
        if !matches!(before, Some(c) if c.is_ascii_alphanumeric() || c == '_' || c == '"') {
            out.push(tail[..end].to_owned());
        }
        rest = &tail[end..];
    }
    out
}

/// A binary on PATH.
pub fn find_binary(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

/// The binary, or `None` after a skip notice; with `BREAKWATER_REQUIRE_PROMETHEUS=1`
/// a missing binary fails the test.
pub fn required_binary(name: &str, test: &str) -> Option<PathBuf> {
    if let Some(p) = find_binary(name) {
        return Some(p);
    }
    if std::env::var("BREAKWATER_REQUIRE_PROMETHEUS").as_deref() == Ok("1") {
        panic!(
            "{test}: `{name}` is not on PATH and BREAKWATER_REQUIRE_PROMETHEUS=1 \
             (install the Debian package `prometheus`)"
        );
    }
    // Straight to stderr (not eprintln!, which the test harness captures), so the
    // notice shows in a plain `cargo test`.
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED {test}: `{name}` is not on PATH (install the Debian package `prometheus`, \
         or set BREAKWATER_REQUIRE_PROMETHEUS=1 to make this a failure)"
    );
    None
}

/// A free loopback port (bound and released; Prometheus binds it right after).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A fresh temporary directory, removed by `TempDir::drop`.
#[derive(Debug)]
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(what: &str) -> TempDir {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("bw-{what}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A Prometheus server on loopback, killed when dropped (also when a test panics).
#[derive(Debug)]
pub struct Prometheus {
    child: Child,
    pub addr: SocketAddr,
    dir: TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    /// Starts `binary` scraping `targets` every 200 ms; waits until it is ready.
    pub fn start(binary: &Path, job: &str, targets: &[SocketAddr]) -> Prometheus {
        let dir = TempDir::new("prometheus");
        let list: Vec<String> = targets.iter().map(|t| format!("'{t}'")).collect();
        let config = format!(
            "global:\n  scrape_interval: 200ms\n  scrape_timeout: 150ms\n  evaluation_interval: 200ms\n\
             scrape_configs:\n  - job_name: {job}\n    static_configs:\n      - targets: [{}]\n",
            list.join(", ")
        );
        std::fs::write(dir.0.join("prometheus.yml"), config).unwrap();
        let mut last_error = String::new();
        for _attempt in 0..3 {
            let port = free_port();
            let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
            let log = std::fs::File::create(dir.0.join("prometheus.log")).unwrap();
            let mut child = Command::new(binary)
                .arg(format!("--config.file={}", dir.0.join("prometheus.yml").display()))
                .arg(format!("--storage.tsdb.path={}", dir.0.join("data").display()))
                .arg(format!("--web.listen-address={addr}"))
                .arg("--log.level=warn")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("spawn prometheus");
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break; // exited: the port was taken, or a bad configuration
                }
                if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
                    && get(addr, "/-/ready").status == 200
                {
                    return Prometheus { child, addr, dir };
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
            last_error = std::fs::read_to_string(dir.0.join("prometheus.log")).unwrap_or_default();
        }
        panic!("prometheus did not become ready; its log:\n{last_error}");
    }

    /// Runs an instant query; returns `(labels as JSON, value)` per series.
    pub fn query(&self, promql: &str) -> Vec<(serde_json::Value, f64)> {
        let target = format!("/api/v1/query?query={}", url_encode(promql));
        let answer = get(self.addr, &target);
        assert_eq!(answer.status, 200, "query {promql}: {}", answer.body);
        let v: serde_json::Value =
            serde_json::from_str(&answer.body).expect("query answer is JSON");
        assert_eq!(v["status"], "success", "query {promql}: {v}");
        v["data"]["result"]
            .as_array()
            .expect("a vector result")
            .iter()
            .map(|r| {
                let value = r["value"][1].as_str().unwrap_or("NaN").parse().unwrap_or(f64::NAN);
                (r["metric"].clone(), value)
            })
            .collect()
    }

    /// The single value of a query, if it has exactly one series.
    pub fn scalar(&self, promql: &str) -> Option<f64> {
        match self.query(promql).as_slice() {
            [(_, v)] => Some(*v),
            _ => None,
        }
    }

    /// Polls `promql` until `ok(value)`; panics with the last value after `timeout`.
    pub fn wait_for(&self, promql: &str, timeout: Duration, ok: impl Fn(f64) -> bool) -> f64 {
        let deadline = Instant::now() + timeout;
        loop {
            let v = self.scalar(promql);
            if let Some(v) = v
                && ok(v)
            {
                return v;
            }
            assert!(Instant::now() < deadline, "timed out waiting on {promql}: last {v:?}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// Percent-encodes a query parameter.
pub fn url_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
