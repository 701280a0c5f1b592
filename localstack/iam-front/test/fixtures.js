// Shared fixtures of the front's node tests: account ids, ARNs and the
// policies the customer module and the broker infra ship
// (terraform/policies/*.tftpl, infra/policies/*.tftpl), rendered the way
// Terraform's templatefile() does.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

const REPO = new URL('../../../', import.meta.url);

/** Render one template with `${name}` placeholders; every placeholder must be given. */
export function render(template, vars) {
  let text = readFileSync(new URL(template, REPO), 'utf8');
  for (const [k, v] of Object.entries(vars)) text = text.replaceAll(`\${${k}}`, v);
  assert.ok(!text.includes('${'), `unrendered placeholder in ${template}`);
  return JSON.parse(text);
}

export const BROKER = '111111111111';
export const CUSTOMER = '222222222222';
export const ROLE_ARN = `arn:aws:iam::${CUSTOMER}:role/keybroker/KeybrokerAccess`;
export const KEY_ARN = `arn:aws:kms:us-east-1:${CUSTOMER}:key/0b6c6a43-8a4f-4b8e-9d3c-2f1e0d9c8b7a`;
export const WS = 'acme-prod';
export const EXTERNAL_ID = 'kb-1f7e0c0a9d6b4e1c8a2f3d5b7c9e1a3b';
export const INJECT_ROLE_ARN = `arn:aws:iam::${BROKER}:role/keybroker-inject`;
export const ADMIN_ROLE_ARN = `arn:aws:iam::${BROKER}:role/keybroker-admin`;

export const trustPolicy = (externalId = EXTERNAL_ID, principals = [`arn:aws:iam::${BROKER}:root`]) =>
  render('terraform/policies/trust-policy.json.tftpl', {
    broker_principal_arns_json: JSON.stringify(principals),
    external_id: externalId,
  });

export function keyPolicy({ brokerAccess = true, workspace = WS, admins = [`arn:aws:iam::${CUSTOMER}:root`] } = {}) {
  const statement = brokerAccess
    ? ',' +
      JSON.stringify(
        render('terraform/policies/broker-key-statement.json.tftpl', { broker_role_arn: ROLE_ARN, workspace_id: workspace }),
      )
    : '';
  return render('terraform/policies/key-policy.json.tftpl', {
    partition: 'aws',
    account_id: CUSTOMER,
    key_admins_json: JSON.stringify(admins),
    broker_account_ids_json: JSON.stringify([BROKER]),
    broker_role_arn: ROLE_ARN,
    workspace_id: workspace,
    broker_statement: statement,
    session_cutoff_statement: '',
  });
}

/** The inject function's identity policy (infra/policies), allowed to assume `customerRoles`. */
export const injectRolePolicy = (customerRoles = [ROLE_ARN], platformKeys = []) =>
  render('infra/policies/inject-role-policy.json.tftpl', {
    table_arn: `arn:aws:dynamodb:us-east-1:${BROKER}:table/keybroker`,
    platform_key_arns_json: JSON.stringify(platformKeys.length ? platformKeys : [`arn:aws:kms:us-east-1:${BROKER}:key/00000000-0000-0000-0000-000000000000`]),
    customer_role_arns_json: JSON.stringify(customerRoles),
    log_group_arn: `arn:aws:logs:us-east-1:${BROKER}:log-group:/aws/lambda/keybroker-inject`,
  });
