//! The `inject` Lambda function: see the crate docs.

use keybroker_lambda::edge::{destination::Destinations, init, upstream::Limits};
use keybroker_lambda::inject::catalog;
use keybroker_lambda::Injector;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::value::RawValue;

// One invocation at a time per sandbox: a single-threaded runtime does the
// same work without waking idle worker threads on every request, which was
// most of the CPU per injection (docs/BENCHMARKS.md, "Profiling").
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    init::logging();
    // A deployment setting, read once: never something a stored secret sets.
    let limits = Limits {
        destinations: Destinations::from_env()?,
        ..Limits::default()
    };
    let mut injector = Injector::new(init::broker_from_env().await?, limits)?;
    let served = init::allowed_workspaces_from_env()?;
    if let Some(served) = served.clone() {
        injector = injector.serve_only(served);
    }
    let injector = &injector;
    let served = served.as_deref();
    // Raw JSON in: the handler parses it, so any malformed event (even one
    // nested past serde's depth limit) gets a typed `invalid_request` and an
    // audit record instead of a runtime deserialization error.
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<Box<RawValue>>| async move {
            // `{"op": ...}`: the read-only catalog (lambda/src/inject/catalog.rs).
            if catalog::is_catalog_event(event.payload.get()) {
                let (broker, id) = (injector.broker(), &event.context.request_id);
                return Ok(catalog::handle(broker, served, event.payload.get(), id).await);
            }
            // The runtime kills the function at the deadline: the handler
            // caps the upstream call so the outcome record is written first.
            let deadline =
                std::time::UNIX_EPOCH + std::time::Duration::from_millis(event.context.deadline);
            let response = injector
                .handle_until(
                    event.payload.get(),
                    &event.context.request_id,
                    Some(deadline),
                )
                .await;
            Ok::<_, Error>(serde_json::to_value(response)?)
        },
    ))
    .await
}
