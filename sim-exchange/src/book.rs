//! The fast books: price levels in a directly indexed array per side, a two-level
//! bitset to find the next occupied level, and orders in an intrusive doubly linked
//! FIFO per level inside one preallocated slot pool shared by every instrument.
//!
//! Daily price limits bound most A-share books, so a level's index is
//! `(price - lower_limit) / tick` and no tree or map is ever walked. An instrument
//! without a limit (the first days after an IPO) gets an array of
//! `max_levels_per_side` ticks around its previous close, where its trading
//! starts, and beyond it a preallocated pool of `overflow_levels_per_side` levels
//! per side for any other price, each with its price and kept in a list sorted by
//! price above or below the array (see [`crate::ExchangeConfig`]). Walking the levels
//! in priority order goes through those lists, the array's bitset, then the other list.
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
///
/// Levels `0..dense` are the directly indexed price array; levels from `dense` on are
/// a preallocated pool of overflow levels for prices outside the array (a book
/// without a daily limit), each with its price, kept in two lists sorted by price:
/// `above` the array and `below` it. A level index stays valid while its level is
/// occupied, so slots keep naming their level.
#[derive(Clone, Debug)]
struct HalfBook {
    levels: Vec<LevelQueue>,
    bits: LevelBits,
    /// Index of the best level, `NIL` when the side is empty.
    best: u32,
    is_bid: bool,
    /// Levels in the price array.
    dense: u32,
    /// Price of level 0, and the tick.
    lower: i64,
    tick: i64,
    tick_div: Divisor,
    /// Price of each overflow level (index `li - dense`), valid while it is occupied.
    over_price: Vec<i64>,
    /// Free overflow levels; a stack sized to the pool.
    over_free: Vec<u32>,
    /// Occupied overflow levels above and below the price array, ascending by price.
    above: Vec<u32>,
    below: Vec<u32>,
}

impl HalfBook {
    fn new(spec: &BookSpec, is_bid: bool) -> HalfBook {
        let dense = spec.levels() as u32;
        let overflow = spec.overflow_levels;
        HalfBook {
            levels: vec![LevelQueue::EMPTY; dense as usize + overflow as usize],
            bits: LevelBits::new(dense as usize),
            best: NIL,
            is_bid,
            dense,
            lower: spec.lower.0,
            tick: spec.tick.0,
            tick_div: Divisor::new(spec.tick.0 as u64),
            over_price: vec![0; overflow as usize],
            over_free: (dense..dense + overflow).rev().collect(),
            above: Vec::with_capacity(overflow as usize),
            below: Vec::with_capacity(overflow as usize),
        }
    }

    /// The price of level `li`.
    #[inline]
    fn price_of(&self, li: u32) -> i64 {
        if li < self.dense {
            self.lower + li as i64 * self.tick
        } else {
            self.over_price[(li - self.dense) as usize]
        }
    }

    /// Highest price of the array.
    fn dense_upper(&self) -> i64 {
        self.lower + (self.dense as i64 - 1) * self.tick
    }

    /// True when level `a` is better than level `b` for this side.
    #[inline]
    fn better(&self, a: u32, b: u32) -> bool {
        if a < self.dense && b < self.dense {
            return if self.is_bid { a > b } else { a < b };
        }
        let (pa, pb) = (self.price_of(a), self.price_of(b));
        if self.is_bid { pa > pb } else { pa < pb }
    }

    /// The list an overflow price belongs to.
    fn list_for(&self, price: i64) -> &Vec<u32> {
        if price > self.dense_upper() { &self.above } else { &self.below }
    }

    /// Where an overflow price is, or would be inserted, in its list.
    fn position(&self, list: &[u32], price: i64) -> Result<usize, usize> {
        list.binary_search_by_key(&price, |&l| self.over_price[(l - self.dense) as usize])
    }

    /// The occupied level at `price` (on tick, positive), or the array level for it.
    #[inline]
    fn find_level(&self, price: i64) -> Option<u32> {
        if price >= self.lower && price <= self.dense_upper() {
            return Some(self.tick_div.div((price - self.lower) as u64) as u32);
        }
        let list = self.list_for(price);
        self.position(list, price).ok().map(|pos| list[pos])
    }

    /// True when an order can rest at `price`: in the array, at an occupied level, or
    /// with an overflow level free.
    fn can_rest(&self, price: i64) -> bool {
        !self.over_free.is_empty() || self.find_level(price).is_some()
    }

    /// The level for `price`, taking a free overflow level when it has none
    /// (the caller checked [`HalfBook::can_rest`]).
    #[inline]
    fn level_for(&mut self, price: i64) -> u32 {
        if let Some(li) = self.find_level(price) {
            return li;
        }
        let li = self.over_free.pop().expect("a free overflow level (checked by the exchange)");
        self.over_price[(li - self.dense) as usize] = price;
        li
    }

    /// The first level past the array in priority order: bids go on below it, asks above.
    fn first_beyond_dense(&self) -> u32 {
        let first = if self.is_bid { self.below.last() } else { self.above.first() };
        first.copied().unwrap_or(NIL)
    }

    /// The best level of the array, else the first past it.
    fn best_from_dense(&self) -> u32 {
        let found = if self.is_bid {
            self.bits.next_at_or_below(self.dense as usize - 1)
        } else {
            self.bits.next_at_or_above(0)
        };
        found.map_or_else(|| self.first_beyond_dense(), |i| i as u32)
    }

    /// The next occupied level after `li` in priority order: bids from the levels
    /// above the array down through the array to those below it, asks the other way.
    #[inline]
    fn next_after(&self, li: u32) -> u32 {
        if li < self.dense {
            let found = if self.is_bid {
                if li == 0 { None } else { self.bits.next_at_or_below(li as usize - 1) }
            } else {
                self.bits.next_at_or_above(li as usize + 1)
            };
            return found.map_or_else(|| self.first_beyond_dense(), |i| i as u32);
        }
        let price = self.price_of(li);
        let is_above = price > self.dense_upper();
        let list = self.list_for(price);
        let pos = self.position(list, price).expect("an occupied overflow level is listed");
        match (self.is_bid, is_above) {
            (true, _) if pos > 0 => list[pos - 1],
            (true, true) => self.best_from_dense(),
            (true, false) => NIL,
            (false, _) if pos + 1 < list.len() => list[pos + 1],
            (false, false) => self.best_from_dense(),
            (false, true) => NIL,
        }
    }

    /// Marks level `li` occupied.
    #[inline]
    fn occupy(&mut self, li: u32) {
        if li < self.dense {
            self.bits.set(li as usize);
        } else {
            let price = self.price_of(li);
            let pos = self.position(self.list_for(price), price).expect_err("a new overflow level");
            // Within the capacity reserved at start-up: no allocation.
            if price > self.dense_upper() {
                self.above.insert(pos, li);
            } else {
                self.below.insert(pos, li);
            }
        }
        if self.best == NIL || self.better(li, self.best) {
            self.best = li;
        }
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
            self.occupy(li);
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
        // The next level is found while `li` is still listed.
        let next = if self.best == li { self.next_after(li) } else { self.best };
        if li < self.dense {
            self.bits.clear(li as usize);
        } else {
            let price = self.price_of(li);
            let pos = self.position(self.list_for(price), price).expect("a listed overflow level");
            if price > self.dense_upper() {
                self.above.remove(pos);
            } else {
                self.below.remove(pos);
            }
            self.over_free.push(li);
        }
        self.best = next;
    }

    /// Occupied overflow levels.
    fn overflow_occupied(&self) -> usize {
        self.above.len() + self.below.len()
    }
}

/// One instrument's book.
#[derive(Clone, Debug)]
struct Book {
    bids: HalfBook,
    asks: HalfBook,
}

impl Book {
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
    /// The worst price it trades at.
    limit: i64,
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
                [&b.bids, &b.asks]
                    .iter()
                    .map(|h| {
                        h.levels.len() * size_of::<LevelQueue>()
                            + h.bits.bytes()
                            + h.over_price.capacity() * size_of::<i64>()
                            + (h.over_free.capacity() + h.above.capacity() + h.below.capacity())
                                * size_of::<u32>()
                    })
                    .sum::<usize>()
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
        let opp = book.half_mut(taker.side.opposite());
        let mut levels_used = 0u32;
        while taker.leaves > 0 {
            let li = opp.best;
            if li == NIL || levels_used == taker.max_levels {
                break;
            }
            let price = opp.price_of(li);
            let crossing = match taker.side {
                Side::Buy => price <= taker.limit,
                Side::Sell => price >= taker.limit,
            };
            if !crossing {
                break;
            }
            levels_used += 1;
            let price = Price(price);
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
    fn rest(&mut self, inst: usize, o: &Incoming, price: Price, leaves: u64, cum: u64) {
        let s = self.alloc();
        let li = self.books[inst].half_mut(o.side).level_for(price.0);
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
        let opp = self.books[inst].half(side.opposite());
        let mut li = opp.best;
        let mut used = 0u32;
        while li != NIL
            && used < max_levels
            && crate::matcher::crosses(side, limit, Price(opp.price_of(li)))
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
        validate_overflow(half).map_err(|e| format!("book {inst} {side}: {e}"))?;
        let mut extreme = NIL;
        for (li, lv) in half.levels.iter().enumerate() {
            let li = li as u32;
            let marked = if li < half.dense {
                half.bits.get(li as usize)
            } else {
                half.above.contains(&li) || half.below.contains(&li)
            };
            if marked != (lv.head != NIL) {
                return Err(format!(
                    "book {inst} {side}: level {li} is marked occupied {marked} against its queue"
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

/// The overflow lists: sorted by price, outside the array, on tick, and with the
/// free levels exactly the pool.
fn validate_overflow(half: &HalfBook) -> Result<(), String> {
    let pool = half.levels.len() - half.dense as usize;
    let price = |li: u32| half.over_price[(li - half.dense) as usize];
    for (name, list) in [("above", &half.above), ("below", &half.below)] {
        for (i, &li) in list.iter().enumerate() {
            if li < half.dense || (li - half.dense) as usize >= pool {
                return Err(format!("{name} lists level {li}, not an overflow level"));
            }
            let p = price(li);
            let outside = if name == "above" { p > half.dense_upper() } else { p < half.lower };
            if !outside || p <= 0 || (p - half.lower).rem_euclid(half.tick) != 0 {
                return Err(format!("{name} level {li} has price {p}"));
            }
            if i > 0 && price(list[i - 1]) >= p {
                return Err(format!("{name} is not sorted by price at {i}"));
            }
        }
    }
    let mut seen = vec![false; pool];
    for &li in half.above.iter().chain(&half.below).chain(&half.over_free) {
        let i = li.checked_sub(half.dense).map(|i| i as usize).filter(|&i| i < pool);
        match i {
            Some(i) if !seen[i] => seen[i] = true,
            _ => return Err(format!("overflow level {li} is listed twice or out of range")),
        }
    }
    if seen.iter().any(|&s| !s) {
        return Err("an overflow level is neither occupied nor free".into());
    }
    Ok(())
}

/// Buy volume at or above `price` and sell volume at or below it.
fn volumes_at(bids: &HalfBook, asks: &HalfBook, price: i64) -> (u64, u64) {
    let (mut buy, mut li) = (0u64, bids.best);
    while li != NIL && bids.price_of(li) >= price {
        buy += bids.levels[li as usize].qty;
        li = bids.next_after(li);
    }
    let (mut sell, mut li) = (0u64, asks.best);
    while li != NIL && asks.price_of(li) <= price {
        sell += asks.levels[li as usize].qty;
        li = asks.next_after(li);
    }
    (buy, sell)
}

/// The lowest occupied price of either side above `price`.
fn next_occupied_above(bids: &HalfBook, asks: &HalfBook, price: i64) -> Option<i64> {
    let mut found = None;
    let mut li = asks.best;
    while li != NIL {
        let p = asks.price_of(li);
        if p > price {
            found = Some(p);
            break;
        }
        li = asks.next_after(li);
    }
    let mut li = bids.best;
    while li != NIL && bids.price_of(li) > price {
        let p = bids.price_of(li);
        found = Some(found.map_or(p, |f: i64| f.min(p)));
        li = bids.next_after(li);
    }
    found
}

/// [`auction_better`] over a book with overflow levels, where the range between the
/// lowest ask and the highest bid can be any width: each occupied price is a
/// candidate, and in each gap between two of them, where both volumes stay the same,
/// so is the tick nearest the reference (each neighbour when it lies between ticks),
/// which is the one the tick-by-tick rule would pick there.
fn indicative_sparse(bids: &HalfBook, asks: &HalfBook, reference: Price) -> Option<Uncross> {
    let (hi, lo) = (bids.price_of(bids.best), asks.price_of(asks.best));
    if hi < lo {
        return None;
    }
    let tick = bids.tick;
    let mut best: Option<Uncross> = None;
    let mut consider = |price: i64| {
        let (buy, sell) = volumes_at(bids, asks, price);
        let candidate =
            Uncross { price: Price(price), qty: Qty(buy.min(sell)), imbalance: buy.abs_diff(sell) };
        if auction_better(candidate, best, reference) {
            best = Some(candidate);
        }
    };
    let mut p = lo;
    // Each round moves to a higher occupied price, and there are finitely many.
    loop {
        consider(p);
        let Some(next) = next_occupied_above(bids, asks, p).filter(|&n| n <= hi) else {
            break;
        };
        if next - p > tick {
            let inside = reference.0.clamp(p + tick, next - tick);
            let below = inside - (inside - p).rem_euclid(tick);
            consider(below);
            if below != inside {
                consider(below + tick);
            }
        }
        p = next;
    }
    best
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
            books.push(Book { bids: HalfBook::new(spec, true), asks: HalfBook::new(spec, false) });
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
        let half = self.books[slot.inst as usize].half(slot.side);
        OrderInfo {
            order_id: slot.order_id,
            inst: slot.inst as usize,
            owner: slot.owner,
            side: slot.side,
            price: Price(half.price_of(slot.level)),
            qty: Qty(slot.qty),
            leaves: Qty(slot.leaves),
            cum: Qty(slot.cum),
            is_market: slot.is_market,
        }
    }

    #[inline]
    fn best(&self, inst: usize, side: Side) -> Option<Level> {
        let half = self.books[inst].half(side);
        if half.best == NIL {
            return None;
        }
        let lv = &half.levels[half.best as usize];
        Some(Level { price: Price(half.price_of(half.best)), qty: Qty(lv.qty), orders: lv.orders })
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

    fn can_rest(&self, inst: usize, side: Side, price: Price) -> bool {
        self.books[inst].half(side).can_rest(price.0)
    }

    fn available(&self, inst: usize, side: Side, limit: Price, max_levels: u32, want: u64) -> u64 {
        let opp = self.books[inst].half(side.opposite());
        let (mut li, mut used, mut total) = (opp.best, 0u32, 0u64);
        while li != NIL
            && used < max_levels
            && total < want
            && crate::matcher::crosses(side, limit, Price(opp.price_of(li)))
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
            limit: o.price.0,
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
        let rest_at = o.rest_price(taker.cum, fills.stats.last);
        if let Some(price) = rest_at.filter(|p| self.books[inst].half(o.side).can_rest(p.0)) {
            self.rest(inst, o, price, taker.leaves, taker.cum);
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
        let mut taker =
            Taker { order_id, side, limit: price.0, max_levels: u32::MAX, leaves: qty - cum, cum };
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
            // Its own level was released above if it emptied, so there is room (the
            // exchange checked `can_rest` before the move).
            let half = self.books[inst].half_mut(side);
            let li = half.level_for(price.0);
            half.push_back(&mut self.slots, li, s);
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
        if hi == NIL || lo == NIL {
            return None;
        }
        if book.bids.overflow_occupied() + book.asks.overflow_occupied() > 0 {
            return indicative_sparse(&book.bids, &book.asks, reference);
        }
        if hi < lo {
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
                price: Price(book.bids.price_of(p)),
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

    fn level_at(&self, inst: usize, side: Side, price: Price) -> Level {
        let half = self.books[inst].half(side);
        let (qty, orders) = half.find_level(price.0).map_or((0, 0), |li| {
            let lv = &half.levels[li as usize];
            (lv.qty, lv.orders)
        });
        Level { price, qty: Qty(qty), orders }
    }

    fn depth(&self, inst: usize, side: Side, out: &mut [Level]) -> usize {
        let half = self.books[inst].half(side);
        let mut li = half.best;
        let mut n = 0;
        while li != NIL && n < out.len() {
            let lv = &half.levels[li as usize];
            out[n] = Level { price: Price(half.price_of(li)), qty: Qty(lv.qty), orders: lv.orders };
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
