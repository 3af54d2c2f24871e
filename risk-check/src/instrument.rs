//! Instruments: the static facts and the run-time flags the checks read, and the
//! table that the gateway also uses to build its exchange's instrument list.

use core::fmt;

use protocol::rules::{BoardRules, PriceBand, daily_price_band};
use protocol::{Board, Price, SecurityId};

use crate::fxhash::{FxHashMap, map_with_capacity};

/// Product risk level R1 (lowest) to R5 (highest), as rated by the broker.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, serde::Serialize, serde::Deserialize,
)]
#[repr(u8)]
pub enum RiskLevel {
    /// R1: low risk.
    R1 = 1,
    /// R2: medium-low risk.
    R2 = 2,
    /// R3: medium risk (most listed equities).
    R3 = 3,
    /// R4: medium-high risk (STAR, ChiNext, ST).
    R4 = 4,
    /// R5: high risk.
    R5 = 5,
}

impl RiskLevel {
    /// Every level, lowest first.
    pub const ALL: [RiskLevel; 5] =
        [RiskLevel::R1, RiskLevel::R2, RiskLevel::R3, RiskLevel::R4, RiskLevel::R5];

    /// 1..=5.
    pub const fn as_u8(self) -> u8 {
        self as u8
    }

    /// Parses `"R1"`..`"R5"`.
    pub fn parse(text: &str) -> Option<RiskLevel> {
        match text {
            "R1" => Some(RiskLevel::R1),
            "R2" => Some(RiskLevel::R2),
            "R3" => Some(RiskLevel::R3),
            "R4" => Some(RiskLevel::R4),
            "R5" => Some(RiskLevel::R5),
            _ => None,
        }
    }
}

impl fmt::Display for RiskLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "R{}", self.as_u8())
    }
}

/// Parses `"600519.SH"`: six digits, a dot, then `SH`, `SZ` or `BJ`.
pub fn parse_security(text: &str) -> Option<SecurityId> {
    text.parse().ok()
}

/// Parses a board name as [`Board::name`] prints it (`"sse-main"`, `"star"`, ...).
pub fn parse_board(text: &str) -> Option<Board> {
    Board::ALL.iter().copied().find(|b| b.name() == text)
}

/// One listed security.
#[derive(Clone, PartialEq, Eq, Debug, serde::Serialize, serde::Deserialize)]
pub struct Instrument {
    /// Market and code.
    pub security: SecurityId,
    /// Display name.
    pub name: String,
    /// Listing board; decides the default rules.
    pub board: Board,
    /// Previous close (or the IPO reference price): the base of the daily price limit.
    pub prev_close: Price,
    /// Product risk level for suitability.
    pub risk_level: RiskLevel,
    /// Special treatment (ST): the narrower ST price limit applies.
    pub st: bool,
    /// No daily price limit (the first days after an IPO on registration boards).
    pub no_price_limit: bool,
    /// Suspended from trading.
    pub suspended: bool,
    /// On the firm-wide restricted list.
    pub restricted: bool,
    /// Eligible for securities lending (short sales).
    pub lending_eligible: bool,
    /// Tick, lot, quantity, limit and cage rules (board defaults unless overridden).
    pub rules: BoardRules,
}

impl Instrument {
    /// An instrument with the board's default rules and every flag off.
    pub fn new(security: SecurityId, name: &str, board: Board, prev_close: Price) -> Instrument {
        Instrument {
            security,
            name: name.to_owned(),
            board,
            prev_close,
            risk_level: RiskLevel::R3,
            st: false,
            no_price_limit: false,
            suspended: false,
            restricted: false,
            lending_eligible: false,
            rules: BoardRules::default_for(board),
        }
    }

    /// Today's daily price band; [`PriceBand::UNBOUNDED`] when there is no limit.
    pub fn price_band(&self) -> PriceBand {
        if self.no_price_limit {
            return PriceBand::UNBOUNDED;
        }
        daily_price_band(self.prev_close, self.rules.limit_bp_for(self.st), self.rules.tick)
    }
}

/// The instruments, indexed by security, with their bands computed once.
///
/// Built at start-up; the set of securities does not change while the engine runs
/// (flags and previous closes do).
#[derive(Clone, Debug)]
pub struct InstrumentTable {
    list: Vec<Instrument>,
    bands: Vec<PriceBand>,
    index: FxHashMap<SecurityId, u32>,
}

impl InstrumentTable {
    /// A table of `instruments`; `None` when a security appears twice.
    pub fn new(instruments: Vec<Instrument>) -> Option<InstrumentTable> {
        let mut index = map_with_capacity(instruments.len());
        for (i, instrument) in instruments.iter().enumerate() {
            let i = u32::try_from(i).ok()?;
            if index.insert(instrument.security, i).is_some() {
                return None;
            }
        }
        let bands = instruments.iter().map(Instrument::price_band).collect();
        Some(InstrumentTable { list: instruments, bands, index })
    }

    /// The index of a security.
    #[inline]
    pub fn index_of(&self, security: SecurityId) -> Option<u32> {
        self.index.get(&security).copied()
    }

    /// The instrument for a security.
    pub fn get(&self, security: SecurityId) -> Option<&Instrument> {
        self.index_of(security).map(|i| &self.list[i as usize])
    }

    /// The instrument at an index from [`InstrumentTable::index_of`].
    #[inline]
    pub fn at(&self, index: u32) -> &Instrument {
        &self.list[index as usize]
    }

    /// Today's price band of the instrument at `index`.
    #[inline]
    pub fn band_at(&self, index: u32) -> PriceBand {
        self.bands[index as usize]
    }

    /// Changes an instrument through `change`, then recomputes its band.
    pub fn update(&mut self, index: u32, change: impl FnOnce(&mut Instrument)) {
        let instrument = &mut self.list[index as usize];
        let security = instrument.security;
        change(instrument);
        assert_eq!(instrument.security, security, "an instrument's security never changes");
        self.bands[index as usize] = instrument.price_band();
    }

    /// Every instrument, in configuration order.
    pub fn iter(&self) -> impl Iterator<Item = &Instrument> {
        self.list.iter()
    }

    /// Number of instruments.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

/// Serialized as the instrument list alone: the index and the bands are derived
/// from it, and reading rebuilds them as [`InstrumentTable::new`] does.
impl serde::Serialize for InstrumentTable {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.list.serialize(s)
    }
}

impl<'de> serde::Deserialize<'de> for InstrumentTable {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<InstrumentTable, D::Error> {
        let list = Vec::<Instrument>::deserialize(d)?;
        InstrumentTable::new(list)
            .ok_or_else(|| serde::de::Error::custom("an instrument table lists a security twice"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn security_text_round_trips() {
        for text in ["600519.SH", "000001.SZ", "830799.BJ"] {
            assert_eq!(parse_security(text).unwrap().to_string(), text);
        }
        for bad in ["600519", "60051.SH", "600519.HK", "6005199.SH", "60051x.SH", ""] {
            assert_eq!(parse_security(bad), None, "{bad}");
        }
    }

    #[test]
    fn boards_parse_by_name() {
        for board in Board::ALL {
            assert_eq!(parse_board(board.name()), Some(*board));
        }
        assert_eq!(parse_board("nasdaq"), None);
    }

    #[test]
    fn duplicate_securities_are_refused() {
        let id = parse_security("600519.SH").unwrap();
        let one = Instrument::new(id, "Moutai", Board::SseMain, Price::from_yuan_fen(1500, 0));
        assert!(InstrumentTable::new(vec![one.clone()]).is_some());
        assert!(InstrumentTable::new(vec![one.clone(), one]).is_none());
    }
}
