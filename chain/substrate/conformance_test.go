package substrate

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/coldint/coldint/chain"
	"github.com/coldint/coldint/chain/chaintest"
	"github.com/coldint/coldint/chain/keys"
)

// chopsticksAdmin does the suite's setup on the real runtime with sudo (Alice).
type chopsticksAdmin struct {
	sudo  *Client
	owner chain.Hotkey
}

// CreateSubnet registers a network and configures it in one sudo batch.
func (a *chopsticksAdmin) CreateSubnet(ctx context.Context) (chain.NetUID, error) {
	netuid, err := a.sudo.RegisterNetwork(ctx, a.owner)
	if err != nil {
		return 0, err
	}
	m, err := a.sudo.Metadata(ctx)
	if err != nil {
		return 0, err
	}
	nu := le16(uint16(netuid))
	var calls [][]byte
	for _, s := range []struct {
		name string
		args [][]byte
	}{
		{"sudo_set_weights_set_rate_limit", [][]byte{nu, le64(0)}},
		{"sudo_set_network_registration_allowed", [][]byte{nu, boolb(true)}},
		{"sudo_set_target_registrations_per_interval", [][]byte{nu, le16(1000)}},
		{"sudo_set_max_registrations_per_block", [][]byte{nu, le16(1000)}},
		{"sudo_set_weights_min_stake", [][]byte{le64(0)}},
		{"sudo_set_min_allowed_weights", [][]byte{nu, le16(0)}},
		{"sudo_set_max_weight_limit", [][]byte{nu, le16(65535)}},
		{"sudo_set_commit_reveal_weights_enabled", [][]byte{nu, boolb(false)}},
	} {
		call, err := m.BuildCall("AdminUtils", s.name, s.args...)
		if err != nil {
			return 0, err
		}
		calls = append(calls, call)
	}
	if _, err := a.sudo.SudoBatch(ctx, calls...); err != nil {
		return 0, fmt.Errorf("configure subnet %d: %w", netuid, err)
	}
	return netuid, nil
}

func (a *chopsticksAdmin) Register(ctx context.Context, netuid chain.NetUID, hotkey chain.Hotkey) (chain.UID, error) {
	return a.sudo.Register(ctx, netuid, hotkey)
}

func (a *chopsticksAdmin) SetWeightsVersionKey(ctx context.Context, netuid chain.NetUID, key uint64) error {
	_, err := a.sudo.Sudo(ctx, "AdminUtils", "sudo_set_weights_version_key", le16(uint16(netuid)), le64(key))
	return err
}

// Advance builds n empty blocks: up to 10 one by one, more by building one
// block at height head+n (chopsticks' unsafeBlockHeight), which is what the
// runtime's block-number rate limits look at, without building every block.
func (a *chopsticksAdmin) Advance(ctx context.Context, n uint64) error {
	if n > 10 {
		head, err := a.sudo.BlockNumber(ctx)
		if err != nil {
			return err
		}
		return a.sudo.Call(ctx, nil, "dev_newBlock", map[string]uint64{"count": 1, "unsafeBlockHeight": uint64(head) + n})
	}
	return a.sudo.Call(ctx, nil, "dev_newBlock", map[string]uint64{"count": n})
}

// TestConformance runs the chaintest suite against this client and the real
// subtensor runtime under chopsticks.
func TestConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short mode: starts a chopsticks node")
	}
	chaintest.Run(t, func(t *testing.T) *chaintest.Backend {
		// The suite's hotkeys sign transactions: sharedChopsticks funds them.
		node := sharedChopsticks(t)
		bob, err := keys.FromURI("//Bob")
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		c, err := Dial(ctx, node.URL, Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		alice, err := keys.FromURI("//Alice")
		if err != nil {
			t.Fatal(err)
		}
		sudo := c.WithSigner(alice)
		if _, err := sudo.Sudo(ctx, "AdminUtils", "sudo_set_network_rate_limit", le64(0)); err != nil {
			t.Fatal(err)
		}
		return &chaintest.Backend{
			Reader:          c,
			As:              func(s chain.Signer) chain.Chain { return c.WithSigner(s) },
			Admin:           &chopsticksAdmin{sudo: sudo, owner: bob.AccountID()},
			CommitRateLimit: 100,
		}
	})
}

func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}
