// A custom runtime for AWS Lambda's OS-only runtimes (provided.al2023), written against the Runtime API
// with Go's standard library alone: build it, name the binary `bootstrap`, ship it as the function's code.
//
// The loop every runtime runs: GET /invocation/next (blocks until an event arrives), run the handler,
// POST /invocation/{id}/response or /invocation/{id}/error, repeat. A failed init posts /init/error and exits.
//
// The handler answers lambdalab's scenario events ({"action": "count"}, "echo", "log", "sleep", "ticker",
// "ticks", "hog", "crash", "big", "fail", "env"); any other event is echoed: {"hello": <event>, "runtime": "go"}.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
)

var (
	api    = "http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API") + "/2018-06-01/runtime"
	conn   net.Conn // one HTTP/1.1 connection to the Runtime API, kept between calls (see call)
	reader *bufio.Reader
)

// State kept between invokes of one execution environment (lost when Lambda starts a new one).
var (
	count   int
	hogs    [][]byte
	mu      sync.Mutex
	ticks   = []int64{}
	ticking bool
)

type event struct {
	Action  string          `json:"action"`
	Value   json.RawMessage `json:"value"`
	Text    string          `json:"text"`
	MS      int             `json:"ms"`
	MB      int             `json:"mb"`
	Code    int             `json:"code"`
	Bytes   int             `json:"bytes"`
	Message string          `json:"message"`
	Names   []string        `json:"names"`
}

type failure struct {
	ErrorType    string `json:"errorType"`
	ErrorMessage string `json:"errorMessage"`
}

func main() {
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)
	// Init: everything before the first GET /next is Lambda's init phase.
	if os.Getenv("SCENARIO_INIT_FAIL") == "1" {
		post("/init/error", failure{"InitError", "init failed"})
		log.Print("init failed")
		os.Exit(1)
	}
	for {
		next, _ := http.NewRequest(http.MethodGet, api+"/invocation/next", nil)
		res, payload, err := call(next) // waits until an event arrives
		if err != nil {
			res, payload, err = call(next) // the connection may have been closed: once more, on a new one
		}
		if err != nil {
			log.Fatalf("GET next: %v", err)
		}
		id := res.Header.Get("Lambda-Runtime-Aws-Request-Id")
		result, fail := handle(id, payload)
		if fail != nil {
			post("/invocation/"+id+"/error", *fail)
		} else {
			post("/invocation/"+id+"/response", result)
		}
	}
}

// handle runs one event; it returns the response, or the function error to report.
func handle(id string, payload []byte) (any, *failure) {
	var e event
	_ = json.Unmarshal(payload, &e) // not an object: no action, so it is echoed
	log.Printf("%s invoke action=%q", id, e.Action)
	switch e.Action {
	case "count":
		count++
		return map[string]int{"count": count}, nil
	case "echo":
		if e.Value == nil {
			e.Value = json.RawMessage("null")
		}
		return map[string]json.RawMessage{"echo": e.Value}, nil
	case "log":
		fmt.Println(e.Text)
		return map[string]string{"logged": e.Text}, nil
	case "sleep":
		time.Sleep(time.Duration(e.MS) * time.Millisecond)
		return map[string]int{"slept": e.MS}, nil
	case "ticker":
		mu.Lock()
		defer mu.Unlock()
		if !ticking {
			ticking = true
			go tick()
		}
		return map[string]bool{"ticker": true}, nil
	case "ticks":
		mu.Lock()
		defer mu.Unlock()
		return map[string][]int64{"ticks": ticks}, nil
	case "hog":
		block := make([]byte, e.MB<<20)
		for i := 0; i < len(block); i += 4096 {
			block[i] = 1 // touch every page so the memory is really used
		}
		hogs = append(hogs, block)
		return map[string]int{"hogged": e.MB}, nil
	case "crash":
		os.Exit(e.Code)
	case "big":
		return strings.Repeat("x", e.Bytes), nil
	case "fail":
		return nil, &failure{"HandlerError", e.Message}
	case "env":
		found := map[string]*string{}
		for _, name := range e.Names {
			if value, ok := os.LookupEnv(name); ok {
				found[name] = &value
			} else {
				found[name] = nil
			}
		}
		return map[string]any{"env": found}, nil
	}
	return map[string]any{"hello": json.RawMessage(payload), "runtime": "go"}, nil
}

// tick records the wall clock every 50 ms; a frozen environment records nothing.
func tick() {
	for now := range time.NewTicker(50 * time.Millisecond).C {
		mu.Lock()
		ticks = append(ticks, now.UnixMilli())
		mu.Unlock()
	}
}

// post sends a response or an error to the Runtime API.
func post(path string, body any) {
	data, err := json.Marshal(body)
	if err != nil {
		data, _ = json.Marshal(failure{"Runtime.MarshalError", err.Error()})
		path = strings.Replace(path, "/response", "/error", 1)
	}
	req, _ := http.NewRequest(http.MethodPost, api+path, bytes.NewReader(data))
	req.Header.Set("Content-Type", "application/json")
	if f, ok := body.(failure); ok {
		req.Header.Set("Lambda-Runtime-Function-Error-Type", f.ErrorType)
	}
	res, answer, err := call(req)
	if err != nil {
		log.Fatalf("POST %s: %v", path, err)
	}
	if res.StatusCode >= 300 {
		log.Printf("POST %s: %s %s", path, res.Status, answer)
	}
}

// call makes one request and reads its answer. A runtime makes one call at a time, so one connection,
// written and read in turn (http.Request.Write, http.ReadResponse), serves them all: no http.Client,
// whose pool hands each call between goroutines (about 0.1 ms more per invoke, measured here).
func call(req *http.Request) (*http.Response, []byte, error) {
	if conn == nil {
		c, err := net.Dial("tcp", os.Getenv("AWS_LAMBDA_RUNTIME_API"))
		if err != nil {
			return nil, nil, err
		}
		conn, reader = c, bufio.NewReader(c)
	}
	err := req.Write(conn)
	var res *http.Response
	if err == nil {
		res, err = http.ReadResponse(reader, req)
	}
	var body []byte
	if err == nil {
		body, err = io.ReadAll(res.Body)
		res.Body.Close()
	}
	if err != nil || res.Close { // the server closed it (or will): dial again next time
		conn.Close()
		conn = nil
	}
	return res, body, err
}
