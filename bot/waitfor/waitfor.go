// Package waitfor is how tests wait for something to happen: they poll a
// condition until it holds, and fail, saying what never happened, when it
// does not hold in time. The time limit bounds a test that would otherwise
// hang; it is not a speed figure.
package waitfor

import (
	"testing"
	"time"
)

// Default is the time limit most waits use: long, since the wait ends as
// soon as the event happens, and a busy machine (the race detector, tests
// in parallel on two cores) makes events late, never a passing test slow.
const Default = 30 * time.Second

// first and most are the polling intervals: short at first, so that a
// quick event is seen quickly, then longer, so that a slow one does not
// keep the machine busy.
const (
	first = 5 * time.Millisecond
	most  = 100 * time.Millisecond
)

// Cond polls cond until it returns true, and fails the test (t.Fatalf)
// when it has not within the time limit. what names what is waited for,
// for the failure message.
func Cond(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	if !Within(within, cond) {
		t.Fatalf("waited %v for %s; it did not happen", within, what)
	}
}

// Within polls cond until it returns true or the time limit passes, and
// reports whether it returned true: for a test that says itself what a
// wait that ended without the event means.
func Within(within time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(within)
	for pause := first; ; pause = min(2*pause, most) {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(pause)
	}
}
