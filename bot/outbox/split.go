package outbox

import (
	"strings"
	"unicode"
)

// UnitCounter is a Sender whose provider counts a text's length in units of
// its own, not in characters: Telegram counts UTF-16 code units, two for a
// character outside the Basic Multilingual Plane (most emoji). The outbox
// then cuts texts to the channel's MaxLen of those units.
type UnitCounter interface {
	// Units is what the character r counts for; at least 1.
	Units(r rune) int
}

// Split cuts text into parts of at most limit characters (runes, never
// bytes), cutting at a line break or a space where one is near the end.
func Split(text string, limit int) []string {
	return SplitUnits(text, limit, nil)
}

// SplitUnits cuts text into parts of at most limit units, a character
// counting for units(r) (nil: 1), never inside a character, at a line
// break or a space where one is in the second half of the part. Spaces at
// the cuts are dropped, and no part is empty. A text within the limit is
// returned as it is.
func SplitUnits(text string, limit int, units func(rune) int) []string {
	if units == nil {
		units = func(rune) int { return 1 }
	}
	runes := []rune(text)
	left := 0
	for _, r := range runes {
		left += max(1, units(r))
	}
	if limit <= 0 || left <= limit {
		return []string{text}
	}
	var parts []string
	add := func(part []rune) {
		if p := strings.TrimRightFunc(string(part), unicode.IsSpace); p != "" {
			parts = append(parts, p)
		}
	}
	for left > limit {
		// end: the most characters within limit.
		end, n := 0, 0
		for end < len(runes) && n+max(1, units(runes[end])) <= limit {
			n += max(1, units(runes[end]))
			end++
		}
		end = max(end, 1) // a character wider than the limit goes alone
		cut := end
		for _, space := range []func(rune) bool{func(r rune) bool { return r == '\n' }, unicode.IsSpace} {
			if cut != end {
				break
			}
			// runes[end] is the first character past the part: a space
			// there cuts cleanly too.
			for i := min(end, len(runes)-1); i > end/2; i-- {
				if space(runes[i]) {
					cut = i
					break
				}
			}
		}
		add(runes[:cut])
		for _, r := range runes[:cut] {
			left -= max(1, units(r))
		}
		runes = runes[cut:]
		for len(runes) > 0 && unicode.IsSpace(runes[0]) {
			left -= max(1, units(runes[0]))
			runes = runes[1:]
		}
	}
	add(runes)
	return parts
}
