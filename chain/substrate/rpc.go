package substrate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// ErrConnection marks transport failures: dial errors, dropped connections,
// HTTP errors. Reads are retried once after reconnecting; writes are not.
var ErrConnection = errors.New("rpc connection failed")

// RPCError is an error object returned by the node.
type RPCError struct {
	Method  string
	Code    int             `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data,omitempty"`
}

// Error formats the node's error with the method name.
func (e *RPCError) Error() string {
	s := fmt.Sprintf("rpc %s: error %d: %s", e.Method, e.Code, e.Message)
	if len(e.Data) > 0 && string(e.Data) != "null" {
		s += ": " + string(e.Data)
	}
	return s
}

// DefaultCallTimeout bounds one RPC call when ctx has no earlier deadline.
const DefaultCallTimeout = 30 * time.Second

// maxResponse bounds one JSON-RPC response (metadata is about 360 KB of hex).
const maxResponse = 64 << 20

type rpcRequest struct {
	JSONRPC string `json:"jsonrpc"`
	ID      uint64 `json:"id"`
	Method  string `json:"method"`
	Params  []any  `json:"params"`
}

type rpcResponse struct {
	ID     *uint64         `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *RPCError       `json:"error"`
}

// transport sends one JSON-RPC call. Implementations are safe for concurrent use.
type transport interface {
	call(ctx context.Context, method string, params []any) (json.RawMessage, error)
	close() error
}

func newTransport(url string) (transport, error) {
	switch {
	case strings.HasPrefix(url, "http://"), strings.HasPrefix(url, "https://"):
		return &httpTransport{url: url, client: &http.Client{}}, nil
	case strings.HasPrefix(url, "ws://"), strings.HasPrefix(url, "wss://"):
		return &wsTransport{url: url}, nil
	}
	return nil, fmt.Errorf("dial %q: unsupported scheme (want http, https, ws or wss)", url)
}

func withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < DefaultCallTimeout {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, DefaultCallTimeout)
}

func decodeResponse(method string, body []byte) (json.RawMessage, error) {
	var r rpcResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("rpc %s: decode response: %w", method, err)
	}
	if r.Error != nil {
		r.Error.Method = method
		return nil, r.Error
	}
	return r.Result, nil
}

type httpTransport struct {
	url    string
	client *http.Client
	id     atomic.Uint64
}

func (t *httpTransport) call(ctx context.Context, method string, params []any) (json.RawMessage, error) {
	if params == nil {
		params = []any{}
	}
	body, err := json.Marshal(rpcRequest{JSONRPC: "2.0", ID: t.id.Add(1), Method: method, Params: params})
	if err != nil {
		return nil, fmt.Errorf("rpc %s: encode request: %w", method, err)
	}
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("rpc %s: %w", method, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := t.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("rpc %s: %w: %w", method, ErrConnection, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return nil, fmt.Errorf("rpc %s: read response: %w: %w", method, ErrConnection, err)
	}
	r, err := decodeResponse(method, b)
	if err != nil && resp.StatusCode != http.StatusOK {
		var re *RPCError
		if !errors.As(err, &re) {
			return nil, fmt.Errorf("rpc %s: http status %s: %w", method, resp.Status, ErrConnection)
		}
	}
	return r, err
}

func (t *httpTransport) close() error { t.client.CloseIdleConnections(); return nil }

// wsTransport multiplexes calls over one WebSocket connection and redials it
// on the next call after it drops.
type wsTransport struct {
	url string
	id  atomic.Uint64

	mu     sync.Mutex
	conn   *wsConn
	closed bool
}

type wsConn struct {
	c       *websocket.Conn
	cancel  context.CancelFunc
	done    chan struct{}
	err     error // set before done closes
	mu      sync.Mutex
	pending map[uint64]chan rpcResponse
}

func (t *wsTransport) get(ctx context.Context) (*wsConn, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, fmt.Errorf("rpc: %w: client closed", ErrConnection)
	}
	if t.conn != nil {
		select {
		case <-t.conn.done:
			slog.Debug("substrate: websocket dropped, redialing", "url", t.url, "err", t.conn.err)
			t.conn = nil
		default:
			return t.conn, nil
		}
	}
	dctx, cancel := withTimeout(ctx)
	defer cancel()
	c, _, err := websocket.Dial(dctx, t.url, nil)
	if err != nil {
		return nil, fmt.Errorf("rpc: dial %q: %w: %w", t.url, ErrConnection, err)
	}
	c.SetReadLimit(maxResponse)
	rctx, rcancel := context.WithCancel(context.Background())
	wc := &wsConn{c: c, cancel: rcancel, done: make(chan struct{}), pending: map[uint64]chan rpcResponse{}}
	go wc.readLoop(rctx)
	t.conn = wc
	return wc, nil
}

func (wc *wsConn) readLoop(ctx context.Context) {
	var err error
	for {
		var b []byte
		_, b, err = wc.c.Read(ctx)
		if err != nil {
			break
		}
		var r rpcResponse
		if json.Unmarshal(b, &r) != nil || r.ID == nil {
			continue // notifications are not used
		}
		wc.mu.Lock()
		ch := wc.pending[*r.ID]
		delete(wc.pending, *r.ID)
		wc.mu.Unlock()
		if ch != nil {
			ch <- r
		}
	}
	wc.mu.Lock()
	wc.err = err
	wc.mu.Unlock()
	close(wc.done)
	wc.c.CloseNow()
}

func (t *wsTransport) call(ctx context.Context, method string, params []any) (json.RawMessage, error) {
	if params == nil {
		params = []any{}
	}
	wc, err := t.get(ctx)
	if err != nil {
		return nil, fmt.Errorf("rpc %s: %w", method, err)
	}
	id := t.id.Add(1)
	body, err := json.Marshal(rpcRequest{JSONRPC: "2.0", ID: id, Method: method, Params: params})
	if err != nil {
		return nil, fmt.Errorf("rpc %s: encode request: %w", method, err)
	}
	ch := make(chan rpcResponse, 1)
	wc.mu.Lock()
	wc.pending[id] = ch
	wc.mu.Unlock()
	defer func() {
		wc.mu.Lock()
		delete(wc.pending, id)
		wc.mu.Unlock()
	}()
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	if err := wc.c.Write(ctx, websocket.MessageText, body); err != nil {
		wc.c.CloseNow()
		return nil, fmt.Errorf("rpc %s: write: %w: %w", method, ErrConnection, err)
	}
	select {
	case r := <-ch:
		if r.Error != nil {
			r.Error.Method = method
			return nil, r.Error
		}
		return r.Result, nil
	case <-wc.done:
		return nil, fmt.Errorf("rpc %s: %w: connection dropped: %v", method, ErrConnection, wc.err)
	case <-ctx.Done():
		return nil, fmt.Errorf("rpc %s: %w", method, ctx.Err())
	}
}

func (t *wsTransport) close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closed = true
	if t.conn != nil {
		t.conn.cancel()
		err := t.conn.c.Close(websocket.StatusNormalClosure, "")
		t.conn = nil
		return err
	}
	return nil
}
