package properties

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Shard is one part of a campaign split across processes or machines: shard Index of Count
// (1 ≤ Index ≤ Count) plays the interleavings whose number j has j mod Count = Index-1. The
// shards of a campaign, each run with the campaign's seed and budget, together explore
// exactly the interleavings the campaign explores in one process, each once.
//
// Shards count from 1, as --shard 1/4 … 4/4 does, in results.json and in reports; a
// Kubernetes Indexed Job's JOB_COMPLETION_INDEX, which counts from 0, is shard index+1.
type Shard struct {
	Index int
	Count int
}

// ErrShard is the error of a shard that is not i/n with 1 ≤ i ≤ n.
var ErrShard = errors.New("a shard is i/n with 1 ≤ i ≤ n")

// ParseShard reads "i/n" (1 ≤ i ≤ n).
func ParseShard(s string) (Shard, error) {
	i, n, ok := strings.Cut(strings.TrimSpace(s), "/")
	index, err1 := strconv.Atoi(i)
	count, err2 := strconv.Atoi(n)
	if !ok || err1 != nil || err2 != nil {
		return Shard{}, fmt.Errorf("%w: %q", ErrShard, s)
	}
	sh := Shard{Index: index, Count: count}
	return sh, sh.Validate()
}

// ShardFromEnv reads the shard of a Kubernetes Indexed Job's pod: JOB_COMPLETION_INDEX (from
// 0) of JOB_COMPLETIONS. ok is false when JOB_COMPLETION_INDEX is not set.
func ShardFromEnv(lookup func(string) (string, bool)) (sh Shard, ok bool, err error) {
	index, ok := lookup("JOB_COMPLETION_INDEX")
	if !ok {
		return Shard{}, false, nil
	}
	count, found := lookup("JOB_COMPLETIONS")
	if !found {
		return Shard{}, true, fmt.Errorf("%w: JOB_COMPLETION_INDEX=%s without JOB_COMPLETIONS (set it to the Job's completions)", ErrShard, index)
	}
	i, err1 := strconv.Atoi(strings.TrimSpace(index))
	n, err2 := strconv.Atoi(strings.TrimSpace(count))
	if err1 != nil || err2 != nil {
		return Shard{}, true, fmt.Errorf("%w: JOB_COMPLETION_INDEX=%q, JOB_COMPLETIONS=%q", ErrShard, index, count)
	}
	sh = Shard{Index: i + 1, Count: n}
	if err := sh.Validate(); err != nil {
		return Shard{}, true, fmt.Errorf("JOB_COMPLETION_INDEX=%s, JOB_COMPLETIONS=%s: %w", index, count, err)
	}
	return sh, true, nil
}

// Validate reports whether the shard is i/n with 1 ≤ i ≤ n.
func (s Shard) Validate() error {
	if s.Count < 1 || s.Index < 1 || s.Index > s.Count {
		return fmt.Errorf("%w: %d/%d", ErrShard, s.Index, s.Count)
	}
	return nil
}

func (s Shard) String() string { return fmt.Sprintf("%d/%d", s.Index, s.Count) }

// Sharded reports whether the shard is a part of its campaign, not the whole.
func (s Shard) Sharded() bool { return s.Count > 1 }

// Owns reports whether interleaving number j is the shard's.
func (s Shard) Owns(j int) bool { return j%s.Count == s.Index-1 }

// owned is how many of the interleavings 0 … total-1 the shard owns.
func (s Shard) owned(total int) int {
	first := s.Index - 1
	if total <= first {
		return 0
	}
	return (total - first + s.Count - 1) / s.Count
}
