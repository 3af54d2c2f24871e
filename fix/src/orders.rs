//! The bounded per-session order cache.
//!
//! ExecutionReport carries fields the domain messages lack (OrderQty on a fill,
//! AvgPx, Symbol and Side on a reject). The session keeps what it needs here, fed
//! only by the inputs it hands to the engine and the AppMessages the engine sends
//! back, so the same messages in the same order rebuild the same cache. The cache
//! holds at most `order_cache_capacity` orders; the oldest entry makes room for a
//! new one (first in, first out), which is as deterministic as the messages.

use std::collections::{HashMap, VecDeque};

use protocol::codec::{MassCancelScope, NewOrder};
use protocol::{AccountId, ClOrdId, OrderId, OrderType, Price, Qty, SecurityId, Side};

/// OrdStatus (39) values the acceptor sends.
pub mod ord_status {
    #![allow(missing_docs)] // Each constant is the FIX value of the same name.
    pub const NEW: u8 = b'0';
    pub const PARTIALLY_FILLED: u8 = b'1';
    pub const FILLED: u8 = b'2';
    pub const CANCELED: u8 = b'4';
    pub const PENDING_NEW: u8 = b'A';
    pub const REJECTED: u8 = b'8';
    pub const EXPIRED: u8 = b'C';
}

/// What the session knows about one order.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct OrderInfo {
    /// The security.
    pub security: SecurityId,
    /// Buy or sell.
    pub side: Side,
    /// The order type.
    pub order_type: OrderType,
    /// Limit price (zero for market orders).
    pub price: Price,
    /// OrderQty: the order's total quantity.
    pub qty: Qty,
    /// The gateway's order id, once accepted (0 before).
    pub order_id: OrderId,
    /// Cumulative executed quantity.
    pub cum: Qty,
    /// Sum of price x quantity over the fills, in 1/10000 CNY x shares.
    pub notional: u128,
    /// OrdStatus (39).
    pub status: u8,
}

impl OrderInfo {
    /// AvgPx: the quantity-weighted fill price, rounded down to 1/10000 CNY.
    pub fn avg_px(&self) -> Price {
        if self.cum.0 == 0 {
            return Price::ZERO;
        }
        Price(i64::try_from(self.notional / u128::from(self.cum.0)).unwrap_or(i64::MAX))
    }
}

type Key = (AccountId, ClOrdId);

/// Bytes the cache commits per order (map entry, order queue), for the memory sum.
pub const BYTES_PER_ORDER: usize =
    2 * (core::mem::size_of::<(Key, OrderInfo)>() + 1) + core::mem::size_of::<Key>();
/// Mass-cancel requests remembered for the MassCancelRequestType (530) of the report.
const MASS_REQUESTS_MAX: usize = 64;

/// The cache: a map with its capacity reserved up front and a queue of keys in
/// insertion order for eviction.
#[derive(Debug)]
pub struct OrderCache {
    map: HashMap<Key, OrderInfo>,
    order: VecDeque<Key>,
    capacity: usize,
    mass: VecDeque<(u64, MassCancelScope)>,
}

impl OrderCache {
    /// A cache of at most `capacity` orders (at least one).
    pub fn new(capacity: usize) -> OrderCache {
        let capacity = capacity.max(1);
        OrderCache {
            // Twice the entries: with the table at most half full, the tombstones that
            // eviction leaves are cleared by rehashing in place, never by growing.
            map: HashMap::with_capacity(2 * capacity),
            order: VecDeque::with_capacity(capacity),
            capacity,
            mass: VecDeque::with_capacity(MASS_REQUESTS_MAX),
        }
    }

    /// Orders held.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The order `cl_ord_id` of `account`.
    pub fn get(&self, account: AccountId, cl_ord_id: ClOrdId) -> Option<&OrderInfo> {
        self.map.get(&(account, cl_ord_id))
    }

    /// Mutable access to a known order.
    pub fn get_mut(&mut self, account: AccountId, cl_ord_id: ClOrdId) -> Option<&mut OrderInfo> {
        self.map.get_mut(&(account, cl_ord_id))
    }

    /// Records a new order sent to the engine (a resent one keeps its first record).
    pub fn entered(&mut self, order: &NewOrder) {
        let key = (order.account, order.cl_ord_id);
        if self.map.contains_key(&key) {
            return;
        }
        if self.map.len() == self.capacity {
            self.evict_oldest();
        }
        let info = OrderInfo {
            security: order.security,
            side: order.side,
            order_type: order.order_type,
            price: order.price,
            qty: order.qty,
            order_id: 0,
            cum: Qty::ZERO,
            notional: 0,
            status: ord_status::PENDING_NEW,
        };
        self.map.insert(key, info);
        self.order.push_back(key);
        assert!(self.map.len() <= self.capacity, "order cache over its configured capacity");
    }

    fn evict_oldest(&mut self) {
        while let Some(key) = self.order.pop_front() {
            if self.map.remove(&key).is_some() {
                return;
            }
        }
    }

    /// Records a mass-cancel request, to echo its type in the report.
    pub fn mass_requested(&mut self, request_id: u64, scope: MassCancelScope) {
        if self.mass.len() == MASS_REQUESTS_MAX {
            self.mass.pop_front();
        }
        self.mass.push_back((request_id, scope));
    }

    /// The scope of a remembered mass-cancel request.
    pub fn mass_scope(&self, request_id: u64) -> Option<MassCancelScope> {
        self.mass.iter().rev().find(|(id, _)| *id == request_id).map(|(_, s)| *s)
    }
}

impl OrderCache {
    /// Inserts or replaces what is known about an order (an OrderAccepted carries
    /// everything, so an order the cache lost is learnt again).
    pub fn upsert(&mut self, account: AccountId, cl_ord_id: ClOrdId, info: OrderInfo) {
        let key = (account, cl_ord_id);
        if let Some(slot) = self.map.get_mut(&key) {
            *slot = info;
            return;
        }
        if self.map.len() == self.capacity {
            self.evict_oldest();
        }
        self.map.insert(key, info);
        self.order.push_back(key);
    }
}
