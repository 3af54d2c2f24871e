//! The risk desk's account views: `GET /accounts/{id}/funds`, `/positions`,
//! `/orders?open=1&cursor=&limit=` and `/fills?cursor=&limit=`.
//!
//! Each asks the engine the same query a client sends (protocol version 3) and
//! answers with the protocol's row types as JSON, plus `as_of_seq`: the engine's
//! input sequence number the view is consistent with. The admin thread never
//! reads engine state; the answer comes back through [`DeskQueries`].

use std::collections::HashSet;
use std::time::{Duration, Instant};

use protocol::AccountId;
use protocol::query::{AnswerHeader, Query, QueryAnswer, QueryKind, answer_header_flags};
use serde_json::{Value, json};

use crate::input::Asker;
use crate::server::DeskQueries;

/// How long the admin thread waits for the engine's answer.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(2);

/// A view request that cannot be asked: HTTP status and message.
pub type Refusal = (u16, String);

/// Parses `{id}/{view}` and its parameters into a query for the engine.
pub fn parse(
    rest: &str,
    pairs: &[(String, String)],
    accounts: &HashSet<AccountId>,
) -> Result<Query, Refusal> {
    let (id, view) = rest.split_once('/').ok_or((404, format!("no view in {rest:?}")))?;
    let account = AccountId::new(id)
        .ok()
        .filter(|a| accounts.contains(a))
        .ok_or((404, format!("unknown account {id:?}")))?;
    let kind = match view {
        "funds" => QueryKind::Funds,
        "positions" => QueryKind::Positions,
        "orders" => QueryKind::Orders,
        "fills" => QueryKind::Fills,
        other => {
            return Err((404, format!("unknown view {other:?}: funds, positions, orders, fills")));
        }
    };
    let mut query = Query { query_id: 0, kind, account, cursor: 0, page_size: 0, flags: 0 };
    for (name, value) in pairs {
        let number = || value.parse::<u64>().map_err(|_| (400, format!("{name}: not a number")));
        match name.as_str() {
            "cursor" if kind != QueryKind::Funds => {
                query.cursor =
                    u32::try_from(number()?).map_err(|_| (400, "cursor: too big".into()))?
            }
            "limit" if kind != QueryKind::Funds => {
                let max = kind.max_rows() as u64;
                let n = number()?;
                if n == 0 || n > max {
                    return Err((400, format!("limit: 1 to {max} (one answer frame)")));
                }
                query.page_size = n as u8;
            }
            "open" if kind == QueryKind::Orders => match value.as_str() {
                "1" | "true" => query.flags |= protocol::query::query_flags::OPEN_ONLY,
                "0" | "false" | "" => {}
                _ => return Err((400, "open: 1 or 0".into())),
            },
            other => return Err((400, format!("unknown parameter {other:?} for {view}"))),
        }
    }
    Ok(query)
}

/// Asks the engine through the io thread and waits for the answer.
pub fn ask(desk: &DeskQueries, ticket: u64, query: Query) -> Result<QueryAnswer, Refusal> {
    let query = Query { query_id: ticket, ..query };
    if desk.queries.push((ticket, query)).is_err() {
        return Err((503, "too many account views in flight; try again".into()));
    }
    let deadline = Instant::now() + ANSWER_TIMEOUT;
    while Instant::now() < deadline {
        match desk.answers.pop() {
            // An answer to an earlier request that timed out is dropped.
            Some(r) if r.asker == (Asker::Desk { ticket }) => return Ok(r.answer),
            Some(_) => {}
            None => std::thread::sleep(Duration::from_millis(1)),
        }
    }
    Err((503, "the engine did not answer in time; try again".into()))
}

/// The answer as the endpoint's JSON: the header's fields and the rows.
pub fn to_json(answer: &QueryAnswer) -> Result<Value, Refusal> {
    let header = |h: &AnswerHeader| {
        json!({
            "account": h.account.as_str(),
            "as_of_seq": h.as_of_seq,
            "next_cursor": h.next_cursor,
            "incomplete": h.flags & answer_header_flags::INCOMPLETE != 0,
        })
    };
    let (mut out, key, rows) = match answer {
        QueryAnswer::Funds(a) => (header(&a.header), "funds", json!(a.funds)),
        QueryAnswer::Positions(a) => (header(&a.header), "positions", json!(a.rows.as_slice())),
        QueryAnswer::Orders(a) => (header(&a.header), "orders", json!(a.rows.as_slice())),
        QueryAnswer::Fills(a) => (header(&a.header), "fills", json!(a.rows.as_slice())),
        QueryAnswer::Rejected(r) => {
            let name = r.code.name().unwrap_or("unknown");
            return Err((404, format!("refused: {name} ({})", r.code.0)));
        }
    };
    out[key] = rows;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accounts() -> HashSet<AccountId> {
        [AccountId::new("A001").unwrap()].into_iter().collect()
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    }

    #[test]
    fn views_parse_into_queries() {
        let q =
            parse("A001/orders", &pairs(&[("open", "1"), ("limit", "3")]), &accounts()).unwrap();
        assert_eq!((q.kind, q.open_only(), q.page_size), (QueryKind::Orders, true, 3));
        let q = parse("A001/fills", &pairs(&[("cursor", "12")]), &accounts()).unwrap();
        assert_eq!((q.kind, q.cursor, q.page_size), (QueryKind::Fills, 12, 0));
    }

    #[test]
    fn bad_views_are_refused_with_a_reason() {
        let refused = |rest: &str, p: &[(&str, &str)]| parse(rest, &pairs(p), &accounts()).err();
        assert_eq!(refused("Z999/funds", &[]).map(|r| r.0), Some(404));
        assert_eq!(refused("A001/cash", &[]).map(|r| r.0), Some(404));
        assert_eq!(refused("A001/orders", &[("limit", "6")]).map(|r| r.0), Some(400));
        assert_eq!(refused("A001/funds", &[("cursor", "1")]).map(|r| r.0), Some(400));
        assert_eq!(refused("A001/fills", &[("open", "1")]).map(|r| r.0), Some(400));
    }
}
