//! Operator commands (halts, venue faults, kill switches) sent to the gateway under
//! test: in-process through `Running::admin()`, or over the gateway's HTTP admin API.
//!
//! The two are behind [`Operator`], so a scenario does not care which gateway it
//! drives. Commands run on their own thread ([`OperatorThread`]): an HTTP round trip
//! must never stall the load generator's event loop.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::time::Duration;

use gateway::admin::actions::LimitName;
use gateway::input::{AdminCommand, LimitChange};
use gateway::pipeline::AdminHandle;
use protocol::codec::EntryState;
use protocol::{AccountId, Price, SecurityId, TradingPhase};

/// One operator command, as the HTTP admin API names it.
#[derive(Clone, Debug, PartialEq)]
pub enum OperatorAction {
    /// `halt?security=..` (all when `None`).
    Halt(Option<SecurityId>),
    /// `resume?security=..&auction_ms=N`.
    Resume(Option<SecurityId>, u64),
    /// `venue/pause?ms=N`.
    VenuePause(u64),
    /// `venue/ack-delay?ms=N` (0 turns it off).
    AckDelay(u64),
    /// `account?account=A&state=..`.
    AccountState(AccountId, EntryState),
    /// `firm?state=..`.
    FirmState(EntryState),
    /// `cancel-account?account=A`.
    CancelAccount(AccountId),
    /// `phase?security=..&phase=..`.
    Phase(Option<SecurityId>, TradingPhase),
    /// `limit?name=..&value=N`.
    Limit(LimitName, i64),
    /// `end-of-day`.
    EndOfDay,
    /// `start-of-day`.
    StartOfDay,
}

/// Parameters of an action as they appear in a scenario event.
#[derive(Clone, Debug, Default)]
pub struct ActionParams {
    /// `600519.SH`; absent for all.
    pub security: Option<String>,
    /// Reopening auction length.
    pub auction_ms: Option<u64>,
    /// Pause or delay length.
    pub ms: Option<u64>,
    /// Account id.
    pub account: Option<String>,
    /// `active`, `reducing-only`, `blocked`.
    pub state: Option<String>,
    /// A trading phase name.
    pub phase: Option<String>,
    /// A limit name.
    pub name: Option<String>,
    /// A limit value.
    pub value: Option<i64>,
}

/// Parses `600519.SH`, `000001.SZ`, `430047.BJ` (the protocol's spelling).
pub fn parse_security(text: &str) -> Option<SecurityId> {
    text.parse().ok()
}

/// Formats a security the way the admin API and the configuration write it.
pub fn format_security(s: SecurityId) -> String {
    s.to_string()
}

impl OperatorAction {
    /// Builds an action from its name and parameters; an error names the parameter.
    pub fn parse(action: &str, p: &ActionParams) -> Result<OperatorAction, (&'static str, String)> {
        let security = || -> Result<Option<SecurityId>, (&'static str, String)> {
            match &p.security {
                None => Ok(None),
                Some(s) if s == "all" => Ok(None),
                Some(s) => parse_security(s)
                    .map(Some)
                    .ok_or(("security", format!("expected a security like 600519.SH, got {s:?}"))),
            }
        };
        let ms = || p.ms.ok_or(("ms", format!("{action} needs ms")));
        let account = || -> Result<AccountId, (&'static str, String)> {
            let a = p.account.as_deref().ok_or(("account", format!("{action} needs account")))?;
            AccountId::new(a).map_err(|e| ("account", format!("{e}: {a:?}")))
        };
        let state = || -> Result<EntryState, (&'static str, String)> {
            let s = p.state.as_deref().ok_or(("state", format!("{action} needs state")))?;
            s.parse::<EntryState>().map_err(|e| ("state", format!("{e}, got {s:?}")))
        };
        Ok(match action {
            "halt" => OperatorAction::Halt(security()?),
            "resume" => OperatorAction::Resume(security()?, p.auction_ms.unwrap_or(0)),
            "venue/pause" => OperatorAction::VenuePause(ms()?),
            "venue/ack-delay" => OperatorAction::AckDelay(ms()?),
            "account" => OperatorAction::AccountState(account()?, state()?),
            "firm" => OperatorAction::FirmState(state()?),
            "cancel-account" => OperatorAction::CancelAccount(account()?),
            "phase" => {
                let name = p.phase.as_deref().ok_or(("phase", "phase needs phase".to_owned()))?;
                let phase = TradingPhase::ALL
                    .iter()
                    .copied()
                    .find(|ph| ph.name() == name)
                    .ok_or(("phase", format!("unknown trading phase {name:?}")))?;
                OperatorAction::Phase(security()?, phase)
            }
            "limit" => {
                let name = p.name.as_deref().ok_or(("name", "limit needs name".to_owned()))?;
                let name = name.parse::<LimitName>().map_err(|e| ("name", e))?;
                let value = p.value.ok_or(("value", "limit needs value".to_owned()))?;
                if value < 0 {
                    return Err(("value", format!("must not be negative, got {value}")));
                }
                OperatorAction::Limit(name, value)
            }
            "end-of-day" => OperatorAction::EndOfDay,
            "start-of-day" => OperatorAction::StartOfDay,
            other => {
                return Err((
                    "action",
                    format!(
                        "unknown action {other:?}: expected halt, resume, venue/pause, \
                         venue/ack-delay, account, firm, cancel-account, phase, limit, \
                         end-of-day, start-of-day or reconnect-storm"
                    ),
                ));
            }
        })
    }

    /// The admin API path and query (`venue/ack-delay?ms=200`).
    pub fn http_path(&self) -> String {
        let sec = |s: &Option<SecurityId>| s.map(|s| format!("security={}", format_security(s)));
        let join = |parts: Vec<Option<String>>| {
            let q: Vec<String> = parts.into_iter().flatten().collect();
            if q.is_empty() { String::new() } else { format!("?{}", q.join("&")) }
        };
        match self {
            OperatorAction::Halt(s) => format!("halt{}", join(vec![sec(s)])),
            OperatorAction::Resume(s, auction_ms) => {
                let a = (*auction_ms > 0).then(|| format!("auction_ms={auction_ms}"));
                format!("resume{}", join(vec![sec(s), a]))
            }
            OperatorAction::VenuePause(ms) => format!("venue/pause?ms={ms}"),
            OperatorAction::AckDelay(ms) => format!("venue/ack-delay?ms={ms}"),
            OperatorAction::AccountState(a, s) => {
                format!("account?account={}&state={}", a.as_str(), s)
            }
            OperatorAction::FirmState(s) => format!("firm?state={s}"),
            OperatorAction::CancelAccount(a) => format!("cancel-account?account={}", a.as_str()),
            OperatorAction::Phase(s, p) => {
                format!("phase{}", join(vec![sec(s), Some(format!("phase={}", p.name()))]))
            }
            OperatorAction::Limit(name, value) => format!("limit?name={name}&value={value}"),
            OperatorAction::EndOfDay => "end-of-day".into(),
            OperatorAction::StartOfDay => "start-of-day".into(),
        }
    }

    /// The gateway command; `now_unix_ns` dates a venue pause.
    pub fn admin_command(&self, now_unix_ns: u64) -> AdminCommand {
        match self {
            OperatorAction::Halt(s) => AdminCommand::Halt(*s),
            OperatorAction::Resume(s, 0) => AdminCommand::Resume(*s),
            OperatorAction::Resume(s, ms) => AdminCommand::ResumeWithAuction(*s, ms * 1_000_000),
            OperatorAction::VenuePause(ms) => {
                AdminCommand::PauseMatching { until_ns: now_unix_ns + ms * 1_000_000 }
            }
            OperatorAction::AckDelay(ms) => AdminCommand::AckDelay { delay_ns: ms * 1_000_000 },
            OperatorAction::AccountState(a, s) => AdminCommand::AccountState(*a, *s),
            OperatorAction::FirmState(s) => AdminCommand::FirmState(*s),
            OperatorAction::CancelAccount(a) => AdminCommand::CancelAccount(*a),
            OperatorAction::Phase(s, p) => AdminCommand::SetPhase(*s, *p),
            OperatorAction::Limit(name, v) => AdminCommand::SetLimit(match name {
                // The admin API takes max_notional in whole CNY.
                LimitName::MaxNotional => LimitChange::MaxNotional(v.saturating_mul(Price::SCALE)),
                LimitName::FatFingerBp => LimitChange::FatFingerBp(*v as u32),
                LimitName::RateLimitPerS => LimitChange::MaxMessagesPerSecond(*v as u32),
                LimitName::OpenOrdersPerSecurity => {
                    LimitChange::MaxOpenOrdersPerSecurity(*v as u32)
                }
            }),
            OperatorAction::EndOfDay => AdminCommand::EndOfDay,
            OperatorAction::StartOfDay => AdminCommand::StartOfDay,
        }
    }

    /// True for actions the run must undo before its final reconciliation (so open
    /// orders can be cancelled): venue faults and halts.
    pub fn needs_undo(&self) -> bool {
        matches!(
            self,
            OperatorAction::Halt(_)
                | OperatorAction::AckDelay(_)
                | OperatorAction::Phase(..)
                | OperatorAction::FirmState(_)
                | OperatorAction::AccountState(..)
        )
    }
}

/// Something that applies operator commands to a gateway.
pub trait Operator: Send {
    /// Applies one command; an error says why it was refused.
    fn apply(&mut self, action: &OperatorAction) -> Result<(), String>;
    /// One line for reports.
    fn describe(&self) -> String;
}

/// An in-process gateway's command queue.
#[derive(Debug)]
pub struct InProcess {
    handle: AdminHandle,
}

impl InProcess {
    /// Wraps a running gateway's admin handle.
    pub fn new(handle: AdminHandle) -> InProcess {
        InProcess { handle }
    }
}

impl Operator for InProcess {
    fn apply(&mut self, action: &OperatorAction) -> Result<(), String> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        let cmd = action.admin_command(now);
        for _ in 0..100 {
            if self.handle.submit(cmd).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        Err("the gateway's operator queue stayed full for 100 ms".into())
    }

    fn describe(&self) -> String {
        "in-process admin queue".into()
    }
}

/// The gateway's HTTP admin API: `POST /admin/<action>` with a bearer token.
#[derive(Debug)]
pub struct Http {
    addr: SocketAddr,
    token: String,
}

impl Http {
    /// An HTTP operator for `addr` with `token`.
    pub fn new(addr: SocketAddr, token: String) -> Http {
        Http { addr, token }
    }

    /// Sends one request and returns the status code and body.
    pub fn post(&self, path: &str) -> std::io::Result<(u16, String)> {
        let mut s = TcpStream::connect_timeout(&self.addr, Duration::from_secs(2))?;
        s.set_read_timeout(Some(Duration::from_secs(5)))?;
        let req = format!(
            "POST /admin/{path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\n\
             Content-Length: 0\r\nConnection: close\r\n\r\n",
            self.addr, self.token
        );
        s.write_all(req.as_bytes())?;
        let mut resp = Vec::with_capacity(1024);
        // Bounded: an admin answer is small; stop at 64 KiB.
        let mut buf = [0u8; 4096];
        while resp.len() < 64 * 1024 {
            match s.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => resp.extend_from_slice(&buf[..n]),
                Err(e) if resp.is_empty() => return Err(e),
                Err(_) => break,
            }
        }
        let text = String::from_utf8_lossy(&resp);
        let status = text
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse::<u16>().ok())
            .ok_or_else(|| std::io::Error::other("no HTTP status line in the answer"))?;
        let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
        Ok((status, body))
    }
}

impl Operator for Http {
    fn apply(&mut self, action: &OperatorAction) -> Result<(), String> {
        let path = action.http_path();
        match self.post(&path) {
            Ok((202, _)) | Ok((200, _)) => Ok(()),
            Ok((401, _)) => Err(format!("POST /admin/{path}: 401, the admin token was refused")),
            Ok((code, body)) => Err(format!("POST /admin/{path}: {code} {}", body.trim())),
            Err(e) => Err(format!("POST /admin/{path}: {e}")),
        }
    }

    fn describe(&self) -> String {
        format!("HTTP admin API at {}", self.addr)
    }
}

/// Applies commands on a thread of its own; results come back on a channel.
#[derive(Debug)]
pub struct OperatorThread {
    tx: Option<mpsc::Sender<(u64, OperatorAction)>>,
    results: mpsc::Receiver<(u64, OperatorAction, Result<(), String>)>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl OperatorThread {
    /// Starts the thread around `op`.
    pub fn start(mut op: Box<dyn Operator>) -> OperatorThread {
        let (tx, rx) = mpsc::channel::<(u64, OperatorAction)>();
        let (rtx, results) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("lt-operator".into())
            .spawn(move || {
                for (t, action) in rx {
                    let r = op.apply(&action);
                    if rtx.send((t, action, r)).is_err() {
                        break;
                    }
                }
            })
            .expect("spawn the operator thread");
        OperatorThread { tx: Some(tx), results, thread: Some(thread) }
    }

    /// Queues a command (`t_ns` labels it in the results).
    pub fn submit(&self, t_ns: u64, action: OperatorAction) {
        if let Some(tx) = &self.tx {
            let _ = tx.send((t_ns, action));
        }
    }

    /// Results that have arrived.
    pub fn poll_results(&self) -> Vec<(u64, OperatorAction, Result<(), String>)> {
        self.results.try_iter().collect()
    }

    /// Waits for every queued command and returns the remaining results.
    pub fn finish(mut self) -> Vec<(u64, OperatorAction, Result<(), String>)> {
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.results.try_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> ActionParams {
        ActionParams::default()
    }

    #[test]
    fn actions_map_to_paths() {
        let halt = OperatorAction::parse(
            "halt",
            &ActionParams { security: Some("600519.SH".into()), ..p() },
        )
        .unwrap();
        assert_eq!(halt.http_path(), "halt?security=600519.SH");
        assert_eq!(OperatorAction::parse("halt", &p()).unwrap().http_path(), "halt");
        let resume =
            OperatorAction::parse("resume", &ActionParams { auction_ms: Some(3000), ..p() })
                .unwrap();
        assert_eq!(resume.http_path(), "resume?auction_ms=3000");
        assert!(matches!(
            resume.admin_command(0),
            AdminCommand::ResumeWithAuction(None, 3_000_000_000)
        ));
        let delay =
            OperatorAction::parse("venue/ack-delay", &ActionParams { ms: Some(200), ..p() })
                .unwrap();
        assert_eq!(delay.http_path(), "venue/ack-delay?ms=200");
        let acct = OperatorAction::parse(
            "account",
            &ActionParams { account: Some("A001".into()), state: Some("blocked".into()), ..p() },
        )
        .unwrap();
        assert_eq!(acct.http_path(), "account?account=A001&state=blocked");
        let limit = OperatorAction::parse(
            "limit",
            &ActionParams { name: Some("fat_finger_bp".into()), value: Some(300), ..p() },
        )
        .unwrap();
        assert_eq!(limit.http_path(), "limit?name=fat_finger_bp&value=300");
        let phase = OperatorAction::parse(
            "phase",
            &ActionParams { phase: Some("continuous".into()), ..p() },
        )
        .unwrap();
        assert_eq!(phase.http_path(), "phase?phase=continuous");
    }

    #[test]
    fn bad_parameters_name_the_field() {
        assert_eq!(OperatorAction::parse("venue/pause", &p()).unwrap_err().0, "ms");
        let e =
            OperatorAction::parse("halt", &ActionParams { security: Some("600519".into()), ..p() })
                .unwrap_err();
        assert_eq!(e.0, "security");
        assert_eq!(OperatorAction::parse("nope", &p()).unwrap_err().0, "action");
        let e = OperatorAction::parse("firm", &ActionParams { state: Some("x".into()), ..p() })
            .unwrap_err();
        assert_eq!(e.0, "state");
    }

    #[test]
    fn securities_round_trip() {
        for text in ["600519.SH", "000001.SZ", "430047.BJ"] {
            assert_eq!(format_security(parse_security(text).unwrap()), text);
        }
        assert!(parse_security("60051.SH").is_none());
        assert!(parse_security("600519.XX").is_none());
    }

    #[test]
    fn http_operator_reads_status_codes() {
        use std::net::TcpListener;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let mut seen = Vec::new();
            for status in ["202 Accepted", "401 Unauthorized"] {
                let (mut s, _) = listener.accept().unwrap();
                let mut buf = [0u8; 1024];
                let n = s.read(&mut buf).unwrap();
                seen.push(String::from_utf8_lossy(&buf[..n]).into_owned());
                let body = "{\"queued\":true}";
                let resp =
                    format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\n\r\n{body}", body.len());
                s.write_all(resp.as_bytes()).unwrap();
            }
            seen
        });
        let mut op = Http::new(addr, "tok-123456".into());
        assert!(op.apply(&OperatorAction::AckDelay(5)).is_ok());
        let e = op.apply(&OperatorAction::EndOfDay).unwrap_err();
        assert!(e.contains("401"), "{e}");
        let seen = server.join().unwrap();
        assert!(seen[0].starts_with("POST /admin/venue/ack-delay?ms=5 HTTP/1.1"), "{}", seen[0]);
        assert!(seen[0].contains("Authorization: Bearer tok-123456"));
    }
}
