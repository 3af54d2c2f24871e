//! `bw funds|positions|orders|fills`: one query, every page of it, one view.
//!
//! The answers are unsequenced (not in the stream), so the stream messages that
//! arrive meanwhile are skipped; a page's answer is matched by its query id.

use std::time::{Duration, Instant};

use gateway::views::{self, AsOf, Format, Heading};
use protocol::AccountId;
use protocol::client::Client;
use protocol::codec::{AppMessage, ClientMessage, ServerMessage, msg_type};
use protocol::query::{Query, QueryAnswer, QueryKind, VERSION_QUERIES};

use super::{Args, QueryArgs, account, clock_id, connect};

/// Pages one query may take before `bw` gives up: far more than a day's orders
/// or fills (the gateway bounds both), so only a cursor that never ends reaches it.
const MAX_PAGES: usize = 1_000_000;

/// Logs in with version 3, asks every page of the query, prints the view.
pub(crate) fn run_query(
    args: &Args,
    kind: QueryKind,
    q: &QueryArgs,
    flags: u8,
) -> Result<(), String> {
    let account = account(&q.account)?;
    let mut client = connect(args, VERSION_QUERIES)?;
    let version = client.login_accepted().version;
    if version < VERSION_QUERIES {
        return Err(format!(
            "the gateway speaks protocol version {version}; queries need version {VERSION_QUERIES}"
        ));
    }
    let wait = Duration::from_millis(args.wait_ms);
    let answers = ask_every_page(&mut client, kind, account, flags, wait);
    let _ = client.logout(Duration::from_secs(2));
    let format = if q.json { Format::Json } else { Format::Table };
    print!("{}", render(kind, account, &answers?, format));
    Ok(())
}

/// Asks page after page, each from the previous answer's cursor, until the last.
fn ask_every_page(
    client: &mut Client,
    kind: QueryKind,
    account: AccountId,
    flags: u8,
    wait: Duration,
) -> Result<Vec<QueryAnswer>, String> {
    let first_id = clock_id();
    let mut answers = Vec::new();
    let mut cursor = 0u32;
    loop {
        let query_id = first_id + answers.len() as u64;
        let query = Query { query_id, kind, account, cursor, page_size: 0, flags };
        let answer = ask(client, &query, wait)?;
        if let QueryAnswer::Rejected(r) = answer {
            let why = r.code.sentence().unwrap_or("");
            return Err(format!("the {kind} query was refused: {} — {why}", r.code));
        }
        if kind_of(&answer) != Some(kind) {
            return Err(format!("the gateway answered a {kind} query with {answer:?}"));
        }
        let next = answer.header().map_or(0, |h| h.next_cursor);
        answers.push(answer);
        if next == 0 {
            return Ok(answers);
        }
        if next == cursor || answers.len() >= MAX_PAGES {
            return Err(format!("the gateway's {kind} pages do not end (cursor {next})"));
        }
        cursor = next;
    }
}

/// Sends one query and waits up to `wait` for its answer.
fn ask(client: &mut Client, query: &Query, wait: Duration) -> Result<QueryAnswer, String> {
    client.send(&ClientMessage::Query(*query)).map_err(|e| e.to_string())?;
    let deadline = Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!(
                "no answer to the {} query within {} ms",
                query.kind,
                wait.as_millis()
            ));
        }
        match client.recv(left).map_err(|e| e.to_string())? {
            Some(ServerMessage::Query(a)) if a.query_id() == query.query_id => return Ok(a),
            Some(ServerMessage::App(s)) => {
                if let AppMessage::BusinessReject(b) = &s.msg
                    && b.ref_msg_type == msg_type::QUERY
                    && b.ref_id == query.query_id
                {
                    return Err(format!(
                        "the gateway refused the {} query: {} — {}",
                        query.kind,
                        b.code,
                        b.text().as_str()
                    ));
                }
            }
            Some(ServerMessage::EndOfSession(e)) => {
                return Err(format!("the gateway ended the session: {}", e.reason));
            }
            Some(_) | None => {}
        }
    }
}

fn kind_of(answer: &QueryAnswer) -> Option<QueryKind> {
    match answer {
        QueryAnswer::Funds(_) => Some(QueryKind::Funds),
        QueryAnswer::Positions(_) => Some(QueryKind::Positions),
        QueryAnswer::Orders(_) => Some(QueryKind::Orders),
        QueryAnswer::Fills(_) => Some(QueryKind::Fills),
        QueryAnswer::Rejected(_) => None,
    }
}

/// The pages as one view, as of the newest page (pages are stable: a record that
/// arrived while paging shows on a later page or not at all, never twice).
fn render(kind: QueryKind, account: AccountId, answers: &[QueryAnswer], format: Format) -> String {
    let as_of = answers.iter().filter_map(QueryAnswer::header).map(|h| h.as_of_seq).max();
    let h = Heading { account, as_of: AsOf::StreamSeq(as_of.unwrap_or(0)) };
    views::of_answers(&h, kind, answers, format)
}
