package substrate

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coldint/coldint/chain"
)

// fakeNode answers a few JSON-RPC methods; "drop" closes the WebSocket.
func fakeAnswer(req rpcRequest) (any, *RPCError) {
	switch req.Method {
	case "chain_getHeader":
		return map[string]string{"number": "0x0000002a"}, nil
	case "echo_params":
		return req.Params, nil
	case "fail":
		return nil, &RPCError{Code: 1010, Message: "Invalid Transaction", Data: json.RawMessage(`"Custom error: 6"`)}
	}
	return nil, &RPCError{Code: -32601, Message: "Method not found"}
}

func writeAnswer(req rpcRequest) []byte {
	res, e := fakeAnswer(req)
	out := map[string]any{"jsonrpc": "2.0", "id": req.ID}
	if e != nil {
		out["error"] = e
	} else {
		out["result"] = res
	}
	b, _ := json.Marshal(out)
	return b
}

func TestHTTPTransport(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req rpcRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, "", http.StatusBadRequest)
			return
		}
		if req.Method == "status500" {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.Write(writeAnswer(req))
	}))
	c := &Client{t: &httpTransport{url: srv.URL, client: srv.Client()}, log: discardLogger()}
	ctx := context.Background()
	n, err := c.BlockNumber(ctx)
	if err != nil || n != 42 {
		t.Fatalf("BlockNumber = %d, %v", n, err)
	}
	var params []any
	if err := c.Call(ctx, &params, "echo_params"); err != nil || params == nil || len(params) != 0 {
		t.Fatalf("params sent as %#v (%v), want []", params, err)
	}
	err = c.Call(ctx, nil, "fail")
	var re *RPCError
	if !errors.As(err, &re) || re.Code != 1010 || !strings.Contains(err.Error(), "rpc fail") {
		t.Fatalf("fail: %v", err)
	}
	if pe := poolError(err); !errors.Is(pe, chain.ErrRateLimited) || !errors.Is(pe, chain.ErrTxRejected) {
		t.Errorf("poolError = %v", pe)
	}
	if err := c.Call(ctx, nil, "status500"); !errors.Is(err, ErrConnection) {
		t.Errorf("status 500: %v", err)
	}
	srv.Close()
	if _, err := c.BlockNumber(ctx); !errors.Is(err, ErrConnection) {
		t.Errorf("closed server: %v", err)
	}
}

func TestWSTransportReconnect(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		conns.Add(1)
		defer c.CloseNow()
		for i := 0; i < 100; i++ {
			_, b, err := c.Read(r.Context())
			if err != nil {
				return
			}
			var req rpcRequest
			json.Unmarshal(b, &req)
			switch req.Method {
			case "drop":
				return
			case "hang":
				continue
			}
			c.Write(r.Context(), websocket.MessageText, writeAnswer(req))
		}
	}))
	defer srv.Close()
	url := "ws" + strings.TrimPrefix(srv.URL, "http")
	tr, err := newTransport(url)
	if err != nil {
		t.Fatal(err)
	}
	c := &Client{t: tr, log: discardLogger()}
	defer c.Close()
	ctx := context.Background()
	if n, err := c.BlockNumber(ctx); err != nil || n != 42 {
		t.Fatalf("BlockNumber = %d, %v", n, err)
	}
	// A call whose connection drops fails with ErrConnection even after the retry...
	if err := c.callOnce(ctx, nil, "drop"); !errors.Is(err, ErrConnection) {
		t.Fatalf("drop: %v", err)
	}
	// ...and the next call redials.
	if n, err := c.BlockNumber(ctx); err != nil || n != 42 {
		t.Fatalf("after drop: %d, %v", n, err)
	}
	if conns.Load() != 2 {
		t.Errorf("%d connections, want 2", conns.Load())
	}
	// Timeouts come from ctx.
	tctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if err := c.Call(tctx, nil, "hang"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("hang: %v", err)
	}
	var re *RPCError
	if err := c.Call(ctx, nil, "nope"); !errors.As(err, &re) || re.Code != -32601 {
		t.Errorf("unknown method: %v", err)
	}
}

func TestDialErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := Dial(ctx, "ftp://x", Options{}); err == nil || !strings.Contains(err.Error(), "unsupported scheme") {
		t.Errorf("ftp: %v", err)
	}
	// A port nobody listens on.
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	if _, err := Dial(ctx, "ws"+strings.TrimPrefix(url, "http"), Options{}); !errors.Is(err, ErrConnection) {
		t.Errorf("closed ws port: %v", err)
	}
	if _, err := Dial(ctx, url, Options{}); !errors.Is(err, ErrConnection) {
		t.Errorf("closed http port: %v", err)
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestPoolError(t *testing.T) {
	for _, c := range []struct {
		data string
		want error
	}{
		{`{"invalid":{"custom":6}}`, chain.ErrRateLimited},
		{`"Custom error: 10"`, chain.ErrNotRegistered},
		{`{"invalid":{"custom":3}}`, chain.ErrUnknownNetuid},
		{`{"invalid":{"stale":null}}`, errBadNonce},
		{`{"invalid":{"future":null}}`, errBadNonce},
		{`{"invalid":{"payment":null}}`, chain.ErrInsufficientBalance},
		{`{"invalid":{"badProof":null}}`, chain.ErrTxRejected},
	} {
		err := poolError(&RPCError{Method: "author_submitExtrinsic", Code: 1010, Message: "Invalid Transaction", Data: json.RawMessage(c.data)})
		if !errors.Is(err, c.want) || !errors.Is(err, chain.ErrTxRejected) {
			t.Errorf("%s: %v", c.data, err)
		}
	}
	for _, code := range []int{1013, 1014} {
		err := poolError(&RPCError{Method: "author_submitExtrinsic", Code: code, Message: "Priority is too low"})
		if !errors.Is(err, errBadNonce) {
			t.Errorf("code %d: %v", code, err)
		}
	}
}
