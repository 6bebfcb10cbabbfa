package surgeon

// SlicePlan splits L layers into slices for sliced evaluation under a memory
// budget, as the reference validator does (docs/surgery.md#slice-info): with model bytes M and
// budget B, n = 1 when M ≤ B, else ⌊(M+B)/B⌋; start layers are an equal split
// built as start += ⌊(L − last)/(remaining+1)⌋. The result lists the start
// layer of each slice followed by L.
func SlicePlan(layers int, modelBytes, budget int64) []int {
	n := 1
	if budget > 0 && modelBytes > budget {
		n = int((modelBytes + budget) / budget)
	}
	n = min(n, max(layers, 1))
	starts := []int{0}
	for len(starts) < n {
		last := starts[len(starts)-1]
		remaining := n - len(starts)
		starts = append(starts, last+(layers-last)/(remaining+1))
	}
	return append(starts, layers)
}
