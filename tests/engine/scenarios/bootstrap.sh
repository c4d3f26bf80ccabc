#!/bin/bash
# The scenario handler as a custom runtime (provided.al2023): bash and curl speak the Runtime API, as in
# AWS's custom-runtime tutorial, and answer the actions of README.md here. Events are read with bash's own
# pattern matching (string and number fields only), so nothing but curl is needed.
set -u
API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"

if [ "${SCENARIO_INIT_FAIL:-}" = "1" ]; then
  curl -sS -o /dev/null -X POST "$API/init/error" -H "Lambda-Runtime-Function-Error-Type: InitError" \
    --data-binary '{"errorType":"InitError","errorMessage":"init failed"}'
  exit 1
fi

count=0                                   # invokes seen by this environment since its init
blocks=() held=0                          # what the hog action holds, and its size in MB
ticker=""                                 # the background ticker's pid, once started
TICKS="${TMPDIR:-/tmp}/scenario-ticks.$$" # its timestamps, one a line
HEADERS="${TMPDIR:-/tmp}/scenario-headers.$$"

now_ms() { local t=$EPOCHREALTIME; echo $(( ${t/./} / 1000 )); }

# the raw JSON value of field $1 of the event (a string with its quotes, or a number)
raw() {
  local re="\"$1\"[[:space:]]*:[[:space:]]*(\"[^\"\\\\]*\"|-?[0-9]+(\.[0-9]+)?|true|false|null)"
  [[ $EVENT =~ $re ]] && printf '%s' "${BASH_REMATCH[1]}"
}
# field $1 as text (a string without its quotes)
text() { local v; v=$(raw "$1"); v=${v#\"}; printf '%s' "${v%\"}"; }

respond() {  # -H Expect: sends a large body at once (curl would wait a second for "100 Continue")
  printf "%s" "$1" | curl -sS -o /dev/null -H "Expect:" -X POST "$API/invocation/$REQUEST_ID/response" --data-binary @-
}
fail() {
  curl -sS -o /dev/null -X POST "$API/invocation/$REQUEST_ID/error" \
    -H "Lambda-Runtime-Function-Error-Type: HandlerError" \
    --data-binary "{\"errorType\":\"HandlerError\",\"errorMessage\":\"$1\"}"
}

while true; do
  EVENT=$(curl -sS -D "$HEADERS" "$API/invocation/next")
  REQUEST_ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
  count=$((count + 1))
  case "$(text action)" in
    count) respond "{\"count\":$count}" ;;
    echo) respond "{\"echo\":$(raw value)}" ;;
    log) echo "$(text text)"; respond "{\"logged\":$(raw text)}" ;;
    sleep)
      ms=$(raw ms)
      sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
      respond "{\"slept\":$ms}" ;;
    ticker)
      if [ -z "$ticker" ]; then
        : > "$TICKS"
        ( while :; do now_ms >> "$TICKS"; sleep 0.05; done ) &
        ticker=$!
      fi
      respond '{"ticker":true}' ;;
    ticks)
      list=""
      if [ -f "$TICKS" ]; then
        while read -r t; do [[ $t =~ ^[0-9]+$ ]] && list+="${list:+,}$t"; done < "$TICKS"
      fi
      respond "{\"ticks\":[$list]}" ;;
    hog)
      mb=$(raw mb) block=x size=1
      while (( size < mb * 1024 * 1024 )); do block+=$block; size=$(( size * 2 )); done  # every page written
      blocks+=("$block") held=$(( held + mb )) block=""
      respond "{\"hogged\":$held}" ;;
    crash) exit "$(raw code)" ;;
    big)
      printf -v body '"%*s"' "$(raw bytes)" ''
      respond "$body"; body="" ;;
    fail) fail "$(text message)" ;;
    *) fail "unknown action $(text action)" ;;
  esac
done
