# The tutorial's handler (AWS Lambda Developer Guide, "Tutorial: Building a custom runtime"; MIT-0):
# logs the event to stderr and answers with a line quoting it.
function handler () {
  EVENT_DATA=$1
  echo "$EVENT_DATA" 1>&2;
  RESPONSE="Echoing request: '$EVENT_DATA'"

  echo $RESPONSE
}
