//! The codec of `waypoint.v1`: prost encoding and decoding, with two
//! differences on the decoding side.
//!
//! * A message that is not valid protobuf (truncated, a string that is not
//!   UTF-8, a bad tag) is `INVALID_ARGUMENT`: the caller sent bad input
//!   (tonic's prost codec says `INTERNAL`).
//! * Before decoding, the raw bytes are walked (no allocation) to estimate
//!   what the decoded message will occupy on the heap. Protobuf lets a
//!   2-byte empty sub-message become a ~100-byte struct, so 16 MiB of empty
//!   points would decode into over 1 GiB; a message whose estimate is above
//!   [`DECODE_AMPLIFICATION`] times its size (and above [`DECODE_FLOOR`])
//!   is refused with `RESOURCE_EXHAUSTED` instead. Each type's allocating
//!   fields are listed in a [`Shape`] ([`Decoded::SHAPE`]).

use std::marker::PhantomData;
use std::mem::size_of;

use prost::bytes::Buf;
use prost::Message;
use tonic::codec::{Codec, DecodeBuf, Decoder};
use tonic::Status;

use crate::v1 as pb;

/// A decoded message may occupy at most this many times its encoded size...
pub const DECODE_AMPLIFICATION: usize = 4;
/// ...unless its estimate is at most this many bytes (small requests such
/// as a `Get` of 10,000 one-byte ids always pass).
pub const DECODE_FLOOR: usize = 4 << 20;

/// The fields of a message that allocate when decoded.
#[derive(Debug)]
pub struct Shape(pub &'static [(u32, Field)]);

/// How one field allocates.
#[derive(Debug)]
pub enum Field {
    /// A (repeated or singular) sub-message; each occurrence costs `each`
    /// bytes (its size in a `Vec`, 0 when stored inline) plus its own fields.
    Message {
        /// Bytes per occurrence outside the sub-message's own fields.
        each: usize,
        /// The sub-message's fields.
        shape: &'static Shape,
    },
    /// A repeated string or bytes: `each` bytes per element plus its length.
    Bytes {
        /// Bytes per element (`size_of::<String>()`).
        each: usize,
    },
    /// A repeated scalar of `each` bytes in memory, packed or not.
    Scalars {
        /// Bytes per element in memory.
        each: usize,
    },
}

/// A message type the codec can decode, with its [`Shape`].
pub trait Decoded: Message + Default {
    /// Fields that allocate.
    const SHAPE: &'static Shape;
}

/// No field worth counting (responses, small fixed messages).
const FLAT: Shape = Shape(&[]);

/// Field `n`: a sub-message stored inline (singular or a `oneof` arm).
const fn inline(n: u32, shape: &'static Shape) -> (u32, Field) {
    (n, Field::Message { each: 0, shape })
}

/// Field `n`: a repeated sub-message of `T`.
const fn repeated<T>(n: u32, shape: &'static Shape) -> (u32, Field) {
    (
        n,
        Field::Message {
            each: size_of::<T>(),
            shape,
        },
    )
}

/// Field `n`: a repeated scalar of `T`.
const fn scalars<T>(n: u32) -> (u32, Field) {
    (
        n,
        Field::Scalars {
            each: size_of::<T>(),
        },
    )
}

const KEYWORDS: Shape = Shape(&[(
    1,
    Field::Bytes {
        each: size_of::<String>(),
    },
)]);
const INTEGERS: Shape = Shape(&[scalars::<i64>(1)]);
const VALUE: Shape = Shape(&[inline(5, &KEYWORDS)]);
/// A map entry: the key is an inline `String`, the value may hold keywords.
const PAYLOAD_ENTRY: Shape = Shape(&[inline(2, &VALUE)]);
/// Hash-map slots cost about twice an entry.
const PAYLOAD: Shape = Shape(&[(
    1,
    Field::Message {
        each: 2 * size_of::<(String, pb::Value)>(),
        shape: &PAYLOAD_ENTRY,
    },
)]);
const POINT: Shape = Shape(&[scalars::<f32>(2), inline(3, &PAYLOAD)]);
const MATCH: Shape = Shape(&[inline(5, &KEYWORDS), inline(6, &INTEGERS)]);
const HAS_ID: Shape = Shape(&[scalars::<u64>(1)]);
const CONDITION: Shape = Shape(&[inline(1, &MATCH), inline(2, &HAS_ID)]);
const FILTER: Shape = Shape(&[
    repeated::<pb::Condition>(1, &CONDITION),
    repeated::<pb::Condition>(2, &CONDITION),
    repeated::<pb::Condition>(3, &CONDITION),
]);
const SEARCH: Shape = Shape(&[scalars::<f32>(2), inline(6, &FILTER)]);

macro_rules! decoded {
    ($($t:ty => $shape:expr),* $(,)?) => {
        $(impl Decoded for $t {
            const SHAPE: &'static Shape = $shape;
        })*
    };
}

decoded! {
    pb::UpsertRequest => &Shape(&[repeated::<pb::Point>(2, &POINT)]),
    pb::DeletePointsRequest => &Shape(&[inline(2, &HAS_ID), inline(3, &FILTER)]),
    pb::GetPointsRequest => &Shape(&[scalars::<u64>(2)]),
    pb::CountRequest => &Shape(&[inline(2, &FILTER)]),
    pb::SearchRequest => &SEARCH,
    pb::SearchBatchRequest => &Shape(&[repeated::<pb::SearchRequest>(2, &SEARCH)]),
    pb::SearchGroupsRequest => &Shape(&[scalars::<f32>(2), inline(8, &FILTER)]),
    pb::CreateCollectionRequest => &FLAT,
    pb::GetCollectionRequest => &FLAT,
    pb::ListCollectionsRequest => &FLAT,
    pb::DeleteCollectionRequest => &FLAT,
    // Responses come from the server the client chose to trust.
    pb::UpsertResponse => &FLAT,
    pb::UpsertStreamResponse => &FLAT,
    pb::DeletePointsResponse => &FLAT,
    pb::GetPointsResponse => &FLAT,
    pb::CountResponse => &FLAT,
    pb::SearchResponse => &FLAT,
    pb::SearchBatchResponse => &FLAT,
    pb::SearchGroupsResponse => &FLAT,
    pb::CreateCollectionResponse => &FLAT,
    pb::GetCollectionResponse => &FLAT,
    pb::ListCollectionsResponse => &FLAT,
    pb::DeleteCollectionResponse => &FLAT,
}

/// Wire types of protobuf.
const VARINT: u64 = 0;
const FIXED64: u64 = 1;
const LEN: u64 = 2;
const FIXED32: u64 = 5;

fn varint(buf: &mut &[u8]) -> Option<u64> {
    prost::encoding::decode_varint(buf).ok()
}

/// The heap bytes a message of `shape` encoded in `buf` decodes into, or
/// `None` when `buf` is not well-formed (the decoder then reports why).
pub fn heap_estimate(mut buf: &[u8], shape: &Shape) -> Option<usize> {
    let mut total = 0usize;
    while !buf.is_empty() {
        let key = varint(&mut buf)?;
        let (number, wire_type) = (u32::try_from(key >> 3).ok()?, key & 7);
        let field = shape.0.iter().find(|(n, _)| *n == number).map(|(_, f)| f);
        let value: &[u8] = match wire_type {
            VARINT => {
                varint(&mut buf)?;
                &[]
            }
            FIXED64 | FIXED32 => {
                let n = if wire_type == FIXED64 { 8 } else { 4 };
                buf = buf.get(n..)?;
                &[]
            }
            LEN => {
                let len = usize::try_from(varint(&mut buf)?).ok()?;
                let (value, rest) = (buf.get(..len)?, buf.get(len..)?);
                buf = rest;
                value
            }
            _ => return None,
        };
        total = total.saturating_add(match (field, wire_type) {
            (None, _) => 0,
            (Some(Field::Message { each, shape }), LEN) => {
                each.saturating_add(heap_estimate(value, shape)?)
            }
            (Some(Field::Bytes { each }), LEN) => each.saturating_add(value.len()),
            // Packed: one element per varint (a byte without the high bit
            // ends one), or per 4 bytes of a fixed-width scalar.
            (Some(Field::Scalars { each }), LEN) if *each == 4 => value.len(),
            (Some(Field::Scalars { each }), LEN) => {
                each * value.iter().filter(|b| **b & 0x80 == 0).count()
            }
            (Some(Field::Scalars { each }), _) => *each,
            (Some(_), _) => return None,
        });
    }
    Some(total)
}

/// [`heap_estimate`] against the limit: `RESOURCE_EXHAUSTED` above it.
fn check_amplification<U: Decoded>(buf: &[u8]) -> Result<(), Status> {
    let Some(heap) = heap_estimate(buf, U::SHAPE) else {
        return Ok(());
    };
    let limit = DECODE_FLOOR.max(buf.len().saturating_mul(DECODE_AMPLIFICATION));
    if heap > limit {
        let name = std::any::type_name::<U>().rsplit("::").next().unwrap_or("");
        return Err(Status::resource_exhausted(format!(
            "this {name} of {} bytes would take about {heap} bytes of memory to decode, more \
             than {DECODE_AMPLIFICATION}x its size (it holds very many empty or tiny \
             elements); send fewer elements per request",
            buf.len()
        )));
    }
    Ok(())
}

/// The `waypoint.v1` codec (see the module docs); named by the generated
/// clients and servers.
#[derive(Debug)]
pub struct WaypointCodec<T, U>(PhantomData<(T, U)>);

impl<T, U> Default for WaypointCodec<T, U> {
    fn default() -> Self {
        WaypointCodec(PhantomData)
    }
}

impl<T, U> Codec for WaypointCodec<T, U>
where
    T: Message + Send + 'static,
    U: Decoded + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = tonic_prost::ProstEncoder<T>;
    type Decoder = WaypointDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        tonic_prost::ProstEncoder::default()
    }

    fn decoder(&mut self) -> Self::Decoder {
        WaypointDecoder(PhantomData)
    }
}

/// Decodes `U` after the memory check; bad protobuf is `INVALID_ARGUMENT`.
#[derive(Debug)]
pub struct WaypointDecoder<U>(PhantomData<U>);

impl<U: Decoded> Decoder for WaypointDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        // tonic hands over one contiguous message; if it ever did not, the
        // check is skipped rather than copying.
        if buf.chunk().len() == buf.remaining() {
            check_amplification::<U>(buf.chunk())?;
        }
        U::decode(buf).map(Some).map_err(|e| {
            Status::invalid_argument(format!("the request is not a valid protobuf message: {e}"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_points_are_refused_and_real_points_pass() {
        let empty = pb::UpsertRequest {
            collection: "c".into(),
            points: vec![pb::Point::default(); 3_000_000],
        };
        let bytes = empty.encode_to_vec();
        let err = check_amplification::<pb::UpsertRequest>(&bytes).unwrap_err();
        assert_eq!(err.code(), tonic::Code::ResourceExhausted);
        assert!(err.message().contains("UpsertRequest"), "{}", err.message());

        let real = pb::UpsertRequest {
            collection: "c".into(),
            points: (0..20_000)
                .map(|id| pb::Point {
                    id,
                    vector: vec![0.5; 8],
                    payload: None,
                })
                .collect(),
        };
        check_amplification::<pb::UpsertRequest>(&real.encode_to_vec()).unwrap();
    }

    #[test]
    fn the_estimate_counts_nested_and_packed_fields() {
        let ids = pb::GetPointsRequest {
            collection: String::new(),
            ids: vec![1, 2, 300],
            ..Default::default()
        };
        assert_eq!(
            heap_estimate(&ids.encode_to_vec(), pb::GetPointsRequest::SHAPE),
            Some(24)
        );
        let keywords = pb::CountRequest {
            filter: Some(pb::Filter {
                must: vec![pb::Condition {
                    condition: Some(pb::condition::Condition::Match(pb::Match {
                        key: "k".into(),
                        value: Some(pb::r#match::Value::AnyKeyword(pb::Keywords {
                            values: vec!["ab".into(), String::new()],
                        })),
                    })),
                }],
                ..Default::default()
            }),
            ..Default::default()
        };
        let expected = size_of::<pb::Condition>() + 2 * size_of::<String>() + 2;
        assert_eq!(
            heap_estimate(&keywords.encode_to_vec(), pb::CountRequest::SHAPE),
            Some(expected)
        );
        assert_eq!(
            heap_estimate(&[0x0a, 0x05, 1], pb::CountRequest::SHAPE),
            None
        );
    }
}
