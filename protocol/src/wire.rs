//! Declared wire layouts, in the spirit of SBE: each fixed-layout message is
//! listed once, field by field in wire order with its wire type, and everything
//! that depends on the layout comes from that list: each field's offset, the
//! body length, a field table (what `docs/protocol.md`'s byte tables must say)
//! and a raw reader and writer of the whole layout.
//!
//! A layout is declared with [`wire_layout!`](crate::wire_layout):
//!
//! ```text
//! wire_layout! {
//!     /// CancelOrder body.
//!     cancel_order {
//!         request_id: u64,
//!         orig_cl_ord_id: u64,
//!         account: ascii[16],
//!     }
//! }
//! ```
//!
//! which generates a module `cancel_order` holding `AT` (each field's offset from
//! the first byte of the layout: `cancel_order::AT.account` is 16), `LEN` (32),
//! `FIELDS` (the table) and `Wire` (a struct of the raw values, with `read` and
//! `write`). The wire types are `u8`, `u16`, `u32`, `u64`, `i64` (little-endian),
//! `ascii[N]` (an identifier's bytes), `bytes[N]` (opaque bytes) and
//! `reserved[N]` (bytes sent as zero and ignored on receipt). What the raw values
//! mean (enums, identifiers, booleans, flags) is decoded beside each message, so
//! every malformed value keeps its own error.

/// One field of a declared layout, as the byte tables of `docs/protocol.md` list
/// it (offsets here count from the start of the layout, not of the frame).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Field {
    /// The field's name; `reserved` for reserved bytes.
    pub name: &'static str,
    /// The wire type as the document spells it: `u64`, `ascii[16]`, `bytes[3]` ...
    pub ty: &'static str,
    /// Offset from the first byte of the layout.
    pub offset: usize,
    /// Size in bytes.
    pub size: usize,
}

/// A fixed-size wire value.
///
/// `get` reads at an offset of a slice whose length was already checked against
/// the layout; an offset out of range (a bug in a layout) reads zeros rather than
/// panic, so bytes from the network never panic. `put` writes into a zeroed body
/// that the layout's length sized.
pub trait WireType: Sized {
    /// Bytes on the wire.
    const SIZE: usize;
    /// Reads the value at `at`.
    fn get(src: &[u8], at: usize) -> Self;
    /// Writes the value at `at`.
    fn put(self, dst: &mut [u8], at: usize);
}

impl<const N: usize> WireType for [u8; N] {
    const SIZE: usize = N;
    #[inline]
    fn get(src: &[u8], at: usize) -> Self {
        let mut out = [0u8; N];
        if let Some(bytes) = src.get(at..at + N) {
            out.copy_from_slice(bytes);
        }
        out
    }
    #[inline]
    fn put(self, dst: &mut [u8], at: usize) {
        dst[at..at + N].copy_from_slice(&self);
    }
}

impl WireType for u8 {
    const SIZE: usize = 1;
    #[inline]
    fn get(src: &[u8], at: usize) -> Self {
        src.get(at).copied().unwrap_or(0)
    }
    #[inline]
    fn put(self, dst: &mut [u8], at: usize) {
        dst[at] = self;
    }
}

/// Little-endian integers wider than a byte.
macro_rules! le_wire_type {
    ($($t:ty),*) => {$(
        impl WireType for $t {
            const SIZE: usize = core::mem::size_of::<$t>();
            #[inline]
            fn get(src: &[u8], at: usize) -> Self {
                <$t>::from_le_bytes(WireType::get(src, at))
            }
            #[inline]
            fn put(self, dst: &mut [u8], at: usize) {
                self.to_le_bytes().put(dst, at);
            }
        }
    )*};
}

le_wire_type!(u16, u32, u64, i64);

/// `N` reserved bytes: written as zero (the body starts zeroed, so writing is a
/// no-op) and never read.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Reserved<const N: usize>;

impl<const N: usize> WireType for Reserved<N> {
    const SIZE: usize = N;
    #[inline]
    fn get(_: &[u8], _: usize) -> Self {
        Reserved
    }
    #[inline]
    fn put(self, _: &mut [u8], _: usize) {}
}

/// The Rust type that holds a wire type's raw value.
#[doc(hidden)]
#[macro_export]
macro_rules! wire_rust_type {
    (u8) => { u8 };
    (u16) => { u16 };
    (u32) => { u32 };
    (u64) => { u64 };
    (i64) => { i64 };
    (ascii[$n:literal]) => { [u8; $n] };
    (bytes[$n:literal]) => { [u8; $n] };
    (reserved[$n:literal]) => { $crate::wire::Reserved<$n> };
}

/// A wire type's name as `docs/protocol.md` spells it (reserved bytes are `bytes[N]`).
#[doc(hidden)]
#[macro_export]
macro_rules! wire_doc_type {
    (reserved[$n:literal]) => {
        concat!("bytes[", stringify!($n), "]")
    };
    ($kind:ident[$n:literal]) => {
        concat!(stringify!($kind), "[", stringify!($n), "]")
    };
    ($kind:ident) => {
        stringify!($kind)
    };
}

/// A field's name as `docs/protocol.md` spells it (every reserved field is `reserved`).
#[doc(hidden)]
#[macro_export]
macro_rules! wire_doc_name {
    ($field:ident reserved) => {
        "reserved"
    };
    ($field:ident $kind:ident) => {
        stringify!($field)
    };
}

/// Declares one fixed layout; see the [module documentation](crate::wire).
#[macro_export]
macro_rules! wire_layout {
    ($(
        $(#[$meta:meta])*
        $name:ident { $($field:ident : $kind:ident $([$n:literal])?),* $(,)? }
    )*) => {$(
        $(#[$meta])*
        pub mod $name {
            use $crate::wire::{Field, WireType};

            /// Each field's offset from the first byte of the layout.
            #[derive(Clone, Copy, PartialEq, Eq, Debug)]
            pub struct Offsets {
                $(
                    #[doc = concat!("Offset of `", stringify!($field), "`.")]
                    pub $field: usize,
                )*
            }

            /// The offsets, each the sum of the sizes before it.
            pub const AT: Offsets = {
                let at = 0usize;
                $(
                    let $field = at;
                    let at = at + <$crate::wire_rust_type!($kind $([$n])?) as WireType>::SIZE;
                )*
                let _ = at;
                Offsets { $($field,)* }
            };

            /// Bytes of the layout.
            pub const LEN: usize =
                0 $(+ <$crate::wire_rust_type!($kind $([$n])?) as WireType>::SIZE)*;

            /// The fields in wire order, as the document's byte table lists them.
            pub const FIELDS: &[Field] = &[$(
                Field {
                    name: $crate::wire_doc_name!($field $kind),
                    ty: $crate::wire_doc_type!($kind $([$n])?),
                    offset: AT.$field,
                    size: <$crate::wire_rust_type!($kind $([$n])?) as WireType>::SIZE,
                },
            )*];

            /// The raw field values, in wire order.
            #[derive(Clone, Copy, PartialEq, Eq, Debug)]
            pub struct Wire {
                $(
                    #[doc = concat!("`", stringify!($field), "`, raw.")]
                    pub $field: $crate::wire_rust_type!($kind $([$n])?),
                )*
            }

            impl Wire {
                /// Reads every field from `src`, which starts at the layout's first
                /// byte and was checked to hold [`LEN`] bytes.
                #[inline]
                pub fn read(src: &[u8]) -> Wire {
                    Wire { $($field: WireType::get(src, AT.$field),)* }
                }

                /// Writes every field into `dst`, which starts at the layout's first
                /// byte, holds [`LEN`] bytes and is zeroed.
                #[inline]
                pub fn write(self, dst: &mut [u8]) {
                    $(WireType::put(self.$field, dst, AT.$field);)*
                }
            }
        }
    )*};
}

#[cfg(test)]
mod tests {
    use super::Field;

    crate::wire_layout! {
        /// A layout with every wire type.
        sample {
            id: u64,
            small: u8,
            reserved_1: reserved[1],
            half: u16,
            word: u32,
            name: ascii[4],
            price: i64,
            blob: bytes[3],
        }
    }

    #[test]
    fn offsets_are_the_sums_of_the_sizes_before() {
        assert_eq!(sample::AT.id, 0);
        assert_eq!(sample::AT.small, 8);
        assert_eq!(sample::AT.reserved_1, 9);
        assert_eq!(sample::AT.half, 10);
        assert_eq!(sample::AT.word, 12);
        assert_eq!(sample::AT.name, 16);
        assert_eq!(sample::AT.price, 20);
        assert_eq!(sample::AT.blob, 28);
        assert_eq!(sample::LEN, 31);
        let last = sample::FIELDS.last().expect("fields");
        assert_eq!(last.offset + last.size, sample::LEN);
    }

    #[test]
    fn the_field_table_names_types_as_the_document_does() {
        let f = |name, ty, offset, size| Field { name, ty, offset, size };
        assert_eq!(
            sample::FIELDS,
            &[
                f("id", "u64", 0, 8),
                f("small", "u8", 8, 1),
                f("reserved", "bytes[1]", 9, 1),
                f("half", "u16", 10, 2),
                f("word", "u32", 12, 4),
                f("name", "ascii[4]", 16, 4),
                f("price", "i64", 20, 8),
                f("blob", "bytes[3]", 28, 3),
            ]
        );
    }

    #[test]
    fn write_then_read_gives_the_values_back_little_endian() {
        let w = sample::Wire {
            id: 0x0102_0304_0506_0708,
            small: 0xAB,
            reserved_1: super::Reserved,
            half: 0x1234,
            word: 0xDEAD_BEEF,
            name: *b"AB\0\0",
            price: -2,
            blob: [7, 8, 9],
        };
        let mut body = [0u8; sample::LEN];
        w.write(&mut body);
        assert_eq!(&body[..8], &[8, 7, 6, 5, 4, 3, 2, 1]);
        assert_eq!(body[9], 0, "reserved stays zero");
        assert_eq!(&body[10..12], &[0x34, 0x12]);
        assert_eq!(&body[20..28], &(-2i64).to_le_bytes());
        assert_eq!(sample::Wire::read(&body), w);
    }

    #[test]
    fn a_short_slice_reads_zeros_instead_of_panicking() {
        let w = sample::Wire::read(&[0xFF; 10]);
        assert_eq!(w.id, u64::MAX);
        assert_eq!(w.small, 0xFF);
        assert_eq!((w.half, w.word, w.price), (0, 0, 0));
        assert_eq!(w.name, [0; 4]);
    }
}
