//! The `admin` Lambda function: see the crate docs.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::value::RawValue;

// One invocation at a time per sandbox: a single-threaded runtime does the
// same work without waking idle worker threads on every request, which was
// most of the CPU per injection (docs/BENCHMARKS.md, "Profiling").
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    keybroker_lambda::edge::init::logging();
    let broker = keybroker_lambda::edge::init::broker_from_env().await?;
    let broker = &broker;
    // Raw JSON in, parsed by the handler (see bin/inject.rs).
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<Box<RawValue>>| async move {
            let caller = keybroker_lambda::admin::audit::Caller::from_context(&event.context);
            Ok::<_, Error>(
                keybroker_lambda::admin::handle(
                    broker,
                    event.payload.get(),
                    &event.context.request_id,
                    caller,
                )
                .await,
            )
        },
    ))
    .await
}
