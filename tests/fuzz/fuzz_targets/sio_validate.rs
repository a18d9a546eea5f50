//! Simple IO validation of a JSON request (`zato_host::sio::validate`): any payload
//! against any declared fields is accepted or refused with a reason, and what is
//! accepted holds every required field.
//!
//! Input: `count:u8` (modulo 9) fields, each `kind:u8 name:text` (kind: the low 3 bits
//! modulo 7 pick the type, bit 7 makes it required), then the payload.

#![no_main]

use zato_fuzz::Reader;
use zato_host::api::{Field, FieldType};

const TYPES: [FieldType; 7] = [
    FieldType::Any,
    FieldType::String,
    FieldType::Integer,
    FieldType::Number,
    FieldType::Boolean,
    FieldType::Object,
    FieldType::Array,
];

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut input = Reader(data);
    let fields: Vec<Field> = (0..input.byte() % 9)
        .map(|_| {
            let kind = input.byte();
            Field {
                name: input.text(),
                kind: TYPES[usize::from(kind & 7) % TYPES.len()],
                required: kind & 0x80 != 0,
            }
        })
        .collect();
    let payload = input.rest();
    match zato_host::sio::validate(payload, &fields) {
        Ok(()) => check_accepted(payload, &fields),
        Err(reason) => assert!(!reason.is_empty(), "a refusal says why"),
    }
});

/// An accepted payload is blank with no field required, or a JSON object holding every
/// required field, not null.
fn check_accepted(payload: &[u8], fields: &[Field]) {
    let required = fields.iter().filter(|f| f.required);
    if payload.iter().all(u8::is_ascii_whitespace) {
        assert_eq!(required.count(), 0, "a blank payload was accepted");
        return;
    }
    let value: serde_json::Value =
        serde_json::from_slice(payload).expect("an accepted payload is JSON");
    let object = value.as_object().expect("an accepted payload is an object");
    for field in required {
        assert!(
            object.get(&field.name).is_some_and(|v| !v.is_null()),
            "accepted without the required field `{}`",
            field.name
        );
    }
}
