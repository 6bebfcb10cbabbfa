package evalproof

import (
	"fmt"
	"strings"

	"github.com/coldint/coldint/hf"
)

// HubPrefix marks a Hub dataset repo as a publishing destination:
// "hub:namespace/name".
const HubPrefix = "hub:"

// NewPublisher returns a publisher to dest: "hub:[datasets/]namespace/name"
// for a Hub dataset repo (through h), anything else a folder.
func NewPublisher(dest string, h hf.Hub) (*Publisher, error) {
	name, isHub := strings.CutPrefix(dest, HubPrefix)
	if !isHub {
		if strings.TrimSpace(dest) == "" {
			return nil, fmt.Errorf("publish destination: empty")
		}
		return &Publisher{Dir: dest}, nil
	}
	repo, err := hf.ParseTypedRepo(name, hf.DatasetRepo)
	if err != nil {
		return nil, fmt.Errorf("publish destination %q: %w", dest, err)
	}
	if h == nil {
		return nil, fmt.Errorf("publish destination %q: no hub client", dest)
	}
	return &Publisher{Hub: h, Repo: repo}, nil
}
