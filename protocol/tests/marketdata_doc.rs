//! `docs/marketdata.md` is a contract: its message table, layout tables, examples,
//! enumerations, channels, limits and reject codes are read here and held to the code.

use std::collections::{BTreeMap, BTreeSet};

use protocol::marketdata::{
    DeltaBody, DeltaHeader, Depth, GapReason, HEARTBEAT_CHANNELS_MAX, INTERVAL_MS_MAX, MD_VERSION,
    MESSAGE_TYPES, MdMessage, MdReject, Mode, PhaseKind, RETRANSMIT_COUNT_MAX, SNAPSHOT_LEVELS_MAX,
    Target, channel_of, decode_client, decode_server,
};
use protocol::{MAX_FRAME_LEN, Market, Price, Qty, SecurityId, Side};

fn doc() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/marketdata.md");
    std::fs::read_to_string(path).expect("docs/marketdata.md")
}

/// The text of the section whose heading starts with `## {number}.`.
fn section(doc: &str, number: u32) -> String {
    let head = format!("\n## {number}. ");
    let start = doc.find(&head).unwrap_or_else(|| panic!("section {number}"));
    let rest = &doc[start + 1..];
    let end = rest[3..].find("\n## ").map_or(rest.len(), |e| e + 3);
    rest[..end].to_string()
}

/// Every table in `text`: rows of trimmed cells, without the header's separator.
fn tables(text: &str) -> Vec<Vec<Vec<String>>> {
    let mut out: Vec<Vec<Vec<String>>> = Vec::new();
    let mut current: Vec<Vec<String>> = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('|') {
            let cells: Vec<String> =
                line.trim_matches('|').split('|').map(|c| c.trim().to_string()).collect();
            if !cells.iter().all(|c| c.chars().all(|ch| ch == '-')) {
                current.push(cells);
            }
        } else if !current.is_empty() {
            out.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

fn type_byte(cell: &str) -> u8 {
    let t = cell.trim_matches('`').as_bytes();
    assert_eq!(t.len(), 1, "a type is one character: {cell}");
    t[0]
}

fn num(cell: &str) -> u64 {
    cell.replace(',', "").parse().unwrap_or_else(|_| panic!("a number: {cell:?}"))
}

/// "92 + 20 × n" → (92, 20); "16" → (16, 0).
fn fixed_and_each(cell: &str) -> (usize, usize) {
    match cell.split_once(" + ") {
        Some((fixed, each)) => (num(fixed) as usize, num(each.trim_end_matches(" × n")) as usize),
        None => (num(cell) as usize, 0),
    }
}

#[test]
fn the_message_table_is_the_code() {
    let table = &tables(&section(&doc(), 4))[0];
    assert_eq!(table[0][0], "type");
    let mut documented = BTreeSet::new();
    for row in &table[1..] {
        let t = type_byte(&row[0]);
        assert_eq!(row[1], format!("0x{t:02X}"));
        let &(_, name, fixed, each, client) =
            MESSAGE_TYPES.iter().find(|m| m.0 == t).unwrap_or_else(|| panic!("type {row:?}"));
        assert_eq!(row[3], name);
        assert_eq!(row[2], if client { "client → server" } else { "server → client" });
        assert_eq!(fixed_and_each(&row[4]), (fixed, each), "{name} body");
        assert_eq!(fixed_and_each(&row[5]), (fixed + 3, each), "{name} frame");
        let sequenced = matches!(t, b'w' | b'l' | b't' | b'o' | b'x' | b'f' | b'i');
        assert_eq!(row[6] == "yes", sequenced, "{name} sequenced");
        documented.insert(t);
    }
    assert_eq!(documented, MESSAGE_TYPES.iter().map(|m| m.0).collect());
}

/// Each type's layout from section 9: (offset, size, field) of the fixed part, and
/// of one repeated entry.
type Layout = (Vec<(usize, usize, String)>, Vec<(usize, usize, String)>);

fn layouts() -> BTreeMap<u8, Layout> {
    let text = section(&doc(), 9);
    let mut out = BTreeMap::new();
    for part in text.split("\n### ").skip(1) {
        let heading = part.lines().next().unwrap();
        let (t, name) = heading.split_once(' ').unwrap();
        let t = type_byte(t);
        let &(_, code_name, fixed, each, _) =
            MESSAGE_TYPES.iter().find(|m| m.0 == t).unwrap_or_else(|| panic!("{heading}"));
        assert_eq!(name, code_name);
        let tables = tables(part);
        let rows = |table: &Vec<Vec<String>>| -> Vec<(usize, usize, String)> {
            assert_eq!(table[0], ["offset", "size", "type", "field", "meaning"]);
            table[1..]
                .iter()
                .map(|r| (num(&r[0]) as usize, num(&r[1]) as usize, r[3].clone()))
                .collect()
        };
        let fixed_rows = rows(&tables[0]);
        let mut at = 0;
        for (offset, size, field) in &fixed_rows {
            assert_eq!(*offset, at, "{name}.{field} follows the field before it");
            at += size;
        }
        assert_eq!(fixed_rows[0].2, "length");
        assert_eq!(fixed_rows[1].2, "type");
        assert_eq!(at, 3 + fixed, "{name}: the table adds up to the body length");
        let entry_rows = if each > 0 { rows(&tables[1]) } else { Vec::new() };
        let mut at = 0;
        for (offset, size, field) in &entry_rows {
            assert_eq!(*offset, at, "{name} entry {field}");
            at += size;
        }
        assert_eq!(at, each, "{name}: the entry table adds up");
        assert_eq!(tables.len(), if each > 0 { 2 } else { 1 }, "{name} tables");
        out.insert(t, (fixed_rows, entry_rows));
    }
    assert_eq!(out.len(), MESSAGE_TYPES.len(), "every type has a layout");
    out
}

#[test]
fn every_layout_adds_up() {
    layouts();
}

fn parse_hex(block: &str) -> Vec<u8> {
    block
        .lines()
        .filter_map(|l| l.split_once(':'))
        .flat_map(|(_, bytes)| bytes.split_whitespace().map(|b| u8::from_str_radix(b, 16).unwrap()))
        .collect()
}

#[test]
fn every_example_decodes_re_encodes_and_matches_its_table() {
    let layouts = layouts();
    let text = section(&doc(), 14);
    let mut covered = BTreeSet::new();
    for part in text.split("```hex ").skip(1) {
        let (info, rest) = part.split_once('\n').unwrap();
        let (block, after) = rest.split_once("```").unwrap();
        let bytes = parse_hex(block);
        let decoded = if info.contains("direction=client") {
            decode_client(&bytes)
        } else {
            assert!(info.contains("direction=server"), "{info}");
            decode_server(&bytes)
        };
        let msg = decoded.unwrap_or_else(|e| panic!("example {info} does not decode: {e}"));
        let mut again = [0u8; MAX_FRAME_LEN];
        let n = msg.encode(&mut again).unwrap();
        assert_eq!(&again[..n], &bytes[..], "example {info} re-encodes to its bytes");
        let name = MESSAGE_TYPES.iter().find(|m| m.0 == bytes[2]).unwrap().1;
        assert!(info.contains(&format!("name=\"{name}\"")), "{info} is a {name}");
        covered.insert(bytes[2]);
        // The field table: every byte of the frame, each row where the layout puts it.
        let (fixed, entry) = &layouts[&bytes[2]];
        let fixed_len: usize = fixed.iter().map(|f| f.1).sum();
        let each: usize = entry.iter().map(|f| f.1).sum();
        let mut expected: Vec<(usize, usize, String)> = fixed.clone();
        let mut base = fixed_len;
        while each > 0 && base < bytes.len() {
            expected.extend(entry.iter().map(|(o, s, f)| (base + o, *s, f.clone())));
            base += each;
        }
        let table = &tables(after.split("\n### ").next().unwrap())[0];
        assert_eq!(table[0], ["offset", "bytes", "field", "value"]);
        assert_eq!(table.len() - 1, expected.len(), "{name}: one row per field");
        for (row, (offset, size, field)) in table[1..].iter().zip(&expected) {
            assert_eq!((num(&row[0]) as usize, &row[2]), (*offset, field), "{name} row {row:?}");
            let shown = row[1].trim_matches('`');
            let (shown, full) = match shown.split_once(" … ") {
                Some((prefix, _)) => (prefix, false),
                None => (shown, true),
            };
            let shown: Vec<u8> =
                shown.split_whitespace().map(|b| u8::from_str_radix(b, 16).unwrap()).collect();
            assert_eq!(&bytes[*offset..*offset + shown.len()], &shown[..], "{name}.{field} bytes");
            if full {
                assert_eq!(shown.len(), *size, "{name}.{field} size");
            }
        }
    }
    assert_eq!(covered, MESSAGE_TYPES.iter().map(|m| m.0).collect(), "an example of every type");
}

#[test]
fn the_reject_table_is_the_code() {
    let table = &tables(&section(&doc(), 11))[0];
    assert_eq!(table[0], ["code", "name", "meaning"]);
    assert_eq!(table.len() - 1, MdReject::ALL.len());
    for (row, (code, name, sentence)) in table[1..].iter().zip(MdReject::ALL) {
        assert_eq!(
            (num(&row[0]) as u16, row[1].as_str(), row[2].as_str()),
            (code.0, name, sentence)
        );
    }
}

/// The wire byte the code writes for an enumeration value.
fn written(field: &str, value: u8) -> Option<u8> {
    let sec = SecurityId { market: Market::Sse, code: 600_000 };
    let frame = |m: MdMessage, at: usize| {
        let mut buf = [0u8; MAX_FRAME_LEN];
        m.encode(&mut buf).unwrap();
        buf[at]
    };
    let header =
        DeltaHeader { channel: 160, seq: 2, prev_seq: 1, security: sec, flags: 0, time_ns: 0 };
    match field {
        "depth" => Depth::from_u8(value).map(Depth::as_u8),
        "mode" => Mode::from_u8(value).map(Mode::as_u8),
        "kind" => PhaseKind::from_u8(value).map(PhaseKind::as_u8),
        "reason" => GapReason::from_u8(value).map(GapReason::as_u8),
        "scope" => {
            let target = match value {
                1 => Target::Security(sec),
                2 => Target::Channel(160),
                _ => return None,
            };
            Some(frame(MdMessage::Unsubscribe { request_id: 1, target }, 7))
        }
        "aggressor" => {
            let aggressor = match value {
                0 => None,
                v => Some(Side::from_u8(v)?),
            };
            let body = DeltaBody::Trade {
                exec_id: 1,
                price: Price(1),
                qty: Qty(1),
                buy_order_id: 1,
                sell_order_id: 2,
                aggressor,
            };
            Some(frame(MdMessage::Delta(header, body), 35))
        }
        other => panic!("undocumented enumeration {other}"),
    }
}

#[test]
fn the_enumeration_table_is_the_code() {
    let table = &tables(&section(&doc(), 10))[0];
    let mut per_field: BTreeMap<String, BTreeSet<u8>> = BTreeMap::new();
    for row in &table[1..] {
        let value = num(&row[1]) as u8;
        assert_eq!(written(&row[0], value), Some(value), "{row:?}");
        per_field.entry(row[0].clone()).or_default().insert(value);
    }
    // Nothing else is defined.
    for (field, values) in per_field {
        for v in 0..=u8::MAX {
            assert_eq!(written(&field, v).is_some(), values.contains(&v), "{field} {v}");
        }
    }
}

#[test]
fn the_limits_and_channels_are_the_code() {
    let doc = doc();
    let limits = &tables(&section(&doc, 13))[0];
    let code: [(&str, u64); 5] = [
        ("MD_VERSION", u64::from(MD_VERSION)),
        ("SNAPSHOT_LEVELS_MAX", SNAPSHOT_LEVELS_MAX as u64),
        ("HEARTBEAT_CHANNELS_MAX", HEARTBEAT_CHANNELS_MAX as u64),
        ("RETRANSMIT_COUNT_MAX", u64::from(RETRANSMIT_COUNT_MAX)),
        ("INTERVAL_MS_MAX", u64::from(INTERVAL_MS_MAX)),
    ];
    assert_eq!(limits.len() - 1, code.len());
    for (row, (name, value)) in limits[1..].iter().zip(code) {
        assert_eq!((row[0].as_str(), num(&row[1])), (name, value));
    }
    let channels = &tables(&section(&doc, 6))[0];
    for row in &channels[1..] {
        let (code, market) = row[0].split_once('.').unwrap();
        let market = match market {
            "SH" => Market::Sse,
            "SZ" => Market::Szse,
            "BJ" => Market::Bse,
            other => panic!("market {other}"),
        };
        let security = SecurityId { market, code: num(code) as u32 };
        assert_eq!(u64::from(channel_of(security)), num(&row[2]), "{row:?}");
    }
    // Section 3's largest message: the Snapshot at full depth.
    let largest = MESSAGE_TYPES
        .iter()
        .map(|&(_, name, fixed, each, _)| {
            let entries = match name {
                "Snapshot" => 2 * SNAPSHOT_LEVELS_MAX,
                "Heartbeat" => HEARTBEAT_CHANNELS_MAX,
                _ => 0,
            };
            (3 + fixed + each * entries, name)
        })
        .max()
        .unwrap();
    assert_eq!(largest, (495, "Snapshot"));
    assert!(section(&doc, 3).contains("Snapshot, 495 bytes"));
    assert!(largest.0 <= MAX_FRAME_LEN);
}
