package evalproof

import (
	"encoding/json"
	"strings"
)

func jsonMarshal(v any) (json.RawMessage, error) { return json.Marshal(v) }

func cutRepo(repo string) (string, string, bool) {
	ns, name, ok := strings.Cut(repo, "/")
	return ns, name, ok && ns != "" && name != "" && !strings.Contains(name, "/")
}
