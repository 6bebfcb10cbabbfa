package devchain

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/coldint/coldint/chain"
	"github.com/coldint/coldint/chain/keys"
)

// The devchain's wire protocol is JSON-RPC 2.0 over HTTP POST. Reads and
// admin calls take one object parameter; writes go through
// "devchain_submit" with a payload signed by the hotkey (sr25519, the
// "substrate" context) over signPrefix+payload, which the server verifies.
//
//	devchain_blockNumber   {}                          → number
//	devchain_metagraph     {netuid}                    → chain.Metagraph
//	devchain_commitment    {netuid, hotkey}            → chain.Commitment
//	devchain_commitments   {netuid}                    → []chain.Commitment
//	devchain_weights       {netuid, uid}               → chain.Weights
//	devchain_subnets       {}                          → []SubnetInfo
//	devchain_beacon        {}                          → chain.BeaconInfo
//	devchain_createSubnet  {netuid, params}            → netuid
//	devchain_setParams     {netuid, params}            → null
//	devchain_register      {netuid, hotkey, coldkey}   → uid
//	devchain_setStake      {netuid, hotkey, rao}       → null
//	devchain_advance       {n}                         → head
//	devchain_submit        {payload, signer, signature} → inclusion block
//
// Errors carry data {"kind": K} naming the chain sentinel they wrap.

// DefaultURL is where `coldint chain serve` listens and `--network local` connects.
const DefaultURL = "http://127.0.0.1:9944"

const signPrefix = "coldint-devchain/v1:"

type rpcRequest struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      int64           `json:"id"`
	Method  string          `json:"method"`
	Params  json.RawMessage `json:"params"`
}

type rpcError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Data    *struct {
		Kind string `json:"kind"`
	} `json:"data,omitempty"`
}

type rpcResponse struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      int64           `json:"id"`
	Result  json.RawMessage `json:"result,omitempty"`
	Error   *rpcError       `json:"error,omitempty"`
}

type params struct {
	Netuid  chain.NetUID  `json:"netuid"`
	Hotkey  chain.Hotkey  `json:"hotkey"`
	Coldkey chain.Coldkey `json:"coldkey"`
	UID     chain.UID     `json:"uid"`
	Rao     uint64        `json:"rao"`
	N       uint64        `json:"n"`
	Params  *SubnetParams `json:"params"`
	// submit
	Payload   string `json:"payload"`
	Signer    string `json:"signer"`
	Signature string `json:"signature"`
}

// signedCall is the payload of devchain_submit.
type signedCall struct {
	Method  string       `json:"method"` // commit, set_weights, commit_weights, reveal_weights, commit_timelocked_weights
	Netuid  chain.NetUID `json:"netuid"`
	Data    string       `json:"data,omitempty"`
	UIDs    []chain.UID  `json:"uids,omitempty"`
	Values  []uint16     `json:"values,omitempty"`
	Salt    []uint16     `json:"salt,omitempty"`
	Version uint64       `json:"version_key,omitempty"`
	Hash    string       `json:"hash,omitempty"`
	// commit_timelocked_weights
	Commit    []byte `json:"commit,omitempty"`
	Round     uint64 `json:"reveal_round,omitempty"`
	CRVersion uint16 `json:"commit_reveal_version,omitempty"`
	Nonce     int64  `json:"nonce"` // makes payloads unique; not checked
}

var kinds = []struct {
	name string
	err  error
}{
	{"rate_limited", chain.ErrRateLimited},
	{"not_registered", chain.ErrNotRegistered},
	{"already_registered", chain.ErrAlreadyRegistered},
	{"bad_version_key", chain.ErrBadVersionKey},
	{"unknown_netuid", chain.ErrUnknownNetuid},
	{"not_found", chain.ErrNotFound},
	{"malformed_commitment", chain.ErrMalformedCommitment},
	{"invalid_weights", chain.ErrInvalidWeights},
	{"no_permit", chain.ErrNoPermit},
	{"commit_reveal_enabled", chain.ErrCommitRevealEnabled},
	{"commit_reveal", chain.ErrCommitReveal},
	{"too_large", chain.ErrTooLarge},
	{"bad_origin", chain.ErrBadOrigin},
	{"tx_rejected", chain.ErrTxRejected},
	{"bad_request", errBadRequest},
	{"closed", ErrClosed},
}

func kindName(err error) string {
	for _, k := range kinds {
		if errors.Is(err, k.err) {
			return k.name
		}
	}
	return ""
}

func kindErr(name string) error {
	for _, k := range kinds {
		if k.name == name {
			return k.err
		}
	}
	return nil
}

// Handler serves c over JSON-RPC.
type Handler struct {
	c *Chain
}

// NewHandler returns an http.Handler serving c (POST only, 1 MiB bodies).
func NewHandler(c *Chain) *Handler { return &Handler{c: c} }

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "devchain: JSON-RPC 2.0 over POST", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20+1))
	resp := rpcResponse{JSONRPC: "2.0"}
	var req rpcRequest
	switch {
	case err != nil:
		resp.Error = &rpcError{Code: -32700, Message: "read request: " + err.Error()}
	case len(body) > 1<<20:
		resp.Error = &rpcError{Code: -32600, Message: "request over 1 MiB"}
	default:
		if err := json.Unmarshal(body, &req); err != nil {
			resp.Error = &rpcError{Code: -32700, Message: "parse request: " + err.Error()}
			break
		}
		resp.ID = req.ID
		result, err := h.call(r.Context(), req.Method, req.Params)
		if err != nil {
			e := &rpcError{Code: -32000, Message: err.Error()}
			if errors.Is(err, errUnknownMethod) {
				e.Code = -32601
			}
			if k := kindName(err); k != "" {
				e.Data = &struct {
					Kind string `json:"kind"`
				}{k}
			}
			resp.Error = e
			break
		}
		resp.Result, err = json.Marshal(result)
		if err != nil {
			resp.Result = nil
			resp.Error = &rpcError{Code: -32603, Message: "encode result: " + err.Error()}
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(resp)
}

var errUnknownMethod = errors.New("unknown method")

func (h *Handler) call(ctx context.Context, method string, raw json.RawMessage) (any, error) {
	var p params
	if len(raw) > 0 && string(raw) != "null" && string(raw) != "[]" {
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, fmt.Errorf("parse params of %s: %v: %w", method, err, errBadRequest)
		}
	}
	c := h.c
	switch method {
	case "devchain_blockNumber":
		return c.BlockNumber(ctx)
	case "devchain_finalizedBlock":
		return c.FinalizedBlock(ctx)
	case "devchain_blockHash":
		return c.BlockHash(ctx, p.N)
	case "devchain_metagraph":
		return c.Metagraph(ctx, p.Netuid)
	case "devchain_commitment":
		return c.Commitment(ctx, p.Netuid, p.Hotkey)
	case "devchain_commitments":
		return c.Commitments(ctx, p.Netuid)
	case "devchain_weights":
		return c.Weights(ctx, p.Netuid, p.UID)
	case "devchain_beacon":
		return c.Beacon(ctx)
	case "devchain_subnets":
		return c.Subnets(ctx)
	case "devchain_createSubnet":
		if p.Params == nil {
			return nil, fmt.Errorf("create subnet: no params: %w", errBadRequest)
		}
		return c.CreateSubnet(ctx, p.Netuid, *p.Params)
	case "devchain_setParams":
		if p.Params == nil {
			return nil, fmt.Errorf("set params: no params: %w", errBadRequest)
		}
		return nil, c.SetParams(ctx, p.Netuid, *p.Params)
	case "devchain_register":
		return c.Register(ctx, p.Netuid, p.Hotkey, p.Coldkey)
	case "devchain_setStake":
		return nil, c.SetStake(ctx, p.Netuid, p.Hotkey, p.Rao)
	case "devchain_advance":
		return c.Advance(ctx, p.N)
	case "devchain_submit":
		return h.submit(ctx, p)
	}
	return nil, fmt.Errorf("%w %q", errUnknownMethod, method)
}

func (h *Handler) submit(ctx context.Context, p params) (chain.BlockNumber, error) {
	signer, err := chain.ParseAccountID(p.Signer)
	if err != nil {
		return 0, fmt.Errorf("submit: signer: %v: %w", err, chain.ErrTxRejected)
	}
	sig, err := hex.DecodeString(strings.TrimPrefix(p.Signature, "0x"))
	if err != nil || !keys.Verify(signer, []byte(signPrefix+p.Payload), sig) {
		return 0, fmt.Errorf("submit: bad signature by %s: %w", signer, chain.ErrTxRejected)
	}
	var call signedCall
	if err := json.Unmarshal([]byte(p.Payload), &call); err != nil {
		return 0, fmt.Errorf("submit: payload: %v: %w", err, errBadRequest)
	}
	a := &Account{Chain: h.c, hotkey: signer}
	switch call.Method {
	case "commit":
		return a.Commit(ctx, call.Netuid, call.Data)
	case "set_weights":
		return a.SetWeights(ctx, call.Netuid, call.UIDs, call.Values, call.Version)
	case "commit_weights":
		hb, err := hex.DecodeString(strings.TrimPrefix(call.Hash, "0x"))
		if err != nil || len(hb) != 32 {
			return 0, fmt.Errorf("submit: commit hash is not 32 hex bytes: %w", errBadRequest)
		}
		return a.CommitWeights(ctx, call.Netuid, [32]byte(hb))
	case "reveal_weights":
		return a.RevealWeights(ctx, call.Netuid, call.UIDs, call.Values, call.Salt, call.Version)
	case "commit_timelocked_weights":
		return a.CommitTimelockedWeights(ctx, call.Netuid, call.Commit, call.Round, call.CRVersion)
	}
	return 0, fmt.Errorf("submit: unknown call %q: %w", call.Method, errBadRequest)
}

// Serve serves c on ln until ctx is done, then shuts down gracefully.
func Serve(ctx context.Context, ln net.Listener, c *Chain) error {
	srv := &http.Server{
		Handler:           NewHandler(c),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve devchain: %w", err)
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		<-errc
		return nil
	}
}

// Client is a [Node] reached over HTTP (a `coldint chain serve` process).
type Client struct {
	url  string
	http *http.Client
	id   atomic.Int64
}

var _ Node = (*Client)(nil)

// RemoteError is an error returned by the devchain server; it unwraps to
// the chain sentinel it names, if any.
type RemoteError struct {
	Method  string
	Code    int
	Message string
	Kind    error
}

// Error returns the server's message.
func (e *RemoteError) Error() string { return e.Message }

// Unwrap returns the sentinel the error maps to.
func (e *RemoteError) Unwrap() error { return e.Kind }

// Dial connects to a devchain server at url (e.g. [DefaultURL]) and checks
// that it answers.
func Dial(ctx context.Context, url string) (*Client, error) {
	c := &Client{url: strings.TrimRight(url, "/"), http: &http.Client{Timeout: 30 * time.Second}}
	if _, err := c.BlockNumber(ctx); err != nil {
		return nil, fmt.Errorf("dial devchain %q: %w", url, err)
	}
	return c, nil
}

// URL returns the server address.
func (c *Client) URL() string { return c.url }

func (c *Client) call(ctx context.Context, method string, p any, out any) error {
	raw, err := json.Marshal(p)
	if err != nil {
		return err
	}
	body, err := json.Marshal(rpcRequest{JSONRPC: "2.0", ID: c.id.Add(1), Method: method, Params: raw})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("call %s: %w", method, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("call %s: %w", method, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("call %s: read response: %w", method, err)
	}
	var r rpcResponse
	if err := json.Unmarshal(data, &r); err != nil {
		return fmt.Errorf("call %s: http %d, not a JSON-RPC response (is this a devchain server?): %w", method, resp.StatusCode, err)
	}
	if r.Error != nil {
		e := &RemoteError{Method: method, Code: r.Error.Code, Message: r.Error.Message}
		if r.Error.Data != nil {
			e.Kind = kindErr(r.Error.Data.Kind)
		}
		return e
	}
	if out != nil {
		if err := json.Unmarshal(r.Result, out); err != nil {
			return fmt.Errorf("call %s: decode result: %w", method, err)
		}
	}
	return nil
}

// BlockNumber returns the head block.
func (c *Client) BlockNumber(ctx context.Context) (chain.BlockNumber, error) {
	var b chain.BlockNumber
	err := c.call(ctx, "devchain_blockNumber", struct{}{}, &b)
	return b, err
}

// Metagraph returns the neurons of netuid.
func (c *Client) Metagraph(ctx context.Context, netuid chain.NetUID) (*chain.Metagraph, error) {
	var mg chain.Metagraph
	if err := c.call(ctx, "devchain_metagraph", params{Netuid: netuid}, &mg); err != nil {
		return nil, err
	}
	return &mg, nil
}

// Commitment returns what hotkey committed on netuid.
func (c *Client) Commitment(ctx context.Context, netuid chain.NetUID, hotkey chain.Hotkey) (chain.Commitment, error) {
	var cm chain.Commitment
	err := c.call(ctx, "devchain_commitment", params{Netuid: netuid, Hotkey: hotkey}, &cm)
	return cm, err
}

// Commitments returns every commitment on netuid.
func (c *Client) Commitments(ctx context.Context, netuid chain.NetUID) ([]chain.Commitment, error) {
	var out []chain.Commitment
	err := c.call(ctx, "devchain_commitments", params{Netuid: netuid}, &out)
	return out, err
}

// Weights returns the weight row uid set on netuid.
func (c *Client) Weights(ctx context.Context, netuid chain.NetUID, uid chain.UID) (chain.Weights, error) {
	out := chain.Weights{}
	err := c.call(ctx, "devchain_weights", params{Netuid: netuid, UID: uid}, &out)
	return out, err
}

// Subnets lists the subnets.
func (c *Client) Subnets(ctx context.Context) ([]SubnetInfo, error) {
	var out []SubnetInfo
	err := c.call(ctx, "devchain_subnets", struct{}{}, &out)
	return out, err
}

// CreateSubnet creates a subnet.
func (c *Client) CreateSubnet(ctx context.Context, netuid chain.NetUID, p SubnetParams) (chain.NetUID, error) {
	var n chain.NetUID
	err := c.call(ctx, "devchain_createSubnet", params{Netuid: netuid, Params: &p}, &n)
	return n, err
}

// SetParams replaces the parameters of a subnet.
func (c *Client) SetParams(ctx context.Context, netuid chain.NetUID, p SubnetParams) error {
	return c.call(ctx, "devchain_setParams", params{Netuid: netuid, Params: &p}, nil)
}

// Register registers hotkey on netuid.
func (c *Client) Register(ctx context.Context, netuid chain.NetUID, hotkey chain.Hotkey, coldkey chain.Coldkey) (chain.UID, error) {
	var u chain.UID
	err := c.call(ctx, "devchain_register", params{Netuid: netuid, Hotkey: hotkey, Coldkey: coldkey}, &u)
	return u, err
}

// SetStake sets the stake of a registered hotkey.
func (c *Client) SetStake(ctx context.Context, netuid chain.NetUID, hotkey chain.Hotkey, rao uint64) error {
	return c.call(ctx, "devchain_setStake", params{Netuid: netuid, Hotkey: hotkey, Rao: rao}, nil)
}

// Advance seals n empty blocks.
func (c *Client) Advance(ctx context.Context, n uint64) (chain.BlockNumber, error) {
	var b chain.BlockNumber
	err := c.call(ctx, "devchain_advance", params{N: n}, &b)
	return b, err
}

// Close releases idle connections.
func (c *Client) Close() error {
	c.http.CloseIdleConnections()
	return nil
}

// As returns a view whose writes are signed by signer.
func (c *Client) As(signer chain.Signer) chain.Chain {
	return &RemoteAccount{Client: c, signer: signer}
}

// RemoteAccount is a [Client] whose writes are signed by one hotkey.
type RemoteAccount struct {
	*Client
	signer chain.Signer
}

var _ chain.Chain = (*RemoteAccount)(nil)

func (a *RemoteAccount) submit(ctx context.Context, call signedCall) (chain.BlockNumber, error) {
	call.Nonce = time.Now().UnixNano()
	payload, err := json.Marshal(call)
	if err != nil {
		return 0, err
	}
	sig, err := a.signer.Sign([]byte(signPrefix + string(payload)))
	if err != nil {
		return 0, fmt.Errorf("%s: %w", call.Method, err)
	}
	var b chain.BlockNumber
	err = a.call(ctx, "devchain_submit", params{
		Payload:   string(payload),
		Signer:    a.signer.AccountID().String(),
		Signature: hex.EncodeToString(sig),
	}, &b)
	return b, err
}

// Commit publishes data for the signer's hotkey.
func (a *RemoteAccount) Commit(ctx context.Context, netuid chain.NetUID, data string) (chain.BlockNumber, error) {
	return a.submit(ctx, signedCall{Method: "commit", Netuid: netuid, Data: data})
}

// SetWeights sets the signer's weight row.
func (a *RemoteAccount) SetWeights(ctx context.Context, netuid chain.NetUID, uids []chain.UID, values []uint16, versionKey uint64) (chain.BlockNumber, error) {
	return a.submit(ctx, signedCall{Method: "set_weights", Netuid: netuid, UIDs: uids, Values: values, Version: versionKey})
}

// CommitWeights publishes a commit-reveal hash.
func (a *RemoteAccount) CommitWeights(ctx context.Context, netuid chain.NetUID, hash [32]byte) (chain.BlockNumber, error) {
	return a.submit(ctx, signedCall{Method: "commit_weights", Netuid: netuid, Hash: hex.EncodeToString(hash[:])})
}

// RevealWeights reveals weights committed earlier.
func (a *RemoteAccount) RevealWeights(ctx context.Context, netuid chain.NetUID, uids []chain.UID, values, salt []uint16, versionKey uint64) (chain.BlockNumber, error) {
	return a.submit(ctx, signedCall{Method: "reveal_weights", Netuid: netuid, UIDs: uids, Values: values, Salt: salt, Version: versionKey})
}
