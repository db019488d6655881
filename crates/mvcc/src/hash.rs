//! The HashKV hash: CRC-32C (Castagnoli, as etcd's `kvHasher`) over every (revision, key-value)
//! change held in history up to a revision. Two members holding the same history hash the same
//! (RELIABILITY.md property 7). The bytes hashed are kubesim's own encoding, so the value is
//! comparable between kubesim members, not with a real etcd.
//!
//! CRC-32C is written out here (a 256-entry table) rather than pulled in as a crate: it is a
//! dozen lines and the one polynomial we need.

use kubesim_proto::mvccpb::KeyValue;

use crate::index::Revision;

/// The reflected Castagnoli polynomial.
const CASTAGNOLI: u32 = 0x82F6_3B78;

const TABLE: [u32; 256] = make_table();

const fn make_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ CASTAGNOLI
            } else {
                crc >> 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
}

/// A running CRC-32C.
pub(crate) struct Crc32c {
    /// The inverted CRC so far (CRC-32C starts from all ones and inverts at the end).
    state: u32,
}

impl Crc32c {
    pub fn new() -> Crc32c {
        Crc32c { state: !0 }
    }

    pub fn update(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            let slot = usize::from((self.state as u8) ^ byte);
            self.state = TABLE[slot] ^ (self.state >> 8);
        }
    }

    pub fn finish(&self) -> u32 {
        !self.state
    }
}

/// Feeds one history change into the hash. Every variable-length field is prefixed by its
/// length, so no two different changes produce the same bytes.
pub(crate) fn hash_change(crc: &mut Crc32c, revision: Revision, tombstone: bool, kv: &KeyValue) {
    crc.update(&revision.main.to_be_bytes());
    crc.update(&revision.sub.to_be_bytes());
    crc.update(&[u8::from(tombstone)]);
    hash_bytes(crc, &kv.key);
    crc.update(&kv.create_revision.to_be_bytes());
    crc.update(&kv.mod_revision.to_be_bytes());
    crc.update(&kv.version.to_be_bytes());
    hash_bytes(crc, &kv.value);
    crc.update(&kv.lease.to_be_bytes());
}

fn hash_bytes(crc: &mut Crc32c, bytes: &[u8]) {
    crc.update(&(bytes.len() as u64).to_be_bytes());
    crc.update(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_check_value() {
        // The standard check value of CRC-32C (RFC 3720 appendix B.4 uses the same CRC).
        let mut crc = Crc32c::new();
        crc.update(b"123456789");
        assert_eq!(crc.finish(), 0xE306_9283);
        // Feeding in pieces gives the same result.
        let mut split = Crc32c::new();
        split.update(b"1234");
        split.update(b"56789");
        assert_eq!(split.finish(), 0xE306_9283);
        assert_eq!(Crc32c::new().finish(), 0);
    }

    #[test]
    fn length_prefix_separates_fields() {
        let a = KeyValue {
            key: b"ab".to_vec(),
            value: b"c".to_vec(),
            ..Default::default()
        };
        let b = KeyValue {
            key: b"a".to_vec(),
            value: b"bc".to_vec(),
            ..Default::default()
        };
        let rev = Revision { main: 2, sub: 0 };
        let (mut ha, mut hb) = (Crc32c::new(), Crc32c::new());
        hash_change(&mut ha, rev, false, &a);
        hash_change(&mut hb, rev, false, &b);
        assert_ne!(ha.finish(), hb.finish());
    }
}
