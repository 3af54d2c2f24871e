//! The FIX 4.4 dictionary and message validation.
//!
//! The tables in `generated.rs` come from QuickFIX's `FIX44.xml` through
//! `spec/gen_dict.py`: the header, the trailer and the body of every message this
//! acceptor accepts, flattened through components, with repeating groups kept as
//! groups. [`Dictionary`] indexes them once at start-up so that validating a message
//! is a table lookup per field and allocates nothing.

#[rustfmt::skip]
mod generated;

use std::sync::OnceLock;

use crate::field::{self, ValueError};
use crate::message::{FieldPos, Message};
use crate::tag;

pub use generated::{ALL_MSG_TYPES, FIELDS, HEADER, MESSAGES, TRAILER};

/// A field's place in a message (or in a repeating group).
#[derive(Clone, Copy, Debug)]
pub struct Entry {
    /// The tag.
    pub tag: u32,
    /// Required where it appears (a component's fields only when the component is).
    pub required: bool,
    /// The group's members when this tag is a NumInGroup; the first is the delimiter.
    pub group: Option<&'static [Entry]>,
}

/// A message type's definition.
#[derive(Clone, Copy, Debug)]
pub struct MsgDef {
    /// MsgType (35).
    pub msg_type: &'static str,
    /// The dictionary's name.
    pub name: &'static str,
    /// True for session-level (administrative) messages.
    pub admin: bool,
    /// Body fields in dictionary order.
    pub body: &'static [Entry],
}

/// The value format of a field.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum FieldKind {
    /// int, Length.
    Int,
    /// NumInGroup.
    NumInGroup,
    /// SeqNum.
    SeqNum,
    /// float, Price, Qty, Amt, Percentage, PriceOffset.
    Float,
    /// char.
    Char,
    /// Boolean (Y/N).
    Boolean,
    /// UTCTimestamp.
    UtcTimestamp,
    /// data (may hold SOH; not accepted by this acceptor).
    Data,
    /// Any other string type.
    String,
}

/// A field's definition.
#[derive(Clone, Copy, Debug)]
pub struct FieldDef {
    /// The tag.
    pub tag: u32,
    /// The dictionary's name.
    pub name: &'static str,
    /// The format.
    pub kind: FieldKind,
    /// The allowed values, when enumerated (only for the fields of accepted messages).
    pub values: &'static [&'static str],
}

/// SessionRejectReason (373) values.
pub mod reason {
    #![allow(missing_docs)] // Each constant is the FIX value of the same name.
    pub const INVALID_TAG_NUMBER: u32 = 0;
    pub const REQUIRED_TAG_MISSING: u32 = 1;
    pub const TAG_NOT_DEFINED_FOR_MESSAGE: u32 = 2;
    pub const TAG_WITHOUT_VALUE: u32 = 4;
    pub const VALUE_OUT_OF_RANGE: u32 = 5;
    pub const INCORRECT_DATA_FORMAT: u32 = 6;
    pub const COMP_ID_PROBLEM: u32 = 9;
    pub const SENDING_TIME_ACCURACY: u32 = 10;
    pub const INVALID_MSG_TYPE: u32 = 11;
    pub const TAG_APPEARS_MORE_THAN_ONCE: u32 = 13;
    pub const TAG_OUT_OF_ORDER: u32 = 14;
    pub const GROUP_FIELDS_OUT_OF_ORDER: u32 = 15;
    pub const INCORRECT_NUM_IN_GROUP: u32 = 16;
    pub const OTHER: u32 = 99;
}

/// Why a message breaks the dictionary: a SessionRejectReason and the tag concerned.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Violation {
    /// SessionRejectReason (373).
    pub reason: u32,
    /// RefTagID (371), when one tag is at fault.
    pub ref_tag: Option<u32>,
}

impl Violation {
    fn new(reason: u32, tag: u32) -> Violation {
        Violation { reason, ref_tag: Some(tag) }
    }
}

/// Tags an accepted message allows besides the dictionary's: Breakwater's
/// user-defined tags in D, and Account in q (FIX 4.4's OrderMassCancelRequest has
/// no Account; Breakwater cancels per account). Both are in `docs/fix.md`.
fn extra_tags(msg_type: &str) -> &'static [u32] {
    match msg_type {
        "D" => &[
            tag::BW_MARKET_TYPE,
            tag::BW_SUITABILITY_CONFIRMED,
            tag::BW_PROGRAMMATIC,
            tag::BW_CREDIT_TAG,
        ],
        "q" => &[tag::ACCOUNT],
        _ => &[],
    }
}

/// Slots in the per-message tag index: FIX 4.4 tags below 1024, then 5000..5063.
const INDEX_LEN: usize = 1024 + 64;

fn index_slot(tag: u32) -> Option<usize> {
    match tag {
        0..=1023 => Some(tag as usize),
        5000..=5063 => Some(1024 + (tag - 5000) as usize),
        _ => None,
    }
}

/// Where a tag may stand in one message type.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Place {
    Absent,
    Header(u16),
    Body(u16),
    Trailer,
}

/// One message type, indexed.
#[derive(Debug)]
struct Indexed {
    def: &'static MsgDef,
    place: Vec<Place>,
    required: Vec<u32>,
}

/// The dictionary, indexed for lookups without allocation.
#[derive(Debug)]
pub struct Dictionary {
    messages: Vec<Indexed>,
    field_index: Vec<u16>,
}

/// The process-wide dictionary, built on first use.
pub fn dictionary() -> &'static Dictionary {
    static DICT: OnceLock<Dictionary> = OnceLock::new();
    DICT.get_or_init(Dictionary::build)
}

impl Dictionary {
    fn build() -> Dictionary {
        let mut field_index = vec![u16::MAX; INDEX_LEN];
        for (i, f) in FIELDS.iter().enumerate() {
            if let Some(slot) = index_slot(f.tag) {
                field_index[slot] = i as u16;
            }
        }
        let messages = MESSAGES.iter().map(Self::index_message).collect();
        Dictionary { messages, field_index }
    }

    fn index_message(def: &'static MsgDef) -> Indexed {
        let mut place = vec![Place::Absent; INDEX_LEN];
        let mut required = Vec::new();
        for (i, e) in HEADER.iter().enumerate() {
            place[e.tag as usize] = Place::Header(i as u16);
            if e.required {
                required.push(e.tag);
            }
        }
        for (i, e) in def.body.iter().enumerate() {
            place[e.tag as usize] = Place::Body(i as u16);
            if e.required {
                required.push(e.tag);
            }
        }
        for &t in extra_tags(def.msg_type) {
            if let Some(slot) = index_slot(t) {
                place[slot] = Place::Body(u16::MAX);
            }
        }
        for e in TRAILER {
            place[e.tag as usize] = Place::Trailer;
        }
        Indexed { def, place, required }
    }

    /// The definition of an accepted message type.
    pub fn message(&self, msg_type: &[u8]) -> Option<&'static MsgDef> {
        self.find(msg_type).map(|m| m.def)
    }

    fn find(&self, msg_type: &[u8]) -> Option<&Indexed> {
        self.messages.iter().find(|m| m.def.msg_type.as_bytes() == msg_type)
    }

    /// The definition of a field FIX 4.4 defines (or one of Breakwater's).
    pub fn field(&self, tag: u32) -> Option<&'static FieldDef> {
        let slot = index_slot(tag)?;
        FIELDS.get(usize::from(self.field_index[slot]))
    }

    /// Validates a parsed message of an accepted type against the dictionary.
    ///
    /// Checks, in wire order: tags are defined, allowed for the type and in the
    /// header-body-trailer order; no tag repeats outside a repeating group; each
    /// group has as many instances as its NumInGroup says, each starting with the
    /// delimiter; values have their type's format and an allowed value; and last,
    /// every required field is present.
    pub fn validate(&self, msg: &Message<'_>) -> Result<(), Violation> {
        let Some(indexed) = self.find(msg.msg_type()) else {
            return Err(Violation {
                reason: reason::INVALID_MSG_TYPE,
                ref_tag: Some(tag::MSG_TYPE),
            });
        };
        let mut seen = TagSet::default();
        let fields = msg.fields();
        let mut section = 0u8; // 0 header, 1 body, 2 trailer
        let mut i = 0;
        while i < fields.len() {
            let pos = fields[i];
            if pos.tag == 0 {
                return Err(Violation { reason: reason::INVALID_TAG_NUMBER, ref_tag: None });
            }
            let place = index_slot(pos.tag).map_or(Place::Absent, |s| indexed.place[s]);
            let here = match place {
                Place::Absent => return Err(self.absent(pos.tag)),
                Place::Header(_) => 0,
                Place::Body(_) => 1,
                Place::Trailer => 2,
            };
            // Header, then body, then trailer, with CheckSum last (the framer put a
            // CheckSum last; one elsewhere is out of order).
            let checksum_early = pos.tag == tag::CHECK_SUM && i + 1 != fields.len();
            if here < section || checksum_early {
                return Err(Violation::new(reason::TAG_OUT_OF_ORDER, pos.tag));
            }
            section = here;
            if !seen.insert(pos.tag) {
                return Err(Violation::new(reason::TAG_APPEARS_MORE_THAN_ONCE, pos.tag));
            }
            self.check_value(msg, &pos)?;
            i += 1;
            let group = match place {
                Place::Header(e) => HEADER[usize::from(e)].group,
                Place::Body(e) => indexed.def.body.get(usize::from(e)).and_then(|e| e.group),
                _ => None,
            };
            if let Some(members) = group {
                i = self.walk_group(msg, i, pos, members)?;
            }
        }
        match indexed.required.iter().find(|&&t| !seen.contains(t)) {
            Some(&missing) => Err(Violation::new(reason::REQUIRED_TAG_MISSING, missing)),
            None => Ok(()),
        }
    }

    fn absent(&self, tag: u32) -> Violation {
        let known = self.field(tag).is_some() || tag::is_breakwater(tag);
        let reason =
            if known { reason::TAG_NOT_DEFINED_FOR_MESSAGE } else { reason::INVALID_TAG_NUMBER };
        Violation::new(reason, tag)
    }

    /// Walks the instances of a repeating group that starts at `fields[i]`, whose
    /// NumInGroup field is `count_pos`; returns the index after the group.
    fn walk_group(
        &self,
        msg: &Message<'_>,
        mut i: usize,
        count_pos: FieldPos,
        members: &'static [Entry],
    ) -> Result<usize, Violation> {
        let count_err = Violation::new(reason::INCORRECT_NUM_IN_GROUP, count_pos.tag);
        let count = field::get_u64(msg.value(&count_pos)).map_err(|_| count_err)?;
        let fields = msg.fields();
        let delimiter = members[0].tag;
        for _ in 0..count {
            if fields.get(i).map(|f| f.tag) != Some(delimiter) {
                return Err(count_err);
            }
            i = self.walk_instance(msg, i, members)?;
        }
        if fields.get(i).is_some_and(|f| f.tag == delimiter) {
            return Err(count_err); // More instances than NumInGroup says.
        }
        Ok(i)
    }

    fn walk_instance(
        &self,
        msg: &Message<'_>,
        mut i: usize,
        members: &'static [Entry],
    ) -> Result<usize, Violation> {
        let fields = msg.fields();
        let start = i;
        while let Some(pos) = fields.get(i) {
            let Some(entry) = members.iter().find(|e| e.tag == pos.tag) else { break };
            if i > start && pos.tag == members[0].tag {
                break; // The next instance.
            }
            if fields[start..i].iter().any(|f| f.tag == pos.tag) {
                return Err(Violation::new(reason::TAG_APPEARS_MORE_THAN_ONCE, pos.tag));
            }
            self.check_value(msg, pos)?;
            i += 1;
            if let Some(nested) = entry.group {
                i = self.walk_group(msg, i, *pos, nested)?;
            }
        }
        let instance = &fields[start..i];
        for e in members.iter().filter(|e| e.required) {
            if !instance.iter().any(|f| f.tag == e.tag) {
                return Err(Violation::new(reason::REQUIRED_TAG_MISSING, e.tag));
            }
        }
        Ok(i)
    }

    fn check_value(&self, msg: &Message<'_>, pos: &FieldPos) -> Result<(), Violation> {
        let value = msg.value(pos);
        if value.is_empty() {
            return Err(Violation::new(reason::TAG_WITHOUT_VALUE, pos.tag));
        }
        let Some(def) = self.field(pos.tag) else {
            return check_breakwater_value(pos.tag, value);
        };
        let format = |ok: bool| {
            if ok { Ok(()) } else { Err(Violation::new(reason::INCORRECT_DATA_FORMAT, pos.tag)) }
        };
        match def.kind {
            FieldKind::Int => format(field::get_i64(value).is_ok())?,
            FieldKind::NumInGroup | FieldKind::SeqNum => format(field::get_u64(value).is_ok())?,
            FieldKind::Float => format(field::is_float(value))?,
            FieldKind::Char => format(field::get_char(value).is_ok())?,
            FieldKind::Boolean => format(field::get_bool(value).is_ok())?,
            FieldKind::UtcTimestamp => format(field::get_utc_timestamp_ns(value).is_ok())?,
            FieldKind::Data | FieldKind::String => {}
        }
        if def.values.is_empty()
            || value.split(|&b| b == b' ').all(|v| def.values.iter().any(|d| d.as_bytes() == v))
        {
            Ok(())
        } else {
            Err(Violation::new(reason::VALUE_OUT_OF_RANGE, pos.tag))
        }
    }
}

/// Formats of Breakwater's user-defined tags.
fn check_breakwater_value(tag: u32, value: &[u8]) -> Result<(), Violation> {
    let ok = match tag {
        tag::BW_MARKET_TYPE => matches!(value, b"O" | b"C" | b"5" | b"L" | b"I" | b"F"),
        tag::BW_SUITABILITY_CONFIRMED | tag::BW_PROGRAMMATIC => field::get_bool(value).is_ok(),
        tag::BW_CREDIT_TAG => matches!(value, b"0" | b"1" | b"2"),
        _ => true,
    };
    if ok { Ok(()) } else { Err(Violation::new(reason::VALUE_OUT_OF_RANGE, tag)) }
}

/// A set of tags without allocation: one bit per index slot.
#[derive(Default)]
struct TagSet {
    bits: [u64; INDEX_LEN / 64],
}

impl TagSet {
    /// Adds a tag; false when it was there already. Tags outside the index never
    /// reach here (they are not allowed in any message).
    fn insert(&mut self, tag: u32) -> bool {
        let Some(slot) = index_slot(tag) else { return true };
        let (word, bit) = (slot / 64, 1u64 << (slot % 64));
        let fresh = self.bits[word] & bit == 0;
        self.bits[word] |= bit;
        fresh
    }

    fn contains(&self, tag: u32) -> bool {
        index_slot(tag).is_some_and(|slot| self.bits[slot / 64] & (1u64 << (slot % 64)) != 0)
    }
}

/// True when FIX 4.4 defines `msg_type` (whether or not it is accepted here).
pub fn is_defined_msg_type(msg_type: &[u8]) -> bool {
    ALL_MSG_TYPES.iter().any(|t| t.as_bytes() == msg_type)
}

/// The result of validation, mapped from a getter's error.
pub fn value_violation(tag: u32, err: ValueError) -> Violation {
    let reason = match err {
        ValueError::Format => reason::INCORRECT_DATA_FORMAT,
        ValueError::Range => reason::VALUE_OUT_OF_RANGE,
    };
    Violation::new(reason, tag)
}
