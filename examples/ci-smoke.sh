#!/usr/bin/env bash
# A smoke test of the kind a CI job runs after deploying legato-pay: drive the CLI with
# --output json on a scratch SQLite database, check results and exit statuses, and exit non-zero
# on any surprise. Usage: examples/ci-smoke.sh  (LEGATOPAY_BIN=path/to/legato-pay picks a binary;
# LEGATO_* variables are configuration, so the script's own variable is named otherwise)
set -euo pipefail

CLI=${LEGATOPAY_BIN:-legato-pay}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export LEGATO_DATABASE_URL="sqlite:///$work/smoke.db"
export LEGATO_ACTOR=ci-smoke
run() { "$CLI" --output json "$@"; }
# field JSON PATH: print one field of a JSON document (python, so no jq needed)
field() { python3 -c 'import json,sys; d=json.loads(sys.argv[1])
for p in sys.argv[2].split("."): d=d[int(p)] if p.isdigit() else d[p]
print(json.dumps(d) if isinstance(d,(dict,list)) else d)' "$1" "$2"; }
fail() { echo "SMOKE FAILED: $*" >&2; exit 1; }
expect() { [[ "$1" == "$2" ]] || fail "$3: expected $2, got $1"; }
# expect_status STATUS CODE -- command…: the command must exit STATUS with error CODE on stderr
expect_status() {
  local want=$1 code=$2; shift 3
  local status=0 err
  err=$(run "$@" 2>&1 >/dev/null) || status=$?
  expect "$status" "$want" "exit status of $*"
  expect "$(field "$err" error.code)" "$code" "error code of $*"
}

run users add smoke-writer --writer >/dev/null
run users add smoke-reader --email reader@example.test >/dev/null
run content add smoke-ch1 --writer smoke-writer --type chapter >/dev/null
run content add smoke-ch2 --writer smoke-writer --type chapter --price 2000 >/dev/null

purchase=$(run purchases create --user smoke-reader --package popular --key smoke-buy-1)
ref=$(field "$purchase" reference)
expect "$(field "$purchase" status)" pending "new purchase status"
verified=$(run purchases verify "$ref")
expect "$(field "$verified" credited)" True "first verify credits"
again=$(run purchases verify "$ref")
expect "$(field "$again" credited)" False "second verify credits nothing"
balance=$(run balances show --user smoke-reader)
expect "$(field "$balance" coins.total)" 1100 "coins after buying 1000 + 10% bonus"

unlock=$(run access unlock --user smoke-reader --content smoke-ch1)
expect "$(field "$unlock" charged)" 10 "chapter price"
expect "$(field "$(run access unlock --user smoke-reader --content smoke-ch1)" charged)" 0 "second unlock is free"
expect "$(field "$(run access check --user smoke-reader --content smoke-ch1)" allowed)" True "access after unlock"
expect_status 4 INSUFFICIENT_FUNDS -- access unlock --user smoke-reader --content smoke-ch2

tip=$(run tips send --from smoke-reader --to smoke-writer --coins 90 --key smoke-tip-1)
expect "$(field "$tip" coins)" 90 "tip coins"
expect "$(field "$(run balances show --user smoke-reader)" coins.total)" 1000 "coins after unlock and tip"

expect_status 3 INVALID_AMOUNT -- ledger post --from world:USD --to platform:x --amount 12.345 --currency USD
expect_status 3 INVALID_AMOUNT -- tips send --from smoke-reader --to smoke-writer --coins 1.5
expect_status 5 USER_NOT_FOUND -- balances show --user nobody
expect_status 6 IDEMPOTENCY_CONFLICT -- tips send --from smoke-reader --to smoke-writer --coins 91 --key smoke-tip-1
expect_status 3 SELF_TRANSFER -- tips send --from smoke-writer --to smoke-writer --coins 1
expect_status 3 VALIDATION_ERROR -- users add $'smoke-carol\n'

# A writer reads their own content free; their own reading never counts for the pool.
expect "$(field "$(run access unlock --user smoke-writer --content smoke-ch2)" reason)" own_content "own content"
cat > "$work/reading.csv" <<'CSV'
user,content,minutes,recorded_at
smoke-reader,smoke-ch1,12,2026-01-05T10:00:00Z
smoke-reader,smoke-ch2,30,2026-01-05T11:00:00Z
CSV
expect "$(field "$(run engagement import "$work/reading.csv")" imported)" 2 "engagement import"
expect "$(field "$(run engagement import "$work/reading.csv")" skipped)" 2 "the same file again"
expect "$(field "$(run engagement list --user smoke-reader)" totals.minutes)" 42 "minutes listed"
expect_status 3 INVALID_CSV -- engagement import /dev/zero

# Holds are released by the real clock only: nothing is due yet, and the future is refused.
expect "$(field "$(run earnings release --yes)" count)" 0 "no hold is over yet"
expect_status 3 INVALID_TIME -- earnings release --yes --now 2999-01-01T00:00:00Z

run ledger seal >/dev/null
verify=$(run ledger verify)
expect "$(field "$verify" ok)" True "ledger verify"
echo "smoke ok: purchase $ref credited once, unlock, tip, errors and ledger verify as expected"
