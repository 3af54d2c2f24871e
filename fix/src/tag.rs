//! Tag numbers used by the session and the application mapping.
//!
//! FIX 4.4 tags by name, plus Breakwater's user-defined tags (5000-9999) where FIX
//! has no field for an A-share concept (see `docs/fix.md`).

#![allow(missing_docs)] // Each constant is the FIX field of the same name.

pub const ACCOUNT: u32 = 1;
pub const AVG_PX: u32 = 6;
pub const BEGIN_SEQ_NO: u32 = 7;
pub const BEGIN_STRING: u32 = 8;
pub const BODY_LENGTH: u32 = 9;
pub const CHECK_SUM: u32 = 10;
pub const CL_ORD_ID: u32 = 11;
pub const CUM_QTY: u32 = 14;
pub const END_SEQ_NO: u32 = 16;
pub const EXEC_ID: u32 = 17;
pub const LAST_PX: u32 = 31;
pub const LAST_QTY: u32 = 32;
pub const MSG_SEQ_NUM: u32 = 34;
pub const MSG_TYPE: u32 = 35;
pub const NEW_SEQ_NO: u32 = 36;
pub const ORDER_ID: u32 = 37;
pub const ORDER_QTY: u32 = 38;
pub const ORD_STATUS: u32 = 39;
pub const ORD_TYPE: u32 = 40;
pub const ORIG_CL_ORD_ID: u32 = 41;
pub const POSS_DUP_FLAG: u32 = 43;
pub const PRICE: u32 = 44;
pub const REF_SEQ_NUM: u32 = 45;
pub const SENDER_COMP_ID: u32 = 49;
pub const SENDING_TIME: u32 = 52;
pub const SIDE: u32 = 54;
pub const SYMBOL: u32 = 55;
pub const TARGET_COMP_ID: u32 = 56;
pub const TEXT: u32 = 58;
pub const TIME_IN_FORCE: u32 = 59;
pub const TRANSACT_TIME: u32 = 60;
pub const ENCRYPT_METHOD: u32 = 98;
pub const CXL_REJ_REASON: u32 = 102;
pub const ORD_REJ_REASON: u32 = 103;
pub const HEART_BT_INT: u32 = 108;
pub const TEST_REQ_ID: u32 = 112;
pub const ORIG_SENDING_TIME: u32 = 122;
pub const GAP_FILL_FLAG: u32 = 123;
pub const RESET_SEQ_NUM_FLAG: u32 = 141;
pub const EXEC_TYPE: u32 = 150;
pub const LEAVES_QTY: u32 = 151;
pub const SECURITY_EXCHANGE: u32 = 207;
pub const REF_TAG_ID: u32 = 371;
pub const REF_MSG_TYPE: u32 = 372;
pub const SESSION_REJECT_REASON: u32 = 373;
pub const BUSINESS_REJECT_REF_ID: u32 = 379;
pub const BUSINESS_REJECT_REASON: u32 = 380;
pub const CXL_REJ_RESPONSE_TO: u32 = 434;
pub const NO_PARTY_IDS: u32 = 453;
pub const MASS_CANCEL_REQUEST_TYPE: u32 = 530;
pub const MASS_CANCEL_RESPONSE: u32 = 531;
pub const MASS_CANCEL_REJECT_REASON: u32 = 532;
pub const TOTAL_AFFECTED_ORDERS: u32 = 533;
pub const USERNAME: u32 = 553;
pub const PASSWORD: u32 = 554;

// ---- Breakwater user-defined tags (5000-9999) ----
/// The A-share market order type when OrdType (40) is 1 (see `docs/fix.md`).
pub const BW_MARKET_TYPE: u32 = 5001;
/// Y: the client confirms a suitability mismatch (适当性确认).
pub const BW_SUITABILITY_CONFIRMED: u32 = 5002;
/// Y: the order is programmatic (程序化交易).
pub const BW_PROGRAMMATIC: u32 = 5003;
/// 0 cash, 1 margin buy (融资买入), 2 short sell (融券卖出).
pub const BW_CREDIT_TAG: u32 = 5004;
/// On rejects: Breakwater's numeric reject code (docs/protocol.md).
pub const BW_REJECT_CODE: u32 = 5005;

/// True for the user-defined tags this acceptor defines.
pub const fn is_breakwater(tag: u32) -> bool {
    matches!(tag, BW_MARKET_TYPE..=BW_REJECT_CODE)
}
