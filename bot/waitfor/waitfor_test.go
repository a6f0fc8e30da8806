package waitfor_test

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/outreach-org/outreach/bot/waitfor"
)

func TestCondReturnsOnceTrue(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	waitfor.Cond(t, waitfor.Default, "the third call", func() bool { return calls.Add(1) == 3 })
	if n := calls.Load(); n != 3 {
		t.Errorf("cond was called %d times, want 3: Cond must stop as soon as it holds", n)
	}
}

// fatal records what a failing Cond says, in place of a real test.
type fatal struct {
	testing.TB
	msg string
}

func (f *fatal) Helper() {}

func (f *fatal) Fatalf(format string, args ...any) { f.msg = fmt.Sprintf(format, args...) }

func TestCondFailsSayingWhat(t *testing.T) {
	t.Parallel()
	f := &fatal{TB: t}
	var calls atomic.Int32
	waitfor.Cond(f, 30*time.Millisecond, "the reply", func() bool { calls.Add(1); return false })
	if !strings.Contains(f.msg, "the reply") {
		t.Errorf("a wait that ended without the event said %q, want it to name the reply", f.msg)
	}
	if calls.Load() < 2 {
		t.Errorf("cond was called %d times, want it polled", calls.Load())
	}
}

func TestWithin(t *testing.T) {
	t.Parallel()
	if waitfor.Within(20*time.Millisecond, func() bool { return false }) {
		t.Error("Within reported true for a condition that never held")
	}
	if !waitfor.Within(waitfor.Default, func() bool { return true }) {
		t.Error("Within reported false for a condition that held at once")
	}
}
