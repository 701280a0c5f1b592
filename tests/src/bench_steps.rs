//! The bench's steps, each recorded whatever happens to the others.
//!
//! A bench step that panics (a timed-out emulator under a burst: issue 26
//! saw `sts is unavailable: timed out` at 100 sandboxes) used to take the
//! whole run down before anything was written. Each step now runs under
//! [`Steps::run`]: a panic is caught and recorded as that step's failure
//! (`{"failed": "<message>"}` in place of its figures), the next steps run,
//! and the results file is written at the end with `failed_steps` naming
//! every step that failed. The process exits non-zero when one did.

use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures::FutureExt;
use serde_json::{json, Map, Value};

/// The outcome of each step, in order.
#[derive(Debug, Default)]
pub struct Steps {
    results: Map<String, Value>,
    failed: Vec<String>,
}

impl Steps {
    /// Run one step; its figures, or its panic message as `failed`, land
    /// under `name`.
    pub async fn run<F>(&mut self, name: &str, step: F)
    where
        F: Future<Output = Value>,
    {
        eprintln!("bench: {name}…");
        let outcome = AssertUnwindSafe(step).catch_unwind().await;
        let value = match outcome {
            Ok(v) => v,
            Err(panic) => {
                let message = panic_message(panic.as_ref());
                eprintln!("bench: step `{name}` failed: {message}");
                self.failed.push(name.to_owned());
                json!({ "failed": message })
            }
        };
        self.results.insert(name.to_owned(), value);
    }

    /// Add a figure that is not a step (machine, transport, sizes).
    pub fn insert(&mut self, name: &str, value: Value) {
        self.results.insert(name.to_owned(), value);
    }

    /// The steps that failed, in order.
    pub fn failed(&self) -> &[String] {
        &self.failed
    }

    /// Everything measured, with `failed_steps` (empty when all passed).
    pub fn into_json(mut self) -> Value {
        self.results
            .insert("failed_steps".to_owned(), json!(self.failed));
        Value::Object(self.results)
    }
}

/// The text of a panic payload (`panic!` with a literal or a format).
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic without a message".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_failed_step_is_recorded_and_the_next_still_runs() {
        let mut steps = Steps::default();
        steps.run("first", async { json!({ "n": 1 }) }).await;
        steps
            .run("second", async {
                panic!("sts is unavailable: timed out");
            })
            .await;
        steps.run("third", async { json!({ "n": 3 }) }).await;
        assert_eq!(steps.failed(), ["second"]);
        let out = steps.into_json();
        assert_eq!(out["first"]["n"], 1);
        assert_eq!(out["second"]["failed"], "sts is unavailable: timed out");
        assert_eq!(out["third"]["n"], 3);
        assert_eq!(out["failed_steps"], json!(["second"]));
    }
}
