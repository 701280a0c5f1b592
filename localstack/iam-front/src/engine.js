// One code path for every policy decision the front makes: the core engine
// of @cloud-copilot/iam-simulate, called directly.
//
// Why not the package's public runSimulation(): it validates context keys
// against its service data and only accepts variable keys written after a
// "/", so `kms:EncryptionContext:workspace` lands in ignoredContextKeys and
// every grant conditioned on it is denied. runUnsafeSimulation() crashes on a
// resource policy without a name. The core engine's authorize() evaluates the
// context exactly as given. Its files are not part of the package's public
// exports, so they are imported by path next to the resolved entry point;
// package.json pins the exact version these paths were read from.

import { loadPolicy, validateIdentityPolicy, validateResourcePolicy } from '@cloud-copilot/iam-policy';

const simulateRoot = new URL('./', import.meta.resolve('@cloud-copilot/iam-simulate'));
const internal = (path) => import(new URL(path, simulateRoot).href);

const { authorize } = await internal('core_engine/CoreSimulatorEngine.js');
const { AwsRequestImpl } = await internal('request/request.js');
const { RequestContextImpl } = await internal('requestContext.js');
const { DiscoveryContextKeyConstraints } = await internal(
  'context_keys/discoveryContextKeyConstraints.js',
);

if (
  typeof authorize !== 'function' ||
  typeof AwsRequestImpl !== 'function' ||
  typeof RequestContextImpl !== 'function' ||
  typeof DiscoveryContextKeyConstraints !== 'function'
) {
  throw new Error('iam-simulate internals moved: check the pinned version in package.json');
}

// An account's root user may do anything its own account's IAM allows: in
// AWS its identity permissions are implicitly everything. Given as an
// identity policy, the engine applies AWS's rules around it (same-account
// key policies that delegate to IAM allow it; cross-account resources still
// need their resource policy to name the account).
export const ROOT_IDENTITY_POLICY = Object.freeze({
  Version: '2012-10-17',
  Statement: [{ Sid: 'RootUser', Effect: 'Allow', Action: '*', Resource: '*' }],
});

/**
 * Evaluate one request the way AWS does: the caller's identity policies,
 * its permissions boundaries and one resource policy (a key policy or a role
 * trust policy) together, same-account and cross-account rules included, an
 * explicit Deny anywhere beating every Allow.
 *
 * @param {object} req
 * @param {{principal: string, principalArn?: string, account?: string, kind: 'root'|'session'|'service', sourceIdentity?: string}} req.caller
 *   principal: the ARN the request is made as (account root or assumed-role
 *   session) or a service principal name; principalArn: aws:PrincipalArn
 *   (the role for a session).
 * @param {string} req.action e.g. "kms:Decrypt"
 * @param {string} req.resourceArn
 * @param {string} req.resourceAccount
 * @param {object|null} req.policy the resource policy document (parsed JSON), or null when the resource has none
 * @param {string} req.policyName
 * @param {{identityPolicies: object[], permissionBoundaries?: object[]}} req.permissions
 *   the caller's identity policies (role inline and attached managed
 *   policies; the root user's implicit allow-all) and permissions boundary.
 * @param {Record<string, string|string[]>} req.context request-specific
 *   context keys (the aws:Principal* keys are added here)
 * @returns {{allowed: boolean, result: string, detail?: string}}
 */
export function evaluate(req) {
  const invalid = [
    ...(req.policy ? validateResourcePolicy(req.policy) : []).map((e) => `${req.policyName}: ${e.path} ${e.message}`),
    ...req.permissions.identityPolicies.flatMap((p, i) =>
      validateIdentityPolicy(p).map((e) => `identity policy ${i}: ${e.path} ${e.message}`),
    ),
    ...(req.permissions.permissionBoundaries ?? []).flatMap((p) =>
      validateIdentityPolicy(p).map((e) => `permissions boundary: ${e.path} ${e.message}`),
    ),
  ];
  if (invalid.length > 0) {
    // The engine assumes validated input: an invalid policy allows nothing.
    return { allowed: false, result: 'InvalidPolicy', detail: invalid.join('; ') };
  }
  const context = { ...req.context };
  if (req.caller.kind === 'service') {
    context['aws:PrincipalServiceName'] = req.caller.principal;
  } else {
    context['aws:PrincipalArn'] = req.caller.principalArn;
    context['aws:PrincipalAccount'] = req.caller.account;
    context['aws:PrincipalType'] = req.caller.kind === 'root' ? 'Account' : 'AssumedRole';
    // Sticky for the whole session (and its role chain), as in AWS.
    if (req.caller.sourceIdentity !== undefined) context['aws:SourceIdentity'] = req.caller.sourceIdentity;
  }
  const boundaries = req.permissions.permissionBoundaries;
  const analysis = authorize({
    request: new AwsRequestImpl(
      req.caller.principal,
      { resource: req.resourceArn, accountId: req.resourceAccount },
      req.action,
      new RequestContextImpl(context),
      false,
    ),
    sessionPolicy: undefined,
    identityPolicies: req.permissions.identityPolicies.map((p, i) => loadPolicy(p, { name: `identity-${i}` })),
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    resourcePolicy: req.policy ? loadPolicy(req.policy, { name: req.policyName }) : undefined,
    permissionBoundaries:
      boundaries && boundaries.length > 0 ? boundaries.map((p, i) => loadPolicy(p, { name: `boundary-${i}` })) : undefined,
    vpcEndpointPolicies: undefined,
    simulationParameters: {
      simulationMode: 'Strict',
      discoveryContextKeyConstraints: new DiscoveryContextKeyConstraints([]),
    },
  });
  return { allowed: analysis.result === 'Allowed', result: analysis.result };
}
