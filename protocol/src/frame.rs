//! The frame's fixed sizes, shared by the codec and the message layouts that
//! size their pages by them (the query answers): one definition, no cycle.

/// Hard maximum of a whole frame (length prefix included), in bytes.
pub const MAX_FRAME_LEN: usize = 512;
/// Offset of the type byte, after the `u16 length`.
pub const TYPE_AT: usize = 2;
/// Bytes before the body: `u16 length` and `u8 type`.
pub const FRAME_HEADER_LEN: usize = TYPE_AT + 1;
