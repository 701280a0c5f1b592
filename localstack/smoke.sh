#!/usr/bin/env bash
# Smoke test of a running local stack (start it first with start.sh):
#   localstack/smoke.sh
# Checks KMS (create key, encryption context, DisableKey), DynamoDB on moto
# (create table, conditional write), and cross-account STS AssumeRole into a
# customer account (222222222222), including which account LocalStack
# attributes to calls made with the assumed-role credentials, and that the
# IAM front (AWS_ENDPOINT_URL) enforces trust policies and key policies.
# Leaves its resources behind (the stack keeps no state across restarts).
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ -x "$LS_VENV/bin/python" ]] || die "not installed: run localstack/install.sh"
if ! live_pid localstack "$LS_PATTERN" >/dev/null || ! live_pid moto "$MOTO_PATTERN" >/dev/null \
  || ! live_pid iam-front "$FRONT_PATTERN" >/dev/null; then
  die "the stack is not running: start it with: eval \"\$(localstack/start.sh)\""
fi
eval "$("$STACK_SCRIPT_DIR/env.sh")"

exec "$LS_VENV/bin/python" - <<'PY'
import json, os, sys, uuid
import boto3
from botocore.exceptions import ClientError

BROKER, CUSTOMER = "111111111111", "222222222222"
DDB = os.environ["AWS_ENDPOINT_URL_DYNAMODB"]
checks = 0

def client(svc, ak=BROKER, sk="test", token=None, **kw):
    return boto3.client(svc, aws_access_key_id=ak, aws_secret_access_key=sk,
                        aws_session_token=token, **kw)

def check(cond, what):
    global checks
    checks += 1
    if not cond:
        print(f"smoke: FAILED: {what}", file=sys.stderr)
        sys.exit(1)
    print(f"smoke: ok: {what}")

def error_code(fn):
    try:
        fn()
    except ClientError as e:
        return e.response["Error"]["Code"]
    return None

run = uuid.uuid4().hex[:8]

# KMS in the broker account
kms = client("kms")
key = kms.create_key(Description=f"smoke {run}")["KeyMetadata"]
check(key["Arn"].startswith(f"arn:aws:kms:us-east-1:{BROKER}:key/"), f"KMS CreateKey -> {key['Arn']}")
ct = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"secret", EncryptionContext={"c": "1"})["CiphertextBlob"]
check(kms.decrypt(CiphertextBlob=ct, EncryptionContext={"c": "1"})["Plaintext"] == b"secret", "KMS Encrypt/Decrypt round trip")
check(error_code(lambda: kms.decrypt(CiphertextBlob=ct, EncryptionContext={"c": "2"})) == "InvalidCiphertextException",
      "KMS rejects a wrong encryption context")
kms.disable_key(KeyId=key["KeyId"])
check(error_code(lambda: kms.decrypt(CiphertextBlob=ct, EncryptionContext={"c": "1"})) == "DisabledException",
      "KMS rejects Decrypt with a disabled key")

# DynamoDB on moto
ddb = client("dynamodb", endpoint_url=DDB)
table = f"smoke-{run}"
ddb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                 KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                 AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
check(table in ddb.list_tables()["TableNames"], f"DynamoDB CreateTable/ListTables on {DDB}")
put = lambda: ddb.put_item(TableName=table, Item={"pk": {"S": "a"}}, ConditionExpression="attribute_not_exists(pk)")
put()
check(error_code(put) == "ConditionalCheckFailedException", "DynamoDB enforces condition expressions")

# Cross-account: role in the customer account, assumed with broker credentials
check(client("sts").get_caller_identity()["Account"] == BROKER, "STS: static key 111111111111 is the broker account")
role_name = f"keybroker-smoke-{run}"
trust = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{BROKER}:root"},
    "Action": "sts:AssumeRole",
    "Condition": {"StringEquals": {"sts:ExternalId": "smoke-external-id"}}}]}
role = client("iam", ak=CUSTOMER).create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]
check(role["Arn"] == f"arn:aws:iam::{CUSTOMER}:role/{role_name}", f"IAM CreateRole in the customer account -> {role['Arn']}")
# The front evaluates the role's identity policies as AWS does: CreateKey needs one.
client("iam", ak=CUSTOMER).put_role_policy(RoleName=role_name, PolicyName="create-keys", PolicyDocument=json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:CreateKey", "Resource": "*"}]}))
creds = client("sts").assume_role(RoleArn=role["Arn"], RoleSessionName="smoke", ExternalId="smoke-external-id")["Credentials"]
assumed = dict(ak=creds["AccessKeyId"], sk=creds["SecretAccessKey"], token=creds["SessionToken"])
ident = client("sts", **assumed).get_caller_identity()
check(ident["Account"] == CUSTOMER and ident["Arn"] == f"arn:aws:sts::{CUSTOMER}:assumed-role/{role_name}/smoke",
      f"STS AssumeRole: assumed-role credentials act as {ident['Arn']}")
ckey = client("kms", **assumed).create_key(Description=f"customer {run}")["KeyMetadata"]
check(ckey["Arn"].startswith(f"arn:aws:kms:us-east-1:{CUSTOMER}:key/"),
      f"KMS with assumed-role credentials creates keys in the customer account -> {ckey['Arn']}")

# What the IAM front adds (LocalStack alone allows all of these)
sts = client("sts")
check(error_code(lambda: sts.assume_role(RoleArn=role["Arn"], RoleSessionName="smoke2", ExternalId="wrong")) == "AccessDenied",
      "front: AssumeRole with a wrong external id is denied by the trust policy")
check(error_code(lambda: sts.assume_role(RoleArn=role["Arn"], RoleSessionName="smoke3")) == "AccessDenied",
      "front: AssumeRole without an external id is denied by the trust policy")
check(error_code(lambda: sts.assume_role(RoleArn=f"arn:aws:iam::{CUSTOMER}:role/missing-{run}", RoleSessionName="smoke4",
                                         ExternalId="smoke-external-id")) == "AccessDenied",
      "front: AssumeRole on a role that does not exist is denied")
check(error_code(lambda: client("kms").encrypt(KeyId=ckey["Arn"], Plaintext=b"x")) == "AccessDeniedException",
      "front: the broker account cannot use a customer key whose key policy does not grant it")

print(f"smoke: all {checks} checks passed")
PY
