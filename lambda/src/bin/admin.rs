//! The `admin` Lambda function: see the crate docs.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    keybroker_lambda::init_logging();
    let broker = keybroker_lambda::broker_from_env().await?;
    let broker = &broker;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        Ok::<_, Error>(keybroker_lambda::admin::handle(broker, event.payload).await)
    }))
    .await
}
