// A custom runtime speaking Lambda's Runtime API with Go's standard library only (no aws-lambda-go).
package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
)

func main() {
	api := "http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API") + "/2018-06-01/runtime/invocation/"
	for {
		next, err := http.Get(api + "next")
		if err != nil {
			fmt.Fprintln(os.Stderr, "next:", err)
			os.Exit(1)
		}
		event, _ := io.ReadAll(next.Body)
		next.Body.Close()
		id := next.Header.Get("Lambda-Runtime-Aws-Request-Id")
		body := fmt.Sprintf(`{"echo": %s, "runtime": "go", "handler": %q}`, event, os.Getenv("_HANDLER"))
		answer, err := http.Post(api+id+"/response", "application/json", bytes.NewBufferString(body))
		if err != nil {
			fmt.Fprintln(os.Stderr, "response:", err)
			os.Exit(1)
		}
		answer.Body.Close()
	}
}
