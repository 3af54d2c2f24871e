//! The generated dictionary tables agree with the FIX 4.4 dictionary they came
//! from: `spec/FIX44-subset.xml` (the part of QuickFIX's FIX44.xml that is used),
//! and the whole FIX44.xml too when `FIX44_XML` names a copy of it.

use fix::dict::{self, FieldKind};

fn attr<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let key = format!(" {name}=");
    let at = line.find(&key)? + key.len();
    let quote = line[at..].chars().next()?;
    let rest = &line[at + 1..];
    rest.find(quote).map(|end| &rest[..end])
}

fn kind_of(xml_type: &str) -> FieldKind {
    match xml_type {
        "INT" | "LENGTH" => FieldKind::Int,
        "NUMINGROUP" => FieldKind::NumInGroup,
        "SEQNUM" => FieldKind::SeqNum,
        "PRICE" | "PRICEOFFSET" | "AMT" | "QTY" | "FLOAT" | "PERCENTAGE" => FieldKind::Float,
        "CHAR" => FieldKind::Char,
        "BOOLEAN" => FieldKind::Boolean,
        "UTCTIMESTAMP" => FieldKind::UtcTimestamp,
        "DATA" => FieldKind::Data,
        _ => FieldKind::String,
    }
}

/// Checks every field definition, and each accepted message's own fields (not
/// through components) for presence and the required flag.
fn check(xml: &str) {
    let mut numbers = std::collections::HashMap::new();
    let mut in_fields = false;
    for line in xml.lines() {
        in_fields |= line.trim_start().starts_with("<fields>");
        if in_fields && line.trim_start().starts_with("<field ") {
            let tag: u32 = attr(line, "number").unwrap().parse().unwrap();
            let name = attr(line, "name").unwrap();
            numbers.insert(name.to_owned(), tag);
            let def =
                dict::dictionary().field(tag).unwrap_or_else(|| panic!("field {tag} missing"));
            assert_eq!(def.name, name);
            assert_eq!(def.kind, kind_of(attr(line, "type").unwrap()), "{name}");
        }
    }
    assert_eq!(numbers.len(), dict::FIELDS.len(), "every field of the XML is in the table");
    let mut current: Option<&dict::MsgDef> = None;
    let mut checked = 0;
    for line in xml.lines() {
        let depth = line.len() - line.trim_start().len();
        let trimmed = line.trim_start();
        if trimmed.starts_with("<message ") {
            let msg_type = attr(line, "msgtype").unwrap();
            current = dict::dictionary().message(msg_type.as_bytes());
            assert!(dict::is_defined_msg_type(msg_type.as_bytes()));
            continue;
        }
        if trimmed.starts_with("</message>") {
            current = None;
            continue;
        }
        let (Some(def), true) = (current, trimmed.starts_with("<field ")) else { continue };
        if depth != 3 {
            continue; // Inside a group of the message.
        }
        let tag = numbers[attr(line, "name").unwrap()];
        let entry = def
            .body
            .iter()
            .find(|e| e.tag == tag)
            .unwrap_or_else(|| panic!("{tag} not in {}", def.name));
        assert_eq!(entry.required, attr(line, "required") == Some("Y"), "{} {tag}", def.name);
        checked += 1;
    }
    assert!(checked > 100, "the accepted messages' own fields were checked ({checked})");
}

#[test]
fn tables_match_the_committed_dictionary_subset() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/spec/FIX44-subset.xml");
    let xml = std::fs::read_to_string(path).expect("spec/FIX44-subset.xml is committed");
    check(&xml);
}

#[test]
fn tables_match_the_full_fix44_xml_when_present() {
    // The full file's messages that are not accepted have no table: only the
    // accepted ones are compared (`check` skips the others).
    let Ok(path) = std::env::var("FIX44_XML") else { return };
    let xml = std::fs::read_to_string(path).expect("FIX44_XML names a readable file");
    check(&xml.replace('\'', "\""));
}

#[test]
fn accepted_messages_and_their_required_fields() {
    let d = dict::dictionary();
    for t in ["0", "1", "2", "3", "4", "5", "A", "D", "F", "G", "H", "q"] {
        assert!(d.message(t.as_bytes()).is_some(), "{t}");
    }
    let required = |t: &str| -> Vec<u32> {
        d.message(t.as_bytes()).unwrap().body.iter().filter(|e| e.required).map(|e| e.tag).collect()
    };
    assert_eq!(required("A"), [98, 108]);
    assert_eq!(required("D"), [11, 54, 60, 40]);
    assert_eq!(required("2"), [7, 16]);
    let parties = d.message(b"D").unwrap().body.iter().find(|e| e.tag == 453).unwrap();
    assert_eq!(parties.group.unwrap()[0].tag, 448, "PartyID delimits NoPartyIDs");
}
