//! Facts in `docs/protocol.md` beyond the layouts (which `doc_contract.rs`
//! checks), held to the code:
//!
//! * section 9.8's table of A-share rules per board, against
//!   `BoardRules::default_for`, the defaults the gateway starts from;
//! * section 12's table of the codes each answer carries, against
//!   `RejectCode::ALL`: it names only real codes, and every code has an answer.

use protocol::rules::BoardRules;
use protocol::{Board, RejectCode};

fn doc() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/protocol.md");
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

fn cells(line: &str) -> Vec<String> {
    let inner = line.trim().trim_start_matches('|').trim_end_matches('|');
    inner.split('|').map(|c| c.trim().trim_matches('`').to_string()).collect()
}

/// The board table of section 9.8: its header and rows.
fn board_table(doc: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let from = doc.find("### 9.8 ").expect("docs/protocol.md has a section 9.8");
    let rest = &doc[from..];
    let end = rest[4..].find("\n#").map_or(rest.len(), |n| n + 4);
    let mut lines = rest[..end].lines().skip_while(|l| !l.starts_with("| board |"));
    let header = cells(lines.next().expect("a table headed `| board |`"));
    let rows = lines
        .take_while(|l| l.starts_with('|'))
        .map(cells)
        .filter(|r| !r.iter().all(|c| c.chars().all(|ch| ch == '-')))
        .collect();
    (header, rows)
}

#[test]
fn board_rules_table_matches_the_defaults() {
    let doc = doc();
    let (header, rows) = board_table(&doc);
    let col = |name: &str| {
        header.iter().position(|h| h == name).unwrap_or_else(|| panic!("column {name}"))
    };
    let mut seen = Vec::new();
    for row in &rows {
        let board = Board::ALL
            .iter()
            .copied()
            .find(|b| b.name() == row[col("board")])
            .unwrap_or_else(|| panic!("unknown board {:?}", row[col("board")]));
        let num = |name: &str| -> u64 {
            row[col(name)]
                .parse()
                .unwrap_or_else(|_| panic!("{}: {name} {:?}", board.name(), row[col(name)]))
        };
        let r = BoardRules::default_for(board);
        let cage = r.cage.expect("every board has a cage by default");
        assert_eq!(row[col("market")], board.market().name(), "{}", board.name());
        let want = [
            ("tick", r.tick.0 as u64),
            ("lot_min", r.lot.min_qty),
            ("lot_step", r.lot.step),
            ("max_qty_limit", r.max_qty_limit),
            ("max_qty_market", r.max_qty_market),
            ("limit_bp", u64::from(r.limit_bp)),
            ("cage_pct_bp", u64::from(cage.pct_bp)),
            ("cage_min_ticks", u64::from(cage.min_ticks)),
        ];
        for (name, value) in want {
            assert_eq!(num(name), value, "{} {name}", board.name());
        }
        assert_eq!(num("st_limit_bp"), u64::from(r.st_limit_bp), "{} st_limit_bp", board.name());
        seen.push(board);
    }
    assert_eq!(seen, Board::ALL, "one row per board, in order");
}

/// The 4-digit codes a cell names, ranges ("3001-3011") expanded.
fn codes_in(cell: &str) -> Vec<u16> {
    let mut out = Vec::new();
    let spaced: String =
        cell.chars().map(|c| if c.is_ascii_digit() || c == '-' { c } else { ' ' }).collect();
    for word in spaced.split_whitespace() {
        let bounds: Vec<u16> = word.split('-').filter_map(|n| n.parse().ok()).collect();
        match bounds.as_slice() {
            [one] if (1000..6000).contains(one) => out.push(*one),
            [lo, hi] if (1000..6000).contains(lo) && lo < hi => out.extend(*lo..=*hi),
            _ => {}
        }
    }
    out
}

#[test]
fn codes_by_answer_name_real_codes_and_cover_every_code() {
    let doc = doc();
    let from = doc.find("### Codes by answer").expect("section 12 has `### Codes by answer`");
    let rows: Vec<Vec<String>> = doc[from..]
        .lines()
        .skip_while(|l| !l.starts_with("| answer |"))
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(cells)
        .collect();
    let answers: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(
        answers,
        [
            "OrderRejected",
            "CancelRejected",
            "MassCancelAck",
            "OrderEntryStatus",
            "BusinessReject",
            "LoginRejected",
            "EndOfSession",
            "QueryRejected"
        ]
    );
    let mut named = std::collections::BTreeSet::new();
    for row in &rows {
        for code in codes_in(&row[1]) {
            assert!(RejectCode(code).name().is_some(), "{}: {code} is not a reject code", row[0]);
            named.insert(code);
        }
    }
    // FRAME_TOO_LARGE ends the stream (EndOfSession MALFORMED_STREAM): it is never
    // an answer's code.
    let unanswered: Vec<u16> =
        RejectCode::ALL.iter().map(|c| c.0).filter(|c| !named.contains(c)).collect();
    assert_eq!(unanswered, [RejectCode::FRAME_TOO_LARGE.0], "codes no answer carries");
}
