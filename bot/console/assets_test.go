package console

import (
	"math"
	"regexp"
	"strconv"
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

// TestStylesheetContrast: every text colour of console.css reads on the
// page's white and on the panels' grey, and every rule that sets both a
// text colour and a background keeps them apart, at WCAG's 4.5:1 for body
// text (AA).
func TestStylesheetContrast(t *testing.T) {
	css, err := files.ReadFile("assets/console.css")
	if err != nil {
		t.Fatal(err)
	}
	src := regexp.MustCompile(`(?s)/\*.*?\*/`).ReplaceAllString(string(css), "")
	vars := map[string]string{}
	for _, m := range regexp.MustCompile(`--([\w-]+):\s*(#[0-9a-fA-F]{3,6})`).FindAllStringSubmatch(src, -1) {
		vars[m[1]] = m[2]
	}
	resolve := func(v string) (string, bool) {
		v = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "!important"))
		if m := regexp.MustCompile(`^var\(--([\w-]+)\)$`).FindStringSubmatch(v); m != nil {
			v = vars[m[1]]
		}
		return v, regexp.MustCompile(`^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$`).MatchString(v)
	}
	page, panel := vars["bg"], vars["panel"]
	if page == "" || panel == "" {
		t.Fatalf("no --bg or --panel in :root: %v", vars)
	}
	rules := regexp.MustCompile(`([^{}]+)\{([^{}]*)\}`).FindAllStringSubmatch(src, -1)
	checked := 0
	for _, r := range rules {
		selector, body := strings.TrimSpace(r[1]), r[2]
		var fg, bg string
		for _, decl := range strings.Split(body, ";") {
			name, value, ok := strings.Cut(decl, ":")
			if !ok {
				continue
			}
			switch strings.TrimSpace(name) {
			case "color":
				fg = value
			case "background", "background-color":
				bg = value
			}
		}
		f, ok := resolve(fg)
		if !ok {
			continue
		}
		checked++
		if b, ok := resolve(bg); ok {
			if c := contrast(f, b); c < 4.5 {
				t.Errorf("%s: %s on %s is %.2f:1, want 4.5:1", selector, f, b, c)
			}
			continue
		}
		for _, b := range []string{page, panel} {
			if c := contrast(f, b); c < 4.5 {
				t.Errorf("%s: %s on %s is %.2f:1, want 4.5:1", selector, f, b, c)
			}
		}
	}
	if checked < 10 {
		t.Fatalf("only %d text colours found: the test no longer reads the stylesheet", checked)
	}
}

// contrast is WCAG 2's contrast ratio of two #rgb or #rrggbb colours.
func contrast(a, b string) float64 {
	la, lb := luminance(a), luminance(b)
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

func luminance(hex string) float64 {
	hex = strings.TrimPrefix(hex, "#")
	if len(hex) == 3 {
		hex = string([]byte{hex[0], hex[0], hex[1], hex[1], hex[2], hex[2]})
	}
	var rgb [3]float64
	for i := range rgb {
		n, _ := strconv.ParseUint(hex[2*i:2*i+2], 16, 8)
		c := float64(n) / 255
		if c <= 0.04045 {
			rgb[i] = c / 12.92
		} else {
			rgb[i] = math.Pow((c+0.055)/1.055, 2.4)
		}
	}
	return 0.2126*rgb[0] + 0.7152*rgb[1] + 0.0722*rgb[2]
}
