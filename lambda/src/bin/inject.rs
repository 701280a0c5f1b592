//! The `inject` Lambda function: see the crate docs.

use keybroker_lambda::{upstream::Limits, Injector};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    keybroker_lambda::init_logging();
    let injector = Injector::new(
        keybroker_lambda::broker_from_env().await?,
        Limits::default(),
    )?;
    let injector = &injector;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let response = injector
            .handle(event.payload, &event.context.request_id)
            .await;
        Ok::<_, Error>(serde_json::to_value(response)?)
    }))
    .await
}
