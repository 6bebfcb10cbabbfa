package demorun

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"sync"
)

// LogFile is the demo folder's log of its components (chain, hub, publish,
// validator): every record at INFO and above. Warnings are also told in the
// printed report, as indented notes.
const LogFile = "demo.log"

// nameBook maps hotkeys to participant names, for the printed report.
type nameBook struct {
	mu    sync.Mutex
	byKey map[string]string
	byUID map[string]string // decimal UID → name
	rep   *strings.Replacer
}

func newNameBook() *nameBook {
	return &nameBook{byKey: map[string]string{}, byUID: map[string]string{}, rep: strings.NewReplacer()}
}

// add names a participant.
func (nb *nameBook) add(hotkey string, uid uint16, name string) {
	nb.mu.Lock()
	defer nb.mu.Unlock()
	nb.byKey[hotkey] = name
	nb.byUID[fmt.Sprint(uid)] = name
	keys := make([]string, 0, len(nb.byKey))
	for k := range nb.byKey {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var pairs []string
	for _, k := range keys {
		pairs = append(pairs, k, nb.byKey[k])
	}
	nb.rep = strings.NewReplacer(pairs...)
}

// replace puts names in place of the hotkeys in s.
func (nb *nameBook) replace(s string) string {
	nb.mu.Lock()
	defer nb.mu.Unlock()
	return nb.rep.Replace(s)
}

// uidName returns the name of a decimal UID, "" if unknown.
func (nb *nameBook) uidName(uid string) string {
	nb.mu.Lock()
	defer nb.mu.Unlock()
	return nb.byUID[uid]
}

// storyHandler is the slog handler the demo gives its components: every
// record at INFO and above goes to the log file; WARN and above also become
// an indented note of the printed report, with names in place of hotkeys.
// An extra handler (the caller's, when it asked for debug logs) receives the
// records too.
type storyHandler struct {
	file  slog.Handler
	extra slog.Handler
	mu    *sync.Mutex
	out   io.Writer
	names *nameBook
	attrs []slog.Attr
}

func newStoryHandler(logFile, out io.Writer, names *nameBook, extra slog.Handler) *storyHandler {
	return &storyHandler{file: slog.NewTextHandler(logFile, &slog.HandlerOptions{Level: slog.LevelInfo}), extra: extra,
		mu: &sync.Mutex{}, out: out, names: names}
}

func (h *storyHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelInfo || (h.extra != nil && h.extra.Enabled(ctx, l))
}

func (h *storyHandler) Handle(ctx context.Context, r slog.Record) error {
	var err error
	if r.Level >= slog.LevelInfo {
		err = h.file.Handle(ctx, r.Clone())
	}
	if h.extra != nil && h.extra.Enabled(ctx, r.Level) {
		_ = h.extra.Handle(ctx, r.Clone())
	}
	if r.Level < slog.LevelWarn {
		return err
	}
	var parts []string
	add := func(a slog.Attr) bool {
		v := a.Value.Resolve().String()
		if a.Key == "uid" {
			if n := h.names.uidName(v); n != "" {
				v += " (" + n + ")"
			}
		}
		parts = append(parts, a.Key+" "+v)
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	line := r.Message
	if len(parts) > 0 {
		line += ": " + strings.Join(parts, ", ")
	}
	kind := "note"
	if r.Level >= slog.LevelError {
		kind = "error"
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, werr := fmt.Fprintf(h.out, "          %s: %s\n", kind, h.names.replace(line)); err == nil {
		err = werr
	}
	return err
}

func (h *storyHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.file = h.file.WithAttrs(as)
	if h.extra != nil {
		c.extra = h.extra.WithAttrs(as)
	}
	c.attrs = append(append([]slog.Attr(nil), h.attrs...), as...)
	return &c
}

func (h *storyHandler) WithGroup(name string) slog.Handler {
	c := *h
	c.file = h.file.WithGroup(name)
	if h.extra != nil {
		c.extra = h.extra.WithGroup(name)
	}
	return &c
}
