//! The acknowledged high-water mark: a tiny file beside the segments that says
//! how far the journal is known to reach, so that recovery can tell a torn final
//! write (never acknowledged: cut) from acknowledged inputs that went missing (a
//! deleted or truncated segment, zeroed records: refused).
//!
//! ```text
//! file = slot slot                     (2 x 512 bytes, each in its own sector)
//! slot = magic "BWJHWM01" | u32 crc32(bytes 12..32) | u32 reserved
//!      | u64 generation | u64 input_seq
//! ```
//!
//! The journal thread stores the last input of each group commit after that batch
//! is synced and before it publishes it as durable, so under `sync` the mark is
//! always at or past every answer a client can have seen, and never past what the
//! segments hold on disk. Stores alternate between the two slots (a power cut can
//! tear one, never both) and the valid slot with the higher generation wins. The
//! file is zero-filled at creation, so a store overwrites allocated blocks and
//! its `fdatasync` writes no file-system metadata.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// The file's name in the journal directory.
pub const WATERMARK_NAME: &str = "journal.hwm";
const MAGIC: [u8; 8] = *b"BWJHWM01";
const SLOT_BYTES: u64 = 512;
const SLOT_LEN: usize = 32;

/// One slot's contents.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Slot {
    generation: u64,
    input_seq: u64,
}

fn encode(slot: Slot) -> [u8; SLOT_LEN] {
    let mut b = [0u8; SLOT_LEN];
    b[..8].copy_from_slice(&MAGIC);
    b[16..24].copy_from_slice(&slot.generation.to_le_bytes());
    b[24..32].copy_from_slice(&slot.input_seq.to_le_bytes());
    let crc = crc32fast::hash(&b[12..]);
    b[8..12].copy_from_slice(&crc.to_le_bytes());
    b
}

fn decode(b: &[u8]) -> Option<Slot> {
    let b = b.get(..SLOT_LEN)?;
    let crc = u32::from_le_bytes(b[8..12].try_into().ok()?);
    if b[..8] != MAGIC || crc32fast::hash(&b[12..]) != crc {
        return None;
    }
    Some(Slot {
        generation: u64::from_le_bytes(b[16..24].try_into().ok()?),
        input_seq: u64::from_le_bytes(b[24..32].try_into().ok()?),
    })
}

/// The mark's path in `dir`.
pub fn path(dir: &Path) -> PathBuf {
    dir.join(WATERMARK_NAME)
}

/// Reads the mark in `dir`: `Ok(None)` when there is no file, an error naming
/// what is wrong when neither slot is intact.
pub fn read(dir: &Path) -> Result<Option<u64>, String> {
    let bytes = match fs::read(path(dir)) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    let slots = [0, SLOT_BYTES as usize].map(|at| bytes.get(at..).and_then(decode));
    slots
        .into_iter()
        .flatten()
        .max_by_key(|s| s.generation)
        .map(|s| Some(s.input_seq))
        .ok_or_else(|| format!("neither slot is intact ({} bytes)", bytes.len()))
}

/// The journal thread's handle on the mark.
#[derive(Debug)]
pub struct Watermark {
    file: File,
    path: PathBuf,
    generation: u64,
    sync: bool,
}

impl Watermark {
    /// Opens (or creates, zero-filled and with its name synced) the mark in `dir`
    /// and stores `input_seq` in it: the end of the journal a writer starts after.
    pub fn open(dir: &Path, input_seq: u64, sync: bool) -> io::Result<Watermark> {
        let path = path(dir);
        let file = match OpenOptions::new().write(true).read(true).open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let f = OpenOptions::new().create_new(true).write(true).read(true).open(&path)?;
                f.write_all_at(&[0u8; 2 * SLOT_BYTES as usize], 0)?;
                f.sync_all()?;
                File::open(dir)?.sync_all()?;
                f
            }
            Err(e) => return Err(e),
        };
        // Carry on from whichever slot wins, so the next store outranks it.
        let mut bytes = [0u8; 2 * SLOT_BYTES as usize];
        let n = file.read_at(&mut bytes, 0).unwrap_or(0);
        let generation = [0, SLOT_BYTES as usize]
            .iter()
            .filter_map(|&at| bytes[..n].get(at..).and_then(decode))
            .map(|s| s.generation)
            .max()
            .unwrap_or(0);
        let mut mark = Watermark { file, path, generation, sync };
        mark.store(input_seq)?;
        Ok(mark)
    }

    /// Makes `input_seq` the mark: written into the older slot and synced.
    pub fn store(&mut self, input_seq: u64) -> io::Result<()> {
        self.generation += 1;
        let at = (self.generation % 2) * SLOT_BYTES;
        self.file.write_all_at(&encode(Slot { generation: self.generation, input_seq }), at)?;
        if self.sync {
            self.file.sync_data()?;
        }
        Ok(())
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_intact_slot_wins() {
        let dir = std::env::temp_dir().join(format!("bw-hwm-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        assert_eq!(read(&dir), Ok(None));
        let mut mark = Watermark::open(&dir, 5, true).unwrap();
        assert_eq!(read(&dir), Ok(Some(5)));
        mark.store(9).unwrap();
        assert_eq!(read(&dir), Ok(Some(9)));
        // A torn store leaves the slot before it.
        let mut bytes = fs::read(path(&dir)).unwrap();
        let newest = (mark.generation % 2 * SLOT_BYTES) as usize;
        bytes[newest + 30] ^= 1;
        fs::write(path(&dir), &bytes).unwrap();
        assert_eq!(read(&dir), Ok(Some(5)));
        // A reopened mark outranks both slots.
        drop(mark);
        let mut mark = Watermark::open(&dir, 7, true).unwrap();
        assert_eq!(read(&dir), Ok(Some(7)));
        mark.store(8).unwrap();
        assert_eq!(read(&dir), Ok(Some(8)));
        // Both slots damaged: an error, not a guess.
        fs::write(path(&dir), [0u8; 1024]).unwrap();
        assert!(read(&dir).unwrap_err().contains("neither slot"));
        let _ = fs::remove_dir_all(&dir);
    }
}
