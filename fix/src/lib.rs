//! A FIX 4.4 acceptor as a pure, deterministic library.
//!
//! Bytes and `now_ns` go in, [`session::Action`]s and bytes to send come out. No
//! sockets, no clock, no threads: the gateway's io loop moves bytes, and every test
//! runs on virtual time.
//!
//! * [`frame`]: finds message boundaries in a byte stream; BodyLength and CheckSum.
//! * [`field`]: the zero-copy field iterator and typed value getters.
//! * [`message`]: a parsed message: a table of field positions over the frame.
//! * [`encode`]: writes a message into a caller's buffer, with BodyLength and CheckSum.
//! * [`time`]: UTCTimestamp to and from nanoseconds since the Unix epoch.
//! * [`dict`]: the FIX 4.4 dictionary (generated from QuickFIX's FIX44.xml) and validation.
//! * [`inbound`]: NewOrderSingle and friends to `protocol`'s domain inputs.
//! * [`outbound`]: `protocol`'s AppMessages to ExecutionReport and friends.
//! * [`orders`]: the bounded per-session order cache the outbound mapping reads.
//! * [`resend`]: the bounded log of sent messages that answers ResendRequest.
//! * [`session`]: the session layer: logon, sequence numbers, resend, heartbeats.
//!
//! `docs/fix.md` at the repository root is the contract (rules of engagement).

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod config;
pub mod dict;
pub mod encode;
pub mod field;
pub mod frame;
pub mod inbound;
pub mod message;
pub mod orders;
pub mod outbound;
pub mod resend;
pub mod session;
pub mod tag;
pub mod time;

pub use config::{LoginConfig, SessionConfig};
pub use session::{Action, Session, SessionFact};

/// The ASCII Start Of Header byte that ends every field.
pub const SOH: u8 = 0x01;
/// The only BeginString this acceptor speaks.
pub const BEGIN_STRING: &[u8] = b"FIX.4.4";
