//! Any bytes into the strict inject and admin event parsers: never panics
//! (serde_json's recursion limit stops deep nesting).
#![no_main]

use keybroker_lambda::admin::AdminRequest;
use keybroker_lambda::contract::InjectEvent;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = serde_json::from_slice::<InjectEvent>(data);
    let _ = serde_json::from_slice::<AdminRequest>(data);
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = serde_json::from_value::<InjectEvent>(v);
    }
});
