//! A protobuf writer for the tests: just enough of the wire format to build the bodies
//! kubectl sends, field by field, so each test shows the exact bytes it decodes.

/// A message under construction.
#[derive(Debug, Clone, Default)]
pub(super) struct Msg(Vec<u8>);

impl Msg {
    pub(super) fn new() -> Msg {
        Msg::default()
    }

    /// A varint field. Negative numbers take ten bytes, as Go writes an `int32` or `int64`.
    pub(super) fn int(mut self, number: u32, value: i64) -> Msg {
        self.key(number, 0);
        self.raw_varint(value as u64);
        self
    }

    pub(super) fn bool(self, number: u32, value: bool) -> Msg {
        self.int(number, i64::from(value))
    }

    pub(super) fn bytes(mut self, number: u32, value: &[u8]) -> Msg {
        self.key(number, 2);
        self.raw_varint(value.len() as u64);
        self.0.extend_from_slice(value);
        self
    }

    pub(super) fn str(self, number: u32, value: &str) -> Msg {
        self.bytes(number, value.as_bytes())
    }

    pub(super) fn msg(self, number: u32, value: Msg) -> Msg {
        self.bytes(number, &value.0)
    }

    /// One entry of a `map<string, string>`.
    pub(super) fn entry(self, number: u32, key: &str, value: &str) -> Msg {
        self.msg(number, Msg::new().str(1, key).str(2, value))
    }

    /// Bytes written as they are, for malformed input.
    pub(super) fn raw(mut self, bytes: &[u8]) -> Msg {
        self.0.extend_from_slice(bytes);
        self
    }

    pub(super) fn into_bytes(self) -> Vec<u8> {
        self.0
    }

    fn key(&mut self, number: u32, wire_type: u8) {
        self.raw_varint(u64::from(number) << 3 | u64::from(wire_type));
    }

    fn raw_varint(&mut self, mut value: u64) {
        while value >= 0x80 {
            self.0.push((value as u8 & 0x7f) | 0x80);
            value >>= 7;
        }
        self.0.push(value as u8);
    }
}

/// A request body: the magic, then a `runtime.Unknown` around `object`, with the empty
/// contentEncoding and contentType kubectl writes.
pub(super) fn body(api_version: &str, kind: &str, object: Msg) -> Vec<u8> {
    let type_meta = Msg::new().str(1, api_version).str(2, kind);
    let unknown = Msg::new()
        .msg(1, type_meta)
        .msg(2, object)
        .str(3, "")
        .str(4, "");
    let mut out = b"k8s\0".to_vec();
    out.extend(unknown.into_bytes());
    out
}

/// ObjectMeta as kubectl writes it: every non-pointer field, zero or not (generateName,
/// namespace, selfLink, uid, resourceVersion, generation, and an empty creationTimestamp).
pub(super) fn object_meta(name: &str) -> Msg {
    Msg::new()
        .str(1, name)
        .str(2, "")
        .str(3, "")
        .str(4, "")
        .str(5, "")
        .str(6, "")
        .int(7, 0)
        .msg(8, Msg::new())
}

#[test]
fn writes_what_the_reader_reads() {
    let message = Msg::new().int(1, 150).str(2, "hi").int(3, -1).into_bytes();
    assert_eq!(
        message,
        [
            0x08, 0x96, 0x01, 0x12, 0x02, b'h', b'i', 0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            0xff, 0xff, 0xff, 0x01
        ]
    );
}
