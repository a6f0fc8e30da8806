package config

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/outreach-org/outreach/bot/sms"
)

// MaxOrgName bounds OUTREACH_ORG_NAME, in characters: the welcome names the
// organisation and must stay within one SMS in French and English (and two
// in Arabic) with the longest name allowed.
const MaxOrgName = 20

// parseOrgName checks OUTREACH_ORG_NAME: the organisation the welcome and the
// privacy notice name, in every language. Empty is allowed (the content then
// says it in neutral words, message org_default). It must be one short line
// of GSM-7 characters, so that it does not make the French and English
// welcome cost twice or three times as much (a UCS-2 SMS holds 70 characters,
// not 160).
func parseOrgName(v string) (string, error) {
	v = strings.TrimSpace(v)
	if n := utf8.RuneCountInString(v); n > MaxOrgName {
		return "", fmt.Errorf("OUTREACH_ORG_NAME: %d characters, at most %d (the welcome must fit one SMS): use a short name or an acronym", n, MaxOrgName)
	}
	for _, r := range v {
		if unicode.IsControl(r) {
			return "", fmt.Errorf("OUTREACH_ORG_NAME: one line, without control characters")
		}
	}
	if r, ok := sms.FirstNonGSM(v); ok {
		return "", fmt.Errorf("OUTREACH_ORG_NAME: %q is not in the SMS alphabet (GSM-7): it would make every French and English welcome cost 2 to 3 times more; write it in plain letters", string(r))
	}
	return v, nil
}
