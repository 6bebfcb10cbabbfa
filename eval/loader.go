package eval

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// MaxConfigBytes bounds a fetched competitions.json or hall_of_fame.json.
const MaxConfigBytes = 16 << 20

// DefaultFetchTimeout bounds one config fetch when the caller's client has no
// timeout of its own.
const DefaultFetchTimeout = 30 * time.Second

// Fetch reads a config location: an http:// or https:// URL (GET under ctx,
// a non-2xx status is an error) or a local file path.
func Fetch(ctx context.Context, client *http.Client, loc string) ([]byte, error) {
	if !strings.HasPrefix(loc, "https://") && !strings.HasPrefix(loc, "http://") {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		f, err := os.Open(loc)
		if err != nil {
			return nil, fmt.Errorf("fetch %q: %w", loc, err)
		}
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, MaxConfigBytes+1))
		if err != nil {
			return nil, fmt.Errorf("fetch %q: %w", loc, err)
		}
		if len(b) > MaxConfigBytes {
			return nil, fmt.Errorf("fetch %q: larger than %d bytes", loc, MaxConfigBytes)
		}
		return b, nil
	}
	if client == nil {
		client = &http.Client{Timeout: DefaultFetchTimeout}
	}
	if client.Timeout == 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultFetchTimeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, loc, nil)
	if err != nil {
		return nil, fmt.Errorf("fetch %q: %w", loc, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch %q: %w", loc, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("fetch %q: status %s", loc, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxConfigBytes+1))
	if err != nil {
		return nil, fmt.Errorf("fetch %q: %w", loc, err)
	}
	if len(b) > MaxConfigBytes {
		return nil, fmt.Errorf("fetch %q: larger than %d bytes", loc, MaxConfigBytes)
	}
	return b, nil
}

// UIDVariant returns the per-UID override location of a competitions file:
// "competitions.json" → "competitions-<uid>.json" (docs/validator.md#competitionsjson). ok is false
// when loc does not end in ".json" or uid is negative.
//
// Quirk fix: the reference does str.replace(".json", "-<uid>.json"), which
// rewrites every ".json" in the URL and refetches the same file when there is
// none; only the final suffix is replaced here.
func UIDVariant(loc string, uid int) (string, bool) {
	if uid < 0 || !strings.HasSuffix(loc, ".json") {
		return "", false
	}
	return strings.TrimSuffix(loc, ".json") + "-" + strconv.Itoa(uid) + ".json", true
}

// Loader fetches competitions.json and hall_of_fame.json, keeping the last
// good copy of each (docs/validator.md#competitionsjson, docs/validator.md#hall-of-fame). It is safe for concurrent use.
type Loader struct {
	// CompetitionsLoc and HallOfFameLoc are URLs or file paths; an empty
	// location is not fetched.
	CompetitionsLoc string
	HallOfFameLoc   string
	// UID is the validator's UID, or -1 when unknown. With a UID the loader
	// first tries the per-UID override file ([UIDVariant]) and falls back
	// silently to the generic one.
	UID int
	// Client does the HTTP fetches; nil means a client with [DefaultFetchTimeout].
	Client *http.Client
	// Interval is the refresh period of [Loader.RefreshIfDue] and [Loader.Run]
	// (default [CfgFetchInterval]).
	Interval time.Duration
	// Now returns the current time (default time.Now); tests replace it.
	Now func() time.Time
	// Logger receives refresh messages (default slog.Default()).
	Logger *slog.Logger

	mu        sync.Mutex
	cfg       *Config
	hof       HallOfFame
	lastFetch time.Time
}

// NewLoader returns a loader for the two locations with the interval and (docs/validator.md#constants-and-defaults)
// no UID.
func NewLoader(competitionsLoc, hallOfFameLoc string) *Loader {
	return &Loader{CompetitionsLoc: competitionsLoc, HallOfFameLoc: hallOfFameLoc, UID: -1, Interval: CfgFetchInterval}
}

// Set installs a config and hall of fame, e.g. the copies persisted in the
// validator state; nil values leave the current ones.
func (l *Loader) Set(cfg *Config, hof HallOfFame) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if cfg != nil {
		l.cfg = cfg
	}
	if hof != nil {
		l.hof = hof
	}
}

// Current returns the last good config and hall of fame (nil before the
// first success). Callers must not modify them.
func (l *Loader) Current() (*Config, HallOfFame) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cfg, l.hof
}

func (l *Loader) log() *slog.Logger {
	if l.Logger != nil {
		return l.Logger
	}
	return slog.Default()
}

func (l *Loader) now() time.Time {
	if l.Now != nil {
		return l.Now()
	}
	return time.Now()
}

// Refresh fetches both files now. A file that cannot be fetched or is invalid
// leaves the previous copy in force; the returned error joins the failures.
func (l *Loader) Refresh(ctx context.Context) error {
	l.mu.Lock()
	l.lastFetch = l.now()
	l.mu.Unlock()
	var errs []error
	if l.CompetitionsLoc != "" {
		cfg, err := l.fetchCompetitions(ctx)
		if err != nil {
			errs = append(errs, err)
		} else {
			l.Set(cfg, nil)
			l.log().Info("loaded competitions", "competitions", cfg.Names())
		}
	}
	if l.HallOfFameLoc != "" {
		b, err := Fetch(ctx, l.Client, l.HallOfFameLoc)
		if err == nil {
			var hof HallOfFame
			if hof, err = ParseHallOfFame(b); err == nil {
				l.Set(nil, hof)
				l.log().Info("loaded hall of fame", "hotkeys", len(hof))
			}
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		l.log().Warn("config refresh failed, keeping the last good copy", "err", err)
		return err
	}
	return nil
}

func (l *Loader) fetchCompetitions(ctx context.Context) (*Config, error) {
	if loc, ok := UIDVariant(l.CompetitionsLoc, l.UID); ok {
		if b, err := Fetch(ctx, l.Client, loc); err == nil {
			cfg, err := l.parseCompetitions(loc, b)
			if err == nil {
				return cfg, nil
			}
			l.log().Warn("per-uid competitions file invalid, using the generic one", "loc", loc, "err", err)
		} else if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	b, err := Fetch(ctx, l.Client, l.CompetitionsLoc)
	if err != nil {
		return nil, err
	}
	return l.parseCompetitions(l.CompetitionsLoc, b)
}

// parseCompetitions parses a fetched competitions file and logs what in it
// was ignored.
func (l *Loader) parseCompetitions(loc string, b []byte) (*Config, error) {
	cfg, err := ParseCompetitions(b)
	if err != nil {
		return nil, err
	}
	for _, w := range cfg.Warnings {
		l.log().Warn("competitions file: part ignored", "loc", loc, "what", w)
	}
	return cfg, nil
}

// RefreshIfDue calls [Loader.Refresh] when Interval has passed since the
// last attempt (or there was none) and reports whether it did.
func (l *Loader) RefreshIfDue(ctx context.Context) (bool, error) {
	l.mu.Lock()
	iv := l.Interval
	if iv <= 0 {
		iv = CfgFetchInterval
	}
	due := l.lastFetch.IsZero() || l.now().Sub(l.lastFetch) >= iv
	l.mu.Unlock()
	if !due {
		return false, nil
	}
	return true, l.Refresh(ctx)
}

// Run refreshes now and then every Interval until ctx is done; it returns
// ctx's error. Failures are logged and the last good copies kept.
func (l *Loader) Run(ctx context.Context) error {
	iv := l.Interval
	if iv <= 0 {
		iv = CfgFetchInterval
	}
	t := time.NewTicker(iv)
	defer t.Stop()
	for {
		_ = l.Refresh(ctx)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
