//! The fast books: price levels in a directly indexed array per side, a two-level
//! bitset to find the next occupied level, and orders in an intrusive doubly linked
//! FIFO per level inside one preallocated slot pool shared by every instrument.
//!
//! Daily price limits bound every A-share book, so a level's index is
//! `(price - lower_limit) / tick` and no tree or map is ever walked. An instrument
//! without a limit gets a wide array of `max_levels_per_side` ticks around its
//! previous close instead (see [`crate::ExchangeConfig::max_levels_per_side`]).
//!
//! Nothing here allocates after [`FastMatcher::build`]: the slot pool, its free
//! stack, the id index and the level arrays are all sized there.

use crate::bits::LevelBits;
use crate::config::ConfigError;
use crate::div::Divisor;
use crate::event::{Event, Level, Uncross};
use crate::index::IdIndex;
use crate::matcher::{
    BookSpec, FillSide, Fills, Incoming, Matcher, OrderInfo, auction_better, emit_match,
};
use protocol::{CancelReason, Liquidity, OrderId, Price, Qty, Side};

mod snapshot;
pub(crate) use snapshot::BooksState;

const NIL: u32 = u32::MAX;

/// One pooled order. `prev`/`next` link it into its level's FIFO; a free slot has `live == false`.
#[derive(Clone, Copy, Debug, serde::Serialize, serde::Deserialize)]
struct Slot {
    order_id: OrderId,
    leaves: u64,
    qty: u64,
    cum: u64,
    prev: u32,
    next: u32,
    level: u32,
    inst: u32,
    owner: u32,
    side: Side,
    is_market: bool,
    live: bool,
}

impl Slot {
    const FREE: Slot = Slot {
        order_id: 0,
        leaves: 0,
        qty: 0,
        cum: 0,
        prev: NIL,
        next: NIL,
        level: NIL,
        inst: NIL,
        owner: 0,
        side: Side::Buy,
        is_market: false,
        live: false,
    };
}

/// One price level's FIFO and totals.
#[derive(Clone, Copy, Debug, serde::Serialize, serde::Deserialize)]
struct LevelQueue {
    head: u32,
    tail: u32,
    orders: u32,
    qty: u64,
}

impl LevelQueue {
    const EMPTY: LevelQueue = LevelQueue { head: NIL, tail: NIL, orders: 0, qty: 0 };
}

/// One side of one book.
#[derive(Clone, Debug)]
struct HalfBook {
    levels: Vec<LevelQueue>,
    bits: LevelBits,
    /// Index of the best level, `NIL` when the side is empty.
    best: u32,
    is_bid: bool,
}

impl HalfBook {
    fn new(levels: usize, is_bid: bool) -> HalfBook {
        HalfBook {
            levels: vec![LevelQueue::EMPTY; levels],
            bits: LevelBits::new(levels),
            best: NIL,
            is_bid,
        }
    }

    /// True when level `a` is better than level `b` for this side.
    #[inline]
    fn better(&self, a: u32, b: u32) -> bool {
        if self.is_bid { a > b } else { a < b }
    }

    /// The next occupied level after `li` in priority order.
    #[inline]
    fn next_after(&self, li: u32) -> u32 {
        let found = if self.is_bid {
            if li == 0 { None } else { self.bits.next_at_or_below(li as usize - 1) }
        } else {
            self.bits.next_at_or_above(li as usize + 1)
        };
        found.map_or(NIL, |i| i as u32)
    }

    /// Appends slot `s` to level `li`.
    #[inline]
    fn push_back(&mut self, slots: &mut [Slot], li: u32, s: u32) {
        let lv = &mut self.levels[li as usize];
        let slot = &mut slots[s as usize];
        slot.prev = lv.tail;
        slot.next = NIL;
        slot.level = li;
        let leaves = slot.leaves;
        let was_empty = lv.tail == NIL;
        if was_empty {
            lv.head = s;
        } else {
            slots[lv.tail as usize].next = s;
        }
        lv.tail = s;
        lv.orders += 1;
        lv.qty += leaves;
        if was_empty {
            self.bits.set(li as usize);
            if self.best == NIL || self.better(li, self.best) {
                self.best = li;
            }
        }
    }

    /// Unlinks slot `s` from its level.
    #[inline]
    fn unlink(&mut self, slots: &mut [Slot], s: u32) {
        let Slot { prev, next, level, leaves, .. } = slots[s as usize];
        let lv = &mut self.levels[level as usize];
        if prev == NIL {
            lv.head = next;
        } else {
            slots[prev as usize].next = next;
        }
        if next == NIL {
            lv.tail = prev;
        } else {
            slots[next as usize].prev = prev;
        }
        lv.orders -= 1;
        lv.qty -= leaves;
        if lv.head == NIL {
            self.level_emptied(level);
        }
    }

    #[inline]
    fn level_emptied(&mut self, li: u32) {
        self.bits.clear(li as usize);
        if self.best == li {
            self.best = self.next_after(li);
        }
    }
}

/// One instrument's book.
#[derive(Clone, Debug)]
struct Book {
    spec: BookSpec,
    lower: i64,
    tick: i64,
    tick_div: Divisor,
    bids: HalfBook,
    asks: HalfBook,
}

impl Book {
    #[inline]
    fn index_of(&self, price: Price) -> u32 {
        debug_assert!(
            price >= self.spec.lower
                && price <= self.spec.upper
                && (price.0 - self.lower) % self.tick == 0,
            "price {price} inside the book's array and on tick (checked by the exchange)"
        );
        self.tick_div.div((price.0 - self.lower) as u64) as u32
    }

    #[inline]
    fn price_of(&self, li: u32) -> Price {
        Price(self.lower + li as i64 * self.tick)
    }

    #[inline]
    fn half(&self, side: Side) -> &HalfBook {
        match side {
            Side::Buy => &self.bids,
            Side::Sell => &self.asks,
        }
    }

    #[inline]
    fn half_mut(&mut self, side: Side) -> &mut HalfBook {
        match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        }
    }
}

/// An order trading as the incoming side.
#[derive(Clone, Copy, Debug)]
struct Taker {
    order_id: OrderId,
    side: Side,
    limit: u32,
    max_levels: u32,
    leaves: u64,
    cum: u64,
}

/// The fast books of every instrument, with one shared order pool.
#[derive(Clone, Debug)]
pub struct FastMatcher {
    books: Vec<Book>,
    slots: Vec<Slot>,
    /// Free slot indices; a stack sized to the pool, so pushes never reallocate.
    free: Vec<u32>,
    index: IdIndex,
}

impl FastMatcher {
    /// Bytes held by every pool and array, as sized at start-up.
    pub fn memory_bytes(&self) -> usize {
        let books: usize = self
            .books
            .iter()
            .map(|b| {
                (b.bids.levels.len() + b.asks.levels.len()) * size_of::<LevelQueue>()
                    + b.bids.bits.bytes()
                    + b.asks.bits.bytes()
            })
            .sum();
        books + self.slots.len() * size_of::<Slot>() + self.free.capacity() * 4 + self.index.bytes()
    }

    fn alloc(&mut self) -> u32 {
        self.free.pop().expect("a free slot (the exchange checks capacity before resting)")
    }

    fn release(&mut self, s: u32) {
        let slot = &mut self.slots[s as usize];
        self.index.remove(slot.order_id);
        slot.live = false;
        self.free.push(s);
    }

    /// Trades `taker` against the opposite side; returns it with its open and
    /// executed quantities updated.
    #[inline]
    fn take<S: FnMut(Event)>(
        &mut self,
        inst: usize,
        mut taker: Taker,
        fills: &mut Fills<'_>,
        sink: &mut S,
    ) -> Taker {
        let FastMatcher { books, slots, free, index } = self;
        let book = &mut books[inst];
        let (lower, tick) = (book.lower, book.tick);
        let opp = book.half_mut(taker.side.opposite());
        let mut levels_used = 0u32;
        while taker.leaves > 0 {
            let li = opp.best;
            let crossing = match taker.side {
                Side::Buy => li <= taker.limit,
                Side::Sell => li >= taker.limit,
            };
            if li == NIL || !crossing || levels_used == taker.max_levels {
                break;
            }
            levels_used += 1;
            let price = Price(lower + li as i64 * tick);
            loop {
                let lv = &mut opp.levels[li as usize];
                let s = lv.head;
                let maker = &mut slots[s as usize];
                let q = taker.leaves.min(maker.leaves);
                taker.leaves -= q;
                taker.cum += q;
                maker.leaves -= q;
                maker.cum += q;
                lv.qty -= q;
                emit_match(
                    fills,
                    price,
                    q,
                    taker.side,
                    FillSide {
                        order_id: taker.order_id,
                        leaves: taker.leaves,
                        cum: taker.cum,
                        liquidity: Liquidity::Removed,
                    },
                    FillSide {
                        order_id: maker.order_id,
                        leaves: maker.leaves,
                        cum: maker.cum,
                        liquidity: Liquidity::Added,
                    },
                    sink,
                );
                if maker.leaves == 0 {
                    let next = maker.next;
                    maker.live = false;
                    index.remove(maker.order_id);
                    free.push(s);
                    lv.head = next;
                    lv.orders -= 1;
                    if next == NIL {
                        lv.tail = NIL;
                        opp.level_emptied(li);
                        break;
                    }
                    slots[next as usize].prev = NIL;
                }
                if taker.leaves == 0 {
                    break;
                }
            }
        }
        taker
    }

    /// Rests a new order at `price` with `leaves` open.
    fn rest(&mut self, inst: usize, o: &Incoming, leaves: u64, cum: u64) {
        let s = self.alloc();
        let li = self.books[inst].index_of(o.price);
        self.slots[s as usize] = Slot {
            order_id: o.order_id,
            leaves,
            qty: o.qty.0,
            cum,
            prev: NIL,
            next: NIL,
            level: li,
            inst: inst as u32,
            owner: o.owner,
            side: o.side,
            is_market: o.is_market,
            live: true,
        };
        self.index.insert(o.order_id, s);
        self.books[inst].half_mut(o.side).push_back(&mut self.slots, li, s);
    }

    /// Calls `f` with each resting order an incoming order on `side` would reach, in
    /// priority order, until `f` returns false.
    fn walk_opposite(
        &self,
        inst: usize,
        side: Side,
        limit: Price,
        max_levels: u32,
        mut f: impl FnMut(&Slot, &LevelQueue) -> bool,
    ) {
        let book = &self.books[inst];
        let opp = book.half(side.opposite());
        let mut li = opp.best;
        let mut used = 0u32;
        while li != NIL
            && used < max_levels
            && crate::matcher::crosses(side, limit, book.price_of(li))
        {
            used += 1;
            let lv = &opp.levels[li as usize];
            let mut s = lv.head;
            while s != NIL {
                let slot = &self.slots[s as usize];
                if !f(slot, lv) {
                    return;
                }
                s = slot.next;
            }
            li = opp.next_after(li);
        }
    }

    fn validate_half(
        &self,
        inst: usize,
        book: &Book,
        half: &HalfBook,
        live: &mut usize,
    ) -> Result<(), String> {
        let side = if half.is_bid { Side::Buy } else { Side::Sell };
        half.bits.validate()?;
        let mut extreme = NIL;
        for (li, lv) in half.levels.iter().enumerate() {
            let li = li as u32;
            if half.bits.get(li as usize) != (lv.head != NIL) {
                return Err(format!(
                    "book {inst} {side}: bit of level {li} disagrees with its queue"
                ));
            }
            if lv.head == NIL {
                if lv.tail != NIL || lv.orders != 0 || lv.qty != 0 {
                    return Err(format!("book {inst} {side}: empty level {li} has leftovers"));
                }
                continue;
            }
            if extreme == NIL || half.better(li, extreme) {
                extreme = li;
            }
            let (mut s, mut prev, mut count, mut qty) = (lv.head, NIL, 0u32, 0u64);
            while s != NIL {
                let slot = &self.slots[s as usize];
                let ok = slot.live
                    && slot.prev == prev
                    && slot.level == li
                    && slot.inst == inst as u32
                    && slot.side == side
                    && slot.leaves > 0
                    && slot.leaves.checked_add(slot.cum) == Some(slot.qty);
                if !ok {
                    return Err(format!(
                        "book {inst} {side}: slot {s} at level {li} is inconsistent: {slot:?}"
                    ));
                }
                if self.index.get(slot.order_id) != Some(s) {
                    return Err(format!("order {} is not indexed at slot {s}", slot.order_id));
                }
                count += 1;
                // Saturating: validation also reads restored snapshots.
                qty = qty.saturating_add(slot.leaves);
                prev = s;
                s = slot.next;
                if count as usize > self.slots.len() {
                    return Err(format!("book {inst} {side}: level {li} loops"));
                }
            }
            if prev != lv.tail || count != lv.orders || qty != lv.qty {
                return Err(format!(
                    "book {inst} {side}: level {li} totals {}/{} disagree with its orders {count}/{qty}",
                    lv.orders, lv.qty
                ));
            }
            *live += count as usize;
        }
        if extreme != half.best {
            return Err(format!(
                "book {inst} {side}: best {} but the best occupied level is {extreme}",
                half.best
            ));
        }
        let _ = book;
        Ok(())
    }
}

impl Matcher for FastMatcher {
    type Handle = u32;

    fn build(specs: &[BookSpec], max_orders: usize) -> Result<Self, ConfigError> {
        let max_slots = (u32::MAX / 4) as usize;
        if max_orders == 0 || max_orders > max_slots {
            return Err(ConfigError::BadMaxOrders { got: max_orders, max: max_slots });
        }
        let mut books = Vec::with_capacity(specs.len());
        for spec in specs {
            let levels = spec.levels();
            let max_levels = u64::from(u32::MAX / 2);
            if spec.tick.0 <= 0 || spec.upper < spec.lower || levels > max_levels {
                return Err(ConfigError::BadLevelCount {
                    security: spec.security,
                    levels,
                    max: max_levels,
                });
            }
            books.push(Book {
                spec: *spec,
                lower: spec.lower.0,
                tick: spec.tick.0,
                tick_div: Divisor::new(spec.tick.0 as u64),
                bids: HalfBook::new(levels as usize, true),
                asks: HalfBook::new(levels as usize, false),
            });
        }
        Ok(FastMatcher {
            books,
            slots: vec![Slot::FREE; max_orders],
            free: (0..max_orders as u32).rev().collect(),
            index: IdIndex::with_capacity(max_orders),
        })
    }

    #[inline]
    fn free_slots(&self) -> usize {
        self.free.len()
    }

    #[inline]
    fn find(&self, order_id: OrderId) -> Option<u32> {
        self.index.get(order_id)
    }

    #[inline]
    fn info(&self, s: u32) -> OrderInfo {
        let slot = &self.slots[s as usize];
        debug_assert!(slot.live, "a handle names a live order");
        let book = &self.books[slot.inst as usize];
        OrderInfo {
            order_id: slot.order_id,
            inst: slot.inst as usize,
            owner: slot.owner,
            side: slot.side,
            price: book.price_of(slot.level),
            qty: Qty(slot.qty),
            leaves: Qty(slot.leaves),
            cum: Qty(slot.cum),
            is_market: slot.is_market,
        }
    }

    #[inline]
    fn best(&self, inst: usize, side: Side) -> Option<Level> {
        let book = &self.books[inst];
        let half = book.half(side);
        if half.best == NIL {
            return None;
        }
        let lv = &half.levels[half.best as usize];
        Some(Level { price: book.price_of(half.best), qty: Qty(lv.qty), orders: lv.orders })
    }

    fn self_trade(
        &self,
        inst: usize,
        owner: u32,
        side: Side,
        limit: Price,
        max_levels: u32,
        qty: u64,
    ) -> bool {
        let mut remaining = qty;
        let mut found = false;
        self.walk_opposite(inst, side, limit, max_levels, |slot, _| {
            if remaining == 0 {
                return false;
            }
            if slot.owner == owner {
                found = true;
                return false;
            }
            remaining -= remaining.min(slot.leaves);
            true
        });
        found
    }

    fn available(&self, inst: usize, side: Side, limit: Price, max_levels: u32, want: u64) -> u64 {
        let book = &self.books[inst];
        let opp = book.half(side.opposite());
        let (mut li, mut used, mut total) = (opp.best, 0u32, 0u64);
        while li != NIL
            && used < max_levels
            && total < want
            && crate::matcher::crosses(side, limit, book.price_of(li))
        {
            used += 1;
            total += opp.levels[li as usize].qty;
            li = opp.next_after(li);
        }
        total.min(want)
    }

    #[inline]
    fn submit<S: FnMut(Event)>(
        &mut self,
        inst: usize,
        o: &Incoming,
        fills: &mut Fills<'_>,
        sink: &mut S,
    ) {
        debug_assert!(
            o.qty.0 > 0 && self.find(o.order_id).is_none(),
            "a new order with a fresh id"
        );
        let mut taker = Taker {
            order_id: o.order_id,
            side: o.side,
            limit: self.books[inst].index_of(o.price),
            max_levels: o.max_levels,
            leaves: o.qty.0,
            cum: 0,
        };
        if o.matches {
            taker = self.take(inst, taker, fills, sink);
        }
        if taker.leaves == 0 {
            return;
        }
        if o.rests {
            self.rest(inst, o, taker.leaves, taker.cum);
        } else {
            sink(Event::Canceled {
                order_id: o.order_id,
                canceled_qty: Qty(taker.leaves),
                cum: Qty(taker.cum),
                reason: CancelReason::Venue,
            });
        }
    }

    #[inline]
    fn reduce(&mut self, s: u32, qty: u64) {
        let slot = &mut self.slots[s as usize];
        assert!(
            qty > slot.cum && qty <= slot.qty,
            "a reduce keeps some quantity open and adds none"
        );
        let delta = slot.qty - qty;
        slot.qty = qty;
        slot.leaves -= delta;
        let (inst, side, level) = (slot.inst as usize, slot.side, slot.level);
        self.books[inst].half_mut(side).levels[level as usize].qty -= delta;
    }

    #[inline]
    fn reprice<S: FnMut(Event)>(
        &mut self,
        s: u32,
        price: Price,
        qty: u64,
        matches: bool,
        fills: &mut Fills<'_>,
        sink: &mut S,
    ) {
        let Slot { inst, side, cum, order_id, .. } = self.slots[s as usize];
        assert!(qty > cum, "a reprice keeps some quantity open");
        let inst = inst as usize;
        self.books[inst].half_mut(side).unlink(&mut self.slots, s);
        let li = self.books[inst].index_of(price);
        let mut taker =
            Taker { order_id, side, limit: li, max_levels: u32::MAX, leaves: qty - cum, cum };
        {
            let slot = &mut self.slots[s as usize];
            slot.qty = qty;
            slot.leaves = taker.leaves;
        }
        if matches {
            taker = self.take(inst, taker, fills, sink);
        }
        let slot = &mut self.slots[s as usize];
        slot.leaves = taker.leaves;
        slot.cum = taker.cum;
        if taker.leaves == 0 {
            self.release(s);
        } else {
            self.books[inst].half_mut(side).push_back(&mut self.slots, li, s);
        }
    }

    #[inline]
    fn remove(&mut self, s: u32) -> OrderInfo {
        let info = self.info(s);
        let side = info.side;
        self.books[info.inst].half_mut(side).unlink(&mut self.slots, s);
        self.release(s);
        info
    }

    fn indicative(&self, inst: usize, reference: Price) -> Option<Uncross> {
        let book = &self.books[inst];
        let (hi, lo) = (book.bids.best, book.asks.best);
        if hi == NIL || lo == NIL || hi < lo {
            return None;
        }
        // Buy volume at or above `lo`.
        let mut buy: u64 = 0;
        let mut li = hi;
        while li != NIL && li >= lo {
            buy += book.bids.levels[li as usize].qty;
            li = book.bids.next_after(li);
        }
        let mut sell: u64 = 0;
        let mut best: Option<Uncross> = None;
        for p in lo..=hi {
            sell += book.asks.levels[p as usize].qty;
            let candidate = Uncross {
                price: book.price_of(p),
                qty: Qty(buy.min(sell)),
                imbalance: buy.abs_diff(sell),
            };
            if auction_better(candidate, best, reference) {
                best = Some(candidate);
            }
            buy -= book.bids.levels[p as usize].qty;
        }
        best
    }

    fn uncross<S: FnMut(Event)>(
        &mut self,
        inst: usize,
        reference: Price,
        fills: &mut Fills<'_>,
        sink: &mut S,
    ) -> Option<Uncross> {
        let result = self.indicative(inst, reference)?;
        let mut volume = result.qty.0;
        while volume > 0 {
            let book = &self.books[inst];
            let (b, a) = (
                book.bids.levels[book.bids.best as usize].head,
                book.asks.levels[book.asks.best as usize].head,
            );
            let (bs, as_) = (self.slots[b as usize], self.slots[a as usize]);
            let q = volume.min(bs.leaves).min(as_.leaves);
            volume -= q;
            for (s, side) in [(b, Side::Buy), (a, Side::Sell)] {
                let slot = &mut self.slots[s as usize];
                slot.leaves -= q;
                slot.cum += q;
                self.books[inst].half_mut(side).levels[slot.level as usize].qty -= q;
            }
            let (bs, as_) = (self.slots[b as usize], self.slots[a as usize]);
            emit_match(
                fills,
                result.price,
                q,
                Side::Buy,
                FillSide {
                    order_id: bs.order_id,
                    leaves: bs.leaves,
                    cum: bs.cum,
                    liquidity: Liquidity::Auction,
                },
                FillSide {
                    order_id: as_.order_id,
                    leaves: as_.leaves,
                    cum: as_.cum,
                    liquidity: Liquidity::Auction,
                },
                sink,
            );
            for (s, side) in [(b, Side::Buy), (a, Side::Sell)] {
                if self.slots[s as usize].leaves == 0 {
                    self.books[inst].half_mut(side).unlink(&mut self.slots, s);
                    self.release(s);
                }
            }
        }
        Some(result)
    }

    fn cancel_all<S: FnMut(Event)>(&mut self, inst: usize, reason: CancelReason, sink: &mut S) {
        for side in [Side::Buy, Side::Sell] {
            loop {
                let half = self.books[inst].half(side);
                if half.best == NIL {
                    break;
                }
                let s = half.levels[half.best as usize].head;
                let info = self.remove(s);
                sink(Event::Canceled {
                    order_id: info.order_id,
                    canceled_qty: info.leaves,
                    cum: info.cum,
                    reason,
                });
            }
        }
    }

    fn depth(&self, inst: usize, side: Side, out: &mut [Level]) -> usize {
        let book = &self.books[inst];
        let half = book.half(side);
        let mut li = half.best;
        let mut n = 0;
        while li != NIL && n < out.len() {
            let lv = &half.levels[li as usize];
            out[n] = Level { price: book.price_of(li), qty: Qty(lv.qty), orders: lv.orders };
            n += 1;
            li = half.next_after(li);
        }
        n
    }

    fn validate(&self) -> Result<(), String> {
        let mut live = 0usize;
        for (inst, book) in self.books.iter().enumerate() {
            self.validate_half(inst, book, &book.bids, &mut live)?;
            self.validate_half(inst, book, &book.asks, &mut live)?;
        }
        let live_slots = self.slots.iter().filter(|s| s.live).count();
        if live != live_slots || live != self.index.len() {
            return Err(format!(
                "pool accounting: {live} orders in books, {live_slots} live slots, {} indexed",
                self.index.len()
            ));
        }
        if live + self.free.len() != self.slots.len() {
            return Err(format!(
                "pool accounting: {live} live + {} free != {} slots",
                self.free.len(),
                self.slots.len()
            ));
        }
        if self.free.iter().any(|&s| self.slots[s as usize].live) {
            return Err("a live slot is on the free stack".into());
        }
        for (id, s) in self.index.iter() {
            let slot = &self.slots[s as usize];
            if !slot.live || slot.order_id != id {
                return Err(format!("index maps {id} to slot {s} holding {slot:?}"));
            }
        }
        Ok(())
    }
}
