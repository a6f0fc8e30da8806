package outbox

import (
	"strings"
	"unicode"
)

// Split cuts text into parts of at most limit characters (runes, never
// bytes), cutting at a line break or a space where one is near the end.
func Split(text string, limit int) []string {
	runes := []rune(text)
	if limit <= 0 || len(runes) <= limit {
		return []string{text}
	}
	var parts []string
	for len(runes) > limit {
		cut := limit
		for i := limit; i > limit/2; i-- {
			if runes[i] == '\n' {
				cut = i
				break
			}
		}
		if cut == limit {
			for i := limit; i > limit/2; i-- {
				if unicode.IsSpace(runes[i]) {
					cut = i
					break
				}
			}
		}
		parts = append(parts, strings.TrimRightFunc(string(runes[:cut]), unicode.IsSpace))
		runes = []rune(strings.TrimLeftFunc(string(runes[cut:]), unicode.IsSpace))
	}
	if last := strings.TrimRightFunc(string(runes), unicode.IsSpace); last != "" {
		parts = append(parts, last)
	}
	return parts
}
