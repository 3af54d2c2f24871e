//! `bw quotes`: a quote screen from the market-data feed, redrawn in place.
//!
//! It logs in to the market-data port with the order-entry credentials,
//! subscribes to each security in real time, and redraws the ladders
//! ([`gateway::quotes`]) whenever a book changed, at most every
//! [`REDRAW_EVERY_MS`]. `--ticks` prints the trade and order stream instead;
//! `--once` prints what the snapshots show (or, with `--ticks`, the ticks until
//! `--wait-ms` passes without one) and exits.

use std::io::Write;
use std::time::{Duration, Instant};

use gateway::quotes::{self, CLEAR_HOME, Labels, Quote};
use protocol::marketdata::{Depth, Mode, SyncState, Target};
use protocol::mdclient::{FeedLimits, MdClient, MdClientConfig, MdClientError, MdEvent};
use protocol::{SecurityId, Token, Username};

use super::{Args, QuotesArgs, security};

/// The fastest the screen is redrawn: a person reads no faster.
const REDRAW_EVERY_MS: u64 = 100;
/// How long one wait for the feed lasts before the screen is looked at again.
const POLL_MS: u64 = 50;

/// Subscribes and shows the quotes until the feed ends (or once, with `--once`).
pub(crate) fn run_quotes(args: &Args, q: &QuotesArgs) -> Result<(), String> {
    let securities: Vec<SecurityId> =
        q.securities.iter().map(|s| security(s)).collect::<Result<_, _>>()?;
    let levels = match q.depth {
        5 | 10 => usize::from(q.depth),
        other => return Err(format!("--depth {other}: expected 5 (Level-1) or 10 (Level-2)")),
    };
    // The order stream is Level-2's.
    let depth = if levels == 10 || q.ticks { Depth::Level2 } else { Depth::Level1 };
    let mut client = connect(args, &q.md_addr, securities.len())?;
    for s in &securities {
        client.subscribe(Target::Security(*s), depth, Mode::RealTime, 0).map_err(words)?;
    }
    let labels = if q.cn { Labels::Chinese } else { Labels::Ascii };
    let screen = |c: &MdClient| {
        let quotes: Vec<Quote<'_>> =
            c.feed().books().iter().map(|b| Quote::of(b, q.trades)).collect();
        quotes::screen(&quotes, levels, labels, c.session_id(), &c.counters())
    };
    let quiet = Duration::from_millis(args.wait_ms);
    let mut last_news = Instant::now();
    let mut drawn_at: Option<Instant> = None;
    let mut dirty = false;
    let mut out = std::io::stdout().lock();
    loop {
        let synced = securities
            .iter()
            .all(|s| client.book(*s).is_some_and(|b| b.state() != SyncState::Unsynced));
        if q.once && synced && !q.ticks {
            write!(out, "{}", screen(&client)).map_err(|e| e.to_string())?;
            return Ok(());
        }
        if q.once && q.ticks && synced && last_news.elapsed() >= quiet {
            return Ok(());
        }
        let due = drawn_at.is_none_or(|t| t.elapsed() >= Duration::from_millis(REDRAW_EVERY_MS));
        if !q.ticks && !q.once && dirty && due {
            write!(out, "{CLEAR_HOME}{}", screen(&client)).map_err(|e| e.to_string())?;
            out.flush().map_err(|e| e.to_string())?;
            drawn_at = Some(Instant::now());
            dirty = false;
        }
        let event = match client.poll(Duration::from_millis(POLL_MS)).map_err(words)? {
            Some(e) => e,
            None => continue,
        };
        last_news = Instant::now();
        dirty = true;
        match event {
            MdEvent::SubscribeRejected { target, code, .. } => {
                let what = match target {
                    Some(Target::Security(s)) => s.to_string(),
                    _ => "a subscription".into(),
                };
                let name = code.name().unwrap_or("undefined code");
                return Err(format!("{what} refused by the market-data server: {} {name}", code.0));
            }
            MdEvent::Applied(h, body) if q.ticks => {
                if let Some(line) = quotes::tick(&h, &body) {
                    writeln!(out, "{line}").map_err(|e| e.to_string())?;
                }
            }
            _ => {}
        }
    }
}

fn connect(args: &Args, md_addr: &str, books: usize) -> Result<MdClient, String> {
    let username = Username::new(&args.user).map_err(|e| format!("--user: {e}"))?;
    let token = Token::from_text(&args.token).ok_or("--token: at most 32 bytes")?;
    let mut config =
        MdClientConfig::new(md_addr, username, token).map_err(|e| format!("--md-addr: {e}"))?;
    config.limits = FeedLimits { books_max: books, subscriptions_max: books, ..config.limits };
    MdClient::connect(&config).map_err(|e| match e {
        MdClientError::Io(io) => format!("cannot reach the market-data server at {md_addr}: {io}"),
        other => words(other),
    })
}

fn words(e: MdClientError) -> String {
    e.to_string()
}
