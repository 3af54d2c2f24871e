//! The SSE/SZSE trading day as a table of local-time boundaries.

use protocol::TradingPhase;

const NS_PER_S: i128 = 1_000_000_000;
const DAY_S: i64 = 86_400;

const fn hm(h: i64, m: i64) -> i64 {
    h * 3600 + m * 60
}

/// Local second of the day at which each phase begins, in order. Leaving a call
/// auction (9:25, 15:00) uncrosses it first.
pub const A_SHARE_DAY: [(i64, TradingPhase); 8] = [
    (hm(9, 15), TradingPhase::OpeningAuction),
    (hm(9, 20), TradingPhase::OpeningAuctionNoCancel),
    (hm(9, 25), TradingPhase::PreContinuous),
    (hm(9, 30), TradingPhase::Continuous),
    (hm(11, 30), TradingPhase::Break),
    (hm(13, 0), TradingPhase::Continuous),
    (hm(14, 57), TradingPhase::ClosingAuction),
    (hm(15, 0), TradingPhase::Closed),
];

/// Local (day number, second of day) of `now_ns` at `utc_offset_s`.
fn local(now_ns: u64, utc_offset_s: i32) -> (i64, i64) {
    let local_s = (now_ns as i128 / NS_PER_S) as i64 + i64::from(utc_offset_s);
    (local_s.div_euclid(DAY_S), local_s.rem_euclid(DAY_S))
}

/// The phase the A-share day prescribes at `now_ns`.
pub fn phase_at(now_ns: u64, utc_offset_s: i32) -> TradingPhase {
    let (_, sod) = local(now_ns, utc_offset_s);
    A_SHARE_DAY.iter().rev().find(|(at, _)| sod >= *at).map_or(TradingPhase::Closed, |&(_, p)| p)
}

/// The first boundary strictly after `now_ns`: its time and the phase it starts.
pub fn next_boundary(now_ns: u64, utc_offset_s: i32) -> (u64, TradingPhase) {
    let (day, sod) = local(now_ns, utc_offset_s);
    let (day, (at, phase)) = match A_SHARE_DAY.iter().find(|(at, _)| *at > sod) {
        Some(&b) => (day, b),
        None => (day + 1, A_SHARE_DAY[0]),
    };
    let utc_s = (day * DAY_S + at - i64::from(utc_offset_s)) as i128;
    let ns = (utc_s * NS_PER_S).clamp(0, u64::MAX as i128) as u64;
    // Boundaries fall on whole seconds; a clock inside a second still moves past it.
    (ns.max(now_ns.saturating_add(1)), phase)
}

/// True for the call-auction phases.
pub const fn is_auction(phase: TradingPhase) -> bool {
    matches!(
        phase,
        TradingPhase::OpeningAuction
            | TradingPhase::OpeningAuctionNoCancel
            | TradingPhase::ClosingAuction
    )
}

/// True for the phases whose operations wait in the inbound queue for continuous trading.
pub const fn is_queueing(phase: TradingPhase) -> bool {
    matches!(phase, TradingPhase::PreContinuous | TradingPhase::Break)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEIJING: i32 = 8 * 3600;
    // 2024-10-08 00:00 Beijing = 2024-10-07 16:00 UTC.
    const DAY0_NS: u64 = 1_728_316_800 * 1_000_000_000;

    fn at(h: i64, m: i64) -> u64 {
        DAY0_NS + (hm(h, m) as u64) * 1_000_000_000
    }

    #[test]
    fn phases_follow_beijing_time() {
        assert_eq!(phase_at(at(9, 0), BEIJING), TradingPhase::Closed);
        assert_eq!(phase_at(at(9, 15), BEIJING), TradingPhase::OpeningAuction);
        assert_eq!(phase_at(at(9, 22), BEIJING), TradingPhase::OpeningAuctionNoCancel);
        assert_eq!(phase_at(at(9, 27), BEIJING), TradingPhase::PreContinuous);
        assert_eq!(phase_at(at(10, 0), BEIJING), TradingPhase::Continuous);
        assert_eq!(phase_at(at(12, 0), BEIJING), TradingPhase::Break);
        assert_eq!(phase_at(at(14, 0), BEIJING), TradingPhase::Continuous);
        assert_eq!(phase_at(at(14, 58), BEIJING), TradingPhase::ClosingAuction);
        assert_eq!(phase_at(at(15, 0), BEIJING), TradingPhase::Closed);
        assert_eq!(phase_at(at(23, 59), BEIJING), TradingPhase::Closed);
    }

    #[test]
    fn next_boundary_walks_the_day_and_wraps() {
        assert_eq!(next_boundary(at(9, 0), BEIJING), (at(9, 15), TradingPhase::OpeningAuction));
        assert_eq!(
            next_boundary(at(9, 15), BEIJING),
            (at(9, 20), TradingPhase::OpeningAuctionNoCancel)
        );
        assert_eq!(
            next_boundary(at(15, 0), BEIJING),
            (at(24, 0) + hm(9, 15) as u64 * 1_000_000_000, TradingPhase::OpeningAuction)
        );
    }
}
