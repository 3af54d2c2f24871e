//! Breakwater's wire protocol and shared domain types.
//!
//! * [`types`]: prices, quantities, identifiers and wire enums.
//! * [`reject`]: reject and reason codes with names and sentences.
//! * [`rules`]: A-share order-rule arithmetic shared by risk checks and the venue.
//! * [`codec`]: frames and message layouts; decoding never panics.
//! * [`frame`]: the frame's fixed sizes.
//! * [`wire`]: declared fixed layouts: offsets, lengths and raw readers and writers.
//! * [`envelope`]: the snapshot file envelope: checked sections and end markers.
//! * [`framing`]: a fixed receive buffer that yields whole frames.
//! * [`marketdata`]: the market-data feed: channels, messages, a book builder.
//! * [`query`]: the four queries and FillFees (version 3): requests, answers, rows.
//! * [`client`]: a blocking TCP client: login with resume, heartbeats, gap checks.
//! * [`mdclient`]: a blocking market-data subscriber: books, recovery, heartbeats.
//!
//! `docs/protocol.md` at the repository root is the contract this crate implements.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod client;
pub mod codec;
pub mod envelope;
pub mod frame;
pub mod framing;
pub mod marketdata;
pub mod mdclient;
pub mod query;
pub mod reject;
pub mod rules;
pub mod types;
pub mod wire;

pub use codec::{
    AppMessage, ClientMessage, DecodeError, EncodeError, EntryStateError, MAX_FRAME_LEN,
    PROTOCOL_VERSION, Sequenced, ServerMessage,
};
pub use reject::{RejectCode, RejectDetail, TextBuf};
pub use types::{
    AccountId, Board, CancelReason, ClOrdId, CreditTag, ExecId, Liquidity, Market, OrderId,
    OrderType, PendingStatus, Price, Qty, SecurityId, SecurityIdError, Seq, Side, TimeInForce,
    Token, TradingPhase, Username,
};
