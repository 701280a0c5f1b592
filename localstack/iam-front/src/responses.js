// Error responses in the wire formats the AWS SDKs parse: STS (awsQuery,
// XML) and KMS (awsJson1_1).

import { randomUUID } from 'node:crypto';

const xmlEscape = (s) =>
  String(s).replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]);

/** @returns {{status: number, headers: Record<string,string>, body: string}} */
export function stsError(status, code, message) {
  const requestId = randomUUID();
  const body =
    '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">' +
    `<Error><Type>Sender</Type><Code>${xmlEscape(code)}</Code><Message>${xmlEscape(message)}</Message></Error>` +
    `<RequestId>${requestId}</RequestId></ErrorResponse>`;
  return {
    status,
    headers: { 'Content-Type': 'text/xml', 'x-amzn-RequestId': requestId },
    body,
  };
}

export function stsAccessDenied(principal, roleArn) {
  return stsError(
    403,
    'AccessDenied',
    `User: ${principal} is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`,
  );
}

/** @returns {{status: number, headers: Record<string,string>, body: string}} */
export function kmsError(status, type, message) {
  return {
    status,
    headers: {
      'Content-Type': 'application/x-amz-json-1.1',
      'x-amzn-ErrorType': type,
      'x-amzn-RequestId': randomUUID(),
    },
    body: JSON.stringify({ __type: type, message }),
  };
}

export function kmsAccessDenied(principal, action, keyArn, explicit) {
  const why = explicit
    ? `with an explicit deny in a resource-based policy`
    : `because no resource-based policy allows the ${action} action`;
  return kmsError(
    400,
    'AccessDeniedException',
    `User: ${principal} is not authorized to perform: ${action} on resource: ${keyArn} ${why}`,
  );
}
