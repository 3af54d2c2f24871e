//! The journal's unit tests: record round trips, segment headers, recovery's
//! tail policies, the writer's batches and rotation.

use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use protocol::codec::EntryState;
use protocol::{AccountId, Market, RejectCode, SecurityId, TradingPhase};

use super::read::*;
use super::segment::*;
use super::watermark::Watermark;
use super::writer::*;
use super::*;
use crate::input::{AdminCommand, Input, LimitChange};
use order_engine::record::*;
use protocol::codec::{CancelOrder, NewOrder};
use protocol::{CreditTag, OrderType, Price, Qty, Side, TimeInForce};

fn fix_fact(after_stream_seq: u64, kind: fix::session::FactKind) -> fix::SessionFact {
    fix::SessionFact { after_stream_seq, kind }
}

fn sample_inputs() -> Vec<Input> {
    use fix::session::FactKind;
    let account = AccountId::new("A001").unwrap();
    let security = SecurityId::new(Market::Sse, 600_519).unwrap();
    let order = NewOrder {
        cl_ord_id: 7,
        account,
        security,
        side: Side::Buy,
        order_type: OrderType::Limit,
        tif: TimeInForce::Day,
        price: Price(15_000_000),
        qty: Qty(100),
        flags: 1,
        credit: CreditTag::Cash,
    };
    vec![
        Input::NewOrder { login: 3, order },
        Input::Cancel {
            login: 1,
            cancel: CancelOrder { request_id: 9, orig_cl_ord_id: 7, account },
        },
        Input::Malformed { login: 2, ref_msg_type: b'N', code: RejectCode::BAD_LENGTH, ref_id: 77 },
        Input::Disconnected { login: 4 },
        Input::Tick,
        Input::FixFact { login: 2, fact: fix_fact(5, FactKind::Reset) },
        Input::FixFact { login: 2, fact: fix_fact(5, FactKind::AdminSent { seq: 12 }) },
        Input::FixFact { login: 2, fact: fix_fact(6, FactKind::InboundNext { seq: 40 }) },
        Input::FixFact { login: 2, fact: fix_fact(0, FactKind::StreamFrom { seq: 17 }) },
        Input::FixFact {
            login: 2,
            fact: fix_fact(7, FactKind::Input(fix::inbound::Input::NewOrder(order))),
        },
        Input::FixFact {
            login: 2,
            fact: fix_fact(
                7,
                FactKind::Input(fix::inbound::Input::CancelOrder(CancelOrder {
                    request_id: 10,
                    orig_cl_ord_id: 7,
                    account,
                })),
            ),
        },
        Input::Admin(AdminCommand::FirmState(EntryState::Blocked)),
        Input::Admin(AdminCommand::AccountState(account, EntryState::ReducingOnly)),
        Input::Admin(AdminCommand::CancelAccount(account)),
        Input::Admin(AdminCommand::Halt(Some(security))),
        Input::Admin(AdminCommand::Resume(None)),
        Input::Admin(AdminCommand::ResumeWithAuction(Some(security), 5_000)),
        Input::Admin(AdminCommand::SetPhase(None, TradingPhase::ClosingAuction)),
        Input::Admin(AdminCommand::PauseMatching { until_ns: 123 }),
        Input::Admin(AdminCommand::AckDelay { delay_ns: 456 }),
        Input::Admin(AdminCommand::SetLimit(LimitChange::MaxNotional(-5))),
        Input::Admin(AdminCommand::SetLimit(LimitChange::FatFingerBp(700))),
        Input::Admin(AdminCommand::EndOfDay),
        Input::Admin(AdminCommand::StartOfDay),
    ]
}

#[test]
fn every_input_kind_round_trips() {
    for (i, input) in sample_inputs().into_iter().enumerate() {
        let entry =
            Entry { input_seq: i as u64 + 1, now_ns: 1_000 + i as u64, arrival_ns: 999, input };
        let mut buf = Vec::new();
        encode(&entry, &mut buf);
        let (back, len) = parse_record(&buf, entry.input_seq).unwrap();
        assert_eq!(back, entry);
        assert_eq!(len, buf.len());
    }
}

fn write_journal(dir: &Path, n: u64, segment_bytes: u64, preallocate: bool) {
    let settings = WriterSettings {
        dir: dir.to_path_buf(),
        segment_bytes,
        preallocate,
        sync: true,
        session_id: 42,
        first_input_seq: 1,
        fingerprint: Fingerprint::default(),
    };
    let mut w = Writer::open(settings, Arc::default()).unwrap();
    let inputs = sample_inputs();
    for seq in 1..=n {
        let input = inputs[(seq as usize) % inputs.len()];
        w.add(&Entry { input_seq: seq, now_ns: seq * 10, arrival_ns: seq * 10 - 1, input });
        if seq % 7 == 0 {
            w.commit(seq).unwrap();
        }
    }
    w.commit(n).unwrap();
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("bw-journal-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    dir
}

#[test]
fn reads_back_across_rotated_segments() {
    let dir = temp_dir("rotate");
    write_journal(&dir, 500, 4096, false);
    assert!(segments(&dir).unwrap().len() > 3, "small segments rotate");
    let mut seen = 0;
    let rec = read_journal(&dir, TailPolicy::CutTornOnly, |e| {
        seen += 1;
        assert_eq!(e.input_seq, seen);
    })
    .unwrap();
    assert_eq!((rec.last_input_seq, rec.records, rec.session_id), (500, 500, Some(42)));
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn a_torn_tail_is_cut_and_damage_is_refused() {
    let dir = temp_dir("torn");
    write_journal(&dir, 100, 1 << 20, false);
    let seg = segments(&dir).unwrap().pop().unwrap();
    let len = fs::metadata(&seg).unwrap().len();
    // The last batch was being written when the power went: the mark never
    // covered its input, and it loses its last 3 bytes.
    acknowledge(&dir, 99);
    OpenOptions::new().write(true).open(&seg).unwrap().set_len(len - 3).unwrap();
    let rec = read_journal(&dir, TailPolicy::CutTornOnly, |_| {}).unwrap();
    assert_eq!(rec.last_input_seq, 99);
    assert!(rec.truncated_bytes > 0);
    // Damage in the middle: a flipped bit is refused...
    let mut bytes = fs::read(&seg).unwrap();
    bytes[HEADER_LEN + 200] ^= 0x10;
    fs::write(&seg, &bytes).unwrap();
    let err = read_journal(&dir, TailPolicy::CutTornOnly, |_| {}).unwrap_err();
    assert!(matches!(err, JournalError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("truncate_damaged_tail"), "{err}");
    // ...unless told to cut there.
    let rec = read_journal(&dir, TailPolicy::CutAnyDamage, |_| {}).unwrap();
    assert!(rec.last_input_seq < 99);
    let again = read_journal(&dir, TailPolicy::CutTornOnly, |_| {}).unwrap();
    assert_eq!(again.last_input_seq, rec.last_input_seq);
    let _ = fs::remove_dir_all(&dir);
}

/// What a crash leaves when the mark was last stored after input `seq`.
fn acknowledge(dir: &Path, seq: u64) {
    Watermark::open(dir, seq, false).unwrap();
}

/// Offsets of the records of a single-segment journal, in order.
fn record_offsets(bytes: &[u8]) -> Vec<usize> {
    let mut at = HEADER_LEN;
    let mut out = Vec::new();
    while let Ok((entry, len)) = parse_record(&bytes[at..], out.len() as u64 + 1) {
        assert_eq!(entry.input_seq, out.len() as u64 + 1);
        out.push(at);
        at += len;
    }
    out
}

fn settings(dir: &Path, segment_bytes: u64, first_input_seq: u64) -> WriterSettings {
    WriterSettings {
        dir: dir.to_path_buf(),
        segment_bytes,
        preallocate: true,
        sync: true,
        session_id: 42,
        first_input_seq,
        fingerprint: Fingerprint::default(),
    }
}

#[test]
fn preallocated_segments_are_zero_filled_and_rotate_into_a_prepared_one() {
    let dir = temp_dir("prealloc");
    let segment_bytes = 64 << 10;
    let full = segment_bytes + PREALLOC_SLACK;
    let progress = Arc::new(JournalProgress::default());
    let mut w = Writer::open(settings(&dir, segment_bytes, 1), Arc::clone(&progress)).unwrap();
    let first = segments(&dir).unwrap().pop().unwrap();
    assert_eq!(fs::metadata(&first).unwrap().len(), full, "zero-filled before use");
    let inputs = sample_inputs();
    let mut seq = 0;
    let mut add = |w: &mut Writer, n: u64| {
        for _ in 0..n {
            seq += 1;
            let input = inputs[(seq as usize) % inputs.len()];
            w.add(&Entry { input_seq: seq, now_ns: seq, arrival_ns: seq, input });
            if seq % 7 == 0 {
                w.commit(seq).unwrap();
            }
        }
        w.commit(seq).unwrap();
    };
    // From the first commit on, the next segment is prepared in the background.
    add(&mut w, 10);
    assert!(w.next.is_some(), "preparing starts with the first commit");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !w.next_ready() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(w.next_ready(), "the next segment was zero-filled within 30 s");
    while segments(&dir).unwrap().len() < 2 {
        add(&mut w, 10);
    }
    add(&mut w, 10);
    let files = segments(&dir).unwrap();
    assert!(fs::metadata(&files[0]).unwrap().len() < segment_bytes + BATCH_SPAN as u64);
    assert_eq!(fs::metadata(&files[1]).unwrap().len(), full, "the new segment is the prepared one");
    drop(w);
    assert!(!dir.join(PREPARING_NAME).exists(), "an unfinished next segment is removed");
    // Every commit was synced and timed.
    let syncs = progress.syncs.load(Ordering::Relaxed);
    assert!(syncs > 0);
    assert_eq!(progress.commit_times.snapshot().len(), syncs);
    // Read-only readers see the records and leave the space alone...
    let mut seen = 0;
    let rec = read_journal(&dir, TailPolicy::ReadOnly, |e| {
        seen += 1;
        assert_eq!(e.input_seq, seen);
    })
    .unwrap();
    assert_eq!(rec.last_input_seq, seq);
    assert_eq!(fs::metadata(&files[1]).unwrap().len(), full);
    // ...a recovery gives the zeros back.
    let rec = read_journal(&dir, TailPolicy::CutTornOnly, |_| {}).unwrap();
    assert_eq!((rec.last_input_seq, rec.truncated_bytes), (seq, 0));
    let on_disk: u64 = files.iter().map(|f| fs::metadata(f).unwrap().len()).sum();
    assert_eq!(on_disk, rec.record_bytes);
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn a_batch_that_reached_the_disk_out_of_order_is_cut_and_damage_is_not() {
    let dir = temp_dir("outoforder");
    write_journal(&dir, 100, 1 << 20, true);
    let seg = segments(&dir).unwrap().pop().unwrap();
    let clean = fs::read(&seg).unwrap();
    let offsets = record_offsets(&clean);
    assert_eq!(offsets.len(), 100);
    // The last batch's first sector never landed; later ones did, and the mark
    // stayed at the batch before.
    acknowledge(&dir, 91);
    let at = offsets[91];
    let gap_end = (at + RECORD_HEADER_LEN).next_multiple_of(SECTOR);
    let mut torn = clean.clone();
    torn[at..gap_end].fill(0);
    fs::write(&seg, &torn).unwrap();
    let rec = read_journal(&dir, TailPolicy::CutTornOnly, |_| {}).unwrap();
    assert_eq!(rec.last_input_seq, 91);
    assert_eq!(fs::metadata(&seg).unwrap().len(), at as u64);
    // The same gap with data further than one batch after it is damage.
    let mut far = torn.clone();
    far[at + BATCH_SPAN + 10] = 1;
    fs::write(&seg, &far).unwrap();
    let err = read_journal(&dir, TailPolicy::CutTornOnly, |_| {}).unwrap_err();
    assert!(matches!(err, JournalError::Corrupt { .. }), "{err}");
    // A zeroed length mid-file (its CRC still there) is damage, not a tear.
    let mut zeroed = clean.clone();
    zeroed[offsets[50]..offsets[50] + 4].fill(0);
    fs::write(&seg, &zeroed).unwrap();
    let err = read_journal(&dir, TailPolicy::CutTornOnly, |_| {}).unwrap_err();
    assert!(matches!(err, JournalError::Corrupt { last_good_seq: 50, .. }), "{err}");
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn a_missing_first_segment_an_old_format_and_another_configuration_are_refused() {
    let dir = temp_dir("layout");
    write_journal(&dir, 300, 4096, false);
    let files = segments(&dir).unwrap();
    assert!(files.len() > 2);
    // The first segment gone: the journal no longer starts at input 1.
    let first = fs::read(&files[0]).unwrap();
    fs::remove_file(&files[0]).unwrap();
    let err = read_journal(&dir, TailPolicy::ReadOnly, |_| {}).unwrap_err().to_string();
    assert!(err.contains("expected 1 (a segment is missing)"), "{err}");
    // Another configuration's fingerprint, named by section.
    fs::write(&files[0], &first).unwrap();
    let mut other = Fingerprint::default();
    other.sections[1] = 7;
    let err = check_config(&dir, &other).unwrap_err().to_string();
    assert!(err.contains("[fees] changed since"), "{err}");
    check_config(&dir, &Fingerprint::default()).unwrap();
    // Format 1: named as such, with what to do.
    let mut old = first.clone();
    old[8..12].copy_from_slice(&1u32.to_le_bytes());
    fs::write(&files[0], &old).unwrap();
    for err in [
        read_journal(&dir, TailPolicy::ReadOnly, |_| {}).unwrap_err().to_string(),
        check_config(&dir, &Fingerprint::default()).unwrap_err().to_string(),
    ] {
        assert!(err.contains("journal format 1") && err.contains("move the journal"), "{err}");
    }
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn cutting_acknowledged_inputs_is_an_operator_decision_that_lowers_the_mark() {
    let dir = temp_dir("lower");
    write_journal(&dir, 100, 1 << 20, false);
    let seg = segments(&dir).unwrap().pop().unwrap();
    let len = fs::metadata(&seg).unwrap().len();
    OpenOptions::new().write(true).open(&seg).unwrap().set_len(len - 3).unwrap();
    // Acknowledged: refused, read-only or not, and nothing is cut.
    for policy in [TailPolicy::ReadOnly, TailPolicy::CutTornOnly] {
        let err = read_journal(&dir, policy, |_| {}).unwrap_err();
        assert!(
            matches!(err, JournalError::AcknowledgedMissing { missing: 1, acknowledged: 100, .. }),
            "{err}"
        );
    }
    assert_eq!(fs::metadata(&seg).unwrap().len(), len - 3);
    let rec = read_journal(&dir, TailPolicy::CutAnyDamage, |_| {}).unwrap();
    assert_eq!(rec.last_input_seq, 99);
    assert_eq!(watermark::read(&dir), Ok(Some(99)));
    let rec = read_journal(&dir, TailPolicy::CutTornOnly, |_| {}).unwrap();
    assert_eq!((rec.last_input_seq, rec.acknowledged), (99, Some(99)));
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn a_segment_created_but_never_written_is_dropped_by_recovery() {
    let dir = temp_dir("unwritten");
    write_journal(&dir, 50, 1 << 20, true);
    // A crash right after the next start-up created its segment.
    drop(Writer::open(settings(&dir, 1 << 20, 51), Arc::default()).unwrap());
    assert_eq!(segments(&dir).unwrap().len(), 2);
    let rec = read_journal(&dir, TailPolicy::ReadOnly, |_| {}).unwrap();
    assert_eq!(rec.last_input_seq, 50);
    assert_eq!(segments(&dir).unwrap().len(), 2, "read-only changes nothing");
    let rec = read_journal(&dir, TailPolicy::CutTornOnly, |_| {}).unwrap();
    assert_eq!((rec.last_input_seq, rec.segments), (50, 1));
    // The next writer can create it again.
    let mut w = Writer::open(settings(&dir, 1 << 20, 51), Arc::default()).unwrap();
    w.add(&Entry { input_seq: 51, now_ns: 1, arrival_ns: 1, input: sample_inputs()[0] });
    w.commit(51).unwrap();
    drop(w);
    let rec = read_journal(&dir, TailPolicy::CutTornOnly, |_| {}).unwrap();
    assert_eq!((rec.last_input_seq, rec.segments), (51, 2));
    let _ = fs::remove_dir_all(&dir);
}
