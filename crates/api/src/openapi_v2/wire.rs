//! The protobuf wire format, written: a message is a run of records, each a key (field
//! number and wire type, one varint) and a value. Only what gnostic's messages need: strings,
//! bools and sub-messages. proto3 leaves a singular scalar out when it is its zero value
//! (`""`, `false`); a sub-message is always written, because its presence is read
//! (kube-openapi tells an object with `properties` from a map by whether the field is set).

/// Wire type 0: ints and bools.
const VARINT: u8 = 0;
/// Wire type 2: strings, bytes and messages.
const LENGTH_DELIMITED: u8 = 2;

/// A message being written.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(super) struct Message {
    bytes: Vec<u8>,
}

impl Message {
    pub(super) fn new() -> Message {
        Message::default()
    }

    /// A singular `string` field: left out when empty, as proto3 writes it.
    pub(super) fn string(&mut self, field: u32, value: &str) {
        if !value.is_empty() {
            self.bytes_field(field, value.as_bytes());
        }
    }

    /// One element of a `repeated string` field, written even when empty.
    pub(super) fn repeated_string(&mut self, field: u32, value: &str) {
        self.bytes_field(field, value.as_bytes());
    }

    /// A singular `bool` field: left out when false.
    pub(super) fn bool(&mut self, field: u32, value: bool) {
        if value {
            self.key(field, VARINT);
            put_varint(&mut self.bytes, 1);
        }
    }

    /// A `bool` member of a oneof: written even when false, since that it is set is
    /// information.
    pub(super) fn oneof_bool(&mut self, field: u32, value: bool) {
        self.key(field, VARINT);
        put_varint(&mut self.bytes, u64::from(value));
    }

    /// A sub-message (or one element of a repeated one), written even when empty.
    pub(super) fn message(&mut self, field: u32, message: Message) {
        self.bytes_field(field, &message.bytes);
    }

    pub(super) fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    fn bytes_field(&mut self, field: u32, value: &[u8]) {
        self.key(field, LENGTH_DELIMITED);
        put_varint(&mut self.bytes, value.len() as u64);
        self.bytes.extend_from_slice(value);
    }

    fn key(&mut self, field: u32, wire_type: u8) {
        assert!(
            (1..1 << 29).contains(&field),
            "protobuf field numbers are 1 to 2^29 - 1"
        );
        put_varint(
            &mut self.bytes,
            u64::from(field) << 3 | u64::from(wire_type),
        );
    }
}

/// Base 128, least significant group first, the high bit set on all but the last byte: at
/// most ten bytes for a u64.
fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value & 0x7f) as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn varint(value: u64) -> Vec<u8> {
        let mut out = Vec::new();
        put_varint(&mut out, value);
        out
    }

    #[test]
    fn varints_are_base_128_little_endian() {
        assert_eq!(varint(0), [0x00]);
        assert_eq!(varint(1), [0x01]);
        assert_eq!(varint(127), [0x7f]);
        assert_eq!(varint(128), [0x80, 0x01]);
        assert_eq!(varint(300), [0xac, 0x02]);
        assert_eq!(varint(u64::MAX).len(), 10);
    }

    #[test]
    fn fields_are_keyed_and_zero_scalars_left_out() {
        let mut inner = Message::new();
        inner.string(1, "2.0");
        let mut m = Message::new();
        m.string(1, "");
        m.bool(4, false);
        m.bool(4, true);
        m.repeated_string(5, "");
        m.message(2, inner);
        m.message(31, Message::new());
        assert_eq!(
            m.into_bytes(),
            [
                0x20, 0x01, // 4: true
                0x2a, 0x00, // 5: ""
                0x12, 0x05, 0x0a, 0x03, b'2', b'.', b'0', // 2: {1: "2.0"}
                0xfa, 0x01, 0x00, // 31: {} (a two-byte key)
            ]
        );
    }
}
