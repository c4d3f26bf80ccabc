# The tutorial's function.sh, answering JSON: the event and the stage.
function handler () {
  EVENT_DATA=$1
  echo "$EVENT_DATA" 1>&2
  RESPONSE="{\"echo\": $EVENT_DATA, \"stage\": \"$STAGE\", \"runtime\": \"bash\"}"
  echo "$RESPONSE"
}
