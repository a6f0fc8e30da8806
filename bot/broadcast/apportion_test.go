package broadcast

import (
	"slices"
	"testing"
)

// apportion splits a sample among the shards in proportion to their
// people, adding up to the sample, none taking more than it holds.
func TestApportion(t *testing.T) {
	for _, tt := range []struct {
		sizes []int64
		take  int64
		want  []int64
	}{
		{[]int64{2, 2, 2, 0, 1}, 3, []int64{1, 1, 1, 0, 0}},
		{[]int64{10, 30, 60}, 10, []int64{1, 3, 6}},
		{[]int64{1, 1, 1}, 5, []int64{1, 1, 1}}, // all of each when fewer than the sample
		{[]int64{5, 5, 1}, 2, []int64{1, 1, 0}},
		{[]int64{3, 3, 3}, 1, []int64{1, 0, 0}}, // ties to the first
	} {
		var total int64
		for _, n := range tt.sizes {
			total += n
		}
		got := apportion(tt.sizes, tt.take, total)
		if !slices.Equal(got, tt.want) {
			t.Errorf("apportion(%v, %d) = %v, want %v", tt.sizes, tt.take, got, tt.want)
		}
	}
}
