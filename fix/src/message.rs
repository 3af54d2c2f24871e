//! A parsed message: a table of field positions over the frame's bytes.
//!
//! Parsing fills a caller's table (allocated once, at the configured field limit)
//! and copies no value; getters look a tag up in the table and read the value in
//! place.

use crate::field::{FieldError, FieldIter, ValueError};
use crate::tag;

/// Where one field's value lies in the message bytes.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct FieldPos {
    /// The tag.
    pub tag: u32,
    /// Offset of the value's first byte.
    pub start: u32,
    /// Offset one past the value's last byte.
    pub end: u32,
}

/// Why a framed message could not be split into fields.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
pub enum ParseError {
    /// A field is malformed.
    #[error(transparent)]
    Field(#[from] FieldError),
    /// More fields than the configured maximum.
    #[error("more than {max} fields")]
    TooManyFields {
        /// The limit.
        max: usize,
    },
}

/// Splits a framed message into `table`, which is cleared first and never grows
/// past `max_fields` (so a table made with that capacity never reallocates).
///
/// A field with a malformed tag is kept with tag 0, and one without a value with
/// an empty value, so that validation can name it in a Reject (SessionRejectReason
/// 0 and 4) while MsgSeqNum and the rest stay readable.
pub fn parse_into(
    bytes: &[u8],
    table: &mut Vec<FieldPos>,
    max_fields: usize,
) -> Result<(), ParseError> {
    table.clear();
    let mut iter = FieldIter::new(bytes);
    loop {
        let at = iter.position();
        let pos = match iter.next() {
            None => return Ok(()),
            Some(Ok((field, end))) => FieldPos {
                tag: field.tag,
                start: (end - field.value.len()) as u32,
                end: end as u32,
            },
            Some(Err(FieldError::NoValue { tag })) => {
                let end = iter.position() as u32 - 1;
                FieldPos { tag, start: end, end }
            }
            Some(Err(FieldError::BadTag { .. })) => {
                FieldPos { tag: 0, start: at as u32, end: at as u32 }
            }
            Some(Err(e @ FieldError::Unterminated { .. })) => return Err(e.into()),
        };
        if table.len() == max_fields {
            return Err(ParseError::TooManyFields { max: max_fields });
        }
        table.push(pos);
    }
}

/// A parsed message: its bytes and its field table.
#[derive(Clone, Copy, Debug)]
pub struct Message<'a> {
    bytes: &'a [u8],
    fields: &'a [FieldPos],
}

impl<'a> Message<'a> {
    /// A message over `bytes` whose fields `parse_into` put in `fields`.
    pub fn new(bytes: &'a [u8], fields: &'a [FieldPos]) -> Message<'a> {
        Message { bytes, fields }
    }

    /// The fields in wire order.
    pub fn fields(&self) -> &'a [FieldPos] {
        self.fields
    }

    /// The whole message.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The value of a field table entry.
    pub fn value(&self, pos: &FieldPos) -> &'a [u8] {
        self.bytes.get(pos.start as usize..pos.end as usize).unwrap_or(&[])
    }

    /// The value of the first field with `tag`.
    pub fn get(&self, tag: u32) -> Option<&'a [u8]> {
        self.fields.iter().find(|f| f.tag == tag).map(|f| self.value(f))
    }

    /// MsgType (35): the third field, which the framer guarantees.
    pub fn msg_type(&self) -> &'a [u8] {
        self.fields.get(2).filter(|f| f.tag == tag::MSG_TYPE).map_or(&[], |f| self.value(f))
    }

    /// A field read with a getter: `Ok(None)` when absent.
    pub fn read<T>(
        &self,
        tag: u32,
        getter: fn(&[u8]) -> Result<T, ValueError>,
    ) -> Result<Option<T>, (u32, ValueError)> {
        match self.get(tag) {
            None => Ok(None),
            Some(value) => getter(value).map(Some).map_err(|e| (tag, e)),
        }
    }
}
