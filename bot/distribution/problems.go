package distribution

import (
	"fmt"
	"strings"
)

// Codes of what can be wrong with a distribution (Problem.Code): each
// names one rule of validate, so that a console can say it in the
// person's language.
const (
	CodeSiteMissing     = "site_missing"
	CodeSiteUnknown     = "site_unknown"      // Args: Site
	CodeSiteRetired     = "site_retired"      // Args: Site
	CodeTimesMissing    = "times_missing"     // the start or the end
	CodeEndsBeforeStart = "ends_before_start" // the end is not after the start
	CodeLongerThanADay  = "longer_than_a_day"
	CodeOver            = "over" // it ends in the past
	CodePlaceMissing    = "place_missing"
	CodeLanguageUnknown = "language_unknown" // Args: Lang
	CodeTextEmpty       = "text_empty"       // a language given with a blank text
	CodeTextTooLong     = "text_too_long"    // Args: Chars, Max
	CodeTextBadChar     = "text_bad_char"    // Args: Char (U+0000)
	CodeItemsMissing    = "items_missing"
	CodeItemUnknown     = "item_unknown" // Args: Item
	CodeItemTwice       = "item_twice"   // Args: Item
	CodeCancelled       = "cancelled"    // a cancelled distribution cannot change
)

// Codes returns every problem code.
func Codes() []string {
	return []string{CodeSiteMissing, CodeSiteUnknown, CodeSiteRetired, CodeTimesMissing, CodeEndsBeforeStart,
		CodeLongerThanADay, CodeOver, CodePlaceMissing, CodeLanguageUnknown, CodeTextEmpty, CodeTextTooLong,
		CodeTextBadChar, CodeItemsMissing, CodeItemUnknown, CodeItemTwice, CodeCancelled}
}

// Problem is one thing wrong with a distribution.
type Problem struct {
	// Field is what is wrong: "site", "starts_at", "ends_at", "place",
	// "place.fr", "who.en", "bring.ar", "items"; empty for the whole.
	Field string
	// Code says which rule it breaks (Code…).
	Code string
	// Args are the values the problem names, by the names Code's comment
	// gives.
	Args map[string]any
	// Text says it in English, as the API does.
	Text string
}

// InvalidError is a distribution refused, with each of its problems. It
// wraps ErrInvalid.
type InvalidError struct {
	Problems []Problem
}

// Error says every problem: "invalid distribution: place.fr: empty …; items: …".
func (e *InvalidError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.Text
		if p.Field != "" {
			parts[i] = p.Field + ": " + p.Text
		}
	}
	return ErrInvalid.Error() + ": " + strings.Join(parts, "; ")
}

// Unwrap makes errors.Is(err, ErrInvalid) hold.
func (e *InvalidError) Unwrap() error { return ErrInvalid }

// problems gathers what validate finds.
type problems []Problem

func (p *problems) add(field, code string, args map[string]any, format string, fargs ...any) {
	*p = append(*p, Problem{Field: field, Code: code, Args: args, Text: fmt.Sprintf(format, fargs...)})
}

// err is nil without problems, else an *InvalidError.
func (p problems) err() error {
	if len(p) == 0 {
		return nil
	}
	return &InvalidError{Problems: p}
}
