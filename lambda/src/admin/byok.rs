//! The BYOK operations: `prepare_byok` (the external id the customer's
//! trust policy needs), `enable_byok` (the customer's role and key, checked
//! by a canary round trip before they are stored), `verify_byok` and
//! `disable_byok`. The audit record names the role and key ARNs asked for.

use broker_core::Broker;
use keybroker_contract::admin as wire;

use crate::admin::audit::Changes;
use crate::admin::error::AdminError;
use crate::admin::op::{as_reply, ws, Handler};

/// Every BYOK operation's audit target.
fn byok() -> Option<String> {
    Some("byok".to_owned())
}

impl Handler for wire::PrepareByok {
    fn describe(&self, _: &mut Changes) -> Option<String> {
        byok()
    }

    async fn run(self, broker: &Broker, _: &mut Changes) -> Result<Self::Reply, AdminError> {
        as_reply(broker.prepare_byok(&ws(&self.workspace)?).await?)
    }
}

impl Handler for wire::EnableByok {
    fn describe(&self, changes: &mut Changes) -> Option<String> {
        changes.role_arn = Some(self.role_arn.clone());
        changes.byok_key_arn = Some(self.key_arn.clone());
        changes.region = self.region.clone();
        byok()
    }

    async fn run(self, broker: &Broker, _: &mut Changes) -> Result<Self::Reply, AdminError> {
        let ws = ws(&self.workspace)?;
        let settings = broker
            .enable_byok(&ws, &self.role_arn, &self.key_arn, self.region.as_deref())
            .await?;
        as_reply(settings)
    }
}

impl Handler for wire::VerifyByok {
    fn describe(&self, _: &mut Changes) -> Option<String> {
        byok()
    }

    async fn run(self, broker: &Broker, _: &mut Changes) -> Result<Self::Reply, AdminError> {
        as_reply(broker.verify_byok(&ws(&self.workspace)?).await?)
    }
}

impl Handler for wire::DisableByok {
    fn describe(&self, _: &mut Changes) -> Option<String> {
        byok()
    }

    async fn run(self, broker: &Broker, _: &mut Changes) -> Result<Self::Reply, AdminError> {
        as_reply(broker.disable_byok(&ws(&self.workspace)?).await?)
    }
}
