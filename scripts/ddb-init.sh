#!/usr/bin/env bash
# Creates the DynamoDB table a quotakeeper store URL names (docs/store.md, "DynamoDB"): the
# library never creates tables, so an operator runs this once per table.
#
#   scripts/ddb-init.sh 'dynamodb://TABLE?region=REGION[&endpoint=http://host:port]'
#
# The table: partition key pk (a string, the service's name), no sort key, on-demand billing.
# Credentials come from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, as for
# the library; they go to curl on its standard input, never on its command line. curl signs the
# request itself (--aws-sigv4). Exits 0 when the table was created or already exists with
# quotakeeper's key, non-zero otherwise.
set -euo pipefail

usage() { echo "usage: $0 'dynamodb://TABLE?region=REGION[&endpoint=http://host:port]'" >&2; exit 2; }
[ $# -eq 1 ] || usage
url=$1
[[ $url == dynamodb://* ]] || usage
rest=${url#dynamodb://}
table=${rest%%\?*}
query=""
[[ $rest == *\?* ]] && query=${rest#*\?}
region="" endpoint=""
IFS='&' read -r -a params <<<"$query"
for p in "${params[@]}"; do
    case $p in
        region=*) region=${p#region=} ;;
        endpoint=*) e=${p#endpoint=}; endpoint=$(printf '%b' "${e//%/\\x}") ;; # %XX decoded
        *) echo "ddb-init: unknown parameter '${p%%=*}'" >&2; exit 2 ;;
    esac
done
[[ $table =~ ^[A-Za-z0-9_.-]{3,255}$ ]] || { echo "ddb-init: bad table name '$table'" >&2; exit 2; }
[[ $region =~ ^[a-z0-9-]+$ ]] || { echo "ddb-init: region= is missing or malformed" >&2; exit 2; }
[ -n "$endpoint" ] || endpoint="https://dynamodb.$region.amazonaws.com"
: "${AWS_ACCESS_KEY_ID:?set AWS_ACCESS_KEY_ID}" "${AWS_SECRET_ACCESS_KEY:?set AWS_SECRET_ACCESS_KEY}"

call() { # operation, JSON body: prints the answer's body, then its HTTP status on its own line
    local headers=(-H "Content-Type: application/x-amz-json-1.0" -H "X-Amz-Target: DynamoDB_20120810.$1")
    [ -z "${AWS_SESSION_TOKEN:-}" ] || headers+=(-H "X-Amz-Security-Token: $AWS_SESSION_TOKEN")
    printf 'user = "%s:%s"\n' "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" |
        curl -sS -K - --aws-sigv4 "aws:amz:$region:dynamodb" "${headers[@]}" \
            --data-binary "$2" -w '\n%{http_code}\n' "$endpoint/"
}

answer=$(call CreateTable "{\"TableName\":\"$table\",
  \"AttributeDefinitions\":[{\"AttributeName\":\"pk\",\"AttributeType\":\"S\"}],
  \"KeySchema\":[{\"AttributeName\":\"pk\",\"KeyType\":\"HASH\"}],
  \"BillingMode\":\"PAY_PER_REQUEST\"}")
status=$(tail -n 1 <<<"$answer")
if [ "$status" = 200 ]; then
    echo "ddb-init: created table '$table' in $region ($endpoint)"
    exit 0
fi
if grep -q ResourceInUseException <<<"$answer"; then
    # It exists: fine if it has quotakeeper's key, which the library checks the same way.
    described=$(call DescribeTable "{\"TableName\":\"$table\"}")
    if grep -q '"KeySchema":\[{"AttributeName":"pk","KeyType":"HASH"}\]' <<<"$described"; then
        echo "ddb-init: table '$table' already exists with quotakeeper's key"
        exit 0
    fi
    echo "ddb-init: table '$table' exists with another key; pick another name" >&2
    exit 1
fi
echo "ddb-init: CreateTable failed (HTTP $status): $(head -n -1 <<<"$answer")" >&2
exit 1
