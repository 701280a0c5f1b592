//! Any bytes into `Blob::decode`: never panics, and whatever parses encodes
//! back to exactly the same bytes (one encoding per blob).
#![no_main]

use broker_core::blob::Blob;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(blob) = Blob::decode(data) {
        let again = blob.encode().expect("a decoded blob encodes");
        assert_eq!(again, data);
        assert_eq!(Blob::decode(&again).expect("round trip"), blob);
    }
});
