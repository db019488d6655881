//! The protobuf wire format, read without a schema: a message is a run of records, each a
//! key (field number and wire type, one varint) followed by its value. [`records`] splits a
//! message into them, checking every length against the bytes left, so nothing past the
//! end is ever read.
//!
//! Errors read as those of the gogo-generated `Unmarshal` methods kube-apiserver decodes with
//! (`unexpected EOF`, `proto: integer overflow`, ...): the client sees them in the 400.

/// A record's value, by wire type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Wire<'a> {
    /// Wire type 0: ints, bools, enums.
    Varint(u64),
    /// Wire type 1: `double`, `fixed64`.
    Fixed64(u64),
    /// Wire type 2: strings, bytes, messages, map entries, packed repeated scalars.
    Bytes(&'a [u8]),
    /// Wire type 5: `float`, `fixed32`.
    Fixed32(u32),
}

impl<'a> Wire<'a> {
    /// The wire type number, for error messages.
    pub(super) fn wire_type(&self) -> u8 {
        match self {
            Wire::Varint(_) => 0,
            Wire::Fixed64(_) => 1,
            Wire::Bytes(_) => 2,
            Wire::Fixed32(_) => 5,
        }
    }

    /// The value of a varint field; `field` names it in the error.
    pub(super) fn varint(self, field: &str) -> Result<u64, String> {
        match self {
            Wire::Varint(v) => Ok(v),
            other => Err(other.wrong_type(field)),
        }
    }

    /// The value of a length-delimited field.
    pub(super) fn bytes(self, field: &str) -> Result<&'a [u8], String> {
        match self {
            Wire::Bytes(b) => Ok(b),
            other => Err(other.wrong_type(field)),
        }
    }

    /// A string field. Go strings may hold any bytes; its JSON encoder writes invalid UTF-8
    /// as U+FFFD, and so does this.
    pub(super) fn string(self, field: &str) -> Result<String, String> {
        Ok(String::from_utf8_lossy(self.bytes(field)?).into_owned())
    }

    /// gogo's error for a known field written with another wire type.
    pub(super) fn wrong_type(self, field: &str) -> String {
        format!(
            "proto: wrong wireType = {} for field {field}",
            self.wire_type()
        )
    }
}

/// One field occurrence in a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Record<'a> {
    /// The field number, 1 to 2^29 - 1.
    pub(super) number: u32,
    pub(super) value: Wire<'a>,
}

/// `io.ErrUnexpectedEOF`: a varint, length or fixed-size value runs past the end.
pub(super) const UNEXPECTED_EOF: &str = "unexpected EOF";
/// `ErrIntOverflowGenerated`: a varint longer than 10 bytes.
const INT_OVERFLOW: &str = "proto: integer overflow";
/// `ErrInvalidLengthGenerated`: a length that does not fit Go's `int`.
const INVALID_LENGTH: &str = "proto: negative length found during unmarshaling";

/// The largest field number protobuf allows.
const MAX_FIELD_NUMBER: u32 = (1 << 29) - 1;

/// The records of `message`, in wire order. `name` is the message's type, for errors.
pub(super) fn records<'a>(message: &'a [u8], name: &str) -> Result<Vec<Record<'a>>, String> {
    let mut reader = Reader { rest: message };
    let mut out = Vec::new();
    // Bounded: every record consumes at least one byte.
    while !reader.rest.is_empty() {
        out.push(reader.record(name)?);
    }
    Ok(out)
}

/// The varints of a packed repeated field (`[packed=true]`, or what a proto3 writer sends).
pub(super) fn packed_varints(bytes: &[u8]) -> Result<Vec<u64>, String> {
    let mut reader = Reader { rest: bytes };
    let mut out = Vec::new();
    while !reader.rest.is_empty() {
        out.push(reader.varint()?);
    }
    Ok(out)
}

/// A cursor over the bytes not read yet.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn record(&mut self, name: &str) -> Result<Record<'a>, String> {
        let key = self.varint()?;
        let wire_type = key & 7;
        if wire_type == 4 {
            return Err(format!("proto: {name}: wiretype end group for non-group"));
        }
        let number = match u32::try_from(key >> 3) {
            Ok(number) if (1..=MAX_FIELD_NUMBER).contains(&number) => number,
            _ => {
                let number = key >> 3;
                return Err(format!(
                    "proto: {name}: illegal tag {number} (wire type {wire_type})"
                ));
            }
        };
        let value = match wire_type {
            0 => Wire::Varint(self.varint()?),
            1 => Wire::Fixed64(u64::from_le_bytes(self.take_array()?)),
            2 => {
                let len = self.varint()?;
                // Go converts the length to `int`: past its range it reads as negative.
                let len = usize::try_from(len)
                    .ok()
                    .filter(|_| i64::try_from(len).is_ok())
                    .ok_or(INVALID_LENGTH)?;
                Wire::Bytes(self.take(len)?)
            }
            5 => Wire::Fixed32(u32::from_le_bytes(self.take_array()?)),
            // Groups (3) are proto2's deprecated nested form; no Kubernetes type has one.
            other => return Err(format!("proto: illegal wireType {other}")),
        };
        Ok(Record { number, value })
    }

    /// A base-128 varint of at most 10 bytes; bits past 64 are dropped, as Go's decoder does.
    fn varint(&mut self) -> Result<u64, String> {
        let mut value: u64 = 0;
        for (i, &byte) in self.rest.iter().enumerate().take(10) {
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte < 0x80 {
                self.rest = &self.rest[i + 1..];
                return Ok(value);
            }
        }
        if self.rest.len() >= 10 {
            Err(INT_OVERFLOW.to_owned())
        } else {
            Err(UNEXPECTED_EOF.to_owned())
        }
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8], String> {
        if len > self.rest.len() {
            return Err(UNEXPECTED_EOF.to_owned());
        }
        let (head, tail) = self.rest.split_at(len);
        self.rest = tail;
        Ok(head)
    }

    fn take_array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let bytes = self.take(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_a_message_into_its_records() {
        // field 1 varint 150, field 2 "hi", field 3 fixed64 1, field 4 fixed32 2
        let message = [
            0x08, 0x96, 0x01, 0x12, 0x02, b'h', b'i', 0x19, 1, 0, 0, 0, 0, 0, 0, 0, 0x25, 2, 0, 0,
            0,
        ];
        assert_eq!(
            records(&message, "T").unwrap(),
            [
                Record {
                    number: 1,
                    value: Wire::Varint(150)
                },
                Record {
                    number: 2,
                    value: Wire::Bytes(b"hi")
                },
                Record {
                    number: 3,
                    value: Wire::Fixed64(1)
                },
                Record {
                    number: 4,
                    value: Wire::Fixed32(2)
                },
            ]
        );
        assert_eq!(records(&[], "T").unwrap(), []);
    }

    #[test]
    fn reads_ten_byte_varints_of_negative_numbers() {
        // int32 -1 as Go writes it: sign-extended to 64 bits.
        let message = [
            0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
        ];
        assert_eq!(
            records(&message, "T").unwrap()[0].value,
            Wire::Varint(u64::MAX)
        );
    }

    #[test]
    fn refuses_what_gogo_refuses_with_its_wording() {
        let cases: [(&[u8], &str); 8] = [
            (&[0x08], "unexpected EOF"),
            (&[0x08, 0x80], "unexpected EOF"),
            (&[0x12, 0x05, b'a'], "unexpected EOF"),
            (&[0x19, 1, 2], "unexpected EOF"),
            (
                &[
                    0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
                ],
                "proto: integer overflow",
            ),
            (&[0x00, 0x01], "proto: T: illegal tag 0 (wire type 0)"),
            (&[0x0c], "proto: T: wiretype end group for non-group"),
            (&[0x0e], "proto: illegal wireType 6"),
        ];
        for (message, error) in cases {
            assert_eq!(records(message, "T"), Err(error.to_owned()), "{message:?}");
        }
        let huge_length = [
            0x12, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
        ];
        assert_eq!(
            records(&huge_length, "T"),
            Err("proto: negative length found during unmarshaling".to_owned())
        );
    }

    #[test]
    fn packed_varints_are_split() {
        assert_eq!(packed_varints(&[1, 0x96, 0x01, 0]).unwrap(), [1, 150, 0]);
        assert_eq!(packed_varints(&[0x80]), Err("unexpected EOF".to_owned()));
    }
}
