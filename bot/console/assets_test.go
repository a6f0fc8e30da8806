package console

import (
	"strings"
	"testing"
)

// TestStylesheetIsWellFormed: every block of console.css closes, and none
// opens inside a rule. A brace lost in a merge makes the browser read every
// later rule as part of the open block (an @media one, or nothing), and
// those rules silently stop applying.
func TestStylesheetIsWellFormed(t *testing.T) {
	css, err := files.ReadFile("assets/console.css")
	if err != nil {
		t.Fatal(err)
	}
	depth, line := 0, 1
	var opened []int // the line of each open block
	src := string(css)
	for i := 0; i < len(src); i++ {
		switch c := src[i]; {
		case c == '\n':
			line++
		case strings.HasPrefix(src[i:], "/*"):
			end := strings.Index(src[i+2:], "*/")
			if end < 0 {
				t.Fatalf("line %d: a comment that never ends", line)
			}
			line += strings.Count(src[i:i+2+end+2], "\n")
			i += end + 3
		case c == '"' || c == '\'':
			end := strings.IndexByte(src[i+1:], c)
			if end < 0 {
				t.Fatalf("line %d: a string that never ends", line)
			}
			i += end + 1
		case c == '{':
			depth++
			opened = append(opened, line)
			if depth > 2 {
				t.Errorf("line %d: a block opens inside a rule (the rule opened on line %d never closed)", line, opened[len(opened)-2])
			}
		case c == '}':
			if depth == 0 {
				t.Fatalf("line %d: a } that closes nothing", line)
			}
			depth--
			opened = opened[:len(opened)-1]
		}
	}
	if depth != 0 {
		t.Errorf("the block opened on line %d never closes: the rules after it do not apply", opened[0])
	}
}
