// Package chopsticks starts @acala-network/chopsticks (installed from npm)
// as a local subtensor node on 127.0.0.1, running the runtime found in a raw
// chain spec, for integration tests of chain/substrate and chain/chaintest.
//
// The node is a child process; Stop kills it by PID. Blocks are built
// instantly for each submitted extrinsic (build-block-mode Instant).
package chopsticks

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/coldint/coldint/chain"
)

// DefaultBalance is the free balance (rao) given to every funded account.
const DefaultBalance = "1000000000000000000"

var listenRe = regexp.MustCompile(`RPC listening on http://(127\.0\.0\.1:\d+)`)

// Config describes the node to start.
type Config struct {
	// Genesis is the path of the raw chain spec (read in place).
	Genesis string
	// NodeModules is the node_modules folder holding @acala-network/chopsticks.
	NodeModules string
	// Node is the node binary (default "node" from PATH).
	Node string
	// Sudo becomes the sudo key when non-zero.
	Sudo chain.AccountID
	// Funded accounts get DefaultBalance.
	Funded []chain.AccountID
	// Log receives the node's output (default: discarded, kept for errors).
	Log io.Writer
	// StartTimeout bounds the wait for "RPC listening" (default 60 s).
	StartTimeout time.Duration
}

// Node is a running chopsticks process.
type Node struct {
	// URL is the WebSocket endpoint (ws://127.0.0.1:port).
	URL string
	// HTTPURL is the HTTP JSON-RPC endpoint on the same port.
	HTTPURL string

	cmd  *exec.Cmd
	dir  string
	done chan struct{}
	once sync.Once
	tail *tailBuffer
}

// Script returns the path of chopsticks' entry script under nodeModules.
func Script(nodeModules string) string {
	return filepath.Join(nodeModules, "@acala-network", "chopsticks", "chopsticks.cjs")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Start writes a config, starts chopsticks on a free 127.0.0.1 port and
// waits until it listens.
func Start(ctx context.Context, cfg Config) (*Node, error) {
	if _, err := os.Stat(cfg.Genesis); err != nil {
		return nil, fmt.Errorf("start chopsticks: genesis: %w", err)
	}
	script := Script(cfg.NodeModules)
	if _, err := os.Stat(script); err != nil {
		return nil, fmt.Errorf("start chopsticks: %w", err)
	}
	if cfg.Node == "" {
		cfg.Node = "node"
	}
	if cfg.StartTimeout == 0 {
		cfg.StartTimeout = 60 * time.Second
	}
	port, err := freePort()
	if err != nil {
		return nil, fmt.Errorf("start chopsticks: pick port: %w", err)
	}
	dir, err := os.MkdirTemp("", "coldint-chopsticks-")
	if err != nil {
		return nil, fmt.Errorf("start chopsticks: %w", err)
	}
	genesis, err := filepath.Abs(cfg.Genesis)
	if err != nil {
		return nil, fmt.Errorf("start chopsticks: %w", err)
	}
	var y strings.Builder
	fmt.Fprintf(&y, "genesis: %q\nhost: 127.0.0.1\nport: %d\nbuild-block-mode: Instant\nimport-storage:\n", genesis, port)
	if !cfg.Sudo.IsZero() {
		fmt.Fprintf(&y, "  Sudo: { Key: %s }\n", cfg.Sudo)
	}
	if len(cfg.Funded) > 0 {
		y.WriteString("  System:\n    Account:\n")
		for _, a := range cfg.Funded {
			fmt.Fprintf(&y, "      - [[%s], {providers: 1, data: {free: '%s'}}]\n", a, DefaultBalance)
		}
	}
	cfgPath := filepath.Join(dir, "chain.yml")
	if err := os.WriteFile(cfgPath, []byte(y.String()), 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start chopsticks: %w", err)
	}
	n := &Node{
		URL:     fmt.Sprintf("ws://127.0.0.1:%d", port),
		HTTPURL: fmt.Sprintf("http://127.0.0.1:%d", port),
		dir:     dir,
		done:    make(chan struct{}),
		tail:    &tailBuffer{max: 8 << 10},
	}
	cmd := exec.Command(cfg.Node, script, "-c", cfgPath)
	cmd.Dir = dir
	setParentDeath(cmd)
	cmd.Env = append(os.Environ(), "NO_COLOR=1", "LOG_LEVEL=info")
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start chopsticks: %w", err)
	}
	n.cmd = cmd
	slog.Debug("chopsticks: started", "pid", cmd.Process.Pid, "port", port)
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		var once sync.Once
		for sc.Scan() {
			line := sc.Text()
			n.tail.add(line)
			if cfg.Log != nil {
				fmt.Fprintln(cfg.Log, line)
			}
			// chopsticks moves to the next port when the one asked for is
			// taken, so the address comes from its "RPC listening on" line.
			if m := listenRe.FindStringSubmatch(line); m != nil {
				once.Do(func() {
					n.URL, n.HTTPURL = "ws://"+m[1], "http://"+m[1]
					close(ready)
				})
			}
		}
		io.Copy(io.Discard, pr)
	}()
	go func() {
		cmd.Wait()
		pw.Close()
		close(n.done)
	}()
	timer := time.NewTimer(cfg.StartTimeout)
	defer timer.Stop()
	select {
	case <-ready:
		return n, nil
	case <-n.done:
		n.Stop()
		return nil, fmt.Errorf("start chopsticks: exited before listening: %s", n.tail.String())
	case <-timer.C:
		n.Stop()
		return nil, fmt.Errorf("start chopsticks: not listening after %s: %s", cfg.StartTimeout, n.tail.String())
	case <-ctx.Done():
		n.Stop()
		return nil, fmt.Errorf("start chopsticks: %w", ctx.Err())
	}
}

// Stop kills the process (by its PID) and removes its scratch folder.
func (n *Node) Stop() error {
	var err error
	n.once.Do(func() {
		if n.cmd != nil && n.cmd.Process != nil {
			if e := n.cmd.Process.Kill(); e != nil && !errors.Is(e, os.ErrProcessDone) {
				err = fmt.Errorf("stop chopsticks: %w", e)
			}
			select {
			case <-n.done:
			case <-time.After(10 * time.Second):
			}
		}
		os.RemoveAll(n.dir)
	})
	return err
}

// Output returns the last lines the node printed.
func (n *Node) Output() string { return n.tail.String() }

type tailBuffer struct {
	mu    sync.Mutex
	lines []string
	size  int
	max   int
}

func (t *tailBuffer) add(s string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lines = append(t.lines, s)
	t.size += len(s)
	for t.size > t.max && len(t.lines) > 1 {
		t.size -= len(t.lines[0])
		t.lines = t.lines[1:]
	}
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(t.lines, "\n")
}
