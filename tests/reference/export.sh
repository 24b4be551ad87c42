#!/usr/bin/env bash
# The reference doc's script (../../../shared/reference/export-org-repositories-to-csv.zh.md), verbatim
# except that the host comes from $HUB instead of https://hub.docker.com, and ORG / OAT from the
# environment. Tests and benchmarks compare dockerhub-export with what this writes to ./repos.csv.
# Usage: HUB=http://127.0.0.1:8080 ORG=acme OAT=secret bash export.sh
set -u
HUB="${HUB:-https://hub.docker.com}"

TOKEN=$(
  curl -s $HUB/v2/users/login \
    -H 'Content-Type: application/json' \
    -d "{\"username\":\"$ORG\",\"password\":\"$OAT\"}" \
  | jq -r '.token'
)

PAGE_SIZE=100
URL="$HUB/v2/namespaces/$ORG/repositories?page_size=$PAGE_SIZE"

ALL=$(
  while [ -n "$URL" ] && [ "$URL" != "null" ]; do
    RESP=$(curl -s "$URL" -H "Authorization: Bearer $TOKEN")
    echo "$RESP" | jq -c '.results[]'
    URL=$(echo "$RESP" | jq -r '.next')
  done | jq -s '.'
)

echo "$ALL" | jq -r '
  (["namespace","name","is_private","last_updated","pull_count","star_count"] | @csv),
  (.[] | [
    .namespace, .name, .is_private, .last_updated, (.pull_count//0), (.star_count//0)
  ] | @csv)
' > repos.csv
